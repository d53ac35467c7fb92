#!/usr/bin/env python
"""Does a keyword model hear the consonants, or only the vowel? Accuracy on the keywords said
with their own vowel and with the vowels other English accents give them.

    .venv/bin/python scripts/probe_vowel_shift.py --model models/kws_cnn.pt [--out build/vowel-probe] [--per-word 12]

Each keyword is said by espeak-ng's val-split English speakers (an accent and variants train
never uses) from phonemes: its own pronunciation, then each vowel variant of
melflow.data.pronunciations ("up" as [['0p]], the vowel of "off"). The clips go through the
corpus renderer (level, placement, sox effects, noise as in training). Prints one JSON line:
what `melflow eval --by speaker` prints, the groups being `<keyword>+own` or
`<keyword>+<phonemes>`, plus `own_accuracy` and `shifted_accuracy`. A model trained with
`melflow data kws --vowel-variants` has heard these phoneme strings from other speakers;
for it, this measures whether the lesson carries to new voices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from melflow.core import reports_errors
from melflow.data import kws
from melflow.data.pronunciations import ENGLISH_ACCENTS, VOWEL_VARIANTS
from melflow.eval.probe import evaluate_rendered


def probe_specs(per_word: int, seed: int) -> list[kws.ClipSpec]:
    """`per_word` clips of each keyword in each pronunciation, the val split's English
    espeak-ng speakers in turn."""
    val = kws.split_speakers()["val"]
    speakers = [s for s in val if s.startswith("espeak:") and s[7:].partition("+")[0] in ENGLISH_ACCENTS]
    specs = []
    for wi, word in enumerate(kws.KEYWORDS):
        for pi, phonemes in enumerate([None, *VOWEL_VARIANTS[word]]):
            for n in range(per_word):
                tag = kws._safe(phonemes) if phonemes else "own"
                specs.append(kws.ClipSpec(f"probe/{word}/{word}-{tag}_{n:03d}.wav", word, word, speakers[n % len(speakers)],
                                          "probe", (seed, 98, wi, pi, n), tuple(val[:2]), phonemes))
    return specs


def pronunciation(spec: kws.ClipSpec) -> str:
    return f"{spec.word}+{spec.phonemes or 'own'}"


def share_correct(groups: list[dict], own: bool) -> float:
    chosen = [g for g in groups if g["value"].endswith("+own") == own]
    return round(sum(g["accuracy"] * g["clips"] for g in chosen) / sum(g["clips"] for g in chosen), 4)


@reports_errors("probe_vowel_shift")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a checkpoint (.pt) or a build folder")
    ap.add_argument("--out", type=Path, default=Path("build/vowel-probe"))
    ap.add_argument("--per-word", type=int, default=12, help="clips per keyword and pronunciation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=["torch", "golden"], default="golden")
    args = ap.parse_args(argv)
    result = evaluate_rendered(probe_specs(args.per_word, args.seed), args.out, args.model, args.backend, "speaker",
                               group_of=pronunciation)
    result["own_accuracy"] = share_correct(result["groups"], own=True)
    result["shifted_accuracy"] = share_correct(result["groups"], own=False)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
