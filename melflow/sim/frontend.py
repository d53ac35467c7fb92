"""Simulate the RTL log-Mel frontend in Verilator through the cocotb testbench
sim/test_frontend.py, against the golden model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melflow.core import MelflowError
from melflow.frontend import FrontendConfig, integer_log_mel
from melflow.sim import verilator


@dataclass
class FrontendSimResult:
    codes: dict[str, np.ndarray]  # stream name -> (frames, n_mels) int8 codes from the RTL
    expected: dict[str, np.ndarray]  # the golden model's codes for the same frames
    mismatches: list[str] = field(default_factory=list)  # streams whose codes differ
    frame_ends: dict[str, list[int]] = field(default_factory=dict)  # cycle of each frame's tlast (free streams)
    cycles_per_frame: int = 0  # steady state, no stalls (longest free stream)
    latency_cycles: int = 0  # last sample of frame 0 accepted -> its last code out
    sim_cycles: int = 0


def load_interface(rtl_dir: str | Path) -> dict:
    return json.loads((Path(rtl_dir) / "frontend.json").read_text())


def rtl_frames(n_samples: int, cfg: FrontendConfig) -> int:
    """Frames the streaming RTL emits for a stream of ``n_samples`` (none before a full
    window: unlike the golden model it does not zero-pad a short clip)."""
    return 0 if n_samples < cfg.win_length else cfg.n_frames(n_samples)


def build_frontend_sim(rtl_dir: str | Path, sim_dir: str | Path):
    """Verilate the frontend once; reused by every simulate_frontend call on the same sim_dir."""
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    iface = load_interface(rtl_dir)
    runner = verilator.build_block(rtl_dir, sim_dir, iface)
    return runner, iface


def simulate_frontend(
    rtl_dir: str | Path,
    sim_dir: str | Path,
    streams: dict[str, np.ndarray],
    stalled: dict[str, tuple[float, float]] | tuple[str, ...] = (),
    reset_mid_frame: tuple[str, ...] = (),
    seed: int = 0,
) -> FrontendSimResult:
    """Stream each int16 PCM array of ``streams`` through the RTL (a reset before each).

    A stream may also be a list of clips: they go back to back, each closed by tlast on
    its last sample, and each must give the codes ``integer_log_mel`` gives for it alone.

    Streams named in ``stalled`` (a tuple, or a dict of ``(p_gap, p_backpressure)``, the
    probabilities of an input gap and of output backpressure in a cycle; 0.3 each for a
    tuple) go through cocotbext-axi with random stalls; the others run without stalls and
    give the cycles per frame. Streams in ``reset_mid_frame`` (not stalled) are preceded by
    random samples and a reset while their first frame is being computed. Every code is
    compared with ``integer_log_mel``.
    """
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    runner, iface = build_frontend_sim(rtl_dir, sim_dir)
    cfg = FrontendConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in iface["config"].items()})
    if not isinstance(stalled, dict):
        stalled = {name: (0.3, 0.3) for name in stalled}
    unknown = (set(stalled) | set(reset_mid_frame)) - set(streams)
    if unknown:
        raise MelflowError(f"streams {sorted(unknown)} named in stalled / reset_mid_frame are not among the streams")
    rng = np.random.default_rng(seed)
    vec, expected = [], {}
    for name, stream in streams.items():
        clips = list(stream) if isinstance(stream, (list, tuple)) else [stream]
        codes_per_clip = []
        for clip in clips:
            clip = np.asarray(clip)
            if clip.ndim != 1 or clip.dtype != np.int16:
                raise MelflowError(f"stream {name!r}: need 1-D int16 arrays, got {clip.dtype} {clip.shape}")
            n_frames = rtl_frames(clip.size, cfg)
            if n_frames == 0:
                raise MelflowError(f"stream {name!r}: a clip of {clip.size} samples gives no frame (win_length {cfg.win_length})")
            codes_per_clip.append(integer_log_mel(clip, cfg)[:n_frames])
        pcm = np.concatenate(clips)
        expected[name] = np.concatenate(codes_per_clip)
        v = {"name": name, "pcm": pcm.tolist(), "expected": expected[name].reshape(-1).tolist(), "stall": name in stalled,
             "clip_ends": (np.cumsum([len(c) for c in clips]) - 1).tolist()}
        if name in stalled:
            v["p_gap"], v["p_backpressure"] = stalled[name]
        if name in reset_mid_frame:  # junk up to the first frame, reset half way through it
            v["junk"] = rng.integers(-32768, 32768, cfg.win_length + cfg.hop_length // 2).tolist()
            v["junk_cycles"] = cfg.win_length + cfg.hop_length // 2 + iface["cycles_per_frame"] // 2
        vec.append(v)
    budget = 2 * iface["cycles_per_frame"] + 1000
    vectors = {"seed": seed, "streams": vec, "n_mels": cfg.n_mels, "frame_budget_cycles": budget}
    run_dir = verilator.prepare_run(rtl_dir, sim_dir, iface["data_files"], vectors)
    base = run_dir / "results"
    parts = {t: Path(f"{base}.{t}.json") for t in ("stalled_streams", "free_streams")}
    for p in parts.values():
        p.unlink(missing_ok=True)
    env = {"MELFLOW_VECTORS": str(run_dir / "vectors.json"), "MELFLOW_RESULTS": str(base)}
    verilator.run_test(runner, "test_frontend", iface["top"], sim_dir / "obj", run_dir, env, seed=seed)
    missing = [t for t, p in parts.items() if not p.exists()]
    if missing:
        log = run_dir / "sim.log"
        errors = [l.strip() for l in log.read_text(errors="replace").splitlines() if " ERROR " in l or "FAIL" in l] if log.exists() else []
        raise MelflowError(f"the frontend simulation did not finish {missing} ({errors[0] if errors else 'no error logged'}); see {log}")
    res = {t: json.loads(p.read_text()) for t, p in parts.items()}
    codes = {}
    for r in res.values():
        for name, c in r["outputs"].items():
            codes[name] = np.array(c, dtype=np.int8).reshape(-1, cfg.n_mels)
    free = res["free_streams"]
    out = FrontendSimResult(
        codes=codes,
        expected=expected,
        mismatches=res["stalled_streams"]["mismatches"] + free["mismatches"],
        frame_ends=free["frame_ends"],
        sim_cycles=free.get("sim_cycles", 0),
    )
    if free["frame_ends"]:
        longest = max(free["frame_ends"], key=lambda n: len(free["frame_ends"][n]))
        ends = free["frame_ends"][longest]
        gaps = np.diff(ends[1:])  # frame 0 waits for a full window; then the pipeline is full
        out.cycles_per_frame = int(gaps.max()) if gaps.size else 0
        first, _, _ = free["accepted"][longest]
        out.latency_cycles = int(ends[0] - (first + cfg.win_length - 1))
    return out
