#!/usr/bin/env python
"""Software against hardware on one manifest: F1 of the Brevitas model and of the RTL, and
the fraction of clips whose RTL output equals the golden model's, bit for bit.

    python scripts/compare_f1.py --build build/kws_cnn --manifest data/kws-small/test.csv
"""

import argparse
import json
import sys
from pathlib import Path

from melflow.compiler.execute import golden_logits
from melflow.compiler.flow import CompiledModel
from melflow.core import MelflowError
from melflow.eval.evaluate import checkpoint_of, scores
from melflow.sim.accel import simulate_accel
from melflow.train.features import manifest_features
from melflow.train.trainer import load_checkpoint, predict


def compare(build: Path, manifest: Path, limit=None) -> dict:
    x, y, _ = manifest_features(manifest, limit=limit)
    if len(x) == 0:
        raise MelflowError(f"manifest {manifest} has no clips")
    net, _ = load_checkpoint(checkpoint_of(build))
    sw = predict(net, x).argmax(1)
    golden = golden_logits(CompiledModel.load(build), x)
    res = simulate_accel(build / "rtl", build / "sim", x, golden)
    hw = res.logits.argmax(1)
    return {
        "clips": int(len(y)),
        "sw_accuracy": scores(y, sw)["accuracy"],
        "sw_macro_f1": scores(y, sw)["macro_f1"],
        "hw_accuracy": scores(y, hw)["accuracy"],
        "hw_macro_f1": scores(y, hw)["macro_f1"],
        "bit_exact_fraction": float((res.logits == golden).all(axis=1).mean()),
        "sw_hw_same_class_fraction": float((sw == hw).mean()),
        "cycles_per_inference": res.cycles_per_inference,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, type=Path, help="build directory from scripts/build_accel.py")
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    args = p.parse_args(argv)
    try:
        print(json.dumps(compare(args.build, args.manifest, args.limit)))
    except MelflowError as err:
        print(f"compare_f1: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
