"""Python execution of every compiled stage, so each can be checked against QONNX.

The QONNX-level stages take NCHW float input and end with the output scale; the dataflow
stages take NHWC integer codes and return the accelerator's integer logits.
"""

from __future__ import annotations

import numpy as np

from melflow.compiler.finn_env import init_finn

FULL_GRAPH_STAGES = {"qonnx", "finn", "streamlined", "hw"}


def execute_stage(model, features: np.ndarray, stage: str) -> np.ndarray:
    """Run int8 features (clips, frames, mels) through a stage; returns logits (clips, classes).

    Full-graph stages return float logits (with the output scale); dataflow stages return
    the integer logits the hardware streams out.
    """
    init_finn()
    import finn.core.onnx_exec as oxe
    from finn.transformation.fpgadataflow.set_exec_mode import SetExecMode

    if stage not in FULL_GRAPH_STAGES:
        # RTL nodes execute through their HW parent's Python model in "cppsim" mode.
        model = model.transform(SetExecMode("cppsim"))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    outs = []
    for f in np.asarray(features, dtype=np.float32):
        # NCHW with one channel for the full graph; NHWC (the stream order) for dataflow
        x = f[None, None] if stage in FULL_GRAPH_STAGES else f[None, :, :, None]
        outs.append(np.asarray(oxe.execute_onnx(model, {iname: x})[oname]).reshape(-1))
    return np.stack(outs)


def golden_logits(compiled, features: np.ndarray, stage: str = "folded") -> np.ndarray:
    """Integer logits of the dataflow graph (the hardware's golden model) for each clip."""
    from melflow.compiler.flow import as_int_array

    return as_int_array(execute_stage(compiled.model(stage), features, stage))
