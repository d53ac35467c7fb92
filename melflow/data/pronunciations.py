"""The keywords said with the vowels other English accents give them: train-only clips
(`melflow data kws --vowel-variants`) that make the consonants, not the vowel, carry the class.

Why: in every train accent each keyword has one vowel, so a model may tell "up" from "off"
by the vowel alone. The test split's most common error is exactly that pair in espeak-ng's
Caribbean accent (en-029), and the shipped kws_cnn hears espeak-ng's British voice saying
"up" with the vowel of "off" ([[0p]]) as "off" in 6 clips of 6. Real accents move these
vowels (Scottish "doon", Caribbean "op", Southern US "raat"); hearing a keyword with
several of them teaches the model that /p/ against /f/ decides.

espeak-ng reads phonemes written between [[ and ]], and its English voices share one
phoneme table, so the variants are espeak-ng's English phoneme mnemonics (the stress mark
' before the stressed vowel). They are written by hand: no library lists accent vowels of
these words in espeak-ng's notation. None of them is another keyword, and each keeps the
keyword's consonants.
"""

from __future__ import annotations

# `melflow data kws --vowel-variants` without a share: this share more clips per keyword
# class in train.
VOWEL_VARIANT_SHARE = 0.2

# keyword -> its vowel as other English accents say it (the espeak-ng en-us/en-gb
# pronunciation, e.g. j'Es for "yes", is not repeated: the plain corpus has it).
VOWEL_VARIANTS = {
    "yes": ["j'Is", "j'eIs", "j'as"],
    "no": ["n'o:", "n'@U", "n'O:"],
    "up": ["'0p", "'O:p", "'ap", "'@p", "'Up"],
    "down": ["d'u:n", "d'@Un", "d'a:n"],
    "left": ["l'aft", "l'Ift", "l'eIft"],
    "right": ["r'OIt", "r'@It", "r'a:t"],
    "on": ["'O:n", "'A:n", "'an"],
    "off": ["'O:f", "'A:f", "'af", "'Vf"],
    "stop": ["st'O:p", "st'A:p", "st'ap", "st'Vp"],
    "go": ["g'o:", "g'@U", "g'O:"],
}

# espeak-ng voices that read the English phoneme mnemonics above (voices of other
# languages have their own phoneme tables).
ENGLISH_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-scotland",
                   "en-029", "en-us-nyc")


def espeak_phoneme_input(phonemes: str) -> str:
    """The text that makes espeak-ng say `phonemes` rather than read them as spelling."""
    return f"[[{phonemes}]]"
