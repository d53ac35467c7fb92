"""A depthwise-separable CNN keyword spotter in the style of the MLPerf Tiny reference
(DS-CNN, "Hello Edge"): one 10x4 convolution, then blocks of a depthwise 3x3 and a
pointwise 1x1 convolution, each followed by BatchNorm and a ReLU, then a global average and
a linear classifier. Depthwise blocks spend about a ninth of a full convolution's
multiplies for the same receptive field, which is why the reference uses them on
microcontrollers.

Here the input is melflow's 98 x 40 integer log-Mel (MLPerf's is 49 x 10 MFCC), weights
and activations are 4-bit (Brevitas), and the first convolution and the first block
downsample by two each, so the blocks work on 25 x 10 maps. The global average has no RTL
layer on the xc7z020 (FINN's pooling is HLS only there): this model is for the zoo's
accuracy comparison; the spine's kws_cnn is the one built into hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from melflow.nn.quant import quant_relu, weight_quant


@dataclass
class KwsDscnnConfig:
    """Architecture hyper-parameters (the `model:` block of a models/*.yaml)."""

    n_classes: int = 12
    n_frames: int = 98
    n_mels: int = 40
    channels: int = 64
    blocks: int = 4
    weight_bits: int | None = 4  # None: the float twin (melflow.nn.quant)
    act_bits: int | None = 4
    dropout: float = 0.0


class KwsDscnn(nn.Module):
    def __init__(self, cfg: KwsDscnnConfig):
        super().__init__()
        self.cfg = cfg
        wq = weight_quant(cfg.weight_bits)
        c = cfg.channels

        def act():
            return quant_relu(cfg.act_bits)

        layers: list[nn.Module] = [QuantConv2d(1, c, (10, 4), stride=2, padding=(5, 1), bias=False, **wq), nn.BatchNorm2d(c), act()]
        for i in range(cfg.blocks):
            layers += [
                QuantConv2d(c, c, 3, stride=2 if i == 0 else 1, padding=1, groups=c, bias=False, **wq), nn.BatchNorm2d(c), act(),
                QuantConv2d(c, c, 1, bias=False, **wq), nn.BatchNorm2d(c), act(),
            ]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = QuantLinear(c, cfg.n_classes, bias=False, **wq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean(dim=(2, 3))  # the global average
        return self.classifier(self.dropout(x))
