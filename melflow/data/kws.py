"""The default keyword corpus: the Google Speech Commands v2 12-class task (ten keywords,
`_unknown_`, `_silence_`) synthesised locally with espeak-ng, flite and festival.

A *speaker* is engine x voice x variant with its own fixed base rate and pitch. Splits are
speaker-disjoint and the test split uses espeak-ng accents, espeak-ng variants and a flite
voice that the train split never hears (festival speaks in train and val only; with
`accented_voices`, its voices of other languages say the keywords with their accent in
extra train clips: melflow.data.festival_accents). Every clip is rendered from its own seeded
numpy Generator (derived from the corpus seed and the clip's position in the plan), so the
same seed and size give the same WAV bytes whatever the number of worker processes.
Each WAV carries the key of what made it (`clip_key`), so a rerun into the same folder (after
an interruption, or with a larger share of added clips) renders only the clips it lacks.

Per utterance: rate/pitch jitter, sox effects (speed, pitch, EQ, band limits, light
reverb), random placement in the 1 s clip, random gain, and background noise (white, pink,
brown, mains hum, babble of other words) at a random SNR. `_silence_` clips are noise only,
including digital near-silence.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from melflow.core import MelflowError
from melflow.data.audio import float_to_int16, resample, wav_comment, write_wav
from melflow.data.espeak_voices import espeak_path_for, random_variant_names
from melflow.data.festival_accents import ACCENTED_VOICES, DEBIAN_PACKAGES as ACCENT_PACKAGES, chosen_voices, festival_text
from melflow.data.manifest import ManifestRow, write_manifest
from melflow.data.pronunciations import ENGLISH_ACCENTS, VOWEL_VARIANTS, espeak_phoneme_input

__all__ = [
    "KEYWORDS", "LABELS", "CLIP_SAMPLES", "SAMPLE_RATE", "UNKNOWN_WORDS", "SIZES", "SPLITS",
    "ClipSpec", "split_speakers", "plan_kws_corpus", "render_clip", "generate_kws_corpus",
]

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
LABELS = KEYWORDS + ["_unknown_", "_silence_"]
CLIP_SAMPLES = 16000
SAMPLE_RATE = 16000
SPLITS = ("train", "val", "test")

# The other Speech Commands v2 words, plus a few more everyday words.
UNKNOWN_WORDS = [
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
    "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "backward",
    "forward", "follow", "learn", "visual",
    "hello", "water", "light", "music", "open", "window", "morning", "number", "yellow", "table",
]
# Words for background babble: never a keyword, so that babble cannot carry a label.
_BABBLE_WORDS = UNKNOWN_WORDS + [
    "the", "and", "we", "were", "there", "about", "people", "because", "little", "very",
    "today", "maybe", "really", "think", "know", "coffee", "later", "station", "weather",
]

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


def _speaker_rng(speaker: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(speaker.encode()))


def _speaker_base(speaker: str) -> dict:
    """Fixed voice parameters of a speaker (independent of the corpus seed)."""
    r = _speaker_rng(speaker)
    if speaker.startswith("espeak:"):
        return {"wpm": float(r.uniform(125, 200)), "pitch": float(r.uniform(15, 85))}
    return {"cents": float(r.uniform(-350, 350)), "stretch": float(r.uniform(0.85, 1.25))}


# ---- plan ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipSpec:
    relpath: str  # relative to the corpus folder
    label: str
    word: str | None  # None for _silence_
    speaker: str | None
    split: str
    seed: tuple  # entropy for the clip's Generator
    babble_speakers: tuple = field(default=())
    phonemes: str | None = None  # espeak-ng says these (melflow.data.pronunciations) instead of reading `word`


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "_", s)


def plan_kws_corpus(size: str = "small", seed: int = 0, random_voices: int = 0,
                    accented_voices=False, vowel_variants: float = 0.0) -> list[ClipSpec]:
    """Every clip of the corpus, in a fixed order, without rendering any audio. Val and
    test depend on none of `random_voices`, `accented_voices` and `vowel_variants` (each
    split and class draws from its own Generator), and the last two only add train clips:
    the plain corpus's clips are the first of each class, unchanged. `vowel_variants` is
    the share of clips added to each keyword class (0: none); a larger share keeps a
    smaller one's clips and adds more after them."""
    if size not in SIZES:
        raise MelflowError(f"unknown corpus size {size!r} (choose from {', '.join(SIZES)})")
    if int(seed) < 0:
        raise MelflowError(f"--seed must be >= 0, got {seed}")
    if not 0 <= vowel_variants <= 4:  # a share of the class, not a percentage
        raise MelflowError(f"--vowel-variants must be a share between 0 and 4, got {vowel_variants}")
    speakers = split_speakers(random_voices, accented_voices)
    specs: list[ClipSpec] = []
    for si, split in enumerate(SPLITS):
        base_n = SIZES[size][si]
        esp = [s for s in speakers[split] if s.startswith("espeak:")]
        fli = [s for s in speakers[split] if not s.startswith("espeak:")]  # flite and festival
        accented = [s for s in fli if _voice(s) in ACCENTED_VOICES]
        fli = [s for s in fli if s not in accented]
        for li, label in enumerate(LABELS):
            rng = np.random.default_rng([seed, si, li, 7])
            n = int(round(base_n * _CLASS_FACTOR.get(label, 1.0)))
            # round-robin over shuffled speaker lists spreads clips over all speakers
            esp_order = [str(x) for x in rng.permutation(esp)]
            fli_order = [str(x) for x in rng.permutation(fli)]
            words = list(rng.permutation(UNKNOWN_WORDS))
            n_fli = n_esp = 0
            for i in range(n):
                cseed = (seed, si, li, i)
                if label == "_silence_":
                    specs.append(ClipSpec(f"{split}/{label}/silence_{i:05d}.wav", label, None, None, split, cseed))
                    continue
                if rng.random() < _FLITE_SHARE:
                    spk = fli_order[n_fli % len(fli_order)]
                    n_fli += 1
                else:
                    spk = esp_order[n_esp % len(esp_order)]
                    n_esp += 1
                specs.append(_spoken_clip(split, label, str(spk), i, seed, (si, li), words, esp, rng))
            said = (split, label, seed, (si, li), words, esp)
            added = _added_clips(accented, 8, round(n * _ACCENTED_SHARE), n, *said) if accented and label != "_silence_" else []
            if vowel_variants and split == "train" and label in KEYWORDS:
                english = [s for s in esp if s.split(":", 1)[1].partition("+")[0] in ENGLISH_ACCENTS]
                added += _added_clips(english, 9, round(n * vowel_variants), n + len(added), *said,
                                      phonemes=VOWEL_VARIANTS[label])
            specs += added
    return specs


