"""The quantizer choices every melflow model shares, and the float twin of each.

All weights are signed, narrow-range and, by default, per-tensor (FINN's RTL matrix-vector unit on
DSP48E1 needs narrow signed weights; DESIGN.md), and all hidden activations are unsigned
ReLU codes that streamlining turns into thresholds. A bit width of None (`weight_bits: null`
in a config) gives the float twin: the same layers with no quantizer, the baseline that a
low-bit model is compared against and that PyTorch's own post-training quantization starts
from. Float twins train and evaluate like any model; the compiler refuses them.

Convolution weights may instead be scaled per output channel (`weight_scaling:
per_channel`): a 4-bit per-tensor grid is sized by the layer's largest weight, so a channel
whose weights are all small gets two or three of its levels. FINN's FoldQuantWeights moves
a per-output-channel scale behind the layer, where streamlining folds it into the next
thresholds, so the hardware is the same. A classifier keeps one scale: the accelerator
returns its integer logits, and argmax over them is exact only if every class shares it.
"""

from __future__ import annotations

from brevitas.nn import QuantReLU
from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

from melflow.core import MelflowError

WEIGHT_SCALING = {"per_tensor": Int8WeightPerTensorFloat, "per_channel": Int8WeightPerChannelFloat}


def weight_quant(bits: int | None, scaling: str = "per_tensor") -> dict:
    """Keyword arguments of a Brevitas QuantConv2d / QuantLinear for `bits`-bit weights."""
    if scaling not in WEIGHT_SCALING:
        raise MelflowError(f"model.weight_scaling must be one of {', '.join(WEIGHT_SCALING)}, got {scaling!r}")
    if bits is None:
        return {"weight_quant": None}
    return {"weight_quant": WEIGHT_SCALING[scaling], "weight_bit_width": bits, "weight_narrow_range": True}


def quant_relu(bits: int | None) -> QuantReLU:
    """An unsigned `bits`-bit ReLU (a plain ReLU for None)."""
    if bits is None:
        return QuantReLU(act_quant=None)
    return QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits)


def collecting_statistics(model) -> bool:
    """Whether any of Brevitas' activation scales in `model` is still in its first
    `collect_stats_steps` training steps (300 for Uint8ActPerTensorFloat), where it gathers
    statistics of its input instead of being a learnt weight: another code path, so neither a
    weight average nor a compiled graph may start before."""
    return any(getattr(m, "counter", 0) <= getattr(m, "collect_stats_steps", -1) for m in model.modules())


def is_float(spec: dict) -> bool:
    """Whether a model spec is a float twin (weights or activations unquantized)."""
    return spec.get("weight_bits", 0) is None or spec.get("act_bits", 0) is None
