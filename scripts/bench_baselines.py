#!/usr/bin/env python
"""PyTorch baselines beside a low-bit model: its float twin, the float twin quantized by
PyTorch after training (dynamic INT8, as `quantize_dynamic` does it, and static INT8), and
one-shot magnitude pruning of both the float twin and the low-bit model.

    .venv/bin/python scripts/bench_baselines.py --float models/kws_cnn_float.pt --quantized models/kws_cnn_undistilled.pt \\
        [--manifest data/kws-small/test.csv] [--calibration CSV] [--out models/baselines.md]

Prints one JSON line per measurement and writes the tables as markdown. The calibration
clips of static INT8 come from the float twin's training manifest unless --calibration names
another; they are never test clips.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from melflow.core import MelflowError, reports_errors
from melflow.eval.baselines import (
    dynamic_int8,
    magnitude_pruned,
    quantized_layer_count,
    static_int8,
)
from melflow.eval.evaluate import clips, scores
from melflow.eval.zoo import bit_widths
from melflow.frontend import FrontendConfig
from melflow.train.features import manifest_features
from melflow.train.trainer import load_checkpoint, predict

SPARSITIES = [0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95]


def measure(model, data) -> dict:
    s = scores(data.y, predict(model, data.x).argmax(1))
    return {"accuracy": round(s["accuracy"], 4), "macro_f1": round(s["macro_f1"], 4)}


@reports_errors("bench_baselines")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--float", dest="float_ckpt", type=Path, default=Path("models/kws_cnn_float.pt"))
    ap.add_argument("--quantized", type=Path, default=Path("models/kws_cnn_undistilled.pt"))
    ap.add_argument("--manifest", type=Path, default=Path("data/kws-small/test.csv"))
    ap.add_argument("--calibration", type=Path, default=None, help="manifest of the static INT8 calibration clips")
    ap.add_argument("--calibration-clips", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("models/baselines.md"))
    args = ap.parse_args(argv)
    fmodel, fckpt = load_checkpoint(args.float_ckpt)
    qmodel, qckpt = load_checkpoint(args.quantized)
    if bit_widths(fckpt["model_spec"]) != "float":
        raise MelflowError(f"--float {args.float_ckpt} is a {bit_widths(fckpt['model_spec'])} model, not a float twin (weight_bits: null)")
    data = clips(args.manifest)
    calib_csv = args.calibration or Path(fckpt["data"]) / "train.csv"
    if not calib_csv.exists():
        raise MelflowError(f"calibration manifest {calib_csv} does not exist (give one with --calibration)")
    calib, _, _ = manifest_features(calib_csv, FrontendConfig(**fckpt["frontend"]), limit=args.calibration_clips)

    rows = [{"model": args.float_ckpt.stem, "method": "float twin", **measure(fmodel, data)}]
    for method, model in (("PyTorch dynamic INT8 (quantize_dynamic)", dynamic_int8(fmodel)),
                          ("PyTorch static INT8 (FX, calibrated)", static_int8(fmodel, calib))):
        q, n = quantized_layer_count(model)
        rows.append({"model": args.float_ckpt.stem, "method": method, "int8_layers": f"{q} of {n}", **measure(model, data)})
    rows.append({"model": args.quantized.stem, "method": f"melflow {bit_widths(qckpt['model_spec'])} (QAT)", **measure(qmodel, data)})
    for r in rows:
        print(json.dumps({"measure": "quantization", **r}), flush=True)

    pruning = []
    for name, model in ((args.float_ckpt.stem, fmodel), (args.quantized.stem, qmodel)):
        for target in SPARSITIES:
            pruned, sparsity = magnitude_pruned(model, target)
            pruning.append({"model": name, "sparsity": round(sparsity, 3), **measure(pruned, data)})
            print(json.dumps({"measure": "magnitude_pruning", **pruning[-1]}), flush=True)

    args.out.write_text(markdown(rows, pruning, args))
    print(json.dumps({"written": str(args.out)}))
    return 0


def markdown(rows: list[dict], pruning: list[dict], args) -> str:
    lines = ["# Baselines", "",
             f"Written by `python scripts/bench_baselines.py --float {args.float_ckpt} --quantized {args.quantized}`; do not edit",
             f"by hand. Accuracy and macro F1 on `{args.manifest}` (speakers never heard in training).", "",
             "## Quantization", "",
             "| model | method | INT8 layers | accuracy | macro F1 |", "|---|---|---|---:|---:|"]
    lines += [f"| {r['model']} | {r['method']} | {r.get('int8_layers', '-')} | {100 * r['accuracy']:.1f} % | {r['macro_f1']:.3f} |" for r in rows]
    lines += ["", "`quantize_dynamic` covers Linear layers only, so in a convolutional model it quantizes the classifier and",
              "leaves the convolutions in float; static INT8 covers both.", "",
              "## Magnitude pruning (global L1 over all weights, one shot, no fine-tuning)", "",
              "| model | sparsity | accuracy | macro F1 |", "|---|---:|---:|---:|"]
    lines += [f"| {p['model']} | {100 * p['sparsity']:.0f} % | {100 * p['accuracy']:.1f} % | {p['macro_f1']:.3f} |" for p in pruning]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
