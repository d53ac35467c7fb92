"""Baselines beside melflow's low-bit models: PyTorch's own INT8 quantization of the float
twin, and magnitude pruning.

Someone choosing between an FPGA accelerator and a CPU asks what the ordinary PyTorch route
gives on the same data: train in float, then quantize after training (dynamic INT8, which
PyTorch applies to Linear layers only, or static INT8 with calibration, which also covers
the convolutions), or prune small weights away. These run on plain PyTorch modules, so the
float twin's Brevitas layers (no quantizers: melflow.nn.quant) are first swapped for their
torch equivalents; PyTorch's quantizers match modules by exact type.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn
from torch.nn.utils import prune

from melflow.core import MelflowError
from melflow.nn.frozen import frozen_copy


def plain_torch(model: nn.Module) -> nn.Module:
    """A copy of a float twin with every Brevitas layer replaced by its torch layer."""
    for name, child in model.named_modules():
        if isinstance(child, (QuantConv2d, QuantLinear)) and child.weight_quant.is_quant_enabled:
            raise MelflowError(f"layer {name} has a weight quantizer: PyTorch baselines start from the float twin")
    return frozen_copy(model)  # in eval mode, new layers too: FX fusion wants conv, BN and ReLU in one mode


def dynamic_int8(float_model: nn.Module) -> nn.Module:
    """`torch.ao.quantization.quantize_dynamic`: INT8 weights and per-batch INT8 activations,
    for the Linear layers (the only layers of these models that it covers)."""
    return torch.ao.quantization.quantize_dynamic(plain_torch(float_model), {nn.Linear}, dtype=torch.qint8)


def static_int8(float_model: nn.Module, calibration: np.ndarray) -> nn.Module:
    """Post-training static INT8 (FX graph mode, x86 backend), convolutions included;
    activation ranges observed on `calibration` features (clips, frames, mels)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    x = torch.from_numpy(calibration.astype(np.float32))[:, None]
    prepared = prepare_fx(plain_torch(float_model), get_default_qconfig_mapping("x86"), example_inputs=(x[:1],))
    with torch.no_grad():
        for i in range(0, len(x), 64):
            prepared(x[i : i + 64])
    return convert_fx(prepared)


def quantized_layer_count(model: nn.Module) -> tuple[int, int]:
    """(layers with INT8 weights, layers with weights) of a PyTorch-quantized model."""
    import torch.ao.nn.quantized as nnq

    quantized = sum(1 for m in model.modules() if isinstance(m, (nnq.Conv2d, nnq.Linear)))
    kept_float = sum(1 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    return quantized, quantized + kept_float


def magnitude_pruned(model: nn.Module, sparsity: float) -> tuple[nn.Module, float]:
    """A copy with the `sparsity` share of smallest-magnitude weights, over all convolution
    and matrix weights together (global L1, torch.nn.utils.prune), set to zero for good; no
    fine-tuning afterwards. Returns the model and the share of those weights now zero."""
    if not 0 <= sparsity < 1:
        raise MelflowError(f"sparsity must be in [0, 1), got {sparsity}")
    model = copy.deepcopy(model).eval()
    params = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.dim() >= 2]
    if sparsity > 0:
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
        for m, name in params:
            prune.remove(m, name)
    zeros = sum(int((m.weight == 0).sum()) for m, _ in params)
    return model, zeros / sum(m.weight.numel() for m, _ in params)
