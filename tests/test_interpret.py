"""Interpretability outputs: the confusion-matrix PNG of every evaluation and the
gradient x input saliency maps of `melflow saliency`, and what the final-consonant probe
hears of a word under its noise, and where each accent puts a vowel (issue #5)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from melflow.cli import main
from melflow.data.audio import load_audio
from melflow.data.kws import LABELS
from melflow.data.manifest import read_manifest
from melflow.eval.evaluate import clips, confusion_counts, evaluate, group_keys, predictions
from melflow.eval.plots import read_confusion
from melflow.eval.saliency import gradient_x_input
from melflow.train.trainer import load_checkpoint

REPO = Path(__file__).resolve().parents[1]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return Path(path).is_file() and Path(path).read_bytes()[:8] == PNG_MAGIC


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_confusion_counts_rows_are_true_columns_predicted():
    counts = confusion_counts(np.array([0, 0, 1, 11]), np.array([0, 1, 1, 11]))
    assert counts.shape == (len(LABELS), len(LABELS))
    assert counts[0, 0] == 1 and counts[0, 1] == 1 and counts[1, 0] == 0
    assert counts[1, 1] == 1 and counts[11, 11] == 1 and counts.sum() == 4


def test_eval_saves_the_confusion_matrix_it_scored(tiny_corpus, shipped_model, tmp_path):
    manifest = tiny_corpus / "test.csv"
    r = evaluate(shipped_model, manifest, "torch", limit=24, confusion=tmp_path / "sub" / "cm.png")
    assert r["confusion_png"] == str(tmp_path / "sub" / "cm.png") and _is_png(r["confusion_png"])
    labels, counts = read_confusion(r["confusion_png"])
    assert labels == LABELS
    assert counts.sum() == r["clips"] == 24
    assert np.trace(counts) / counts.sum() == pytest.approx(r["accuracy"])
    # the drawn matrix is the one of the same clips' predictions, rows true
    data = clips(manifest, limit=24)
    pred = predictions(shipped_model, data, "torch")[0].argmax(1)
    np.testing.assert_array_equal(counts, confusion_counts(data.y, pred))
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(data.y, minlength=len(LABELS)))


def test_eval_cli_writes_confusion_png_at_the_default_path(tiny_corpus, shipped_model, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--model", str(shipped_model), "--manifest", str(tiny_corpus / "test.csv"), "--limit", "6"]) == 0
    r = _last_json(capsys)
    assert r["confusion_png"] == f"build/eval/kws_cnn_torch_{tiny_corpus.name}_test_confusion.png"
    assert _is_png(tmp_path / r["confusion_png"])


def test_saliency_is_gradient_x_input_of_the_predicted_logit(tiny_corpus, shipped_model):
    data = clips(tiny_corpus / "test.csv", limit=6)
    net, _ = load_checkpoint(shipped_model)
    codes = data.x.copy()
    codes[:, :20, :] = 0  # silence the first 20 frames: gradient x input must be zero there
    logits, saliency = gradient_x_input(net, codes)
    assert saliency.shape == codes.shape
    assert np.isfinite(saliency).all()
    assert np.all(saliency[:, :20, :] == 0)
    assert np.all(np.abs(saliency[:, 20:, :]).reshape(len(codes), -1).max(axis=1) > 0), "a clip has no saliency"
    # the logits it explains are the model's own predictions
    net_logits = predictions(shipped_model, clips(tiny_corpus / "test.csv", limit=6), "torch")[0]
    assert logits.shape == net_logits.shape
    np.testing.assert_allclose(gradient_x_input(net, data.x)[0], net_logits, rtol=1e-5, atol=1e-5)


def test_saliency_cli_writes_one_png_per_clip(tiny_corpus, shipped_model, tmp_path, capsys):
    manifest = tiny_corpus / "test.csv"
    out = tmp_path / "sal"
    assert main(["saliency", "--model", str(shipped_model), "--manifest", str(manifest), "--clips", "3", "--out", str(out)]) == 0
    r = _last_json(capsys)
    assert len(r["pngs"]) == len(r["clips"]) == 3
    assert all(_is_png(p) and Path(p).parent == out for p in r["pngs"])
    # default choice: the first clip of each of the first three classes present
    y = clips(manifest).y
    firsts = [int(np.flatnonzero(y == c)[0]) for c in sorted(set(y.tolist()))][:3]
    assert [c["index"] for c in r["clips"]] == firsts
    assert [c["true"] for c in r["clips"]] == [LABELS[y[i]] for i in firsts]

    assert main(["saliency", "--model", str(shipped_model), "--manifest", str(manifest), "--index", "5", "0", "--out", str(out)]) == 0
    assert [c["index"] for c in _last_json(capsys)["clips"]] == [5, 0]


def test_saliency_bad_input_is_a_one_line_error(tiny_corpus, shipped_model, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nmissing.wav,yes\n")
    assert main(["saliency", "--model", str(shipped_model), "--manifest", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("melflow: error:") and "missing.wav" in err and "Traceback" not in err

    assert main(["saliency", "--model", str(shipped_model), "--manifest", str(tiny_corpus / "test.csv"),
                 "--index", "100000", "--out", str(tmp_path / "o")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_model_zoo_table_is_measured_from_the_checkpoints(tiny_corpus, shipped_model, tmp_path, load_script):
    """scripts/model_zoo.py measures every checkpoint in the folder (resume states left out)
    and writes the table from those figures."""
    import shutil

    from melflow.eval.evaluate import evaluate

    shutil.copy(shipped_model, tmp_path / "kws_cnn.pt")
    (tmp_path / "kws_cnn.resume.pt").write_bytes(b"not a checkpoint")
    manifest = tiny_corpus / "test.csv"
    out = tmp_path / "README.md"
    script = load_script("model_zoo.py")
    assert script["main"](["--models", str(tmp_path), "--manifest", str(manifest), "--out", str(out)]) == 0
    ref = evaluate(shipped_model, manifest, "torch", confusion=tmp_path / "cm.png")
    row = next(l for l in out.read_text().splitlines() if l.startswith("| kws_cnn"))
    assert f"{100 * ref['accuracy']:.1f} %" in row and f"{ref['macro_f1']:.3f}" in row and "W4A4" in row
    state = torch.load(shipped_model, map_location="cpu", weights_only=False)["state_dict"]
    weights = sum(t.numel() for k, t in state.items() if k.endswith(".weight") and t.dim() >= 2)  # conv and linear kernels
    assert f"| {weights:,} |" in row


def test_teacher_ensemble_scores_each_teacher_and_their_mean(tiny_corpus, shipped_model, capsys, load_script):
    """scripts/teacher_ensemble.py: each teacher's accuracy through the plain torch copies the
    trainer distils from matches the Brevitas model's, and the mean is that of the two
    models' softened outputs; a missing teacher is named."""
    teacher = shipped_model.parent / "kws_cnn_teacher.pt"
    manifest = tiny_corpus / "test.csv"
    script = load_script("teacher_ensemble.py")
    assert script["main"](["--teachers", str(shipped_model), str(teacher), "--manifest", str(manifest)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    data = clips(manifest)
    logits = [torch.from_numpy(predictions(m, data, "torch")[0]) for m in (shipped_model, teacher)]
    for m, z in zip((shipped_model, teacher), logits):
        assert out["teachers"][str(m)] == round(float((z.argmax(1).numpy() == data.y).mean()), 4)
    mean = torch.stack([torch.softmax(z / 2.0, 1) for z in logits]).mean(0)
    assert out["ensemble_accuracy"] == round(float((mean.argmax(1).numpy() == data.y).mean()), 4)
    assert script["main"](["--teachers", str(shipped_model), "missing.pt", "--manifest", str(manifest)]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_final_consonant_probe_renders_each_clip_again_without_its_noise(tiny_corpus, shipped_model, tmp_path, capsys,
                                                                         load_script):
    """scripts/probe_final_consonant.py: the clean word it renders is the stored clip's own
    (the noise left over lies within the renderer's 5-30 dB of the word), and every up/off
    clip lands in one band of tail SNR with each model's accuracy there."""
    probe = load_script("probe_final_consonant.py")
    manifest = tiny_corpus / "test.csv"
    rows = [r for r in csv.DictReader(open(manifest)) if r["label"] in ("up", "off")]
    specs = probe["corpus_specs"](manifest)
    for r in rows[:4]:
        clean = probe["clean_word"](specs[r["path"]])
        noise = load_audio(tiny_corpus / r["path"]).astype(np.float64) / 32768 - clean
        word = clean != 0
        snr = 10 * np.log10(np.mean(clean[word] ** 2) / np.mean(noise[word] ** 2))
        assert 3.0 < snr < 32.0, (r["path"], snr)
    tone = np.sin(2 * np.pi * 5000 * np.arange(16000) / 16000)
    assert probe["tail_snr_db"](tone, 0.1 * tone, 70, 3000) == pytest.approx(20.0, abs=0.01)
    assert probe["main"](["--model", str(shipped_model), "--manifest", str(manifest), "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cells = [c for bands in out["bands"].values() for c in bands.values()]
    assert sum(c["clips"] for c in cells) == out["clips"] == len(rows)
    assert all(0.0 <= c["kws_cnn"] <= 1.0 for c in cells)


def test_heard_voices_probe_trains_on_one_half_of_the_test_speakers_and_scores_the_other(tiny_corpus, shipped_model,
                                                                                        tmp_path, capsys, load_script):
    """scripts/probe_heard_voices.py: the two halves share no speaker and each has clips of every
    voice; "heard" trains on the corpus's train clips plus the first half `--repeat` times, the
    control on the train clips alone; all three models are scored on the second half."""
    probe = load_script("probe_heard_voices.py")
    manifest = tiny_corpus / "test.csv"
    rows = read_manifest(manifest)
    voices = group_keys(manifest, None, "voice")
    heard, scored = probe["speaker_halves"](rows, 0)
    assert len(heard) + len(scored) == len(rows)
    assert not {r.speaker for r in heard if r.speaker} & {r.speaker for r in scored if r.speaker}
    voice = {r.path: v for r, v in zip(rows, voices)}
    assert {voice[r.path] for r in heard} == {voice[r.path] for r in scored} == set(voices)

    out = tmp_path / "heard"
    argv = ["--config", str(REPO / "models" / "kws_cnn.yaml"), "--init", str(shipped_model), "--data", str(tiny_corpus),
            "--test", str(manifest), "--epochs", "1", "--repeat", "2", "--out", str(out)]
    assert probe["main"](argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines() if line.startswith("{")]
    models = {d["model"]: d for d in lines if "model" in d}
    assert set(models) == {"init", "control", "heard"}
    assert {d["clips"] for d in models.values()} == {len(scored)}
    train = len(read_manifest(tiny_corpus / "train.csv"))
    assert len(read_manifest(out / "control" / "train.csv")) == train
    assert len(read_manifest(out / "heard" / "train.csv")) == train + 2 * len(heard)
    assert {r.path for r in read_manifest(out / "heard" / "test.csv")} == {r.path for r in scored}
    assert lines[-1]["heard_minus_control_points"] == round(100 * (models["heard"]["accuracy"] - models["control"]["accuracy"]), 2)
    assert probe["main"](argv[:2] + ["--init", "missing.pt"] + argv[4:]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_vowel_formants_probe_tells_british_up_from_off_and_finds_caribbean_up_backed(capsys, load_script):
    """scripts/probe_vowel_formants.py on espeak-ng itself: en-gb's "up" has the fronter vowel
    (F2 above "off"'s by more than 200 Hz), en-029's the backer, and en-029's "up" lies nearer
    en-gb's "off" than en-gb's "up"; an unknown voice is a one-line error naming it."""
    probe = load_script("probe_vowel_formants.py")
    assert probe["main"](["--words", "up,off", "--accents", "en-gb,en-029"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    gb, wi = lines[0], lines[1]
    assert gb["accent"] == "en-gb" and gb["up"][1] > gb["off"][1] + 200
    assert wi["accent"] == "en-029" and wi["up"][1] < wi["off"][1]
    assert lines[2]["nearest"]["en-029 up"]["closest"] == "en-gb off"
    assert probe["main"](["--accents", "xx-nope"]) == 2
    assert "xx-nope" in capsys.readouterr().err
