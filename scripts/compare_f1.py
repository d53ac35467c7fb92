#!/usr/bin/env python
"""Software against hardware on one manifest: F1 of the Brevitas model and of the RTL, and
the fraction of clips whose RTL output equals the golden model's, bit for bit.

    python scripts/compare_f1.py --build build/demo --manifest data/kws-small/test.csv
"""

import argparse
import json
import sys
from pathlib import Path

from melflow.core import reports_errors
from melflow.eval.compare import compare_sw_hw


@reports_errors("compare_f1")
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, type=Path, help="build directory from scripts/build_accel.py")
    p.add_argument("--manifest", required=True, type=Path, help="any manifest in the contract format")
    p.add_argument("--limit", type=int, default=None, help="N clips spread evenly over the manifest")
    args = p.parse_args(argv)
    print(json.dumps(compare_sw_hw(args.build, args.manifest, args.limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
