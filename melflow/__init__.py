"""melflow: low-bit audio recognition models compiled to streaming FPGA accelerators.

One sub-package per pipeline stage; a stage imports only earlier ones:
data -> frontend -> nn -> train -> compiler -> rtl -> sim -> boards -> eval.
"""

__version__ = "0.1.0"
