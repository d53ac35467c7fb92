#!/usr/bin/env python
"""Build a streaming accelerator for a board from a trained checkpoint.

    python scripts/build_accel.py --board pynq-z2 --model models/kws_cnn.pt --out build/kws_cnn --manifest data/kws-small/test.csv
    python scripts/build_accel.py --board pynq-z2 --model models/kws_cnn.pt --out build/kws_cnn_audio --input audio --manifest data/kws-small/test.csv

Compiles the model with finn-plus, writes the stitched RTL, simulates test clips in
Verilator against the golden model, synthesizes with yosys and writes DIR/report/.
"""

import argparse
import json
import sys

from melflow.boards.build import build_accelerator
from melflow.boards.report import misfit
from melflow.core import reports_errors


@reports_errors("build_accel")
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="pynq-z2")
    p.add_argument("--model", required=True, help="trained checkpoint (.pt)")
    p.add_argument("--out", required=True, help="build directory")
    p.add_argument("--target-fps", type=float, default=5000.0, help="inferences/s the folding aims for at the board clock")
    p.add_argument("--manifest", default=None, help="clips to simulate (default: the training corpus' test split)")
    p.add_argument("--sim-clips", type=int, default=20, help="clips streamed through the RTL (0: skip simulation)")
    p.add_argument("--no-synth", action="store_true", help="skip yosys synthesis")
    p.add_argument("--input", choices=["features", "audio"], default="features",
                   help="features: int8 log-Mel codes in; audio: int16 PCM in, through the RTL log-Mel frontend")
    p.add_argument("--frontend-fold", choices=["fast", "realtime"], default="fast",
                   help="with --input audio: the frontend's folding (fast: one butterfly per cycle; realtime: smallest)")
    args = p.parse_args(argv)
    r = build_accelerator(args.model, args.board, args.out, args.target_fps, args.manifest, args.sim_clips,
                          synth=not args.no_synth, audio_fold=args.frontend_fold if args.input == "audio" else None)
    e, s, y = r["estimate"], r["simulation"], r["yosys"]
    out = {
        "est_cycles_per_inference": e["cycles_per_inference"],
        "sim_cycles_per_inference": s and s["cycles_per_inference"],
        "inferences_per_s": s and round(s["inferences_per_s"], 1),
        "bit_exact_fraction": s and s["bit_exact_fraction"],
        "finn_estimate": e["resources"],
        "yosys": y and y["resources"],
        "over_device": sorted(set(e["over_device"]) | set(y["over_device"] if y else [])),
        "report": f"{args.out}/report/summary.md",
    }
    if out["over_device"]:
        print(f"build_accel: {args.out}: does not fit {args.board} ({misfit(r)} of the device): lower --target-fps "
              f"or the model's width; the RTL is built and simulated all the same ({out['report']})", file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