def _added_clips(speakers: list[str], stream: int, count: int, start: int, split: str, label: str, seed: int,
                 where: tuple, words: list, esp: list[str], phonemes: list[str] | None = None) -> list[ClipSpec]:
    """`count` clips a train option adds to a class, numbered from `start` (after the clips
    before them), said by `speakers` in turn and drawn from a Generator of their own
    (`stream`) so that the other clips do not change; with `phonemes`, each clip is said
    from one of them (`--vowel-variants`), else from the word (`--accented-voices`)."""
    si, li = where
    rng = np.random.default_rng([seed, si, li, stream])
    order = [str(x) for x in rng.permutation(speakers)]
    return [_spoken_clip(split, label, order[k % len(order)], i, seed, where, words, esp, rng,
                         phonemes=phonemes[int(rng.integers(len(phonemes)))] if phonemes else None)
            for k, i in enumerate(range(start, start + count))]


def _spoken_clip(split: str, label: str, spk: str, i: int, seed: int, where: tuple, words: list, esp: list[str],
                 rng: np.random.Generator, phonemes: str | None = None) -> ClipSpec:
    """Clip `i` of a speech class, said by `spk` over babble of two espeak-ng speakers drawn from `rng`."""
    word = label if label in KEYWORDS else str(words[i % len(words)])
    babble = tuple(str(s) for s in rng.choice(esp, size=2, replace=False))
    said = f"{_safe(word)}-{_safe(phonemes)}" if phonemes else _safe(word)
    name = f"{split}/{label}/{said}_{_safe(spk)}_{i:05d}.wav"
    return ClipSpec(name, label, word, spk, split, (seed, *where, i), babble, phonemes)


# ---- rendering -----------------------------------------------------------------------
def _run(cmd: list[str]) -> None:
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise MelflowError(f"{cmd[0]}: program not found (install espeak-ng, flite and sox)") from None
    if res.returncode != 0:
        raise MelflowError(f"{cmd[0]} failed ({' '.join(cmd)}): {res.stderr.decode(errors='replace').strip()[:300]}")


def _espeak(text: str, speaker: str, wpm: float, pitch: float, path: str) -> None:
    voice = speaker.split(":", 1)[1]
    path_dir = espeak_path_for(voice.partition("+")[2])
    _run(["espeak-ng", *([f"--path={path_dir}"] if path_dir else []), "-v", voice, "-s", str(int(round(wpm))), "-p", str(int(round(np.clip(pitch, 0, 99)))),
          "-w", path, text])


