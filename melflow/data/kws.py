"""The default keyword corpus: the Google Speech Commands v2 12-class task (ten keywords,
`_unknown_`, `_silence_`) synthesised locally with espeak-ng, flite and festival.

A *speaker* is engine x voice x variant with its own fixed base rate and pitch. Splits are
speaker-disjoint and the test split uses espeak-ng accents, espeak-ng variants and a flite
voice that the train split never hears (festival speaks in train and val only; with
`accented_voices`, its voices of other languages say the keywords with their accent in
extra train clips: melflow.data.festival_accents; with `neural_voices`, the neural Kokoro
speaks extra train clips: melflow.data.kokoro_voices). Every clip is rendered from its own seeded
numpy Generator (derived from the corpus seed and the clip's position in the plan), so the
same seed and size give the same WAV bytes whatever the number of worker processes.
This module plans the corpus (which clips, said by whom); melflow.data.kws_render
renders them, and a rerun into the same folder (after an interruption, or with a larger
share of added clips) renders only the clips it lacks.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from melflow.core import MelflowError, replacing
from melflow.data import kokoro_voices
from melflow.data.espeak_voices import MAX_RANDOM_VARIANTS, random_variant_names
from melflow.data.festival_accents import ACCENTED_VOICES, chosen_voices
from melflow.data.kws_render import CLIP_SAMPLES, SAMPLE_RATE, ClipSpec, engine_voice, render_clip, render_specs
from melflow.data.kws_words import KEYWORDS, UNKNOWN_WORDS
from melflow.data.manifest import ManifestRow, write_manifest
from melflow.data.pronunciations import ENGLISH_ACCENTS, VOWEL_VARIANTS
from melflow.data.unknown_vowels import unknown_word_variants

__all__ = [
    "KEYWORDS", "LABELS", "CLIP_SAMPLES", "SAMPLE_RATE", "UNKNOWN_WORDS", "SIZES", "SPLITS",
    "ClipSpec", "split_speakers", "plan_kws_corpus", "render_clip", "render_specs", "generate_kws_corpus",
]

LABELS = KEYWORDS + ["_unknown_", "_silence_"]
SPLITS = ("train", "val", "test")
# clips per class in (train, val, test); _unknown_ and _silence_ get the factors below.
SIZES = {"tiny": (10, 10, 10), "small": (500, 60, 60), "full": (1500, 240, 240)}
_CLASS_FACTOR = {"_unknown_": 1.2, "_silence_": 1.0}
_FLITE_SHARE = 0.45  # share of speech clips from flite (more natural than espeak-ng)

# ---- speakers ------------------------------------------------------------------------
# Train also hears English words read by voices of other languages (accented English):
# more pronunciations in training is what carries a model to accents it has never heard.
_ESPEAK_ACCENTS = {
    "train": ["en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc", "hi", "pt", "fr", "pl", "de", "nl", "es",
              "it", "cy", "af", "sv", "da", "nb", "ro", "id", "sw", "hu", "cs", "ga"],
    "val": ["en-gb-x-gbcwmd"],
    "test": ["en-gb-scotland", "en-029"],
}
_ESPEAK_VARIANTS = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda",
    "benjamin", "boris", "caleb", "david", "Demonic", "Denis", "Diogo", "ed", "edward",
    "edward2", "Gene", "Gene2", "gustave", "announcer", "Henrique", "Hugo", "iven", "iven2",
    "iven3", "iven4", "Jacky", "john", "kaukovalta", "Lee", "linda", "marcelo", "Marco",
    "Mario", "max", "Michael", "michel", "miguel", "Mike", "Nguyen", "pablo", "paul",
    "pedro", "quincy", "RicishayMax", "RicishayMax2", "RicishayMax3", "rob", "robert",
    "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6",
    "robosoft7", "robosoft8", "steph", "steph2", "steph3", "Storm", "Tweaky", "UniRobot",
    "zac", "anika", "anikaRobot", "AnxiousAndy", "whisperf", "grandpa", "norbert", "sandro",
    "shelby", "travis", "victor", "whisper", "croak", "grandma",
]
_FLITE_VOICES = {"train": ["kal16", "awb", "slt"], "val": ["kal16", "awb", "slt"], "test": ["rms"]}
# festival (Debian festvox packages): a third engine for train and val only. ked is a
# speaker no other engine has; kal and slt are the flite speakers through other
# synthesis methods (diphone, HTS), so the model hears the engine change, not only the voice.
_FESTIVAL_VOICES = {"train": ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"],
                    "val": ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"], "test": []}
# flite "variants": fixed per-speaker pitch shift and duration stretch; val uses variant
# numbers that train never uses, test a voice that train never hears.
_FLITE_VARIANTS = {"train": range(0, 16), "val": range(16, 22), "test": range(0, 16)}
# Festival voices of other languages (melflow.data.festival_accents; `--accented-voices`),
# train only, with fewer variants each. Their clips come on top of the plain corpus's (whose
# clips stay the same), _ACCENTED_SHARE more clips in each speech class: about as
# many as any one English engine speaks, so native English voices stay the majority.
_ACCENTED_VARIANTS = range(0, 6)
_ACCENTED_SHARE = 0.15


def _variant_split() -> dict[str, list[str]]:
    """Fixed (seed-independent) partition of espeak-ng variants: 70 % train, 15 % val, 15 % test."""
    order = np.random.default_rng(20240601).permutation(len(_ESPEAK_VARIANTS))
    names = [_ESPEAK_VARIANTS[i] for i in order]
    n_val = n_test = round(0.15 * len(names))
    return {"test": names[:n_test], "val": names[n_test:n_test + n_val], "train": names[n_test + n_val:]}


def split_speakers(random_voices: int = 0, accented_voices=False) -> dict[str, list[str]]:
    """Speaker ids of each split (fixed, disjoint): `espeak:<accent>+<variant>` and
    `flite:<voice>#<variant>`. `random_voices` adds that many drawn espeak-ng variants
    (melflow.data.espeak_voices), crossed with every train accent, to train only;
    `accented_voices` adds festival's voices of other languages (all of them, or those named:
    melflow.data.festival_accents.chosen_voices), to train only."""
    variants = _variant_split()
    variants["train"] = variants["train"] + random_variant_names(random_voices)
    out = {}
    for split in SPLITS:
        spk = [f"espeak:{a}+{v}" for a in _ESPEAK_ACCENTS[split] for v in variants[split]]
        spk += [f"flite:{v}#{k:02d}" for v in _FLITE_VOICES[split] for k in _FLITE_VARIANTS[split]]
        spk += [f"festival:{v}#{k:02d}" for v in _FESTIVAL_VOICES[split] for k in _FLITE_VARIANTS[split]]
        if split == "train":
            spk += [f"festival:{v}#{k:02d}" for v in chosen_voices(accented_voices) for k in _ACCENTED_VARIANTS]
        out[split] = spk
    seen: dict[str, str] = {}
    for split, spk in out.items():
        for s in spk:
            if s in seen:
                raise AssertionError(f"speaker {s} in both {seen[s]} and {split}")
            seen[s] = split
    return out


def drawn_speaker_pool() -> list[str]:
    """Speakers of `--drawn-speakers`: every drawn espeak-ng variant
    (melflow.data.espeak_voices) crossed with every espeak-ng train accent, thousands of
    speakers for a few thousand clips, so that each says a clip or two: the test's unseen
    speakers are variants train never hears, and more distinct speakers, rather than more
    clips of the same ones, was the bet (measured in docs/kws_training.md: val gains a
    point, test no more than its noise). Only espeak-ng can make new voices, so the added
    clips shift train's engine mix away from flite and festival. The first
    `--random-voices` variants are among them (those variants then also speak in the plain
    clips)."""
    accents = _ESPEAK_ACCENTS["train"]
    return [f"espeak:{a}+{v}" for v in random_variant_names(MAX_RANDOM_VARIANTS) for a in accents]


# ---- plan ----------------------------------------------------------------------------
def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "_", s)


def plan_kws_corpus(size: str = "small", seed: int = 0, random_voices: int = 0,
                    accented_voices=False, vowel_variants: float = 0.0, extra_unknown: float = 0.0,
                    drawn_speakers: float = 0.0, neural_voices: float = 0.0,
                    unknown_vowel_variants: float = 0.0) -> list[ClipSpec]:
    """Every clip of the corpus, in a fixed order, without rendering any audio. Val and
    test depend on none of `random_voices`, `accented_voices`, `vowel_variants`,
    `extra_unknown`, `drawn_speakers`, `neural_voices` and `unknown_vowel_variants` (each split
    and class draws from its own Generator), and the last six only add train clips: the plain
    corpus's clips are the first of each class, unchanged.
    `vowel_variants` is the share of clips added to each keyword class, `extra_unknown`
    the share added to `_unknown_` (the other words, said by the plain corpus's speakers;
    like TensorFlow's speech_commands `--unknown_percentage`, it sets how much of train the
    open class is), `drawn_speakers` the share added to every speech class said by
    speakers no other clip has (`drawn_speaker_pool`), `neural_voices` the share added to every
    speech class said by Kokoro's train speakers (melflow.data.kokoro_voices),
    `unknown_vowel_variants` the share added to `_unknown_` said with other accents' vowels by
    the English espeak-ng voices (melflow.data.unknown_vowels); 0 adds none, and a larger share
    keeps a smaller one's clips and adds more after them."""
    if size not in SIZES:
        raise MelflowError(f"unknown corpus size {size!r} (choose from {', '.join(SIZES)})")
    if int(seed) < 0:
        raise MelflowError(f"--seed must be >= 0, got {seed}")
    for flag, share in (("--vowel-variants", vowel_variants), ("--extra-unknown", extra_unknown),
                        ("--drawn-speakers", drawn_speakers), ("--neural-voices", neural_voices),
                        ("--unknown-vowel-variants", unknown_vowel_variants)):
        if not 0 <= share <= 4:  # a share of the class, not a percentage
            raise MelflowError(f"{flag} must be a share between 0 and 4, got {share}")
    speakers = split_speakers(random_voices, accented_voices)
    drawn = drawn_speaker_pool() if drawn_speakers else []
    specs: list[ClipSpec] = []
    for si, split in enumerate(SPLITS):
        base_n = SIZES[size][si]
        esp = [s for s in speakers[split] if s.startswith("espeak:")]
        fli = [s for s in speakers[split] if not s.startswith("espeak:")]  # flite and festival
        accented = [s for s in fli if engine_voice(s) in ACCENTED_VOICES]
        english = [s for s in esp if s.split(":", 1)[1].partition("+")[0] in ENGLISH_ACCENTS]  # who says variants
        fli = [s for s in fli if s not in accented]
        for li, label in enumerate(LABELS):
            rng = np.random.default_rng([seed, si, li, 7])
            n = int(round(base_n * _CLASS_FACTOR.get(label, 1.0)))
            # round-robin over shuffled speaker lists spreads clips over all speakers
            esp_order = [str(x) for x in rng.permutation(esp)]
            fli_order = [str(x) for x in rng.permutation(fli)]
            words = list(rng.permutation(UNKNOWN_WORDS))
            said = (split, label, seed, (si, li), words, esp)
            if label == "_silence_":
                specs += [ClipSpec(f"{split}/{label}/silence_{i:05d}.wav", label, None, None, split, (seed, si, li, i))
                          for i in range(n)]
                continue
            specs += _clips_of_both_engines(esp_order, fli_order, rng, 0, n, *said)
            added = _added_clips(accented, 8, round(n * _ACCENTED_SHARE), n, *said) if accented else []
            if vowel_variants and split == "train" and label in KEYWORDS:
                added += _added_clips(english, 9, round(n * vowel_variants), n + len(added), *said,
                                      said_as={label: VOWEL_VARIANTS[label]})
            if extra_unknown and split == "train" and label == "_unknown_":
                more = np.random.default_rng([seed, si, li, 10])
                added += _clips_of_both_engines([str(x) for x in more.permutation(esp)], [str(x) for x in more.permutation(fli)],
                                                more, n + len(added), round(n * extra_unknown), *said)
            if drawn_speakers and split == "train":
                added += _added_clips(drawn, 11, round(n * drawn_speakers), n + len(added), *said)
            if neural_voices and split == "train":
                added += _added_clips(kokoro_voices.train_speakers(), 12, round(n * neural_voices), n + len(added), *said)
            if unknown_vowel_variants and split == "train" and label == "_unknown_":
                added += _added_clips(english, 13, round(n * unknown_vowel_variants), n + len(added), *said,
                                      said_as=unknown_word_variants())
            specs += added
    return specs


