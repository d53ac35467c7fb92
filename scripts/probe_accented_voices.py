#!/usr/bin/env python
"""Accuracy of a keyword model on festival's voices of other languages: recordings of real
Italian, Czech, Finnish, Catalan and Russian speakers saying the ten keywords with their accent.

    .venv/bin/python scripts/probe_accented_voices.py --model models/kws_cnn.pt [--out build/accented-probe] [--per-voice 40]
        [--voices czech_ph,msu_ru_nsh_clunits,upc_ca_ona_hts]

Writes a keywords-only probe corpus through the corpus renderer (level, placement, sox
effects and background noise as in training), then prints what `melflow eval --by voice`
prints for it, as one JSON line. Its speakers use variant numbers (#10 upward: their own
pitch and duration) that `melflow data kws --accented-voices` never puts in train. A model
trained without `--accented-voices` has never heard these voices; one trained with them
has heard the same people at other settings, as val hears flite's speakers; `--voices`
probes only the voices a model trained on `--accented-voices <the others>` never heard.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from melflow.core import reports_errors
from melflow.data import kws
from melflow.data.festival_accents import ACCENTED_VOICES, chosen_voices
from melflow.eval.probe import evaluate_rendered

FIRST_VARIANT = 10  # the train split's accented speakers are #00-#05


def probe_specs(per_voice: int, seed: int, voices="all") -> list[kws.ClipSpec]:
    """`per_voice` keyword clips per voice, the keywords in turn, a new variant every ten;
    a voice's clips are the same whichever other voices are probed with it."""
    babble = tuple(kws.split_speakers()["val"][:2])
    chosen, specs = chosen_voices(voices), []
    for vi, voice in enumerate(ACCENTED_VOICES):  # vi from the full list: a voice's clips do not depend on the others
        if voice not in chosen:
            continue
        for n in range(per_voice):
            word = kws.KEYWORDS[n % len(kws.KEYWORDS)]
            speaker = f"festival:{voice}#{FIRST_VARIANT + n // len(kws.KEYWORDS):02d}"
            specs.append(kws.ClipSpec(f"probe/{word}/{voice}_{n:03d}.wav", word, word, speaker, "probe",
                                      (seed, 99, vi, n), babble))
    return specs


@reports_errors("probe_accented_voices")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a checkpoint (.pt) or a build folder")
    ap.add_argument("--out", type=Path, default=Path("build/accented-probe"))
    ap.add_argument("--per-voice", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voices", default="all", help="comma-separated accented voices to probe (default: all nine)")
    ap.add_argument("--backend", choices=["torch", "golden"], default="golden")
    args = ap.parse_args(argv)
    result = evaluate_rendered(probe_specs(args.per_voice, args.seed, args.voices), args.out, args.model, args.backend, "voice")
    result["voices_accuracy_range"] = [float(np.min([g["accuracy"] for g in result["groups"]])),
                                       float(np.max([g["accuracy"] for g in result["groups"]]))]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