def _voice(speaker: str) -> str:
    """The engine's voice of a flite or festival speaker id (`engine:voice#NN`)."""
    return speaker.split(":", 1)[1].split("#")[0]


def _flite(text: str, speaker: str, stretch: float, path: str) -> None:
    voice = _voice(speaker)
    _run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}", "-t", text, "-o", path])


def _festival(text: str, speaker: str, stretch: float, path: str, tmp: str) -> None:
    voice = _voice(speaker)
    txt = os.path.join(tmp, "word.txt")
    with open(txt, "w", encoding="utf-8") as f:
        f.write(festival_text(voice, text) + "\n")
    _run(["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
          "-o", path, txt])
    if not os.path.exists(path):  # text2wave exits 0 when the voice is unknown
        raise MelflowError(f"text2wave wrote nothing for festival voice {voice} (is it installed?)")


def _read_float(path: str) -> tuple[np.ndarray, int]:
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    return x.mean(axis=1), sr


def _synth_word(spec: ClipSpec, rng: np.random.Generator, tmp: str) -> np.ndarray:
    """The word as float at 16 kHz after engine, voice jitter and sox effects."""
    base = _speaker_base(spec.speaker)
    raw = os.path.join(tmp, "raw.wav")
    fx: list[str] = []
    if spec.speaker.startswith("espeak:"):
        text = espeak_phoneme_input(spec.phonemes) if spec.phonemes else spec.word
        _espeak(text, spec.speaker, base["wpm"] * rng.uniform(0.88, 1.12), base["pitch"] + rng.uniform(-10, 10), raw)
        if rng.random() < 0.25:
            fx += ["pitch", f"{rng.uniform(-150, 150):.1f}"]
    else:
        stretch = base["stretch"] * rng.uniform(0.9, 1.1)
        if spec.speaker.startswith("festival:"):
            _festival(spec.word, spec.speaker, stretch, raw, tmp)
        else:
            _flite(spec.word, spec.speaker, stretch, raw)
        fx += ["pitch", f"{base['cents'] + rng.uniform(-80, 80):.1f}"]
    if rng.random() < 0.4:
        fx += ["speed", f"{rng.uniform(0.93, 1.07):.4f}"]
    fx += ["rate", "-h", str(SAMPLE_RATE)]  # pitch/speed change the stream's rate: fix it before filters
    for _ in range(rng.integers(0, 4)):
        f = float(np.exp(rng.uniform(np.log(120), np.log(6000))))
        fx += ["equalizer", f"{f:.0f}", f"{rng.uniform(0.5, 2.0):.2f}q", f"{rng.uniform(-9, 6):.1f}"]
    if rng.random() < 0.3:
        fx += ["highpass", f"{rng.uniform(80, 300):.0f}"]
    if rng.random() < 0.2:
        fx += ["lowpass", f"{rng.uniform(3000, 7000):.0f}"]
    if rng.random() < 0.35:
        fx += ["reverb", f"{rng.uniform(10, 60):.0f}", f"{rng.uniform(20, 80):.0f}", f"{rng.uniform(10, 70):.0f}",
               "channels", "1"]
    out = os.path.join(tmp, "fx.wav")
    _run(["sox", "-D", raw, "-e", "floating-point", "-b", "32", "-r", str(SAMPLE_RATE), out, *fx])
    x, sr = _read_float(out)
    if sr != SAMPLE_RATE:
        x = resample(x, sr, SAMPLE_RATE)
    return x


def _trim(x: np.ndarray, rel_db: float = -40.0, hop: int = 160) -> np.ndarray:
    """Cut leading/trailing silence (frames more than `rel_db` below the loudest frame)."""
    n = len(x) // hop
    if n == 0:
        return x
    e = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)
    on = np.nonzero(e > e.max() * 10 ** (rel_db / 20))[0]
    a = max(0, on[0] * hop - 2 * hop)
    b = min(len(x), (on[-1] + 1) * hop + 2 * hop)
    return x[a:b]


