#!/usr/bin/env python
"""How much of a model's error on unseen speakers is theirs being unseen? Half the test split's
speakers join training, the other half is scored.

    .venv/bin/python scripts/probe_heard_voices.py --config models/kws_cnn.yaml \
        --init models/kws_cnn.pt --data data/kws-full-vv50-ax6-u3 \
        [--test data/kws-full-test/test.csv] [--repeat 4] [--epochs 8] [--lr 0.0005]

The test speakers are split in two speaker-disjoint halves with the same mix of voices
(scikit-learn's StratifiedGroupKFold: grouped by speaker, stratified by voice, the speaker id up
to its first "+" or "#", so one accent across its variants). `--init` is then fine-tuned twice
with `--config`'s recipe (its teachers, float start and float32 end left out; `--precision`
throughout): once on the corpus's train clips alone (the control), once with the first half's
clips added `--repeat` times ("heard"). Both are scored on the second half, as is `--init`
itself, per voice. What "heard" gains over the control is what hearing other speakers of the
test's own voices is worth; what it still misses, a model of this recipe misses even on voices
it knows. A measurement, not a recipe: the test split's speakers train here, so no model this
writes is a candidate. Prints one JSON line per model and one summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from melflow.core import MelflowError, reports_errors
from melflow.data.manifest import ManifestRow, read_manifest, write_manifest
from melflow.eval.cv import speaker_groups
from melflow.eval.evaluate import evaluate, voice_of
from melflow.train.trainer import train_from_config


def speaker_halves(rows: list[ManifestRow], seed: int) -> tuple[list[ManifestRow], list[ManifestRow]]:
    """Two speaker-disjoint halves of `rows`, each with about half of every voice's clips.
    Clips without a speaker (noise-only `_silence_`) are each a group of their own."""
    groups = speaker_groups(rows)
    if len(set(groups)) < 2:
        raise MelflowError("the test manifest has fewer than two speakers: nothing to split")
    split = StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=seed)
    voices = [voice_of(r.speaker) for r in rows]
    heard, scored = next(split.split(np.zeros(len(rows)), voices, groups))
    return [rows[i] for i in heard], [rows[i] for i in scored]


def write_runs(data: Path, test: Path, out: Path, repeat: int, seed: int) -> dict[str, Path]:
    """The folders the two fine-tunes read: train.csv, val.csv and test.csv (the scored half)."""
    rows = read_manifest(test)
    heard, scored = speaker_halves(rows, seed)
    train, val = read_manifest(data / "train.csv"), read_manifest(data / "val.csv")
    runs = {"control": train, "heard": train + heard * repeat}
    for name, train_rows in runs.items():
        write_manifest(out / name / "train.csv", train_rows)
        write_manifest(out / name / "val.csv", val)
        write_manifest(out / name / "test.csv", scored)
    return {name: out / name for name in runs}


def by_voice(result: dict) -> dict:
    return {g["value"]: g["accuracy"] for g in result["groups"]}


@reports_errors("probe_heard_voices")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="the recipe both fine-tunes follow (models/<name>.yaml)")
    ap.add_argument("--init", required=True, help="checkpoint both start from, trained with --config's model")
    ap.add_argument("--data", required=True, help="corpus folder with train.csv and val.csv")
    ap.add_argument("--test", default="data/kws-full-test/test.csv")
    ap.add_argument("--repeat", type=int, default=4, help="times the heard half's clips are added to train")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.0005)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="build/heard-voices")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        raise MelflowError(f"--repeat must be at least 1, got {args.repeat}")
    out, init = Path(args.out), Path(args.init).resolve()
    if not init.is_file():
        raise MelflowError(f"--init {args.init}: checkpoint not found")
    runs = write_runs(Path(args.data), Path(args.test), out, args.repeat, args.seed)
    overrides = {"init": str(init), "lr": args.lr, "teachers": [], "float_epochs": 0, "fp32_epochs": 0,
                 "precision": args.precision}
    scored = runs["heard"] / "test.csv"
    results = {"init": evaluate(init, scored, "torch", by="voice", confusion=out / "init_confusion.png")}
    for name, folder in runs.items():
        train_from_config(args.config, folder, out=folder / "model.pt", epochs=args.epochs, seed=args.seed,
                          overrides=overrides, log_dir=None)
        results[name] = evaluate(folder / "model.pt", scored, "torch", by="voice", confusion=folder / "confusion.png")
    for name, r in results.items():
        print(json.dumps({"model": name, "checkpoint": r["model"], "clips": r["clips"], "accuracy": r["accuracy"],
                          "macro_f1": r["macro_f1"], "by_voice": by_voice(r)}))
    heard, control = by_voice(results["heard"]), by_voice(results["control"])
    print(json.dumps({"scored_clips": results["heard"]["clips"],
                      "heard_minus_control_points": round(100 * (results["heard"]["accuracy"] - results["control"]["accuracy"]), 2),
                      "by_voice_points": {v: round(100 * (heard[v] - control[v]), 2) for v in heard}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
