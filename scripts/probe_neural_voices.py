#!/usr/bin/env python
"""Accuracy of a keyword model on the neural Kokoro-82M's voices: people's voices (a neural
model's, trained on recordings) saying the ten keywords, unlike any engine of the corpus.

    .venv/bin/python scripts/probe_neural_voices.py --model models/kws_cnn.pt [--out build/neural-probe] [--per-voice 40]
        [--voices all]

Writes a keywords-only probe corpus through the corpus renderer (level, placement, sox
effects and background noise as in training; melflow/data/kokoro_voices.py), then prints
what `melflow eval --by voice` prints for it, as one JSON line. By default it probes the
two voices no split of the corpus has (jf_nezumi, jf_tebukuro): for a model trained with
`melflow data kws --neural-voices`, these are people it has never heard. `--voices all`
adds the three train voices, at variant numbers (#10 upward) that train never has.
"""

from __future__ import annotations

import sys

from melflow.core import reports_errors
from melflow.data import kokoro_voices
from melflow.eval.probe import keyword_probe_specs, voice_probe_main

FIRST_VARIANT = 10  # the train split's Kokoro speakers are #00-#03


def probe_specs(per_voice: int, seed: int, voices=None):
    """`per_voice` keyword clips per voice, a new variant every ten."""
    return keyword_probe_specs(kokoro_voices.VOICES, kokoro_voices.chosen_voices(voices),
                               lambda voice, k: kokoro_voices.probe_speaker(voice, FIRST_VARIANT + k), per_voice, seed, 98)


@reports_errors("probe_neural_voices")
def main(argv=None) -> int:
    return voice_probe_main(argv, __doc__.splitlines()[0], "build/neural-probe", probe_specs,
                            "comma-separated Kokoro voices to probe, or all (default: jf_nezumi,jf_tebukuro, in no split)")


if __name__ == "__main__":
    sys.exit(main())
