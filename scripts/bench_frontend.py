"""Speed of the integer log-Mel golden model, as "x real time per core", and of the RTL frontend.

    .venv/bin/python scripts/bench_frontend.py [--seconds 100] [--batch 10] [--repeat 10]
                                               [--folds realtime fast] [--no-rtl] [--no-synth]

Runs ``integer_log_mel`` on ``--seconds`` of 1-second 16 kHz clips (white noise, which
costs the same as speech), ``--batch`` clips per call, with numpy's threads limited to one.

Then, per RTL fold, one JSON line: cycles per frame from a Verilator run on 3 frames (and
the analytic estimate), the real-time factor at the board clock, and the yosys
``synth_xilinx`` resources for the xc7z020 (LUT, FF, BRAM18, DSP, LUTRAM). About 40 s per
fold; the build folders go under ``--out``.
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from melflow.frontend import FrontendConfig, integer_log_mel  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=100, help="total audio (1-s clips)")
    ap.add_argument("--batch", type=int, default=10, help="clips per call")
    ap.add_argument("--repeat", type=int, default=10, help="report the best of this many runs (other jobs add noise)")
    ap.add_argument("--folds", nargs="+", default=["realtime", "fast"], help="RTL folds to measure")
    ap.add_argument("--no-rtl", action="store_true", help="only the golden model")
    ap.add_argument("--no-synth", action="store_true", help="RTL cycles without yosys")
    ap.add_argument("--out", default=None, help="build folder for the RTL runs (default: a temporary one)")
    args = ap.parse_args(argv)
    cfg = FrontendConfig()
    rng = np.random.default_rng(0)
    pcm = rng.normal(0, 3000, size=(args.seconds, cfg.sample_rate)).clip(-32768, 32767).astype(np.int16)
    integer_log_mel(pcm[: args.batch], cfg)  # warm up (builds the tables)
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for i in range(0, args.seconds, args.batch):
            integer_log_mel(pcm[i : i + args.batch], cfg)
        best = min(best, time.perf_counter() - t0)
    audio_s = args.seconds
    print(f"integer_log_mel: {audio_s} s of audio in {best * 1e3:.1f} ms "
          f"({best / audio_s * 1e3:.3f} ms per second of audio) "
          f"= {audio_s / best:.0f}x real time per core (batch {args.batch})", flush=True)
    if args.no_rtl:
        return
    from melflow.boards.frontend import frontend_report

    with tempfile.TemporaryDirectory(prefix="bench_frontend_") as tmp:
        out = Path(args.out or tmp)
        for fold in args.folds:
            fold = int(fold) if fold.isdigit() else fold
            print(json.dumps(frontend_report(out / str(fold), cfg, fold, synth=not args.no_synth)), flush=True)


if __name__ == "__main__":
    main()
