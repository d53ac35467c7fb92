"""The RTL log-Mel frontend on a board: yosys resources and simulated cycles per frame.

    from melflow.boards.frontend import frontend_report
    frontend_report("build/frontend", fold="realtime")  # LUT/FF/BRAM18/DSP + cycles

``scripts/bench_frontend.py`` prints one JSON line per fold with these numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from melflow.boards.boards import load_board
from melflow.boards.yosys import synthesize
from melflow.frontend import FrontendConfig
from melflow.rtl.frontend import FOLDS, write_frontend_rtl
from melflow.sim.frontend import simulate_frontend


def synthesize_frontend(work_dir: str | Path, cfg: FrontendConfig = FrontendConfig(), fold="realtime",
                        board: str = "pynq-z2", timeout: float | None = None) -> dict:
    """yosys ``synth_xilinx`` of the frontend for ``board``'s family: LUT, FF, BRAM18, DSP,
    LUTRAM, the seconds it took and the yosys log."""
    work_dir = Path(work_dir)
    b = load_board(board)
    iface = write_frontend_rtl(work_dir / "rtl", cfg, fold)
    res = synthesize(work_dir / "rtl", iface["top"], iface["files"], iface["data_files"], work_dir / "yosys",
                     family=b.family, timeout=timeout)
    return {k: res[k] for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM", "seconds", "log")}


def measure_frontend_cycles(work_dir: str | Path, cfg: FrontendConfig = FrontendConfig(), fold="realtime",
                            frames: int = 3, seed: int = 0) -> dict:
    """Cycles per frame and latency from a Verilator run on ``frames`` frames of white noise
    (no stalls; every code checked against the golden model)."""
    work_dir = Path(work_dir)
    write_frontend_rtl(work_dir / "rtl", cfg, fold)
    pcm = np.random.default_rng(seed).normal(0, 3000, cfg.win_length + (frames - 1) * cfg.hop_length)
    res = simulate_frontend(work_dir / "rtl", work_dir / "sim", {"noise": pcm.clip(-32768, 32767).astype(np.int16)})
    if res.mismatches:
        raise AssertionError(f"RTL frontend ({fold}) differs from the golden model on {res.mismatches}")
    return {"cycles_per_frame": res.cycles_per_frame, "latency_cycles": res.latency_cycles}


def frontend_report(work_dir: str | Path, cfg: FrontendConfig = FrontendConfig(), fold="realtime",
                    board: str = "pynq-z2", synth: bool = True, frames: int = 3) -> dict:
    """Cycles (simulated and estimated) and, with ``synth``, yosys resources of one fold."""
    work_dir = Path(work_dir)
    b = load_board(board)
    iface = write_frontend_rtl(work_dir / "rtl", cfg, fold)
    out = {"fold": iface["fold"], "par": iface["par"], "n_fft": cfg.n_fft, "n_mels": cfg.n_mels,
           "cycles_per_frame_estimate": iface["cycles_per_frame"]}
    out.update(measure_frontend_cycles(work_dir, cfg, fold, frames))
    hop_cycles = cfg.hop_length / cfg.sample_rate * b.clock_mhz * 1e6
    out["clock_mhz"] = b.clock_mhz
    out["hop_cycles"] = int(hop_cycles)
    out["frame_us"] = round(out["cycles_per_frame"] / b.clock_mhz, 2)
    out["x_real_time"] = round(hop_cycles / max(out["cycles_per_frame"], cfg.hop_length), 1)
    if synth:
        res = synthesize_frontend(work_dir, cfg, fold, board)
        out.update({"part": b.part, **{k: res[k] for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM")},
                    "yosys_seconds": res["seconds"]})
    return out


__all__ = ["FOLDS", "frontend_report", "measure_frontend_cycles", "synthesize_frontend"]
