"""A trained Brevitas model rewritten as plain torch layers, for fast inference in Python.

Brevitas recomputes every quantized weight and walks its quantizer proxies on each forward
pass, and its QuantLSTM steps through time in Python: a batch of 64 clips takes about
45 ms through kws_cnn and 220 ms through the CRNN on two CPU cores. A teacher that grades
every augmented training batch (melflow.train.distill) pays that once per step, which made
distilling from several models cost more than training the student.

`frozen_copy` bakes the quantized weights into torch's Conv2d / Linear, turns each quantized
ReLU into the clamp-and-round it computes, and keeps BatchNorm as it is. For convolutional
models the copy's logits equal the Brevitas model's exactly (a test checks it). A QuantLSTM
becomes torch's nn.LSTM with the quantized weights and float gate arithmetic: it drops the
8-bit rounding of the gates and states, so it is an approximation (the shipped CRNN's copy
picks the same class on 99.6 % of the val clips), about 30 times faster. Training and the
compiler never use these copies. Brevitas layers that melflow's networks do not use
between their layers (a quantized QuantIdentity) stay as they are.
"""

from __future__ import annotations

import copy

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantLSTM, QuantReLU
from torch import nn

_GATES = ("input_gate_params", "forget_gate_params", "cell_gate_params", "output_gate_params")  # torch's i, f, g, o order


class CodeReLU(nn.Module):
    """A quantized unsigned ReLU: codes round(x / scale) clamped to [0, levels], times scale."""

    def __init__(self, scale: torch.Tensor, levels: int):
        super().__init__()
        self.register_buffer("scale", scale)
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.round(x / self.scale), 0, self.levels) * self.scale


class FloatGateLSTM(nn.LSTM):
    """torch's LSTM holding a QuantLSTM's quantized weights; returns (output, (h, c)) like it."""

    def __init__(self, lstm: QuantLSTM):
        if len(lstm.layers) != 1 or len(lstm.layers[0]) != 1:
            raise ValueError("frozen_copy handles a single-layer unidirectional QuantLSTM")
        cell = lstm.layers[0][0]
        gates = [getattr(cell, g) for g in _GATES]
        w_ih = torch.cat([_weight(g.input_weight) for g in gates])
        super().__init__(w_ih.shape[1], w_ih.shape[0] // 4, batch_first=True)
        with torch.no_grad():
            self.weight_ih_l0.copy_(w_ih)
            self.weight_hh_l0.copy_(torch.cat([_weight(g.hidden_weight) for g in gates]))
            self.bias_ih_l0.copy_(torch.cat([g.bias.detach() for g in gates]))
            self.bias_hh_l0.zero_()


def _weight(layer: nn.Module) -> torch.Tensor:
    """A layer's weight as its quantizer rounds it (the float weight when it has none)."""
    if layer.weight_quant.is_quant_enabled:
        return layer.quant_weight().value.detach()
    return layer.weight.detach()


def _plain(layer: nn.Module) -> nn.Module | None:
    """The torch layer that computes what a Brevitas layer does (None: not a Brevitas layer)."""
    if isinstance(layer, QuantConv2d):
        new = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                        layer.dilation, layer.groups, bias=layer.bias is not None)
    elif isinstance(layer, QuantLinear):
        new = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    elif isinstance(layer, QuantReLU):
        q = layer.act_quant
        if not q.is_quant_enabled:
            return nn.ReLU()
        return CodeReLU(q.scale().detach().clone(), 2 ** int(q.bit_width()) - 1)
    elif isinstance(layer, QuantIdentity) and not layer.act_quant.is_quant_enabled:
        return nn.Identity()
    elif isinstance(layer, QuantLSTM):
        return FloatGateLSTM(layer)
    else:
        return None
    with torch.no_grad():
        new.weight.copy_(_weight(layer))
        if layer.bias is not None:
            new.bias.copy_(layer.bias.detach())
    return new


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with every Brevitas layer replaced by plain torch."""
    model = copy.deepcopy(model)

    def swap(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            new = _plain(child)
            if new is None:
                swap(child)
            else:
                setattr(parent, name, new)

    swap(model)
    return model.eval()  # the new layers too
