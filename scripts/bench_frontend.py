"""Speed of the integer log-Mel golden model, as "x real time per core".

    .venv/bin/python scripts/bench_frontend.py [--seconds 100] [--batch 10] [--repeat 3]

Runs ``integer_log_mel`` on ``--seconds`` of 1-second 16 kHz clips (white noise, which
costs the same as speech), ``--batch`` clips per call, with numpy's threads limited to one.
"""

from __future__ import annotations

import argparse
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from melflow.frontend import FrontendConfig, integer_log_mel  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=100, help="total audio (1-s clips)")
    ap.add_argument("--batch", type=int, default=10, help="clips per call")
    ap.add_argument("--repeat", type=int, default=3, help="report the best of this many runs")
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
          f"= {audio_s / best:.0f}x real time per core (batch {args.batch})")


if __name__ == "__main__":
    main()
