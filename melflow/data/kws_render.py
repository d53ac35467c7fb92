"""How one clip of the keyword corpus sounds: the synthesisers (espeak-ng, flite,
festival, and the neural Kokoro of melflow.data.kokoro_voices), the speaker's fixed voice
parameters, sox effects, placement, gain and noise; and `render_specs`, which writes a
list of clips in parallel and keeps those already rendered the same way.

Per utterance: rate/pitch jitter, sox effects (speed, pitch, EQ, band limits, light
reverb), random placement in the 1 s clip, random gain, and background noise (white, pink,
brown, mains hum, babble of other words) at a random SNR. `_silence_` clips are noise only,
including digital near-silence.

A clip is a pure function of its `ClipSpec` and of this renderer. The renderer's
fingerprint hashes this module, the modules it reads (`_RENDER_SOURCES`) and the
synthesisers' versions, not the corpus plan (melflow.data.kws), so a change to which
clips a corpus has keeps every clip whose spec is unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing as mp
import os
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from melflow.core import MelflowError
from melflow.data import kokoro_voices
from melflow.data.audio import float_to_int16, resample, wav_comment, write_wav
from melflow.data.espeak_voices import espeak_path_for
from melflow.data.festival_accents import DEBIAN_PACKAGES as ACCENT_PACKAGES, festival_text
from melflow.data.kws_words import BABBLE_WORDS
from melflow.data.pronunciations import espeak_phoneme_input

__all__ = ["CLIP_SAMPLES", "SAMPLE_RATE", "ClipSpec", "engine_voice", "render_clip", "clip_key", "render_specs"]

CLIP_SAMPLES = 16000
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ClipSpec:
    """One clip as the corpus plan (melflow.data.kws) describes it and `render_clip` reads it;
    its repr is half of the clip's key (`clip_key`)."""

    relpath: str  # relative to the corpus folder
    label: str
    word: str | None  # None for _silence_
    speaker: str | None
    split: str
    seed: tuple  # entropy for the clip's Generator
    babble_speakers: tuple = field(default=())
    phonemes: str | None = None  # espeak-ng says these (melflow.data.pronunciations) instead of reading `word`


# ---- voices ------------------------------------------------------------------------
def _speaker_rng(speaker: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(speaker.encode()))


def _speaker_base(speaker: str) -> dict:
    """Fixed voice parameters of a speaker (independent of the corpus seed)."""
    r = _speaker_rng(speaker)
    if speaker.startswith("espeak:"):
        return {"wpm": float(r.uniform(125, 200)), "pitch": float(r.uniform(15, 85))}
    return {"cents": float(r.uniform(-350, 350)), "stretch": float(r.uniform(0.85, 1.25))}


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


def engine_voice(speaker: str) -> str:
    """The engine's voice of a flite or festival speaker id (`engine:voice#NN`)."""
    return speaker.split(":", 1)[1].split("#")[0]


def _flite(text: str, speaker: str, stretch: float, path: str) -> None:
    voice = engine_voice(speaker)
    _run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}", "-t", text, "-o", path])


def _festival(text: str, speaker: str, stretch: float, path: str, tmp: str) -> None:
    voice = engine_voice(speaker)
    txt = os.path.join(tmp, "word.txt")
    with open(txt, "w", encoding="utf-8") as f:
        f.write(festival_text(voice, text) + "\n")
    _run(["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
          "-o", path, txt])
    if not os.path.exists(path):  # text2wave exits 0 when the voice is unknown
        raise MelflowError(f"text2wave wrote nothing for festival voice {voice} (is it installed?)")


def _kokoro(text: str, speaker: str, stretch: float, path: str) -> None:
    sf.write(path, kokoro_voices.synthesize(text, speaker, 1.0 / stretch), kokoro_voices.SAMPLE_RATE, subtype="FLOAT")


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
        elif spec.speaker.startswith("kokoro:"):  # at the voice's own rate: a process reuses its syntheses
            _kokoro(spec.word, spec.speaker, base["stretch"], raw)
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
        words = " ".join(rng.choice(BABBLE_WORDS, size=int(rng.integers(5, 9))))
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


_RENDER_SOURCES = ("kws_render.py", "kws_words.py", "audio.py", "espeak_voices.py", "festival_accents.py", "pronunciations.py",
                   "kokoro_voices.py")
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
    h.update(kokoro_voices.engine_version().encode())
    return h.hexdigest()[:12]


def clip_key(spec: ClipSpec) -> str:
    """What a clip is a pure function of: its spec and the renderer. Written into the WAV's
    comment, so a rerun reuses a clip only when its file says it was made the same way."""
    return f"melflow-kws {_renderer_fingerprint()} {hashlib.sha1(repr(spec).encode()).hexdigest()[:16]}"


def _work(args) -> str:
    spec, out, key = args
    write_wav(Path(out) / spec.relpath, render_clip(spec), SAMPLE_RATE, comment=key)
    return spec.relpath


# ---- writing clips -------------------------------------------------------------------
_DEBIAN_PACKAGES = ["espeak-ng", "flite", "sox", "festival", "festvox-kallpc16k", "festvox-kdlpc16k",
                    "festvox-us-slt-hts", *ACCENT_PACKAGES]
_FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")


def _check_tools(specs) -> None:
    """Every program, and every festival voice the clips ask for, is installed."""
    hint = f"apt-get install {' '.join(_DEBIAN_PACKAGES)}"
    missing = [t for t in ("espeak-ng", "flite", "text2wave", "sox") if shutil.which(t) is None]
    if missing:
        raise MelflowError(f"{', '.join(missing)}: program(s) not found on PATH ({hint})")
    voices = sorted({engine_voice(s.speaker) for s in specs if s.speaker and s.speaker.startswith("festival:")})
    missing = [v for v in voices if not any(_FESTIVAL_VOICE_DIR.glob(f"*/{v}"))]
    if missing:
        raise MelflowError(f"festival voice(s) {', '.join(missing)} not installed under {_FESTIVAL_VOICE_DIR} ({hint})")
    if any(s.speaker and s.speaker.startswith("kokoro:") for s in specs):
        kokoro_voices.check_installed()


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

