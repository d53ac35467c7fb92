"""Integer log-Mel frontend: golden model vs its specification and vs torchaudio."""

from __future__ import annotations

import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from melflow.frontend import (
    FrontendConfig,
    bounds,
    dequantize,
    features_for_clips,
    fft_error_bound,
    float_log_mel,
    integer_fft,
    integer_log_mel,
    integer_log_mel_stages,
    snr_db,
    tables,
    widths,
)
from melflow.frontend import golden

CFG = FrontendConfig()
RNG = np.random.default_rng(1234)


def _i16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------- shapes and framing
def test_shapes_and_dtype():
    assert CFG.n_frames(16000) == 98
    x = RNG.integers(-1000, 1000, size=16000).astype(np.int16)
    c = integer_log_mel(x)
    assert c.shape == (98, 40) and c.dtype == np.int8
    batch = RNG.integers(-1000, 1000, size=(2, 3, 8000)).astype(np.int16)
    cb = integer_log_mel(batch)
    assert cb.shape == (2, 3, CFG.n_frames(8000), 40)
    np.testing.assert_array_equal(cb[1, 2], integer_log_mel(batch[1, 2]))
    np.testing.assert_array_equal(features_for_clips(list(batch[0]), batch=2), cb[0])


def test_short_clip_is_padded_to_one_window():
    x = RNG.integers(-5000, 5000, size=123).astype(np.int16)
    c = integer_log_mel(x)
    assert c.shape == (1, 40)
    np.testing.assert_array_equal(c, integer_log_mel(np.pad(x, (0, CFG.win_length - 123))))
    assert CFG.n_frames(0) == 1 and CFG.n_frames(559) == 1 and CFG.n_frames(560) == 2


def test_rejects_float_pcm():
    with pytest.raises(TypeError):
        integer_log_mel(np.zeros(400, dtype=np.float32))
    with pytest.raises(ValueError):
        integer_log_mel(np.full(400, 40000, dtype=np.int32))


def test_blocked_and_staged_paths_agree():
    x = RNG.integers(-8000, 8000, size=(7, 16000)).astype(np.int16)  # > one block of frames
    np.testing.assert_array_equal(integer_log_mel(x), integer_log_mel_stages(x)["codes"])


# ---------------------------------------------------------------- tables
def test_tables_match_torch():
    torch = pytest.importorskip("torch")
    torchaudio = pytest.importorskip("torchaudio")
    t = tables(CFG)
    w = torch.hann_window(CFG.win_length, dtype=torch.float64).numpy()
    assert np.abs(t.window - w * 2**15).max() <= 0.5
    fb = torchaudio.functional.melscale_fbanks(
        CFG.n_freqs, CFG.f_min, CFG.f_max, CFG.n_mels, CFG.sample_rate, norm=None, mel_scale="htk"
    ).numpy()
    # torchaudio builds the filterbank in float32: allow its rounding on top of ours
    assert np.abs(t.mel_weights - fb * 2**CFG.mel_bits).max() <= 0.6
    assert (t.mel_weights.sum(axis=0) > 0).all()  # no empty filter


