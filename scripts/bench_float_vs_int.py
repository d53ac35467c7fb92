#!/usr/bin/env python3
"""Train one model config twice, on the integer frontend's codes and on torchaudio's float
log-Mel (same scale, same seeds, same augmentation), and print both test accuracies.

Issue #3 asks that the two differ by 0.3 points or less: the integer frontend must cost
the network nothing. Training noise between seeds is larger than that on a small test split,
so several seeds can be run and the means compared.

    python scripts/bench_float_vs_int.py --config models/kws_cnn_undistilled.yaml --data data/kws-small --seeds 0 1 2

The full recipe trains on the full corpus and tests on the small corpus's unseen speakers;
an integer run already made with that recipe (a shipped checkpoint) can stand for the
integer arm, since training it again would only repeat it:

    python scripts/bench_float_vs_int.py --data data/kws-full --test data/kws-small/test.csv \\
        --integer-checkpoint models/kws_cnn_undistilled.pt --keep build/float_vs_int
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from melflow.core import MelflowError, reports_errors
from melflow.frontend import FrontendConfig
from melflow.train.config import load_config
from melflow.train.features import manifest_features
from melflow.train.trainer import load_checkpoint, predict, train_from_config

# keys of a train config that may differ between two runs of one recipe
_NOT_RECIPE = {"features", "threads", "teachers", "teacher_inputs", "distill", "temperature"}  # the arms train without teachers


def test_accuracy(checkpoint: Path, manifest: Path) -> float:
    """Accuracy of a checkpoint on a manifest, on the features it was trained on."""
    model, ckpt = load_checkpoint(checkpoint)
    kind = ckpt["train_config"].get("features", "integer")
    x, y, _ = manifest_features(manifest, FrontendConfig(**ckpt["frontend"]), kind=kind)
    return float((predict(model, x).argmax(1) == y).mean())


def check_same_recipe(checkpoint: Path, config: str, epochs: int | None) -> None:
    """A reused integer run stands for the integer arm only if it is the config's model,
    trained with the config's recipe (all train keys but the feature kind, the thread count
    and the distillation keys: both arms train without teachers)."""
    spec, tc = load_config(Path(config))
    if epochs is not None:
        tc.epochs = epochs
    _, ckpt = load_checkpoint(checkpoint)
    if ckpt["model_spec"] != spec:
        raise MelflowError(f"--integer-checkpoint {checkpoint} is another model than {config}")
    if ckpt["train_config"].get("features", "integer") != "integer":
        raise MelflowError(f"--integer-checkpoint {checkpoint} was trained on {ckpt['train_config']['features']} features")
    want = {k: v for k, v in vars(tc).items() if k not in _NOT_RECIPE}
    have = {k: ckpt["train_config"].get(k, v) for k, v in want.items()}  # keys added since default to the config's
    diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
    if diff:
        raise MelflowError(f"--integer-checkpoint {checkpoint} has another recipe than {config}: {diff} (checkpoint, config)")


@reports_errors("bench_float_vs_int")
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="models/kws_cnn_undistilled.yaml")
    ap.add_argument("--data", default="data/kws-small", help="corpus folder with train/val manifests")
    ap.add_argument("--test", default=None, help="test manifest (default: the corpus's test.csv)")
    ap.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--integer-checkpoint", default=None,
                    help="an integer-feature run of the same recipe (one seed) to use instead of training one")
    ap.add_argument("--keep", default=None, help="folder to keep the trained checkpoints in (default: discarded)")
    args = ap.parse_args()
    test = Path(args.test) if args.test else Path(args.data) / "test.csv"
    if not test.exists():
        raise MelflowError(f"test manifest {test} does not exist")
    if args.integer_checkpoint:
        if len(args.seeds) != 1:
            raise MelflowError("--integer-checkpoint stands for one integer run: give one --seeds value")
        check_same_recipe(Path(args.integer_checkpoint), args.config, args.epochs)
    acc: dict[str, list[float]] = {"integer": [], "float": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        for seed in args.seeds:
            for kind in acc:
                if kind == "integer" and args.integer_checkpoint:
                    ckpt = Path(args.integer_checkpoint)
                else:
                    ckpt = folder / f"{Path(args.config).stem}-{kind}-seed{seed}.pt"
                    # no teachers: they were trained on integer codes and would grade the float arm on the wrong features
                    train_from_config(args.config, args.data, out=ckpt, epochs=args.epochs, seed=seed, log_dir=None,
                                      overrides={"features": kind, "threads": args.threads, "teachers": []})
                acc[kind].append(test_accuracy(ckpt, test))
                print(json.dumps({"features": kind, "seed": seed, "checkpoint": str(ckpt), "test_acc": acc[kind][-1]}), flush=True)
    mean = {k: statistics.mean(v) for k, v in acc.items()}
    print(json.dumps({
        "config": args.config, "data": args.data, "test": str(test), "seeds": args.seeds,
        "integer_test_acc": round(mean["integer"], 4), "float_test_acc": round(mean["float"], 4),
        "difference_points": round(100 * (mean["float"] - mean["integer"]), 2),
        "integer_per_seed": acc["integer"], "float_per_seed": acc["float"],
    }))


if __name__ == "__main__":
    main()
