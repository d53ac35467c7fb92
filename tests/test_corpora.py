"""Manifest writers for corpora on disk, on small fixture trees built here in each corpus'
own layout (Speech Commands v2, ESC-50, folder per class)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melflow.cli import main as cli
from melflow.data.audio import write_wav
from melflow.data.manifest import read_manifest


def _tone(path, seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    write_wav(path, (rng.normal(0, 2000, int(16000 * seconds))).astype(np.int16))


@pytest.fixture
def gsc_tree(tmp_path):
    root = tmp_path / "speech_commands_v0.02"
    for i, word in enumerate(["yes", "no", "marvin", "sheila"]):
        for spk in ["0a7c2a8d", "1b4c9b89", "2c6d8e91"]:
            _tone(root / word / f"{spk}_nohash_0.wav", seed=i)
    for k in range(3):
        _tone(root / "_background_noise_" / f"noise{k}.wav", seconds=3.0, seed=10 + k)
    (root / "validation_list.txt").write_text("yes/1b4c9b89_nohash_0.wav\nmarvin/1b4c9b89_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("yes/2c6d8e91_nohash_0.wav\nno/2c6d8e91_nohash_0.wav\nsheila/2c6d8e91_nohash_0.wav\n")
    return root


def test_speech_commands_honours_its_lists(gsc_tree, tmp_path, capsys):
    out = tmp_path / "gsc"
    assert cli(["data", "speech-commands", "--root", str(gsc_tree), "--out", str(out)]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {s: read_manifest(out / f"{s}.csv") for s in ("train", "val", "test")}
    assert counts == {s: len(r) for s, r in rows.items()}
    test_words = {(r.path.parent.name, r.speaker) for r in rows["test"] if r.label != "_silence_"}
    assert test_words == {("yes", "2c6d8e91"), ("no", "2c6d8e91"), ("sheila", "2c6d8e91")}
    val_words = {(r.path.parent.name, r.speaker) for r in rows["val"] if r.label != "_silence_"}
    assert val_words == {("yes", "1b4c9b89"), ("marvin", "1b4c9b89")}
    labels = {r.path.parent.name: r.label for s in rows.values() for r in s if r.label != "_silence_"}
    assert labels == {"yes": "yes", "no": "no", "marvin": "_unknown_", "sheila": "_unknown_"}
    # _silence_ clips: 1 s cuts, each noise recording in exactly one split
    noise_split = {}
    for split, rs in rows.items():
        sil = [r for r in rs if r.label == "_silence_"]
        assert sil, split
        for r in sil:
            assert noise_split.setdefault(r.speaker, split) == split
            import soundfile as sf

            assert sf.info(str(r.path)).frames == 16000


def test_speech_commands_names_what_is_missing(gsc_tree, tmp_path, capsys):
    (gsc_tree / "testing_list.txt").unlink()
    assert cli(["data", "speech-commands", "--root", str(gsc_tree), "--out", str(tmp_path / "o")]) == 2
    assert "testing_list.txt" in capsys.readouterr().err


def test_esc50_writes_one_manifest_per_fold(tmp_path):
    from melflow.data.corpora import esc50_manifests

    root = tmp_path / "ESC-50-master"
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in range(1, 6):
        for j, (target, cat) in enumerate([(0, "dog"), (41, "chainsaw")]):
            name = f"{fold}-{100 + j}-A-{target}.wav"
            _tone(root / "audio" / name, seconds=0.5, seed=fold * 10 + j)
            lines.append(f"{name},{fold},{target},{cat},False,{100 + j},A")
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    counts = esc50_manifests(root, tmp_path / "esc")
    assert counts == {f"fold{k}": 2 for k in range(1, 6)}
    f3 = read_manifest(tmp_path / "esc" / "fold3.csv")
    assert {r.label for r in f3} == {"dog", "chainsaw"} and {r.split for r in f3} == {"fold3"}
    assert len(read_manifest(tmp_path / "esc" / "all.csv")) == 10


def test_folder_tree_with_and_without_splits(tmp_path):
    from melflow.data.corpora import folder_manifest

    flat = tmp_path / "flat"
    for label in ["door, knock", "glass"]:
        _tone(flat / label / "a.wav", 0.3)
        _tone(flat / label / "sub" / "b.wav", 0.3)
    assert folder_manifest(flat, tmp_path / "flat.csv") == 4
    rows = read_manifest(tmp_path / "flat.csv")
    assert sorted({r.label for r in rows}) == ["door, knock", "glass"] and all(r.split is None for r in rows)
    split = tmp_path / "split"
    _tone(split / "train" / "yes" / "a.wav", 0.3)
    _tone(split / "test" / "no" / "b.wav", 0.3)
    folder_manifest(split, tmp_path / "split.csv")
    rows = read_manifest(tmp_path / "split.csv")
    assert {(r.label, r.split) for r in rows} == {("yes", "train"), ("no", "test")}
    (tmp_path / "empty" / "x").mkdir(parents=True)
    from melflow.core import MelflowError

    with pytest.raises(MelflowError, match="no audio files"):
        folder_manifest(tmp_path / "empty", tmp_path / "e.csv")
