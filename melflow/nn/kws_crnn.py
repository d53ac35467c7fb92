"""A small CRNN keyword spotter: W4A4 conv blocks, one quantized LSTM, a linear classifier.

Why it looks the way it does (docs/lstm.md has the details):

- The conv blocks are the spine's (melflow/nn/kws_cnn.py): 3x3 QuantConv2d with 4-bit
  narrow per-tensor weights and no bias, BatchNorm, 4-bit QuantReLU. They downsample with
  strides (2 along the mel axis, 1 or 2 along time) instead of pooling, because pooling
  has no RTL layer on the xc7z020, so every conv maps to FINN's RTL layers.
- The feature map (N, C, T, F) becomes a sequence of T steps of F*C features in the
  order (F, C): that is the NHWC order in which FINN streams a feature map, so the
  hardware needs no reordering between the last conv and the LSTM.
- The LSTM is a unidirectional single-layer `brevitas.nn.QuantLSTM` whose every quantizer
  has a power-of-two scale, so that every quantized value is an integer times 2^-k and the
  cell is exactly integer arithmetic: dot products, shifts with round-half-even, clipping,
  and 2^bits-entry lookup tables for sigmoid and tanh (docs/lstm.md). Weights: 4-bit
  narrow fixed point. Gate accumulators and cell state: 8-bit (or lower) signed fixed point
  with learned power-of-two scales. Sigmoid outputs (0..1), tanh outputs and the hidden
  state (-1..1) have known ranges, so their scales are constants: 2^-bits unsigned,
  2^-(bits-1) signed. Gate biases are 32-bit on the accumulator's own scale (input scale
  times weight scale), so adding them is an integer addition.
- The activation feeding the LSTM is a 4-bit ReLU with the constant range [0, 1): its codes
  are the LSTM's 8-bit input codes shifted by 3 bits, so the LSTM's input quantizer (which
  Brevitas shares with the hidden state) changes nothing.
- The classifier reads the last step's hidden state and has no bias, so what follows
  it is one positive scale that argmax does not need: the hardware returns integer logits.

Input: integer log-Mel codes (int8, from `melflow.frontend`) as a float tensor of shape
(N, 1, frames, mels). No input quantizer: the compiler annotates the input as INT8.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from brevitas.inject import ExtendedInjector
from brevitas.inject.enum import ScalingImplType
from brevitas.nn import QuantConv2d, QuantLinear, QuantLSTM, QuantReLU
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8WeightPerTensorFixedPoint,
    Int32Bias,
    Uint8ActPerTensorFixedPoint,
    Uint8ActPerTensorFloat,
)
from torch import nn

from melflow.core import MelflowError
from melflow.nn.kws_cnn import _conv_out
from melflow.nn.quant import weight_quant


class _UnitRange(ExtendedInjector):
    """A constant threshold of 1 with power-of-two scaling: scale 2^-bits unsigned,
    2^-(bits-1) signed."""

    scaling_impl_type = ScalingImplType.CONST
    max_val = 1.0


class UnitUintFixedPoint(_UnitRange, Uint8ActPerTensorFixedPoint):
    """[0, 1): sigmoid outputs and the ReLU feeding the LSTM."""


class UnitIntFixedPoint(_UnitRange, Int8ActPerTensorFixedPoint):
    """[-1, 1): tanh outputs and the LSTM's input/hidden state."""

    min_val = -1.0


@dataclass
class KwsCrnnConfig:
    """Architecture hyper-parameters (the `model:` block of a models/*.yaml)."""

    n_classes: int = 12
    n_frames: int = 98
    n_mels: int = 40
    channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    time_stride: list[int] = field(default_factory=lambda: [2, 2, 1])  # the mel stride is always 2
    hidden: int = 48
    weight_bits: int = 4  # conv, LSTM and classifier weights
    act_bits: int = 4  # conv activations
    lstm_act_bits: int = 8  # LSTM input/hidden state, gate accumulators, sigmoid, tanh, cell state
    dropout: float = 0.0  # before the classifier, training only (absent from the export)


class KwsCrnn(nn.Module):
    def __init__(self, cfg: KwsCrnnConfig):
        super().__init__()
        if len(cfg.channels) != len(cfg.time_stride):
            raise MelflowError(f"model: channels ({len(cfg.channels)} entries) and time_stride ({len(cfg.time_stride)}) must have the same length")
        if any(s not in (1, 2) for s in cfg.time_stride):
            raise MelflowError(f"model: time_stride entries must be 1 or 2, got {cfg.time_stride}")
        if not cfg.act_bits < cfg.lstm_act_bits <= 8:
            # the LSTM's input codes are the last ReLU's codes shifted left: they need more bits
            raise MelflowError(f"model: lstm_act_bits must be above act_bits ({cfg.act_bits}) and at most 8, got {cfg.lstm_act_bits}")
        self.cfg = cfg
        wq = weight_quant(cfg.weight_bits)
        layers: list[nn.Module] = []
        c_in, t, f = 1, cfg.n_frames, cfg.n_mels
        for i, (c_out, s) in enumerate(zip(cfg.channels, cfg.time_stride)):
            last = i == len(cfg.channels) - 1
            layers += [
                QuantConv2d(c_in, c_out, 3, stride=(s, 2), padding=1, bias=False, **wq),
                nn.BatchNorm2d(c_out),
                # the last activation has the LSTM input's range: its codes reach the LSTM shifted
                QuantReLU(act_quant=UnitUintFixedPoint if last else Uint8ActPerTensorFloat, bit_width=cfg.act_bits),
            ]
            c_in, t, f = c_out, _conv_out(t, s), _conv_out(f, 2)
        self.features = nn.Sequential(*layers)
        self.steps, self.step_features = t, f * c_in
        bits = cfg.lstm_act_bits
        self.lstm = QuantLSTM(
            self.step_features,
            cfg.hidden,
            num_layers=1,
            bidirectional=False,
            batch_first=True,
            weight_quant=Int8WeightPerTensorFixedPoint,
            weight_bit_width=cfg.weight_bits,
            bias_quant=Int32Bias,
            io_quant=UnitIntFixedPoint,
            io_bit_width=bits,
            gate_acc_quant=Int8ActPerTensorFixedPoint,
            gate_acc_bit_width=bits,
            sigmoid_quant=UnitUintFixedPoint,
            sigmoid_bit_width=bits,
            tanh_quant=UnitIntFixedPoint,
            tanh_bit_width=bits,
            cell_state_quant=Int8ActPerTensorFixedPoint,
            cell_state_bit_width=bits,
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = QuantLinear(cfg.hidden, cfg.n_classes, bias=False, **wq)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, frames, mels) -> the LSTM's input (N, T, F*C), features in (F, C) order."""
        x = self.features(x)
        n, c, t, f = x.shape
        return x.permute(0, 2, 3, 1).reshape(n, t, f * c)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # Brevitas builds a QuantLSTM layer's "fast cell" lazily on the first forward and
        # leaves it out of state_dict(), yet expects its keys back once it exists. It only
        # wraps the cell's own quantizers: drop it, and the next forward rebuilds it.
        for layer in self.lstm.layers:
            for direction in layer:
                direction._fast_cell = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.sequence(x))
        return self.classifier(self.dropout(h[0]))