def _clips_of_both_engines(esp_order: list[str], fli_order: list[str], rng: np.random.Generator, start: int, count: int,
                           split: str, label: str, seed: int, where: tuple, words: list, esp: list[str]) -> list[ClipSpec]:
    """Clips `start`.. of a speech class, each said by flite or festival with probability
    _FLITE_SHARE, else by espeak-ng; round-robin over each shuffled speaker list spreads
    them over all speakers."""
    out, n_fli, n_esp = [], 0, 0
    for i in range(start, start + count):
        if rng.random() < _FLITE_SHARE:
            spk = fli_order[n_fli % len(fli_order)]
            n_fli += 1
        else:
            spk = esp_order[n_esp % len(esp_order)]
            n_esp += 1
        out.append(_spoken_clip(split, label, spk, i, seed, where, words, esp, rng))
    return out


def _added_clips(speakers: list[str], stream: int, count: int, start: int, split: str, label: str, seed: int,
                 where: tuple, words: list, esp: list[str], said_as: dict[str, list[str]] | None = None) -> list[ClipSpec]:
    """`count` clips a train option adds to a class, numbered from `start` (after the clips
    before them), said by `speakers` in turn and drawn from a Generator of their own
    (`stream`) so that the other clips do not change; with `said_as` (word -> phoneme
    strings), each clip says one of its words in turn from one of that word's phoneme
    strings (`--vowel-variants`, `--unknown-vowel-variants`), else the word (`--accented-voices`)."""
    si, li = where
    rng = np.random.default_rng([seed, si, li, stream])
    order = [str(x) for x in rng.permutation(speakers)]
    spoken = sorted(said_as) if said_as else []
    out = []
    for k, i in enumerate(range(start, start + count)):
        word = spoken[k % len(spoken)] if spoken else None
        phonemes = said_as[word][int(rng.integers(len(said_as[word])))] if spoken else None
        out.append(_spoken_clip(split, label, order[k % len(order)], i, seed, where, words, esp, rng,
                                phonemes=phonemes, word=word))
    return out


