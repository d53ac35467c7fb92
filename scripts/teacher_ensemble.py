#!/usr/bin/env python
"""How good is what a distilled student is taught? Accuracy of each teacher and of the
teachers' mean softened outputs on a manifest's clips.

    .venv/bin/python scripts/teacher_ensemble.py --teachers A.pt B.pt [C.pt ...]
        [--manifest data/kws-full-test/test.csv] [--temperature 2]

The mean is computed as `melflow train` computes its distillation targets (the plain torch
copies and melflow.train.distill.ensemble_probs), so it scores the very targets a student
with `train.teachers: [A, B]` learns, on clean clips. Two sets of teachers that score alike
here yet teach students a point apart point at the students' run-to-run spread, not at the
teachers. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys

from melflow.core import reports_errors
from melflow.eval.evaluate import clips, scores
from melflow.train.distill import load_teachers, teacher_targets
from melflow.train.trainer import load_checkpoint


@reports_errors("teacher_ensemble")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teachers", nargs="+", required=True, help="checkpoints (.pt), as in train.teachers")
    ap.add_argument("--manifest", default="data/kws-full-test/test.csv")
    ap.add_argument("--temperature", type=float, default=2.0, help="train.temperature (it does not change the argmax of one teacher)")
    args = ap.parse_args(argv)
    _, first = load_checkpoint(args.teachers[0])  # the others must share its labels, frontend and features
    teachers = load_teachers(args.teachers, first["labels"], first["frontend"],
                             first["train_config"].get("features", "integer"))
    data = clips(args.manifest)

    def accuracy(models) -> float:
        return round(scores(data.y, teacher_targets(models, data.x, args.temperature).argmax(1))["accuracy"], 4)

    print(json.dumps({
        "manifest": args.manifest, "clips": len(data.y), "temperature": args.temperature,
        "teachers": {path: accuracy([t]) for path, t in zip(args.teachers, teachers)},
        "ensemble_accuracy": accuracy(teachers),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
