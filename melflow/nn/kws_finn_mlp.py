"""The FINN / MLPerf Tiny keyword-spotting MLP, melflow's peer baseline on the same data.

FINN's KWS example (finn-examples, MLPerf Tiny v0.7) feeds 10 MFCC x 49 frames computed on
the CPU to a 490-256-256-256-12 MLP with 3-bit weights and activations. Here the MFCC is a
DCT-II (orthonormal, first `n_mfcc` coefficients) of the integer log-Mel codes of every
second frame (98 frames at a 10 ms hop -> 49 at 20 ms), so the baseline hears the same clips
through the same frontend as melflow's own models and the comparison is about the network.
Like FINN's feature extraction, the decimation and the DCT belong to the host; the network
proper starts at an 8-bit input quantizer (what FINN's accelerator takes in), and each
hidden layer is QuantLinear -> BatchNorm1d -> 3-bit QuantReLU, as in FINN's model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torchaudio
from brevitas.nn import QuantIdentity, QuantLinear
from brevitas.quant import Int8ActPerTensorFloat
from torch import nn

from melflow.core import MelflowError
from melflow.nn.quant import quant_relu, weight_quant


@dataclass
class KwsFinnMlpConfig:
    """Architecture hyper-parameters (the `model:` block of a models/*.yaml)."""

    n_classes: int = 12
    n_frames: int = 98
    n_mels: int = 40
    n_mfcc: int = 10
    frame_step: int = 2  # every second log-Mel frame: 49 frames at a 20 ms hop
    hidden: list[int] = field(default_factory=lambda: [256, 256, 256])
    weight_bits: int | None = 3  # None: the float twin (melflow.nn.quant)
    act_bits: int | None = 3
    input_bits: int | None = 8
    dropout: float = 0.0


class KwsFinnMlp(nn.Module):
    def __init__(self, cfg: KwsFinnMlpConfig):
        super().__init__()
        if not 1 <= cfg.n_mfcc <= cfg.n_mels:
            raise MelflowError(f"model: n_mfcc must be between 1 and n_mels ({cfg.n_mels}), got {cfg.n_mfcc}")
        if cfg.frame_step < 1:
            raise MelflowError(f"model: frame_step must be at least 1, got {cfg.frame_step}")
        self.cfg = cfg
        # (n_mels, n_mfcc): torchaudio's orthonormal DCT-II, the MFCC of torchaudio.transforms.MFCC
        self.register_buffer("dct", torchaudio.functional.create_dct(cfg.n_mfcc, cfg.n_mels, norm="ortho"), persistent=False)
        n_in = len(range(0, cfg.n_frames, cfg.frame_step)) * cfg.n_mfcc
        wq = weight_quant(cfg.weight_bits)
        inq = {"act_quant": None} if cfg.input_bits is None else {"act_quant": Int8ActPerTensorFloat, "bit_width": cfg.input_bits}
        layers: list[nn.Module] = [QuantIdentity(**inq)]
        for width in cfg.hidden:
            layers += [QuantLinear(n_in, width, bias=False, **wq), nn.BatchNorm1d(width), quant_relu(cfg.act_bits)]
            n_in = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = QuantLinear(n_in, cfg.n_classes, bias=False, **wq)

    def mfcc(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, frames, mels) log-Mel codes -> (N, frames / step * n_mfcc) MFCC, frame-major."""
        return (x[:, 0, :: self.cfg.frame_step, :] @ self.dct).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(self.mfcc(x))))
