"""melflow.compiler stage.

Importing it registers melflow's qonnx custom ops (the QuantLSTMCell execution), so that
qonnx's and FINN's execute_onnx run graphs that contain them.
"""

from melflow.compiler import lstm_cell as _lstm_cell  # noqa: F401  (registers QuantLSTMCell)
