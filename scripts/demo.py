#!/usr/bin/env python
"""The melflow demo: the shipped keyword spotter built for the PYNQ-Z2, test clips through
the RTL, software and hardware F1 side by side; then the same model with the RTL log-Mel
frontend in front (int16 PCM in, class out), bit-exact from PCM to class.

    make demo        (python scripts/demo.py --data data/kws-small --out build/demo)
"""

import argparse
import json
import sys
import time
from pathlib import Path

from melflow.boards.build import build_accelerator
from melflow.core import reports_errors
from melflow.data.kws import generate_kws_corpus
from melflow.eval.compare import compare_sw_hw
from melflow.eval.evaluate import evaluate

REPO = Path(__file__).resolve().parents[1]


@reports_errors("demo")
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO / "data" / "kws-small")
    p.add_argument("--out", type=Path, default=REPO / "build" / "demo")
    p.add_argument("--model", type=Path, default=REPO / "models" / "kws_cnn.pt")
    p.add_argument("--rtl-clips", type=int, default=40, help="test clips (spread over the split) streamed through the RTL for hardware F1")
    p.add_argument("--audio-clips", type=int, default=20, help="test clips through the audio-in accelerator (0: skip that build)")
    args = p.parse_args(argv)
    t0 = time.time()
    test_csv = args.data / "test.csv"
    if not test_csv.exists():
        print(f"[demo] writing the test split of the small keyword corpus to {args.data} (speakers unseen in training)")
        generate_kws_corpus(args.data, size="small", seed=0, splits=("test",))
    print(f"[demo] building {args.model.name} for pynq-z2 into {args.out} (compile, RTL, simulation, yosys)")
    report = build_accelerator(args.model, "pynq-z2", args.out, manifest=test_csv, sim_clips=20)
    print(f"[demo] software model on the whole test split ({test_csv})")
    sw = evaluate(args.model, test_csv, "torch")
    print(f"[demo] software against RTL on {args.rtl_clips} test clips spread over the split")
    cmp = compare_sw_hw(args.out, test_csv, limit=args.rtl_clips)
    audio = None
    if args.audio_clips:
        audio_out = args.out.parent / f"{args.out.name}-audio"
        print(f"[demo] audio-in build (RTL log-Mel frontend + network) into {audio_out}; {args.audio_clips} clips of PCM through it")
        audio_report = build_accelerator(args.model, "pynq-z2", audio_out, manifest=test_csv, sim_clips=0, synth=False, audio_fold="fast")
        audio = compare_sw_hw(audio_out, test_csv, limit=args.audio_clips)
    e, s, y = report["estimate"], report["simulation"], report["yosys"]
    print()
    print(f"test split ({sw['clips']} clips, unseen speakers): software accuracy {sw['accuracy']:.4f}, macro F1 {sw['macro_f1']:.4f}")
    print(f"RTL vs software on {cmp['clips']} clips: software F1 {cmp['sw_macro_f1']:.4f}, hardware F1 {cmp['hw_macro_f1']:.4f}, "
          f"bit-exact fraction {cmp['bit_exact_fraction']:.3f}")
    print(f"throughput at 100 MHz: {s['inferences_per_s']:.0f} inferences/s simulated ({s['cycles_per_inference']} cycles), "
          f"{e['inferences_per_s']:.0f} estimated by FINN")
    if y:
        r = y["resources"]
        print(f"yosys synth_xilinx on xc7z020: LUT {r['LUT']}, FF {r['FF']}, BRAM18 {r['BRAM18']}, DSP {r['DSP']} "
              f"({', '.join(f'{k} {v:.1f} %' for k, v in y['utilization_pct'].items())})")
    if audio:
        print(f"audio-in (PCM -> class) on {audio['clips']} clips: software F1 {audio['sw_macro_f1']:.4f}, hardware F1 "
              f"{audio['hw_macro_f1']:.4f}, bit-exact fraction {audio['bit_exact_fraction']:.3f}; "
              f"{audio['cycles_per_inference']} cycles per 1-s clip ({100e6 / audio['cycles_per_inference']:.0f} clips/s at 100 MHz, "
              f"bottleneck {audio_report['estimate']['bottleneck']})")
    print(f"report: {args.out / 'report' / 'summary.md'}  ({time.time() - t0:.0f} s)")
    print(json.dumps({"software": sw, "compare": cmp, "audio_in": audio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
