#!/usr/bin/env python
"""Issue #4's targets for the shipped CRNN, measured: accuracy against the spine's conv
model, and two pynq-z2 builds, one folded for 10,000 inferences/s and the smallest that
still keeps up with a 10 ms hop.

    .venv/bin/python scripts/bench_crnn.py [--manifest data/kws-small/test.csv] [--out build/bench_crnn]

Prints one JSON line per measurement:

* ``accuracy``: test accuracy and macro F1 of models/kws_crnn.pt and models/kws_cnn.pt on
  the manifest (the golden backend: integer frontend and integer network, what the hardware
  computes), whether the CRNN is at least as accurate, and the share of clips on which the
  CRNN's integer model picks the Brevitas model's class (each difference listed);
* ``build`` (``fast``, ``realtime``): scripts/build_accel.py's build of the CRNN, with the
  inferences/s simulated in Verilator at the board clock, the bit-exact fraction, yosys LUTs
  against the xc7z020's, the LSTM unit's share of cycles and LUTs, and the targets (fast:
  10,000 inferences/s or more within 50 % of the LUTs; realtime: 100 inferences/s or more,
  one inference per hop).

Each build takes several minutes (compile, Verilator, yosys); reports go to OUT/<name>/report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from melflow.boards.build import build_accelerator
from melflow.core import reports_errors
from melflow.data.kws import LABELS
from melflow.eval.evaluate import clips, predictions, scores

REPO = Path(__file__).resolve().parents[1]
# name -> (target inferences/s for the folding, the target the build must meet)
BUILDS = {"fast": 10_000.0, "realtime": 100.0}
LUT_LIMIT_PCT = 50.0


def accuracy(crnn: Path, conv: Path, manifest: Path) -> dict:
    """Both models' scores on the integer path (what the hardware computes), and how often the
    CRNN's integer model picks the Brevitas model's class; each clip where they differ is
    listed with the Brevitas model's top-two logit gap (a near tie that float rounding of the
    cell's internal values can tip; the integer path itself is exact)."""
    data = clips(manifest)
    out = {"measure": "accuracy", "manifest": str(manifest), "clips": len(data.y)}
    golden = {}
    for name, model in (("crnn", crnn), ("conv", conv)):
        golden[name] = predictions(model, data, "golden")[0].argmax(1)
        out[name] = {k: v for k, v in scores(data.y, golden[name]).items() if k != "clips"}
    brevitas, golden = predictions(crnn, data, "torch")[0], golden["crnn"]
    differ = np.flatnonzero(brevitas.argmax(1) != golden)
    top2 = np.sort(brevitas, axis=1)[:, -2:]
    out["crnn_integer_equals_brevitas"] = round(1.0 - len(differ) / len(golden), 5)
    out["differences"] = [{"clip": data.paths[i], "brevitas": LABELS[brevitas[i].argmax()], "integer": LABELS[golden[i]],
                           "brevitas_top2_gap": round(float(top2[i, 1] - top2[i, 0]), 5)} for i in differ]
    out["crnn_at_least_conv"] = out["crnn"]["accuracy"] >= out["conv"]["accuracy"]
    return out


def build(name: str, model: Path, manifest: Path, out: Path, sim_clips: int) -> dict:
    target = BUILDS[name]
    r = build_accelerator(model, "pynq-z2", out / name, target_fps=target, manifest=manifest, sim_clips=sim_clips)
    sim, y = r["simulation"], r["yosys"]
    (lstm,) = r["recurrent"]
    lut_pct = y["utilization_pct"]["LUT"]
    met = sim["inferences_per_s"] >= target and sim["bit_exact_fraction"] == 1.0
    if name == "fast":
        met = met and lut_pct <= LUT_LIMIT_PCT
    return {
        "measure": "build", "fold": name, "target_fps": target,
        "est_cycles_per_inference": r["estimate"]["cycles_per_inference"],
        "sim_cycles_per_inference": sim["cycles_per_inference"],
        "inferences_per_s": round(sim["inferences_per_s"], 1),
        "bit_exact_fraction": sim["bit_exact_fraction"], "clips": sim["clips"],
        "yosys": y["resources"], "yosys_lut_pct": lut_pct,
        "lstm": {k: lstm[k] for k in ("est_cycles", "pct_of_bottleneck", "pct_of_layer_cycles")}
        | {"yosys": lstm.get("yosys"), "yosys_pct": lstm.get("yosys_pct")},
        "target_met": met, "report": str(out / name / "report" / "summary.md"),
    }


@reports_errors("bench_crnn")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "kws_crnn.pt")
    ap.add_argument("--conv", type=Path, default=REPO / "models" / "kws_cnn.pt", help="the model the CRNN must match")
    ap.add_argument("--manifest", type=Path, default=REPO / "data" / "kws-small" / "test.csv")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "bench_crnn")
    ap.add_argument("--sim-clips", type=int, default=20)
    ap.add_argument("--builds", nargs="*", default=list(BUILDS), choices=list(BUILDS))
    ap.add_argument("--no-accuracy", action="store_true", help="skip the accuracy comparison")
    args = ap.parse_args(argv)
    if not args.no_accuracy:
        print(json.dumps(accuracy(args.model, args.conv, args.manifest)), flush=True)
    for name in args.builds:
        print(json.dumps(build(name, args.model, args.manifest, args.out, args.sim_clips)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
