"""Integer log-Mel features of every clip of a manifest, as training and evaluation see them.

Training uses the golden frontend's integer output, so the network sees exactly what the
hardware will feed it. Features are cached next to the manifest (keyed by the manifest's
content and the frontend configuration) because the corpus is read many times.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from melflow.core import MelflowError
from melflow.data.audio import fit_length, load_audio
from melflow.data.kws import CLIP_SAMPLES, LABELS
from melflow.data.manifest import read_manifest, spread_rows
from melflow.frontend import FrontendConfig, features_for_clips


def label_indices(labels: list[str], manifest: Path, paths: list[str]) -> np.ndarray:
    index = {l: i for i, l in enumerate(LABELS)}
    bad = [(p, l) for p, l in zip(paths, labels) if l not in index]
    if bad:
        p, l = bad[0]
        raise MelflowError(f"{manifest}: label {l!r} of {p} is not one of the task's labels ({', '.join(LABELS)}); {len(bad)} row(s) affected")
    return np.array([index[l] for l in labels], dtype=np.int64)


def _read_clips(manifest: Path, paths: list[str], progress: bool = False) -> np.ndarray:
    """(clips, CLIP_SAMPLES) int16: each file as 16 kHz mono, padded or cut to one clip."""
    return np.stack([fit_length(load_audio(p), CLIP_SAMPLES) for p in tqdm(paths, desc=f"reading {manifest.name}", disable=not progress)])


def manifest_pcm(manifest: str | Path, limit: int | None = None):
    """(int16 PCM (clips, CLIP_SAMPLES), labels, paths) of the clips manifest_features
    would take with the same `limit`: what an audio-in accelerator is fed."""
    manifest = Path(manifest)
    rows = spread_rows(read_manifest(manifest), limit)
    paths = [str(r.path) for r in rows]
    return _read_clips(manifest, paths), label_indices([r.label for r in rows], manifest, paths), paths


def float_codes(pcm: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """torchaudio's float log-Mel in the units of the integer codes (the spec's affine map,
    unrounded, clamped to the int8 range): the float twin the integer frontend is measured
    against when a model is trained on each."""
    from melflow.frontend.reference import float_log_mel

    out = [float_log_mel(pcm[i : i + 256], cfg) for i in range(0, len(pcm), 256)]
    ref = np.concatenate(out) if out else np.zeros((0, cfg.n_frames(pcm.shape[-1]), cfg.n_mels))
    return np.clip(ref / cfg.out_scale + cfg.out_zero, -128, 127).astype(np.float32)


def manifest_features(manifest: str | Path, cfg: FrontendConfig = FrontendConfig(), limit: int | None = None,
                      progress: bool = False, kind: str = "integer"):
    """(features (clips, frames, mels), labels int64 (clips,), paths) for a manifest;
    `limit` takes that many clips spread evenly over it. `kind` "integer" gives the golden
    model's int8 codes, "float" the float log-Mel on the same scale (float32)."""
    if kind not in ("integer", "float"):
        raise MelflowError(f"unknown feature kind {kind!r} (integer or float)")
    manifest = Path(manifest)
    rows = spread_rows(read_manifest(manifest), limit)
    paths = [str(r.path) for r in rows]
    y = label_indices([r.label for r in rows], manifest, paths)
    # keyed by the manifest, the chosen clips and the frontend: any change is a new entry
    key = hashlib.sha1((manifest.read_text() + "\n".join(paths) + json.dumps(asdict(cfg)) + ("" if kind == "integer" else kind)).encode()).hexdigest()[:16]
    cache = manifest.parent / ".features" / f"{manifest.stem}-{key}.npy"
    if cache.exists():
        return np.load(cache), y, paths
    pcm = _read_clips(manifest, paths, progress)
    x = features_for_clips(pcm, cfg) if kind == "integer" else float_codes(pcm, cfg)
    try:
        cache.parent.mkdir(exist_ok=True)
        np.save(cache, x)
    except OSError:
        pass  # a read-only corpus still works, just slower
    return x, y, paths
