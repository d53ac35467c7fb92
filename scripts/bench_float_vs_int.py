#!/usr/bin/env python3
"""Train one model config twice, on the integer frontend's codes and on torchaudio's float
log-Mel (same scale, same seeds, same augmentation), and print both test accuracies.

Issue #3 asks that the two differ by 0.3 points or less: the integer frontend must cost
the network nothing. Training noise between seeds is larger than that on a small test split,
so several seeds are run and the means compared.

    python scripts/bench_float_vs_int.py --config models/kws_cnn.yaml --data data/kws-small --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from melflow.train.trainer import train_from_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="models/kws_cnn.yaml")
    ap.add_argument("--data", default="data/kws-small", help="corpus folder with train/val/test manifests")
    ap.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    acc: dict[str, list[float]] = {"integer": [], "float": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for kind in acc:
                res = train_from_config(args.config, args.data, out=Path(tmp) / f"{kind}-{seed}.pt", epochs=args.epochs,
                                        seed=seed, overrides={"features": kind, "threads": args.threads})
                acc[kind].append(res["test_acc"])
                print(json.dumps({"features": kind, "seed": seed, "test_acc": res["test_acc"]}), flush=True)
    mean = {k: statistics.mean(v) for k, v in acc.items()}
    print(json.dumps({
        "config": args.config, "data": args.data, "seeds": args.seeds,
        "integer_test_acc": round(mean["integer"], 4), "float_test_acc": round(mean["float"], 4),
        "difference_points": round(100 * (mean["float"] - mean["integer"]), 2),
        "integer_per_seed": acc["integer"], "float_per_seed": acc["float"],
    }))


if __name__ == "__main__":
    main()
