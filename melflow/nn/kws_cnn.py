"""A small W4A4 convolutional keyword spotter whose every layer maps onto an RTL layer.

Why it looks the way it does (DESIGN.md, toolchain facts): on the xc7z020 FINN's pooling
and element-wise layers only exist as HLS, so the network downsamples with stride-2
convolutions; FINN's RTL matrix-vector unit on DSP48E1 needs signed narrow-range weights,
so every weight quantizer is narrow; activations are unsigned 4-bit ReLUs that
streamlining turns into threshold layers; the last convolution covers the whole remaining
feature map, so the classifier is a plain matrix-vector product; and the classifier has no
bias, so the only thing left after it is one positive scale that argmax does not need —
it stays out of the hardware, and the accelerator returns integer logits.

Input: integer log-Mel codes (int8, from `melflow.frontend`) as a float tensor of shape
(N, 1, frames, mels). No input quantizer: the compiler annotates the input as INT8.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from melflow.nn.quant import quant_relu, weight_quant


@dataclass
class KwsCnnConfig:
    """Architecture hyper-parameters (the `model:` block of a models/*.yaml)."""

    n_classes: int = 12
    n_frames: int = 98
    n_mels: int = 40
    channels: list[int] = field(default_factory=lambda: [16, 32, 48, 64])
    stride: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    head_channels: int = 64
    weight_bits: int | None = 4  # None: the float twin (melflow.nn.quant)
    act_bits: int | None = 4
    weight_scaling: str = "per_tensor"  # or "per_channel" for the convolutions (melflow.nn.quant)
    dropout: float = 0.0  # before the classifier, training only (absent from the export)


def _conv_out(n: int, stride: int) -> int:
    # 3x3 kernel, padding 1
    return (n + 2 - 3) // stride + 1


class KwsCnn(nn.Module):
    def __init__(self, cfg: KwsCnnConfig):
        super().__init__()
        self.cfg = cfg
        wq = weight_quant(cfg.weight_bits, cfg.weight_scaling)
        layers: list[nn.Module] = []
        c_in, h, w = 1, cfg.n_frames, cfg.n_mels
        for c_out, s in zip(cfg.channels, cfg.stride):
            layers += [
                QuantConv2d(c_in, c_out, 3, stride=s, padding=1, bias=False, **wq),
                nn.BatchNorm2d(c_out),
                quant_relu(cfg.act_bits),
            ]
            c_in, h, w = c_out, _conv_out(h, s), _conv_out(w, s)
        # A convolution over the whole remaining map: a dense layer FINN lowers to one MVAU.
        layers += [
            QuantConv2d(c_in, cfg.head_channels, (h, w), bias=False, **wq),
            nn.BatchNorm2d(cfg.head_channels),
            quant_relu(cfg.act_bits),
        ]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = QuantLinear(cfg.head_channels, cfg.n_classes, bias=False, **weight_quant(cfg.weight_bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(self.dropout(torch.flatten(x, 1)))