def _colored(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """Gaussian noise with a 1/f^alpha power spectrum, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-alpha / 2)
    spec[0] = 0.0
    y = np.fft.irfft(spec, n)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    t = np.arange(n) / SAMPLE_RATE
    y = np.zeros(n)
    for k in range(1, int(rng.integers(2, 9))):
        y += rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    y += 0.05 * rng.standard_normal(n)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _babble(spec: ClipSpec, rng: np.random.Generator, n: int, tmp: str) -> np.ndarray:
    """Fast speech of other (non-keyword) words by one or two voices of the same split."""
    y = np.zeros(n)
    for j in range(int(rng.integers(1, 3))):
        spk = spec.babble_speakers[j % len(spec.babble_speakers)]
        base = _speaker_base(spk)
        words = " ".join(rng.choice(_BABBLE_WORDS, size=int(rng.integers(5, 9))))
        path = os.path.join(tmp, f"babble{j}.wav")
        _espeak(words, spk, rng.uniform(200, 300), base["pitch"], path)
        x, sr = _read_float(path)
        x = resample(x, sr, SAMPLE_RATE)
        if len(x) < n:
            x = np.tile(x, n // max(len(x), 1) + 1)
        start = int(rng.integers(0, len(x) - n + 1))
        seg = x[start:start + n]
        y += seg / (np.sqrt(np.mean(seg ** 2)) + 1e-12)
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _noise(spec: ClipSpec, rng: np.random.Generator, n: int, tmp: str, allow_babble: bool) -> np.ndarray:
    kinds = ["white", "pink", "brown", "hum"] + (["babble"] if allow_babble else [])
    probs = np.array([0.2, 0.3, 0.2, 0.1] + ([0.3] if allow_babble else []))
    chosen = rng.choice(kinds, size=int(rng.integers(1, 3)), replace=False, p=probs / probs.sum())
    y = np.zeros(n)
    for kind in chosen:
        if kind == "babble":
            comp = _babble(spec, rng, n, tmp)
        elif kind == "hum":
            comp = _hum(rng, n)
        else:
            alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind] + rng.uniform(-0.25, 0.25)
            comp = _colored(rng, n, alpha)
        y += rng.uniform(0.3, 1.0) * comp
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-12)


def _silence(spec: ClipSpec, rng: np.random.Generator, tmp: str) -> np.ndarray:
    n = CLIP_SAMPLES
    if rng.random() < 0.15:  # digital (near) silence: zeros, a few LSBs, maybe a DC offset
        k = int(rng.integers(0, 4))
        y = rng.integers(-k, k + 1, size=n).astype(np.float64) + int(rng.integers(-3, 4)) * (rng.random() < 0.3)
        return y / 32768.0
    level_db = rng.uniform(-65, -20)  # RMS dBFS
    return _noise(spec, rng, n, tmp, allow_babble=False) * 10 ** (level_db / 20)


def render_clip(spec: ClipSpec) -> np.ndarray:
    """One clip as 16000 int16 samples. Pure function of `spec` (deterministic)."""
    rng = np.random.default_rng(list(spec.seed))
    with tempfile.TemporaryDirectory(prefix="melflow-kws-") as tmp:
        if spec.label == "_silence_":
            return float_to_int16(_silence(spec, rng, tmp))
        word = _trim(_synth_word(spec, rng, tmp))
        max_len = CLIP_SAMPLES - 320
        if len(word) > max_len:  # too long for 1 s: compress in time
            word = resample(word, len(word), max_len)[:max_len]
        peak = np.max(np.abs(word)) + 1e-12
        word = word / peak * 10 ** (rng.uniform(-30, -1) / 20)  # random gain (peak dBFS)
        clip = np.zeros(CLIP_SAMPLES)
        start = int(rng.integers(0, CLIP_SAMPLES - len(word) + 1))
        clip[start:start + len(word)] = word
        # SNR measured against the speech power over the active part of the word
        speech_rms = np.sqrt(np.mean(word ** 2))
        snr = rng.uniform(5, 30)
        clip += _noise(spec, rng, CLIP_SAMPLES, tmp, allow_babble=True) * speech_rms * 10 ** (-snr / 20)
        peak = np.max(np.abs(clip))
        if peak > 0.999:
            clip *= 0.999 / peak
        return float_to_int16(clip)


_RENDER_SOURCES = ("kws.py", "audio.py", "espeak_voices.py", "festival_accents.py", "pronunciations.py")
_SYNTHESISERS = (["espeak-ng", "--version"], ["flite", "--version"], ["sox", "--version"], ["festival", "--version"])


@functools.lru_cache(maxsize=1)
def _renderer_fingerprint() -> str:
    """Hash of the rendering code and the synthesisers' versions: a clip made by other code
    or another espeak-ng may sound different, so it is never reused."""
    h = hashlib.sha1()
    here = Path(__file__).parent
    for name in _RENDER_SOURCES:
        h.update((here / name).read_bytes())
    for cmd in _SYNTHESISERS:
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=30)
            h.update(res.stdout + res.stderr)
        except (OSError, subprocess.TimeoutExpired):
            h.update(f"{cmd[0]} missing".encode())
    return h.hexdigest()[:12]


def clip_key(spec: ClipSpec) -> str:
    """What a clip is a pure function of: its spec and the renderer. Written into the WAV's
    comment, so a rerun reuses a clip only when its file says it was made the same way."""
    return f"melflow-kws {_renderer_fingerprint()} {hashlib.sha1(repr(spec).encode()).hexdigest()[:16]}"


def _work(args) -> str:
    spec, out, key = args
    write_wav(Path(out) / spec.relpath, render_clip(spec), SAMPLE_RATE, comment=key)
    return spec.relpath


# ---- driver --------------------------------------------------------------------------
_DEBIAN_PACKAGES = ["espeak-ng", "flite", "sox", "festival", "festvox-kallpc16k", "festvox-kdlpc16k",
                    "festvox-us-slt-hts", *ACCENT_PACKAGES]
_FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")


def _check_tools(specs) -> None:
    """Every program, and every festival voice the clips ask for, is installed."""
    hint = f"apt-get install {' '.join(_DEBIAN_PACKAGES)}"
    missing = [t for t in ("espeak-ng", "flite", "text2wave", "sox") if shutil.which(t) is None]
    if missing:
        raise MelflowError(f"{', '.join(missing)}: program(s) not found on PATH ({hint})")
    voices = sorted({_voice(s.speaker) for s in specs if s.speaker and s.speaker.startswith("festival:")})
    missing = [v for v in voices if not any(_FESTIVAL_VOICE_DIR.glob(f"*/{v}"))]
    if missing:
        raise MelflowError(f"festival voice(s) {', '.join(missing)} not installed under {_FESTIVAL_VOICE_DIR} ({hint})")


def render_specs(specs, out, jobs: int = 0, progress: bool = True) -> int:
    """Render and write the given clips under `out` (in parallel with `jobs` processes),
    except those already there with the same `clip_key`. Returns how many it rendered."""
    from tqdm import tqdm

    specs = list(specs)
    _check_tools(specs)
    out = Path(out)
    jobs = 0 if jobs is None else int(jobs)
    if jobs < 0:
        raise MelflowError(f"--jobs must be >= 0, got {jobs}")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    keyed = [(s, str(out), clip_key(s)) for s in specs]
    tasks = [t for t in keyed if wav_comment(out / t[0].relpath) != t[2]]
    if progress and len(tasks) < len(keyed):
        print(f"{out}: {len(keyed) - len(tasks)} of {len(keyed)} clips already rendered the same way, kept", flush=True)
    for spk in {v for s, _, _ in tasks for v in (s.speaker, *s.babble_speakers) if v and v.startswith("espeak:")}:
        espeak_path_for(spk.partition("+")[2])  # drawn variants written before the workers fork
    bar = tqdm(total=len(tasks), desc="kws clips", unit="clip", disable=not progress)
    try:
        if jobs == 1 or len(tasks) < 2:
            for t in tasks:
                _work(t)
                bar.update(1)
        else:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else None)
            with ctx.Pool(jobs) as pool:
                for _ in pool.imap_unordered(_work, tasks, chunksize=8):
                    bar.update(1)
    finally:
        bar.close()
    return len(tasks)


def generate_kws_corpus(out, size: str = "small", seed: int = 0, jobs: int = 0, progress: bool = True, splits=SPLITS,
                        random_voices: int = 0, accented_voices=False, vowel_variants: float = 0.0) -> dict:
    """Write the keyword corpus under `out`: WAVs in `<split>/<label>/`, manifests
    `train.csv`, `val.csv`, `test.csv` (path,label,speaker,split) and `corpus.json`
    (counts per split and class, speakers per split). Returns the summary.

    `splits` renders only some splits (the demo needs only `test`); a clip is the same
    whichever splits are rendered with it. Clips already in `out` with the same key are
    kept (`render_specs`), so an interrupted run picks up where it stopped.
    `random_voices` and `accented_voices` add voices to train (see `split_speakers`),
    `vowel_variants` that share more keyword clips said with other accents' vowels
    (melflow.data.pronunciations)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MelflowError(f"{out}: output path exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise MelflowError(f"unknown split(s) {', '.join(unknown)}; choose from {', '.join(SPLITS)}")
    specs = [s for s in plan_kws_corpus(size, seed, random_voices, accented_voices, vowel_variants)
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
    with open(out / "corpus.json", "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
        fh.write("\n")
    return summary
