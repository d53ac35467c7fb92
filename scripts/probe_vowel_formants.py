#!/usr/bin/env python
"""Where each English espeak-ng accent puts the vowel of a keyword: the first two formants of
its stressed vowel, so that one can see which accents say two keywords with the same vowel.

    .venv/bin/python scripts/probe_vowel_formants.py [--words up,off] [--accents en-gb,en-029,...]

Each word is said by the accent's plain voice (no variant, no renderer effects); the vowel is
taken as the word's voiced stretch (the words "up", "off" and "stop" have no other voiced
sound) and measured at its middle with Praat's Burg formant tracker (praat-parselmouth,
up to 5 formants below 5 kHz, the setting for a male voice). Prints one JSON line per accent:
F1 and F2 of each word in Hz, and for each pair of words the distance between their vowels
(Euclidean in F1 and F2, Hz). Then one line `nearest`: for each accent's first word, the
other accent and word whose vowel lies closest to it.

Why: the up/off errors of the keyword models are all by espeak-ng's voices, most by en-029.
en-gb says "up" with F2 about 1250 Hz and "off" about 950 Hz, so the vowel tells them apart;
en-029 says "up" with F2 about 920 Hz, where en-gb and Scottish English say "off", and "off"
about 1080 Hz: its "up" is backed, as in Caribbean English. A model cannot learn from the
train accents that a back vowel means "off" without missing en-029's "up"; its last
consonant is the one cue left, and the corpus's noise often covers it
(scripts/probe_final_consonant.py). docs/kws_training.md has the run that tried.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from melflow.core import MelflowError, reports_errors
from melflow.data.pronunciations import ENGLISH_ACCENTS

MAX_FORMANT_HZ = 5000.0


def vowel_formants(wav: Path) -> tuple[float, float]:
    """(F1, F2) in Hz at the middle of the voiced stretch of a one-word recording."""
    try:
        import parselmouth
    except ImportError:
        raise MelflowError("praat-parselmouth is not installed (pip install praat-parselmouth; make setup does)") from None

    sound = parselmouth.Sound(str(wav))
    pitch = sound.to_pitch()
    voiced = pitch.xs()[pitch.selected_array["frequency"] > 0]
    if voiced.size == 0:
        raise MelflowError(f"{wav}: no voiced frame, so no vowel to measure")
    middle = float(voiced.min() + voiced.max()) / 2
    formant = sound.to_formant_burg(max_number_of_formants=5, maximum_formant=MAX_FORMANT_HZ)
    return formant.get_value_at_time(1, middle), formant.get_value_at_time(2, middle)


def said_by(accent: str, word: str, wav: Path) -> Path:
    res = subprocess.run(["espeak-ng", "-v", accent, "-w", str(wav), word], capture_output=True, text=True)
    if res.returncode != 0:
        raise MelflowError(f"espeak-ng -v {accent} {word!r} failed: {res.stderr.strip()[:300]}")
    return wav


def measure(words: list[str], accents: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """accent -> word -> (F1, F2)."""
    with tempfile.TemporaryDirectory() as tmp:
        return {a: {w: vowel_formants(said_by(a, w, Path(tmp) / "word.wav")) for w in words} for a in accents}


def distance(p: tuple[float, float], q: tuple[float, float]) -> float:
    return float(np.hypot(p[0] - q[0], p[1] - q[1]))


@reports_errors("probe_vowel_formants")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", default="up,off", help="comma-separated (default up,off)")
    ap.add_argument("--accents", default=",".join(ENGLISH_ACCENTS), help="espeak-ng voices (default: its English accents)")
    args = ap.parse_args(argv)
    words = [w.strip() for w in args.words.split(",") if w.strip()]
    accents = [a.strip() for a in args.accents.split(",") if a.strip()]
    if not words or not accents:
        raise MelflowError("--words and --accents each need at least one name")
    table = measure(words, accents)
    for accent, vowels in table.items():
        pairs = {f"{a}-{b}": round(distance(vowels[a], vowels[b])) for a, b in itertools.combinations(words, 2)}
        print(json.dumps({"accent": accent, **{w: [round(v) for v in f] for w, f in vowels.items()}, "distance_hz": pairs}))
    nearest = {}
    for accent, vowels in table.items():
        others = [(distance(vowels[words[0]], f), f"{a} {w}") for a, vw in table.items() if a != accent for w, f in vw.items()]
        d, who = min(others)
        nearest[f"{accent} {words[0]}"] = {"closest": who, "distance_hz": round(d)}
    print(json.dumps({"nearest": nearest}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
