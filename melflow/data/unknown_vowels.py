"""The `_unknown_` words said with other accents' vowels: train-only clips (`melflow data kws
--unknown-vowel-variants`) that keep a shifted vowel from meaning "a keyword".

Why: `--vowel-variants` (melflow.data.pronunciations) teaches that a keyword stays itself
whatever its vowel, yet in train every other word keeps the one vowel each English voice
gives it, so a model can learn that an unusual vowel comes with a keyword. On the full test
split the shipped kws_cnn took 66 of 288 `_unknown_` clips for keywords, the largest share of
its errors, 22 by each of the three unseen test voices: "house" as "no" in 5 clips of 8,
"hello" as "no" 4 of 8, "light" and "one" as "right" 4 of 8 (`melflow eval --model
models/kws_cnn.pt --manifest data/kws-full-test/test.csv --by word`).

The vowel shifts are the keywords' (VOWEL_SHIFTS: the alternations of
pronunciations.VOWEL_VARIANTS per stressed vowel), applied to the stressed vowel of each
word as espeak-ng's US English voice transcribes it (`espeak-ng -x`), so a new word in
kws_words.UNKNOWN_WORDS gets its variants without a hand-written list. A variant that reads as a keyword or one of its variants, or as another word, is dropped.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from melflow.core import MelflowError
from melflow.data.kws_words import KEYWORDS, UNKNOWN_WORDS
from melflow.data.pronunciations import VOWEL_VARIANTS

# Each keyword's stressed vowel in espeak-ng's English voices, which its VOWEL_VARIANTS shift.
KEYWORD_VOWELS = {"yes": "E", "left": "E", "no": "oU", "go": "oU", "up": "V", "down": "aU", "right": "aI",
                  "on": "0", "off": "0", "stop": "0"}
# The vowel mnemonics of the keywords and their variants, longest first: a stressed vowel is
# read as the longest that matches, unless a longer vowel goes on (aI@ of "fire", E@ of "there").
_VOWELS = sorted({"E", "I", "eI", "a", "oU", "o:", "@U", "O:", "V", "0", "@", "U", "aU", "u:", "a:", "aI", "OI", "@I", "A:"},
                 key=lambda v: (-len(v), v))
_LONGER_VOWEL = "@:3"


def stressed_vowel(transcription: str) -> tuple[str, str, str] | None:
    """(what comes before, the stressed vowel, what comes after) of `transcription`
    (espeak-ng mnemonics, ' before the stressed vowel), for the vowels of _VOWELS; None
    for any other vowel or without a stress mark."""
    at = transcription.find("'")
    if at < 0:
        return None
    rest = transcription[at + 1:]
    for vowel in _VOWELS:
        tail = rest[len(vowel):]
        if rest.startswith(vowel) and not (tail and tail[0] in _LONGER_VOWEL):
            return transcription[:at + 1], vowel, tail
    return None


def _vowel_shifts() -> dict[str, list[str]]:
    """Stressed vowel -> the vowels VOWEL_VARIANTS gives the keywords that have it, in order."""
    shifts: dict[str, list[str]] = {}
    for word, variants in VOWEL_VARIANTS.items():
        known = shifts.setdefault(KEYWORD_VOWELS[word], [])
        known += [v for v in (stressed_vowel(p)[1] for p in variants) if v not in known]
    return shifts


# E -> I, eI, a; oU -> o:, @U, O:; V -> 0, O:, a, @, U; aU -> u:, @U, a:; aI -> OI, @I, a:; 0 -> O:, A:, a, V
VOWEL_SHIFTS = _vowel_shifts()


def shifted_vowels(transcription: str) -> list[str]:
    """`transcription` with its stressed vowel replaced by each of VOWEL_SHIFTS' alternatives;
    [] when that vowel has none."""
    parts = stressed_vowel(transcription)
    if parts is None:
        return []
    head, vowel, tail = parts
    return [head + v + tail for v in VOWEL_SHIFTS.get(vowel, [])]


@functools.lru_cache(maxsize=None)
def transcription(word: str) -> str:
    """espeak-ng's US English phoneme mnemonics of `word` (`espeak-ng -v en-us -q -x`)."""
    if shutil.which("espeak-ng") is None:
        raise MelflowError("espeak-ng not found on PATH (apt-get install espeak-ng): "
                           "--unknown-vowel-variants transcribes the _unknown_ words with it")
    res = subprocess.run(["espeak-ng", "-v", "en-us", "-q", "-x", word], capture_output=True, text=True)
    if res.returncode != 0:
        raise MelflowError(f"espeak-ng -x {word!r} failed: {res.stderr.strip()[:300]}")
    return "".join(res.stdout.split())


@functools.lru_cache(maxsize=1)
def unknown_word_variants() -> dict[str, list[str]]:
    """word -> its vowel variants, for every `_unknown_` word that has any."""
    taken = {transcription(w) for w in KEYWORDS + UNKNOWN_WORDS} | {p for ps in VOWEL_VARIANTS.values() for p in ps}
    out = {}
    for word in UNKNOWN_WORDS:
        variants = [v for v in shifted_vowels(transcription(word)) if v not in taken]
        if variants:
            out[word] = variants
    if not out:  # else the added clips would say the plain words and pass for variants
        raise MelflowError("--unknown-vowel-variants: no _unknown_ word has a stressed vowel that VOWEL_SHIFTS shifts in "
                           f"espeak-ng's transcription (e.g. {UNKNOWN_WORDS[0]!r}: {transcription(UNKNOWN_WORDS[0])!r})")
    return out