def test_twiddles_and_log_table():
    t = tables(CFG)
    assert t.twiddle_re[0] == 2**15 and t.twiddle_im[0] == 0 and t.twiddle_im[CFG.n_fft // 4] == -(2**15)
    assert np.abs(t.twiddle_re).max() <= 2**15 and np.abs(t.twiddle_im).max() <= 2**15
    assert (np.diff(t.log_table) >= 0).all() and t.log_table.size == 2**CFG.log_mant_bits


# ---------------------------------------------------------------- FFT
def _fft_loop_reference(x: np.ndarray, cfg: FrontendConfig):
    """Plain per-butterfly transcription of docs/frontend.md, step 2 (Python ints)."""
    t = tables(cfg)
    n, tb = cfg.n_fft, cfg.twiddle_bits
    re = [int(x[int(t.bitrev[i])]) for i in range(n)]
    im = [0] * n
    for s, sh in enumerate(cfg.shifts):
        h = 1 << s
        for g0 in range(0, n, 2 * h):
            for j in range(h):
                k = j * (n // (2 * h))
                wr, wi = int(t.twiddle_re[k]), int(t.twiddle_im[k])
                a, b = g0 + j, g0 + j + h
                tr = (re[b] * wr - im[b] * wi + (1 << (tb - 1))) >> tb
                ti = (re[b] * wi + im[b] * wr + (1 << (tb - 1))) >> tb
                ar, ai = re[a], im[a]
                re[a], im[a], re[b], im[b] = ar + tr, ai + ti, ar - tr, ai - ti
                if sh:
                    for idx in (a, b):
                        re[idx] = (re[idx] + (1 << (sh - 1))) >> sh
                        im[idx] = (im[idx] + (1 << (sh - 1))) >> sh
    return np.array(re), np.array(im)


@pytest.mark.parametrize("cfg", [CFG, FrontendConfig(fft_shifts=(1, 0, 1, 0, 1, 0, 1, 0, 1))])
def test_vectorised_fft_is_the_loop_spec(cfg):
    frames = RNG.integers(-65536, 65536, size=(3, cfg.n_fft))
    re, im = integer_fft(frames, cfg)
    for f in range(3):
        rr, ii = _fft_loop_reference(frames[f], cfg)
        np.testing.assert_array_equal(re[f], rr)
        np.testing.assert_array_equal(im[f], ii)


def test_fft_matches_numpy_within_bound():
    lim = 2 ** (widths(CFG)["windowed"] - 1)
    frames = np.concatenate(
        [
            RNG.integers(-lim, lim, size=(40, CFG.n_fft)),
            RNG.integers(-30, 30, size=(20, CFG.n_fft)),
            np.full((1, CFG.n_fft), lim - 1),
        ]
    )
    re, im = integer_fft(frames)
    err = np.abs(re + 1j * im - np.fft.fft(frames, axis=-1))
    bound = np.array([fft_error_bound(CFG, float(np.abs(f).sum())) for f in frames])
    assert (err.max(axis=1) <= bound).all()
    # typical error: a few LSB of rounding plus ~2**-16 relative twiddle error
    rms_err = np.sqrt((err**2).mean(axis=1))
    rms_x = np.sqrt((np.abs(np.fft.fft(frames, axis=-1)) ** 2).mean(axis=1))
    assert (rms_err <= 4 + rms_x * 2.0**-14).all()


# ---------------------------------------------------------------- widths / overflow
def _extreme_signals():
    n = 16000
    t = np.arange(n)
    sigs = []
    for period in (2, 4, 7, 32, 160, 400, 1000):
        sq = np.where((t // (period // 2 if period > 2 else 1)) % 2 == 0, 32767, -32768)
        sigs.append(sq)
    sigs += [np.full(n, 32767), np.full(n, -32768)]
    imp = np.zeros(n, dtype=np.int64)
    imp[::160] = -32768
    imp[80::400] = 32767
    sigs.append(imp)
    sigs.append(RNG.integers(-32768, 32768, size=n))
    sigs.append(np.where(RNG.random(n) < 0.5, -32768, 32767))
    # the worst case for a bin: samples matching the sign of a tone at that bin
    for k in (1, 37, 128, 255):
        sigs.append(np.where(np.cos(2 * np.pi * k * t / CFG.n_fft) >= 0, 32767, -32768))
    return np.stack(sigs).astype(np.int16)


def test_no_overflow_on_extreme_signals():
    w, b = widths(CFG), bounds(CFG)
    assert w == {"pcm": 16, "windowed": 17, "fft": 25, "power": 40, "mel_acc": 56, "log2": 14}
    st = integer_log_mel_stages(_extreme_signals())
    assert st["windowed"].max() < 2 ** (w["windowed"] - 1) and st["windowed"].min() >= -(2 ** (w["windowed"] - 1))
    assert max(st["fft_stage_max"]) <= b["fft"] < 2 ** (w["fft"] - 1)
    assert max(np.abs(st["fft_re"]).max(), np.abs(st["fft_im"]).max()) <= b["fft"]
    assert 0 <= st["power"].min() and st["power"].max() <= b["power"] < 2 ** w["power"]
    assert 0 <= st["mel_acc"].min() and st["mel_acc"].max() <= b["mel_acc"] < 2 ** w["mel_acc"]
    assert st["log2"].max() <= b["log2"] < 2 ** w["log2"]
    assert b["mel_acc"] < 2**62  # int64 golden model is exact
    # loud in-band square waves saturate at the top (no wrap-around to negative codes)
    c = st["codes"]
    assert (c[3:6].max(axis=(-1, -2)) == 127).all()
    assert (c[3:6].min(axis=(-1, -2)) > -128).all()


def test_digital_silence_is_the_floor():
    c = integer_log_mel(np.zeros((2, 16000), dtype=np.int16))
    assert (c == -128).all()
    assert dequantize(np.int8(-128)) == pytest.approx(CFG.ln_min)
    assert dequantize(np.int8(127)) == pytest.approx(CFG.ln_max)


# ---------------------------------------------------------------- log and mel steps
def test_log2_fixed_point():
    acc = np.concatenate([np.arange(1, 5000), RNG.integers(1, 2**56, size=20000), 2 ** np.arange(56)]).astype(np.int64)
    lg = golden._log2_fixed(acc, CFG)
    err = lg / 2**CFG.log_frac_bits - np.log2(acc.astype(np.float64))
    # table midpoint rule: half a mantissa step, plus half an LSB of the table
    tol = math.log2(1 + 2.0 ** -(CFG.log_mant_bits + 1)) + 2.0 ** -(CFG.log_frac_bits + 1) + 1e-9
    assert np.abs(err).max() <= tol
    order = np.argsort(acc)
    assert (np.diff(lg[order]) >= 0).all()  # monotonic
    assert golden._log2_fixed(np.array([0]), CFG)[0] == golden._log2_fixed(np.array([1]), CFG)[0]


def test_sparse_mel_equals_dense_matmul():
    p = RNG.integers(0, 2**40, size=(CFG.n_freqs, 50))
    np.testing.assert_array_equal(golden._mel(p, CFG), tables(CFG).mel_weights.T @ p)


# ---------------------------------------------------------------- behaviour
def _speech_like(seconds=1.0, seed=0, level=3000.0):
    """Glottal pulse train (wandering pitch) through moving formant resonators, with pauses."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    sr = CFG.sample_rate
    n = int(seconds * sr)
    f0 = 110 + 40 * np.sin(2 * np.pi * 3 * np.arange(n) / sr + rng.uniform(0, 6))
    phase = np.cumsum(f0 / sr)
    src = (np.diff(np.floor(phase), prepend=0) > 0).astype(float) + 0.05 * rng.standard_normal(n)
    out = np.zeros(n)
    for seg in range(4):
        sl = slice(seg * n // 4, (seg + 1) * n // 4)
        y = src[sl]
        for fc, bw in ((rng.uniform(300, 800), 80), (rng.uniform(900, 2200), 120), (rng.uniform(2400, 3500), 200)):
            r = math.exp(-math.pi * bw / sr)
            y = lfilter([1 - r], [1, -2 * r * math.cos(2 * math.pi * fc / sr), r * r], y) * 4
        out[sl] = y * np.hanning(y.size) ** 0.3
    out *= level / np.std(out)
    return _i16(out)


def _pink(n, seed, level):
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return _i16(x * level / x.std())


def test_louder_never_gives_lower_codes():
    sigs = [_speech_like(seed=3, level=2000), _pink(16000, 4, 1500), _i16(RNG.normal(0, 1000, 16000))]
    for x in sigs:
        x = np.clip(x, -16384, 16383).astype(np.int16)
        c1 = integer_log_mel(x).astype(int)
        c2 = integer_log_mel((x * 2).astype(np.int16)).astype(int)
        assert (c2 >= c1).all()
        inside = (c1 > -128) & (c2 < 127)
        assert abs(np.median(c2[inside] - c1[inside]) - 2 * 2**CFG.out_frac_bits) <= 1


def _fidelity(x):
    c = integer_log_mel(x)
    ref = float_log_mel(x)
    g = dequantize(c)
    return snr_db(g, ref), g, ref, c


@pytest.mark.parametrize(
    "name,x",
    [
        ("speech_like", _speech_like(seed=1)),
        ("speech_like_quiet", _speech_like(seed=2, level=300)),
        ("white", _i16(np.random.default_rng(5).normal(0, 3000, 16000))),
        ("white_quiet", _i16(np.random.default_rng(6).normal(0, 30, 16000))),
        ("pink", _pink(16000, 7, 2000)),
    ],
)
def test_fidelity_vs_torchaudio(name, x):
    pytest.importorskip("torchaudio")
    snr, g, ref, c = _fidelity(x)
    assert snr >= 35.0, (name, snr)
    well_inside = (ref > CFG.ln_min + 2) & (ref < CFG.ln_max)
    assert np.abs(g - ref)[well_inside].max() < 0.2


def _espeak(word: str, voice: str) -> np.ndarray:
    import tempfile

    import soundfile as sf
    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", path, word], check=True, capture_output=True)
        x, sr = sf.read(path, dtype="int16")
    assert sr == 22050
    return _i16(resample_poly(x.astype(np.float64), 160, 441))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
@pytest.mark.parametrize("word,voice", [("yes", "en"), ("seven", "en-us"), ("stop the music now", "en-gb")])
def test_fidelity_on_espeak_speech(word, voice):
    pytest.importorskip("torchaudio")
    x = _espeak(word, voice)
    x = np.pad(x, (0, max(0, 16000 - x.size)))[:16000]
    snr, g, ref, c = _fidelity(x)
    assert snr >= 35.0, snr
    voiced = ref.max(axis=1) > 20  # frames with speech (not the digital silence padding)
    assert np.mean(c[voiced] == 127) < 0.01 and np.mean(c[voiced] == -128) < 0.1


def test_frontend_check_cli_on_corpus(tiny_corpus, capsys):
    """`melflow frontend check` prints one JSON object with per-clip and overall SNR; the
    spec's goal is 35 dB or more on speech and noise."""
    import json

    from melflow.cli import main

    assert main(["frontend", "check", "--manifest", str(tiny_corpus / "test.csv"), "--limit", "12"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["clips"] == 12 and len(out["per_clip"]) == 12
    assert out["snr_db"] >= 35.0, out
    assert 0.0 <= out["saturated_low"] < 0.5 and out["saturated_high"] == 0.0


def test_frontend_check_names_bad_file(tmp_path, capsys):
    from melflow.cli import main

    (tmp_path / "bad.wav").write_bytes(b"not audio")
    (tmp_path / "m.csv").write_text("path,label\nbad.wav,yes\n")
    assert main(["frontend", "check", "--manifest", str(tmp_path / "m.csv")]) == 2
    assert "bad.wav" in capsys.readouterr().err