def _spoken_clip(split: str, label: str, spk: str, i: int, seed: int, where: tuple, words: list, esp: list[str],
                 rng: np.random.Generator, phonemes: str | None = None, word: str | None = None) -> ClipSpec:
    """Clip `i` of a speech class, said by `spk` over babble of two espeak-ng speakers drawn
    from `rng`: `word`, else the keyword, else the `_unknown_` word whose turn it is."""
    word = word or (label if label in KEYWORDS else str(words[i % len(words)]))
    babble = tuple(str(s) for s in rng.choice(esp, size=2, replace=False))
    said = f"{_safe(word)}-{_safe(phonemes)}" if phonemes else _safe(word)
    name = f"{split}/{label}/{said}_{_safe(spk)}_{i:05d}.wav"
    return ClipSpec(name, label, word, spk, split, (seed, *where, i), babble, phonemes)


# ---- driver --------------------------------------------------------------------------
def generate_kws_corpus(out, size: str = "small", seed: int = 0, jobs: int = 0, progress: bool = True, splits=SPLITS,
                        random_voices: int = 0, accented_voices=False, vowel_variants: float = 0.0,
                        extra_unknown: float = 0.0, drawn_speakers: float = 0.0, neural_voices: float = 0.0,
                        unknown_vowel_variants: float = 0.0) -> dict:
    """Write the keyword corpus under `out`: WAVs in `<split>/<label>/`, manifests
    `train.csv`, `val.csv`, `test.csv` (path,label,speaker,split) and `corpus.json`
    (counts per split and class, speakers per split). Returns the summary.

    `splits` renders only some splits (the demo needs only `test`); a clip is the same
    whichever splits are rendered with it. Clips already in `out` with the same key are
    kept (`render_specs`), so an interrupted run picks up where it stopped.
    `random_voices` and `accented_voices` add voices to train (see `split_speakers`),
    `vowel_variants` that share more keyword clips said with other accents' vowels
    (melflow.data.pronunciations), `extra_unknown` that share more `_unknown_` clips,
    `drawn_speakers` that share more clips of every speech class said by drawn speakers,
    `neural_voices` that share more said by Kokoro's neural voices, `unknown_vowel_variants`
    that share more `_unknown_` clips said with other accents' vowels."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MelflowError(f"{out}: output path exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise MelflowError(f"unknown split(s) {', '.join(unknown)}; choose from {', '.join(SPLITS)}")
    specs = [s for s in plan_kws_corpus(size, seed, random_voices, accented_voices, vowel_variants, extra_unknown,
                                       drawn_speakers, neural_voices, unknown_vowel_variants)
             if s.split in splits]
    render_specs(specs, out, jobs=jobs, progress=progress)

    by_split: dict[str, list[ClipSpec]] = defaultdict(list)
    for s in specs:
        by_split[s.split].append(s)
    summary = {
        "task": "speech_commands_v2_12",
        "size": size,
        "seed": seed,
        "random_voices": int(random_voices),
        "accented_voices": chosen_voices(accented_voices),
        "vowel_variants": float(vowel_variants),
        "extra_unknown": float(extra_unknown),
        "drawn_speakers": float(drawn_speakers),
        "neural_voices": float(neural_voices),
        "unknown_vowel_variants": float(unknown_vowel_variants),
        "sample_rate": SAMPLE_RATE,
        "clip_samples": CLIP_SAMPLES,
        "labels": LABELS,
        "total": len(specs),
        "counts": {},
        "speakers": {},
        "speaker_counts": {},
        "engines": {},
    }
    for split in [s for s in SPLITS if s in splits]:
        rows = [ManifestRow(path=out / s.relpath, label=s.label, speaker=s.speaker, split=split) for s in by_split[split]]
        write_manifest(out / f"{split}.csv", rows)
        cnt = Counter(s.label for s in by_split[split])
        summary["counts"][split] = {lab: cnt.get(lab, 0) for lab in LABELS}
        used = sorted({s.speaker for s in by_split[split] if s.speaker})
        summary["speakers"][split] = used
        summary["speaker_counts"][split] = len(used)
        eng = Counter(s.speaker.split(":")[0] if s.speaker else "noise" for s in by_split[split])
        summary["engines"][split] = dict(sorted(eng.items()))
    with replacing(out / "corpus.json", "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
        fh.write("\n")
    return summary
