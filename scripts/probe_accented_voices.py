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

import sys

from melflow.core import reports_errors
from melflow.data.festival_accents import ACCENTED_VOICES, chosen_voices
from melflow.eval.probe import keyword_probe_specs, voice_probe_main

FIRST_VARIANT = 10  # the train split's accented speakers are #00-#05


def probe_specs(per_voice: int, seed: int, voices="all"):
    """`per_voice` keyword clips per voice, a new variant every ten."""
    return keyword_probe_specs(ACCENTED_VOICES, chosen_voices(voices or "all"),
                               lambda voice, k: f"festival:{voice}#{FIRST_VARIANT + k:02d}", per_voice, seed, 99)


@reports_errors("probe_accented_voices")
def main(argv=None) -> int:
    return voice_probe_main(argv, __doc__.splitlines()[0], "build/accented-probe", probe_specs,
                            "comma-separated accented voices to probe (default: all nine)")


if __name__ == "__main__":
    sys.exit(main())
