"""Parameters of the integer log-Mel frontend (see docs/frontend.md for the specification).

Everything the golden model and the RTL must agree on lives in :class:`FrontendConfig`.
The constant tables (window, twiddles, mel weights, log table) are derived from it by
:mod:`melflow.frontend.golden`; floats are used only to *build* those tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FrontendConfig:
    """Integer log-Mel frontend parameters.

    Signal parameters (match ``torchaudio.transforms.MelSpectrogram`` with
    ``mel_scale="htk"``, ``norm=None``, periodic Hann window, ``power=2``):

    - ``sample_rate``, ``win_length``, ``hop_length``, ``n_fft``, ``n_mels``, ``f_min``,
      ``f_max``.  Frames are *not* centred: frame ``t`` covers samples
      ``[t*hop_length, t*hop_length + win_length)``.

    Fixed-point parameters:

    - ``window_bits``: the Hann window is stored as unsigned Q``window_bits`` (1.0 is
      representable, i.e. values in ``[0, 2**window_bits]``).
    - ``window_frac_bits``: fractional bits kept in the windowed sample:
      ``xw = (x * w + 2**(window_bits - window_frac_bits - 1)) >> (window_bits -
      window_frac_bits)`` (default 1: 17-bit samples, 25-bit FFT data, which fits the
      25 x 18 multipliers of Xilinx DSP48E1/E2 slices).
    - ``twiddle_bits``: twiddles are signed Q``twiddle_bits`` in
      ``[-2**twiddle_bits, 2**twiddle_bits]`` (so ``1`` and ``-1`` are exact).
    - ``fft_shifts``: right shift (round half up) applied to the butterfly outputs of
      each of the ``log2(n_fft)`` radix-2 stages; ``None`` means no scaling (all zeros),
      which fits 24-bit signed data because of the window-sum bound.
    - ``power_shift``: ``P = (re*re + im*im + 2**(power_shift-1)) >> power_shift``.
    - ``mel_bits``: mel weights are unsigned Q``mel_bits``.
    - ``log_mant_bits``: the log table is indexed by this many mantissa bits below the
      leading one (``2**log_mant_bits`` entries).
    - ``log_frac_bits``: fractional bits of the fixed-point log2.
    - ``out_frac_bits``: one int8 code step is ``2**-out_frac_bits`` in log2 units.
    - ``out_offset``: subtracted after rounding to the code step, before saturation.

    The int8 output satisfies ``ln(mel) ~= (code - out_zero) * out_scale`` where ``mel``
    is the energy ``torchaudio`` computes from the raw int16 sample values (as floats, not
    divided by 32768; subtract ``ln(2**30) = 20.79`` for the ``pcm / 32768`` convention).
    """

    sample_rate: int = 16000
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0

    window_bits: int = 15
    window_frac_bits: int = 1
    twiddle_bits: int = 15
    fft_shifts: tuple[int, ...] | None = field(default=None)
    power_shift: int = 8
    mel_bits: int = 15
    log_mant_bits: int = 7
    log_frac_bits: int = 8
    out_frac_bits: int = 3
    out_offset: int = 289

    def __post_init__(self) -> None:
        n = self.n_fft
        if n < 4 or n & (n - 1):
            raise ValueError(f"n_fft must be a power of two >= 4, got {n}")
        if not 1 <= self.win_length <= n:
            raise ValueError(f"win_length must be in [1, n_fft], got {self.win_length}")
        if self.hop_length < 1:
            raise ValueError(f"hop_length must be >= 1, got {self.hop_length}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError("need 0 <= f_min < f_max <= sample_rate / 2")
        if self.n_mels < 1:
            raise ValueError("n_mels must be >= 1")
        if self.fft_shifts is not None:
            if len(self.fft_shifts) != self.fft_stages or any(s not in (0, 1, 2) for s in self.fft_shifts):
                raise ValueError(f"fft_shifts needs {self.fft_stages} entries in {{0, 1, 2}}")
        for name in ("window_bits", "twiddle_bits", "mel_bits"):
            if not 8 <= getattr(self, name) <= 17:
                raise ValueError(f"{name} must be in [8, 17]")
        if not 0 <= self.window_frac_bits < self.window_bits:
            raise ValueError("window_frac_bits must be in [0, window_bits)")
        if not 0 <= self.power_shift <= 16:
            raise ValueError("power_shift must be in [0, 16]")
        if not 1 <= self.log_mant_bits <= 12 or not 1 <= self.log_frac_bits <= 16:
            raise ValueError("log_mant_bits in [1, 12], log_frac_bits in [1, 16]")
        if not 0 <= self.out_frac_bits <= self.log_frac_bits:
            raise ValueError("out_frac_bits must be in [0, log_frac_bits]")

    # ---- derived quantities -------------------------------------------------------
    @property
    def fft_stages(self) -> int:
        return self.n_fft.bit_length() - 1

    @property
    def shifts(self) -> tuple[int, ...]:
        """Per-stage FFT right shifts (zeros when ``fft_shifts`` is None)."""
        return self.fft_shifts if self.fft_shifts is not None else (0,) * self.fft_stages

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def log2_gain(self) -> int:
        """``log2(mel_acc / mel_float)``: integer mel accumulator vs torchaudio on int16 values.

        The windowed samples carry ``window_frac_bits`` fractional bits, the FFT scales by
        ``2**-sum(shifts)``, power squares that, then ``>> power_shift``, then the
        Q``mel_bits`` weights.
        """
        return 2 * (self.window_frac_bits - sum(self.shifts)) - self.power_shift + self.mel_bits

    @property
    def out_zero(self) -> int:
        """Code of ln(mel) = 0 (outside the int8 range: only the affine map uses it)."""
        return self.log2_gain * (1 << self.out_frac_bits) - self.out_offset

    @property
    def out_scale(self) -> float:
        """Natural-log units per code step."""
        return math.log(2.0) / (1 << self.out_frac_bits)

    @property
    def ln_min(self) -> float:
        """Natural log represented by code -128 (the floor; zero energy maps here)."""
        return (-128 - self.out_zero) * self.out_scale

    @property
    def ln_max(self) -> float:
        """Natural log represented by code 127."""
        return (127 - self.out_zero) * self.out_scale

    def n_frames(self, n_samples: int) -> int:
        """Frames for a clip of ``n_samples`` (shorter clips are zero-padded to one window)."""
        n_samples = max(int(n_samples), self.win_length)
        return 1 + (n_samples - self.win_length) // self.hop_length
