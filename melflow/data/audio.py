"""Audio file I/O shared by every stage: read anything soundfile reads as 16 kHz mono int16,
fit clips to a fixed length, write int16 WAVs."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from melflow.core import MelflowError, replacing

__all__ = ["load_audio", "fit_length", "write_wav", "wav_comment", "float_to_int16", "resample"]


def float_to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) to int16, rounding and clipping (no wrap-around)."""
    y = np.rint(np.asarray(x, dtype=np.float64) * 32768.0)
    return np.clip(y, -32768, 32767).astype(np.int16)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of a float signal along axis 0 (exact rational ratio)."""
    if sr_in == sr_out:
        return x
    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(x, int(sr_out) // g, int(sr_in) // g, axis=0)


def load_audio(path, sample_rate: int = 16000) -> np.ndarray:
    """Read an audio file as mono int16 at `sample_rate`.

    16-bit files at the right rate are read as they are; everything else goes through
    float (full scale = 1.0) and back to int16 with rounding and clipping. Multi-channel audio is mixed down by averaging; other sample rates are
    resampled. Unreadable, empty or non-finite files raise `MelflowError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MelflowError(f"{path}: audio file not found")
    try:
        info = sf.info(str(path))
        direct = info.subtype == "PCM_16" and info.channels == 1 and info.samplerate == sample_rate
        data, sr = sf.read(str(path), dtype="int16" if direct else "float64", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise MelflowError(f"{path}: cannot read audio ({err})") from None
    if data.shape[0] == 0:
        raise MelflowError(f"{path}: audio file is empty (no samples)")
    if direct:
        return np.ascontiguousarray(data[:, 0])
    if not np.all(np.isfinite(data)):
        raise MelflowError(f"{path}: audio contains NaN or infinite samples")
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    x = resample(x, sr, sample_rate)
    return float_to_int16(x)


def fit_length(pcm: np.ndarray, n: int) -> np.ndarray:
    """Pad with zeros or crop to exactly `n` samples, keeping the middle of the clip."""
    pcm = np.asarray(pcm)
    m = pcm.shape[0]
    if m == n:
        return pcm.copy()
    if m > n:
        start = (m - n) // 2
        return pcm[start:start + n].copy()
    out = np.zeros((n,) + pcm.shape[1:], dtype=pcm.dtype)
    start = (n - m) // 2
    out[start:start + m] = pcm
    return out


def write_wav(path, pcm_int16: np.ndarray, sr: int = 16000, comment: str = "") -> None:
    """Write mono (or frames x channels) int16 samples as a 16-bit PCM WAV file, with
    `comment` in its INFO chunk. The file appears whole or not at all
    (melflow.core.replacing), so an interrupted writer never leaves a short clip that looks done."""
    pcm = np.asarray(pcm_int16)
    if pcm.dtype != np.int16:
        raise MelflowError(f"{path}: write_wav expects int16 samples, got {pcm.dtype}")
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    with replacing(path, "wb") as fh, sf.SoundFile(fh, "w", samplerate=int(sr), channels=channels, subtype="PCM_16",
                                                    format="WAV") as f:
        if comment:
            f.comment = comment
        f.write(pcm)


def wav_comment(path) -> str | None:
    """The comment a WAV file carries ("" if none), or None when it cannot be read."""
    try:
        with sf.SoundFile(str(path)) as f:
            return f.comment
    except (OSError, RuntimeError):  # soundfile's errors are RuntimeErrors
        return None
