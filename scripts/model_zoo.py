#!/usr/bin/env python
"""Write models/README.md, the model zoo table, from the shipped checkpoints.

    .venv/bin/python scripts/model_zoo.py [--models models] [--manifest data/kws-full-test/test.csv] [--out models/README.md]

Measures every models/*.pt on the manifest (default: the full corpus's test split, 2,928
clips of speakers no model hears in training, written by
`melflow data kws --size full --splits test --out data/kws-full-test`; the small corpus's
732-clip split has the same speakers and four times the sampling noise), prints one JSON line
per model, then one per low-bit model that has a float twin (the points quantization costs),
and writes the tables, with a plot of accuracy against bit width (accuracy_vs_bits.png
beside them) when a model is shipped at several widths.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from melflow.core import reports_errors
from melflow.eval.plots import plot_bit_sweep
from melflow.eval.zoo import bit_sweeps, float_twin_deltas, zoo_markdown, zoo_rows

REPO = Path(__file__).resolve().parents[1]


@reports_errors("model_zoo")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--manifest", type=Path, default=Path("data/kws-full-test/test.csv"))
    ap.add_argument("--out", type=Path, default=REPO / "models" / "README.md")
    args = ap.parse_args(argv)
    rows = zoo_rows(args.models, args.manifest)
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "spec"}))
    for d in float_twin_deltas(rows):
        print(json.dumps(d))
    sweeps = bit_sweeps(rows)
    plot = None
    if sweeps:  # beside the table, which links it
        plot = plot_bit_sweep(sweeps, args.out.with_name("accuracy_vs_bits.png"), str(args.manifest))
        print(json.dumps({"bit_sweeps": sweeps, "plot": str(plot)}))
    args.out.write_text(zoo_markdown(rows, args.manifest, "python scripts/model_zoo.py", plot.name if plot else None))
    print(json.dumps({"written": str(args.out), "models": len(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
