"""Manifest writers for corpora on disk: Google Speech Commands v2, ESC-50 and any
folder-per-class tree. Each reads the corpus' own layout and writes manifests in the
contract format (DESIGN.md); the audio stays where it is, except the `_silence_` clips of
Speech Commands, which are cut from its background-noise recordings (the usual practice,
since the corpus has no silence class of its own).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from melflow.core import MelflowError
from melflow.data.audio import load_audio, write_wav
from melflow.data.kws import CLIP_SAMPLES, KEYWORDS, SAMPLE_RATE
from melflow.data.manifest import ManifestRow, write_manifest

__all__ = ["speech_commands_manifests", "esc50_manifests", "folder_manifest", "AUDIO_SUFFIXES"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
_GSC_NOISE = "_background_noise_"


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise MelflowError(f"{path}: not found ({what})")
    return path


def _list_file(root: Path, name: str) -> set[str]:
    text = _need(root / name, "Speech Commands v2 lists its split this way").read_text()
    return {line.strip() for line in text.splitlines() if line.strip()}


def speech_commands_manifests(root: str | Path, out: str | Path, silence_per_split: tuple[int, int, int] | None = None,
                              seed: int = 0) -> dict[str, int]:
    """train/val/test manifests for the 12-class task from a Speech Commands v2 folder.

    Splits follow the corpus' `validation_list.txt` and `testing_list.txt`; every other
    clip is train. The ten keywords keep their label and every other word becomes
    `_unknown_`. `_silence_` clips are 1 s excerpts of `_background_noise_/*.wav`, written
    to `out/_silence_/`; the noise files are divided between the splits by file, so no
    recording is heard in two splits. The speaker is the hash before `_nohash_`.
    Returns the number of rows per split.
    """
    root, out = Path(root), Path(out)
    _need(root, "Speech Commands v2 root folder")
    val_list, test_list = _list_file(root, "validation_list.txt"), _list_file(root, "testing_list.txt")
    rows: dict[str, list[ManifestRow]] = {"train": [], "val": [], "test": []}
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != _GSC_NOISE and not p.name.startswith(".")):
        label = word_dir.name if word_dir.name in KEYWORDS else "_unknown_"
        for wav in sorted(word_dir.glob("*.wav")):
            rel = f"{word_dir.name}/{wav.name}"
            split = "test" if rel in test_list else "val" if rel in val_list else "train"
            speaker = wav.name.split("_nohash_")[0]
            rows[split].append(ManifestRow(wav.resolve(), label, speaker, split))
    if not any(rows.values()):
        raise MelflowError(f"{root}: no <word>/*.wav folders (is this a Speech Commands v2 folder?)")
    noise = sorted(_need(root / _GSC_NOISE, "background noise recordings for _silence_").glob("*.wav"))
    if len(noise) < 3:
        raise MelflowError(f"{root / _GSC_NOISE}: need at least 3 noise recordings (one per split), found {len(noise)}")
    # as many silence clips as an average keyword has, per split, unless told otherwise
    per_split = silence_per_split or tuple(
        max(1, round(sum(r.label in KEYWORDS for r in rows[s]) / len(KEYWORDS))) for s in ("train", "val", "test"))
    rng = np.random.default_rng(seed)
    # files round-robin to splits: test first, so a small corpus still gets test noise
    assign = {"test": noise[0::3], "val": noise[1::3], "train": noise[2::3]}
    for split, n in zip(("train", "val", "test"), per_split):
        sources = [(f, load_audio(f, SAMPLE_RATE)) for f in assign[split]]
        for i in range(n):
            f, pcm = sources[i % len(sources)]
            if len(pcm) < CLIP_SAMPLES:
                raise MelflowError(f"{f}: background noise shorter than one clip ({len(pcm)} samples)")
            start = int(rng.integers(0, len(pcm) - CLIP_SAMPLES + 1))
            dest = out / "_silence_" / split / f"{f.stem}_{i:05d}.wav"
            write_wav(dest, pcm[start:start + CLIP_SAMPLES], SAMPLE_RATE)
            rows[split].append(ManifestRow(dest.resolve(), "_silence_", f"noise:{f.stem}", split))
    for split, r in rows.items():
        write_manifest(out / f"{split}.csv", r)
    return {s: len(r) for s, r in rows.items()}


def esc50_manifests(root: str | Path, out: str | Path) -> dict[str, int]:
    """One manifest per ESC-50 fold (`fold1.csv` ... `fold5.csv`) and `all.csv`.

    ESC-50 is meant for 5-fold cross-validation on its own folds (clips cut from one
    source recording share a fold); `split` is `fold<N>`, the speaker column holds the
    source recording id, the label is the category name.
    """
    root, out = Path(root), Path(out)
    meta = _need(root / "meta" / "esc50.csv", "ESC-50 metadata")
    with open(meta, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"filename", "fold", "category", "src_file"}
        if not need <= set(reader.fieldnames or []):
            raise MelflowError(f"{meta}: needs columns {', '.join(sorted(need))}, has {', '.join(reader.fieldnames or [])}")
        recs = list(reader)
    folds: dict[str, list[ManifestRow]] = {}
    for line, rec in enumerate(recs, start=2):
        if not rec["fold"].strip().isdigit():
            raise MelflowError(f"{meta}:{line}: fold {rec['fold']!r} is not a number")
        split = f"fold{int(rec['fold'])}"
        path = root / "audio" / rec["filename"]
        folds.setdefault(split, []).append(ManifestRow(path.resolve(), rec["category"], rec["src_file"], split))
    for split, r in sorted(folds.items()):
        write_manifest(out / f"{split}.csv", r)
    everything = [r for _, rs in sorted(folds.items()) for r in rs]
    write_manifest(out / "all.csv", everything)
    return {s: len(r) for s, r in sorted(folds.items())}


def folder_manifest(root: str | Path, out_csv: str | Path) -> int:
    """A manifest of a folder-per-class tree: `root/<label>/**/<clip>` gives label `<label>`.

    If `root` has `train/`, `val/` or `test/` subfolders, each holds its own
    folder-per-class tree and sets the split column. Returns the number of rows.
    """
    root = Path(root)
    _need(root, "folder-per-class tree")
    split_dirs = [root / s for s in ("train", "val", "test") if (root / s).is_dir()]
    trees = [(d, d.name) for d in split_dirs] or [(root, None)]
    rows = []
    for tree, split in trees:
        for class_dir in sorted(p for p in tree.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(class_dir.rglob("*")):
                if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file():
                    rows.append(ManifestRow(f.resolve(), class_dir.name, None, split))
    if not rows:
        raise MelflowError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in <label>/ folders")
    write_manifest(out_csv, rows)
    return len(rows)
