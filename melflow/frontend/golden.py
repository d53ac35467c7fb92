"""Bit-accurate golden model of the integer log-Mel frontend.

The arithmetic is specified in docs/frontend.md; this module is its executable form and
the RTL frontend must match :func:`integer_log_mel` bit for bit.  Every run-time value is
an integer of the spec; the FFT, power and mel steps hold theirs in float64, which is exact
below 2**53 (checked per configuration), because numpy and BLAS are much faster there than
on int64. Floats also build the constant ROMs in :func:`tables`, once per configuration.

Pipeline for one frame (all frames of all clips are processed together, one numpy call
per step; the only Python loop is over the log2(n_fft) FFT stages):

1. frame ``win_length`` int16 samples, multiply by the Q15 periodic Hann window,
   round half up keeping ``window_frac_bits`` (default 1) fractional bits
   (``+2**13 >> 14``, int17), zero-pad to ``n_fft``;
2. radix-2 DIT FFT (bit-reversed input, natural-order output), Q15 twiddles, each
   complex product rounded half up, optional per-stage right shift;
3. power ``(re**2 + im**2 + 2**(power_shift-1)) >> power_shift`` for bins 0..n_fft/2;
4. mel filterbank: ``acc[m] = sum_k W[k, m] * P[k]`` with unsigned Q15 weights, no
   rounding (every bin feeds at most two adjacent filters);
5. log2: leading-one position ``e`` of ``max(acc, 1)``, the ``log_mant_bits`` bits below
   it index a table of ``log2(1 + f)`` in Q``log_frac_bits``;
6. int8: ``sat8(((lg + 2**(log_frac_bits-out_frac_bits-1)) >> (log_frac_bits-out_frac_bits))
   - out_offset)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from melflow.frontend.config import FrontendConfig

__all__ = [
    "FrontendTables",
    "tables",
    "widths",
    "bounds",
    "integer_fft",
    "integer_log_mel",
    "integer_log_mel_stages",
    "dequantize",
    "features_for_clips",
    "fft_error_bound",
]


# ---------------------------------------------------------------------------------------
# Constant tables (built with floats once, stored as integers)
# ---------------------------------------------------------------------------------------
def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank_float(cfg: FrontendConfig) -> np.ndarray:
    """HTK triangular filterbank, ``norm=None``, shape ``(n_freqs, n_mels)``.

    Same construction as ``torchaudio.functional.melscale_fbanks`` (computed in float64).
    """
    all_freqs = np.linspace(0.0, cfg.sample_rate // 2, cfg.n_freqs)
    m_pts = np.linspace(_hz_to_mel(cfg.f_min), _hz_to_mel(cfg.f_max), cfg.n_mels + 2)
    f_pts = _mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


@dataclass(frozen=True)
class FrontendTables:
    """The ROM contents (all int64 numpy arrays) for one configuration."""

    window: np.ndarray  # (win_length,) unsigned Q(window_bits), periodic Hann
    twiddle_re: np.ndarray  # (n_fft/2,) Q(twiddle_bits): round(cos(2 pi k / N) * 2**tb)
    twiddle_im: np.ndarray  # (n_fft/2,) Q(twiddle_bits): round(-sin(2 pi k / N) * 2**tb)
    bitrev: np.ndarray  # (n_fft,) bit-reversal permutation
    mel_weights: np.ndarray  # (n_freqs, n_mels) unsigned Q(mel_bits), dense
    mel_first: np.ndarray  # (n_freqs,) lowest filter fed by bin k
    mel_w_first: np.ndarray  # (n_freqs,) weight of bin k in filter mel_first[k]
    mel_w_second: np.ndarray  # (n_freqs,) weight of bin k in filter mel_first[k] + 1
    log_table: np.ndarray  # (2**log_mant_bits,) Q(log_frac_bits) log2(1 + (i + .5) / 2**M)


@lru_cache(maxsize=16)
def tables(cfg: FrontendConfig = FrontendConfig()) -> FrontendTables:
    n = cfg.n_fft
    # Window: periodic Hann (torch.hann_window(win_length) default), unsigned Q15.
    i = np.arange(cfg.win_length)
    window = _round_half_up((0.5 - 0.5 * np.cos(2.0 * math.pi * i / cfg.win_length)) * (1 << cfg.window_bits))
    # Twiddle ROM: W_N^k = exp(-2j pi k / N), k < N/2.
    k = np.arange(n // 2)
    ang = 2.0 * math.pi * k / n
    tw_re = _round_half_up(np.cos(ang) * (1 << cfg.twiddle_bits))
    tw_im = _round_half_up(-np.sin(ang) * (1 << cfg.twiddle_bits))
    # Bit reversal.
    bits = cfg.fft_stages
    idx = np.arange(n)
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    # Mel weights.
    wq = _round_half_up(mel_filterbank_float(cfg) * (1 << cfg.mel_bits))
    first = np.zeros(cfg.n_freqs, dtype=np.int64)
    w1 = np.zeros(cfg.n_freqs, dtype=np.int64)
    w2 = np.zeros(cfg.n_freqs, dtype=np.int64)
    prev = 0
    for kk in range(cfg.n_freqs):
        nz = np.flatnonzero(wq[kk])
        if nz.size == 0:
            first[kk] = prev
            continue
        m = int(nz[0])
        if nz.size > 2 or (nz.size == 2 and nz[1] != m + 1) or m < prev:
            raise ValueError(f"mel bin {kk} feeds filters {nz.tolist()}: need <= 2 adjacent, ascending")
        first[kk], w1[kk] = m, wq[kk, m]
        w2[kk] = wq[kk, m + 1] if nz.size == 2 else 0
        prev = m
    # Log table, midpoint of each mantissa interval.
    M, L = cfg.log_mant_bits, cfg.log_frac_bits
    log_table = _round_half_up(np.log2(1.0 + (np.arange(1 << M) + 0.5) / (1 << M)) * (1 << L))
    out = FrontendTables(window, tw_re, tw_im, rev, wq, first, w1, w2, log_table)
    for a in (window, tw_re, tw_im, rev, wq, first, w1, w2, log_table):
        a.setflags(write=False)
    return out


def widths(cfg: FrontendConfig = FrontendConfig()) -> dict[str, int]:
    """Bit widths that provably hold every intermediate, for any int16 input.

    Signed two's-complement widths for ``windowed`` and ``fft`` (real and imaginary parts
    after every stage), unsigned widths for ``power``, ``mel_acc`` and ``log2``.
    Derivation in docs/frontend.md; :func:`bounds` gives the underlying magnitudes.
    """
    b = bounds(cfg)
    return {
        "pcm": 16,
        "windowed": max(int(b["windowed"]).bit_length(), int(b["windowed_neg"] - 1).bit_length()) + 1,
        "fft": int(math.floor(b["fft"])).bit_length() + 1,
        "power": int(math.floor(b["power"])).bit_length(),
        "mel_acc": int(math.floor(b["mel_acc"])).bit_length(),
        "log2": int(b["log2"]).bit_length(),
    }


def bounds(cfg: FrontendConfig = FrontendConfig()) -> dict[str, float]:
    """Largest magnitude each intermediate can reach (inclusive upper bounds)."""
    t = tables(cfg)
    wb = cfg.window_bits - cfg.window_frac_bits  # the window product is >> wb
    wmax = int(t.window.max())
    xw_pos = (32767 * wmax + (1 << (wb - 1))) >> wb
    xw_neg = -((-32768 * wmax + (1 << (wb - 1))) >> wb)
    # |round(x * w / 2**wb)| <= 32768 * w / 2**wb + 1/2, summed over the window.
    abs_sum = (32768 * int(t.window.sum())) / (1 << wb) + cfg.win_length / 2
    # A node after stage s is a partial DFT of a subset of the frame: |z| <= abs_sum
    # times the twiddle gain, plus the rounding carried through the later stages.
    tw_gain = float(np.max(np.hypot(t.twiddle_re, t.twiddle_im))) / (1 << cfg.twiddle_bits)
    bound, err = abs_sum, 0.0
    for s, sh in enumerate(cfg.shifts):
        err = err * (1 + tw_gain) + (math.sqrt(0.5) if s > 1 else 0.0)
        bound = bound * (tw_gain if s > 1 else 1.0)
        if sh:
            bound, err = bound / (1 << sh), err / (1 << sh) + math.sqrt(0.5)
    fft_max = bound + err  # bounds |re + j im|, hence |re| and |im|
    power_max = (fft_max * fft_max + (1 << cfg.power_shift) / 2) / (1 << cfg.power_shift)
    # Mel: every bin's weights sum to <= 1, so acc <= 2**mel_bits * sum_k P_k.  By
    # Parseval sum_{k<=N/2} |X_k|^2 <= N * sum_n x_n^2 for the exact DFT; the integer FFT
    # adds at most fft_error_bound per bin (triangle inequality on the l2 norm).
    wsum_max = float(t.mel_weights.sum(axis=1).max()) / (1 << cfg.mel_bits)
    sq_sum = float(np.sum((32768.0 * t.window / (1 << wb) + 0.5) ** 2))
    scale = 2.0 ** (-sum(cfg.shifts))
    l2 = math.sqrt(cfg.n_fft * sq_sum) * scale + math.sqrt(cfg.n_freqs) * fft_error_bound(cfg, abs_sum)
    spectrum_sum = (l2 * l2 + cfg.n_freqs * (1 << cfg.power_shift) / 2) / (1 << cfg.power_shift)
    mel_max = (1 << cfg.mel_bits) * max(wsum_max, 1.0) * spectrum_sum
    e_max = int(math.floor(mel_max)).bit_length() - 1
    log2_max = (e_max << cfg.log_frac_bits) + int(t.log_table.max())
    return {
        "windowed": xw_pos,
        "windowed_neg": xw_neg,
        "abs_sum": abs_sum,
        "fft": fft_max,
        "power": power_max,
        "mel_acc": mel_max,
        "log2": log2_max,
    }


def fft_error_bound(cfg: FrontendConfig, abs_sum: float) -> float:
    """Worst-case ``|X_int - X_exact * 2**-sum(shifts)|`` for one frame.

    ``abs_sum`` is ``sum(|windowed samples|)`` of that frame; ``X_exact`` is the exact DFT
    of the integer windowed frame.  Stages 0 and 1 use only the exact twiddles 1 and -j.
    Each later stage adds at most ``sqrt(2)/2`` of rounding and ``|b| * |w_q - w|`` of
    twiddle error, and a butterfly at most doubles the error it receives.
    """
    t = tables(cfg)
    k = np.arange(cfg.n_fft // 2)
    exact = np.exp(-2j * np.pi * k / cfg.n_fft) * (1 << cfg.twiddle_bits)
    tw_err = float(np.max(np.abs(t.twiddle_re + 1j * t.twiddle_im - exact))) / (1 << cfg.twiddle_bits)
    err, scale = 0.0, 1.0
    for s, sh in enumerate(cfg.shifts):
        if s > 1:
            err = 2 * err + math.sqrt(0.5) + abs_sum * scale * tw_err
        else:
            err = 2 * err
        if sh:
            scale /= 1 << sh
            err = err / (1 << sh) + math.sqrt(0.5)
    return err


# ---------------------------------------------------------------------------------------
# Run-time integer pipeline
# ---------------------------------------------------------------------------------------
def _check_pcm(pcm) -> np.ndarray:
    pcm = np.asarray(pcm)
    if pcm.dtype == np.int16:
        return pcm
    if not np.issubdtype(pcm.dtype, np.integer):
        raise TypeError(f"pcm must be int16 samples, got dtype {pcm.dtype}")
    if pcm.size and (pcm.min() < -32768 or pcm.max() > 32767):
        raise ValueError("pcm values exceed the int16 range")
    return pcm.astype(np.int16)


def _frame_bitreversed(pcm2: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """(clips, n) int16 -> (n_fft, clips * frames) int32 windowed frames.

    Layout: row ``i`` holds FFT input position ``i`` (bit-reversed order) of every frame;
    frames are the contiguous inner axis so each numpy call runs over all of them.
    """
    t = tables(cfg)
    n_clips, n = pcm2.shape
    if n < cfg.win_length:
        pcm2 = np.pad(pcm2, ((0, 0), (0, cfg.win_length - n)))
    n_frames = cfg.n_frames(n)
    src = t.bitrev  # position i of the FFT input holds sample bitrev[i]
    inside = src < cfg.win_length
    offs = np.where(inside, src, 0)
    win = np.where(inside, t.window[np.minimum(src, cfg.win_length - 1)], 0).astype(np.int32)
    starts = (np.arange(n_clips) * pcm2.shape[1])[:, None] + np.arange(n_frames)[None, :] * cfg.hop_length
    idx = offs[:, None] + starts.reshape(1, -1)  # (n_fft, clips * frames)
    frames = pcm2.reshape(-1)[idx].astype(np.int32)
    frames *= win[:, None]  # |x * w| <= 2**30: int32 is exact
    wsh = cfg.window_bits - cfg.window_frac_bits
    frames += 1 << (wsh - 1)
    frames >>= wsh
    return frames


@lru_cache(maxsize=16)
def _check_float_exact(cfg: FrontendConfig) -> None:
    """The FFT runs on float64 holding integers; refuse a configuration where it could not be exact."""
    w = widths(cfg)["fft"]
    need = max(w + cfg.twiddle_bits + 1, 2 * w - 1)  # a twiddle product sum; re**2 + im**2
    if need > 53:
        raise ValueError(f"frontend config too wide for the golden model: FFT products need {need} bits, "
                         "float64 holds 53 exactly (lower window_frac_bits or twiddle_bits)")


def _round_half_up_inplace(x: np.ndarray) -> None:
    x += 0.5
    np.floor(x, out=x)


def _fft_bitreversed(x: np.ndarray, cfg: FrontendConfig, stage_max: list | None = None, half: bool = False) -> np.ndarray:
    """Radix-2 DIT FFT along axis 0 of real integer ``(n_fft, rows)`` data in bit-reversed
    order; returns complex128 ``(n_fft, rows)`` in natural order whose parts are the
    integers the spec defines.

    Why float64: every value the spec computes is an integer below 2**53 (the widths say
    25-bit data and Q15 twiddles, so a twiddle product is below 2**41), and float64 holds
    those exactly, as it does ``b * w / 2**tb`` and its floor. Computing in complex128
    lets numpy do a butterfly's complex product in one SIMD pass instead of six int64
    passes (int64 multiplies have no SIMD form on AVX2): same bits, fewer passes. An FMA
    inside the complex product cannot change a result either, since both products are
    exact. The loop reference in tests/test_frontend.py pins it to the integer spec.
    With ``half`` only bins 0..n_fft/2 are right: the last stage skips the upper outputs
    except bin n_fft/2 (the power needs no more).
    """
    _check_float_exact(cfg)
    n = cfg.n_fft
    rows = x.shape[1]
    z = _first_two_stages(x, cfg, stage_max)
    flat = z.view(np.float64)
    scratch = np.empty((n // 2, rows), dtype=np.complex128)  # reused: fresh pages cost more than the math
    for s, sh in enumerate(cfg.shifts[2:], start=2):
        h = 1 << s
        z4 = z.reshape(n // (2 * h), 2, h, rows)
        a, b = z4[:, 0], z4[:, 1]
        tw = scratch.reshape(b.shape)
        np.multiply(b, _twiddles(cfg, s), out=tw)
        _round_half_up_inplace(tw.view(np.float64))
        if half and 2 * h == n:
            np.subtract(a[:, :1], tw[:, :1], out=b[:, :1])
        else:
            np.subtract(a, tw, out=b)
        a += tw
        if sh:
            flat *= 2.0**-sh
            _round_half_up_inplace(flat)
        if stage_max is not None:
            stage_max.append(int(np.abs(flat).max(initial=0)))
    return z


def _first_two_stages(x: np.ndarray, cfg: FrontendConfig, stage_max: list | None) -> np.ndarray:
    """Stages 0 and 1 (twiddles 1 and -j, exact) on the real input, in integers, as one
    radix-4 pass over the four positions ``4g + j``; returns the complex128 array the
    later stages work on. Done apart because on real data these stages need no complex
    arithmetic at all, and the interleaved views of the first stages are numpy's slowest."""
    n, rows = x.shape
    x4 = np.asarray(x, dtype=np.int32).reshape(n // 4, 4, rows)  # < 2**19: _check_float_exact
    s0, s1 = cfg.shifts[0], cfg.shifts[1]

    def rnd(v, sh):
        return (v + (1 << (sh - 1))) >> sh if sh else v

    a0, a1 = rnd(x4[:, 0] + x4[:, 1], s0), rnd(x4[:, 0] - x4[:, 1], s0)
    a2, a3 = rnd(x4[:, 2] + x4[:, 3], s0), rnd(x4[:, 2] - x4[:, 3], s0)
    z = np.empty((n // 4, 4, rows), dtype=np.complex128)
    # stage 1: W = 1 between positions 0 and 2, W = -j between 1 and 3 (-j * a3 = -j a3)
    z.imag[:, 0::2] = 0.0
    z.real[:, 0] = rnd(a0 + a2, s1)
    z.real[:, 2] = rnd(a0 - a2, s1)
    z.real[:, 1] = z.real[:, 3] = rnd(a1, s1)
    z.imag[:, 1] = rnd(-a3, s1)
    z.imag[:, 3] = rnd(a3, s1)
    if stage_max is not None:
        stage_max.append(int(max(np.abs(a).max(initial=0) for a in (a0, a1, a2, a3))))
        stage_max.append(int(np.abs(z.view(np.float64)).max(initial=0)))
    return z.reshape(n, rows)


@lru_cache(maxsize=64)
def _twiddles(cfg: FrontendConfig, stage: int) -> np.ndarray:
    """Stage ``stage``'s twiddles W_N^(j * N / 2h), j < h, as a (h, 1) complex column
    divided by 2**twiddle_bits (exact: a power of two)."""
    t = tables(cfg)
    step = cfg.n_fft // (2 << stage)
    w = (t.twiddle_re[::step] + 1j * t.twiddle_im[::step]) * 2.0 ** -cfg.twiddle_bits
    w = np.ascontiguousarray(w[:, None])
    w.setflags(write=False)
    return w


def integer_fft(frames: np.ndarray, cfg: FrontendConfig = FrontendConfig()):
    """Integer FFT of real windowed frames ``(..., n_fft)`` (natural order, int17 values).

    Returns ``(re, im)`` int64 arrays of shape ``(..., n_fft)``, approximating
    ``np.fft.fft(frames) * 2**-sum(cfg.shifts)`` (see :func:`fft_error_bound`).
    """
    frames = np.asarray(frames)
    if frames.shape[-1] != cfg.n_fft:
        raise ValueError(f"last axis must be n_fft={cfg.n_fft}")
    lead = frames.shape[:-1]
    x = frames.reshape(-1, cfg.n_fft).astype(np.int64).T[tables(cfg).bitrev]
    z = _fft_bitreversed(x, cfg)
    return (z.real.astype(np.int64).T.reshape(lead + (cfg.n_fft,)),
            z.imag.astype(np.int64).T.reshape(lead + (cfg.n_fft,)))


def _mel(power: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """(n_freqs, rows) integer power (int64, or float64 holding integers) -> (n_mels, rows)
    int64, exact ``sum_k W[k, m] * P[k]``.

    A dense float64 matrix product (BLAS) is exact while every partial sum stays below
    2**53, so the power is split into a high and a low half that each qualify, and the
    two integer sums are recombined: several times faster than integer prefix sums.
    """
    t = tables(cfg)
    split = _mel_split(cfg)
    if split is None:  # a configuration too wide for the float64 split: plain integers
        return t.mel_weights.T @ np.asarray(power, dtype=np.int64)
    w = _mel_weights_f64(cfg)
    p = np.asarray(power, dtype=np.float64)  # exact: the power is below 2**53
    hi = p * 2.0**-split
    np.floor(hi, out=hi)
    lo = p - hi * 2.0**split
    return ((w @ hi).astype(np.int64) << split) + (w @ lo).astype(np.int64)


@lru_cache(maxsize=16)
def _mel_split(cfg: FrontendConfig) -> int | None:
    """Bit at which to split the power so that both halves' mel sums are exact in float64."""
    pw = widths(cfg)["power"]
    split = (pw + 1) // 2
    wmax = int(tables(cfg).mel_weights.max())
    exact = cfg.n_freqs * wmax * ((1 << max(split, pw - split)) - 1) < 2 ** 53
    return split if exact else None


@lru_cache(maxsize=16)
def _mel_weights_f64(cfg: FrontendConfig) -> np.ndarray:
    w = np.ascontiguousarray(tables(cfg).mel_weights.T, dtype=np.float64)
    w.setflags(write=False)
    return w


def _log2_fixed(acc: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """Fixed-point log2 of max(acc, 1) in Q(log_frac_bits)."""
    t = tables(cfg)
    M = cfg.log_mant_bits
    a = np.maximum(acc, 1)
    # Leading-one position: float64's exponent, less one where rounding a value above 2**53
    # to float carried it up to the next power of two (the integer is then below it).
    e = np.frexp(a.astype(np.float64))[1].astype(np.int64) - 1
    e -= (a >> e) == 0
    mant = (a >> np.maximum(e - M, 0)) << np.maximum(M - e, 0)
    mant -= 1 << M
    return (e << cfg.log_frac_bits) + t.log_table[mant]


def _codes(lg: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    sh = cfg.log_frac_bits - cfg.out_frac_bits
    rnd = (1 << (sh - 1)) if sh else 0
    c = ((lg + rnd) >> sh) - cfg.out_offset
    return np.clip(c, -128, 127).astype(np.int8)


_BLOCK_FRAMES = 1000


def _frames_to_log2(xw: np.ndarray, cfg: FrontendConfig, stage_max: list | None = None):
    """Windowed frames (n_fft, rows) -> (spectrum, power, mel_acc, log2), all (bins, rows);
    the spectrum is complex128 and the power float64, both holding the spec's integers."""
    z = _fft_bitreversed(xw, cfg, stage_max, half=stage_max is None)[: cfg.n_freqs]  # stage_max reads every bin
    power = z.real * z.real  # exact: below 2**(2 * 24 + 1)
    power += z.imag * z.imag
    if cfg.power_shift:
        power *= 2.0**-cfg.power_shift
        _round_half_up_inplace(power)
    acc = _mel(power, cfg)
    return z, power, acc, _log2_fixed(acc, cfg)


def _run(pcm, cfg: FrontendConfig, record: bool):
    pcm = _check_pcm(pcm)
    if pcm.ndim == 0:
        raise ValueError("pcm must have a time axis")
    lead, n = pcm.shape[:-1], pcm.shape[-1]
    pcm2 = pcm.reshape(-1, n)
    n_frames = cfg.n_frames(n)
    if not record:
        # Blocks of whole clips keep the working set in cache; the arithmetic is per frame,
        # so blocking cannot change any result.
        per = max(1, _BLOCK_FRAMES // n_frames)
        codes = np.empty((pcm2.shape[0], n_frames, cfg.n_mels), dtype=np.int8)
        for i in range(0, pcm2.shape[0], per):
            lg = _frames_to_log2(_frame_bitreversed(pcm2[i : i + per], cfg), cfg)[-1]
            codes[i : i + per] = _codes(lg, cfg).T.reshape(-1, n_frames, cfg.n_mels)
        return codes.reshape(lead + (n_frames, cfg.n_mels))
    xw = _frame_bitreversed(pcm2, cfg)
    stage_max: list = []
    z, power, acc, lg = _frames_to_log2(xw, cfg, stage_max)
    codes = _codes(lg, cfg).T.reshape(lead + (n_frames, cfg.n_mels))
    shape = lead + (n_frames,)
    inv = np.argsort(tables(cfg).bitrev)

    def out(a):
        return np.ascontiguousarray(a.T).reshape(shape + (a.shape[0],))

    return {
        "windowed": out(xw[inv].astype(np.int64)),
        "fft_stage_max": stage_max,
        "fft_re": out(z.real.astype(np.int64)),
        "fft_im": out(z.imag.astype(np.int64)),
        "power": out(power.astype(np.int64)),
        "mel_acc": out(acc),
        "log2": out(lg),
        "codes": codes,
    }


def integer_log_mel(pcm, cfg: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """int16 PCM ``(..., n_samples)`` -> int8 log-Mel codes ``(..., n_frames, n_mels)``."""
    return _run(pcm, cfg, record=False)


def integer_log_mel_stages(pcm, cfg: FrontendConfig = FrontendConfig()) -> dict:
    """Like :func:`integer_log_mel` but returns every intermediate (for tests and RTL debug).

    Keys: ``windowed`` (..., frames, n_fft) natural order; ``fft_stage_max`` list of the
    max |re|, |im| after each FFT stage (over all frames); ``fft_re``, ``fft_im``, ``power``
    (..., frames, n_freqs); ``mel_acc``, ``log2`` (Q log_frac_bits), ``codes``
    (..., frames, n_mels).
    """
    return _run(pcm, cfg, record=True)


def dequantize(codes, cfg: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """int8 codes -> float natural-log mel energy (torchaudio on the raw int16 values)."""
    return (np.asarray(codes, dtype=np.float64) - cfg.out_zero) * cfg.out_scale


def features_for_clips(pcm_batch, cfg: FrontendConfig = FrontendConfig(), batch: int = 64) -> np.ndarray:
    """Codes for a list or array of equal-length clips, processed ``batch`` clips at a time."""
    if isinstance(pcm_batch, np.ndarray):
        clips = pcm_batch
    else:
        clips = [np.asarray(c) for c in pcm_batch]
        if len({c.shape for c in clips}) > 1:
            raise ValueError("features_for_clips needs equal-length clips")
        clips = np.stack(clips) if clips else np.zeros((0, cfg.win_length), np.int16)
    if clips.ndim != 2:
        raise ValueError("expected (clips, n_samples)")
    out = np.empty((clips.shape[0], cfg.n_frames(clips.shape[1]), cfg.n_mels), dtype=np.int8)
    for i in range(0, clips.shape[0], batch):
        out[i : i + batch] = integer_log_mel(clips[i : i + batch], cfg)
    return out
