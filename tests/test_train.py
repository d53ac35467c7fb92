"""Training: a short run on the tiny corpus writes a checkpoint and its QONNX export; bad
configs stop before training with the key named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from melflow.cli import main as cli
from melflow.core import MelflowError
from melflow.data.kws_words import UNKNOWN_WORDS
from melflow.train.trainer import load_checkpoint, load_config, train_from_config

TINY_MODEL = {"name": "kws_cnn", "channels": [4, 8, 8, 8], "head_channels": 8}


def _write(path, cfg):
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_short_training_run_writes_checkpoint_and_qonnx(tiny_corpus, tmp_path):
    cfg = _write(tmp_path / "tiny.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "batch_size": 32}})
    result = train_from_config(cfg, tiny_corpus, out=tmp_path / "tiny.pt")
    assert 0.0 <= result["test_acc"] <= 1.0 and result["best_epoch"] in (1, 2)
    model, ckpt = load_checkpoint(tmp_path / "tiny.pt")
    assert ckpt["labels"][-2:] == ["_unknown_", "_silence_"]
    assert (tmp_path / "tiny.onnx").stat().st_size > 0
    out = model(__import__("torch").zeros(2, 1, 98, 40))
    assert out.shape == (2, 12) and np.isfinite(out.detach().numpy()).all()


def test_final_fit_on_train_and_val_keeps_the_last_epoch(tiny_corpus, tmp_path, monkeypatch):
    """`fit_on: train+val` trains on both manifests' clips, so val cannot pick an epoch: the
    checkpoint holds the last epoch's weights and reports no val accuracy."""
    from melflow.data.manifest import read_manifest
    from melflow.train import trainer

    seen = []
    real_augment = trainer.augment
    monkeypatch.setattr(trainer, "augment", lambda x, *a: seen.append(len(x)) or real_augment(x, *a))
    cfg = _write(tmp_path / "tiny.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "batch_size": 32, "fit_on": "train+val"}})
    result = train_from_config(cfg, tiny_corpus, out=tmp_path / "final.pt", log_dir=None)
    assert result["val_acc"] is None and result["best_epoch"] == 2
    clips = {s: len(read_manifest(tiny_corpus / f"{s}.csv")) for s in ("train", "val")}
    assert sum(seen) == 2 * (clips["train"] + clips["val"])  # every clip of both, every epoch
    _, ckpt = load_checkpoint(tmp_path / "final.pt")
    assert ckpt["train_config"]["fit_on"] == "train+val"
    assert [h["val_acc"] for h in ckpt["history"]] == [None, None]


def test_float_twin_features_and_mixup(tiny_corpus, tmp_path):
    """The float twin of the integer codes (issue #3's fidelity comparison) lies within a
    code or two of them, and a model trains on it with mixup on."""
    from melflow.train.features import manifest_features

    xi, yi, _ = manifest_features(tiny_corpus / "val.csv")
    xf, yf, _ = manifest_features(tiny_corpus / "val.csv", kind="float")
    assert xi.dtype == np.int8 and xf.dtype == np.float32 and (yi == yf).all()
    inside = (xf > -127) & (xf < 126)
    assert np.abs(xf[inside] - xi[inside]).mean() < 0.6
    cfg = _write(tmp_path / "f.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32, "mixup": 0.4}})
    result = train_from_config(cfg, tiny_corpus, out=tmp_path / "f.pt", overrides={"features": "float"})
    assert 0.0 <= result["test_acc"] <= 1.0
    with pytest.raises(MelflowError, match="nonsense"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "g.pt", overrides={"nonsense": 1})


def test_mixed_precision_trains_under_autocast_and_keeps_a_float32_checkpoint(tiny_corpus, tmp_path, monkeypatch, capsys):
    """train.precision bf16 (here `melflow train --precision bf16` over a config without it)
    runs the forward pass under bfloat16 autocast (the CUDA default is float16, which this
    CPU-only test cannot reach) except in the last `fp32_epochs`; the checkpoint stays float32.
    A bad value stops first, named."""
    import torch

    import melflow.train.trainer as trainer

    seen = set()
    build = trainer.build_model

    def spying_build(spec, **kw):
        model = build(spec, **kw)
        model.features[0].register_forward_hook(lambda m, i, out: seen.add((m.training, out.dtype)))
        return model

    monkeypatch.setattr(trainer, "build_model", spying_build)
    cfg = _write(tmp_path / "amp.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "fp32_epochs": 1, "batch_size": 32}})
    args = ["train", "--config", str(cfg), "--data", str(tiny_corpus), "--out", str(tmp_path / "amp.pt"), "--logdir", "none"]
    assert cli(args + ["--precision", "fp16"]) == 2
    assert "train.precision" in capsys.readouterr().err and not seen
    assert cli(args + ["--precision", "bf16"]) == 0
    # trained in bf16, then in fp32; validated in fp32
    assert seen == {(True, torch.bfloat16), (True, torch.float32), (False, torch.float32)}
    out = capsys.readouterr().out
    assert '"autocast": "bfloat16"' in out and '{"autocast": "off", "from_epoch": 2}' in out
    _, ckpt = load_checkpoint(tmp_path / "amp.pt")
    assert ckpt["train_config"]["precision"] == "bf16"
    assert all(v.dtype != torch.bfloat16 for v in ckpt["state_dict"].values())


def test_weight_average_starts_after_scale_calibration_and_averages_floats_only():
    """The EMA waits until Brevitas' activation scales stop collecting statistics (loading a
    state earlier would end that collection), then averages float tensors and copies the
    integer ones (BatchNorm's batch counter)."""
    import torch

    from melflow.nn import build_model
    from melflow.train.trainer import WeightAverage

    model = build_model(TINY_MODEL).train()
    avg = WeightAverage(0.5)
    steps = 0
    with torch.no_grad():
        while avg.state is None:
            model(torch.randn(2, 1, 98, 40) * 30)
            avg.update(model)
            steps += 1
    assert steps > 100  # Brevitas collects scale statistics for its first steps
    before = {k: v.clone() for k, v in avg.state.items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model(torch.randn(2, 1, 98, 40))
    avg.update(model)
    now = model.state_dict()
    for k, v in avg.state.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.5 * before[k] + 0.5 * now[k])
        else:
            assert torch.equal(v, now[k])
    model.load_state_dict(avg.state)  # a complete state of the model


def test_compiled_quantizers_give_brevitas_values_and_leave_brevitas_behind():
    """Inside `compiled_quantizers` every integer quantizer runs as a compiled kernel: outputs
    and input gradients bit-identical to Brevitas', weight and scale gradients equal up to a
    float sum's order; on leaving, the modules are Brevitas' again with the same state."""
    import copy

    import torch
    from brevitas.core.quant.int_base import IntQuant

    from melflow.nn import build_model
    from melflow.train.kernels import compiled_quantizers

    torch.manual_seed(0)
    net = build_model({**TINY_MODEL, "weight_scaling": "per_channel"}).train()  # per-channel and per-tensor scales
    x = torch.randint(-128, 128, (16, 1, 98, 40)).float()
    _past_statistics(net, x)
    eager, compiled = net, copy.deepcopy(net)
    want = _step_grads(eager, x)
    with compiled_quantizers(compiled) as n:
        got = _step_grads(compiled, x)
    assert n == 11  # 5 convolution weights, 5 activations, the classifier's weights
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    for k, g in want[2].items():
        torch.testing.assert_close(got[2][k], g, rtol=1e-4, atol=1e-6, msg=k)
    assert not any("forward" in vars(m) for m in compiled.modules() if isinstance(m, IntQuant))
    assert all(torch.equal(v, eager.state_dict()[k]) for k, v in compiled.state_dict().items())


def _past_statistics(net, x):
    """Run `net` on `x` until its activation scales have their statistics, to their learned values."""
    import torch

    from melflow.nn.quant import collecting_statistics

    with torch.no_grad():
        while collecting_statistics(net):
            net(x)


def _step_grads(model, x, step=None):
    """A train step's output, input gradient and `model`'s parameter gradients on the batch `x`,
    run by `step` (a compiled `model`) or by `model` itself."""
    import torch

    xi = x.clone().requires_grad_()
    out = (model if step is None else step)(xi)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return out, xi.grad, {k: p.grad for k, p in model.named_parameters()}


def test_compiled_student_gives_the_eager_step():
    """`compiled_student` refuses a model still gathering statistics; after them, the student's
    compiled step (around compiled quantizers, as the trainer runs it) gives the eager step's
    outputs and gradients."""
    import copy

    import torch

    from melflow.nn import build_model
    from melflow.train.kernels import compiled_quantizers, compiled_student

    torch.manual_seed(0)
    net = build_model(TINY_MODEL).train()
    x = torch.randint(-128, 128, (16, 1, 98, 40)).float()
    with pytest.raises(MelflowError, match="still gathering statistics"):
        compiled_student(net)
    _past_statistics(net, x)
    eager, compiled = net, copy.deepcopy(net)
    with compiled_quantizers(eager):
        want = _step_grads(eager, x)
    with compiled_quantizers(compiled):
        got = _step_grads(compiled, x, step=compiled_student(compiled))
    for a, b, what in ((got[0], want[0], "outputs"), (got[1], want[1], "input gradient"), *((got[2][k], g, k) for k, g in want[2].items())):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=what)


@pytest.fixture(scope="module")
def tiny_teacher(tiny_corpus, tmp_path_factory):
    """A one-epoch checkpoint of the tiny model, for the tests of a student that distills from it."""
    out = tmp_path_factory.mktemp("teacher")
    train_from_config(_write(out / "t.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32}}),
                      tiny_corpus, out=out / "t.pt", log_dir=None)
    return str(out / "t.pt")


def test_compiled_kernels_train_like_eager(tiny_corpus, tiny_teacher, tmp_path, capsys, monkeypatch):
    """`train.kernels: compiled` in a real distilled run (compiled quantizers, a compiled
    teacher grading each augmented batch, and the student's step compiled once its scales'
    statistics are in): it says so, and the loss of each epoch is the eager run's (same seed,
    same batches) within float rounding."""
    from melflow.train import trainer

    stats_steps = 4  # Brevitas gathers statistics for 300 steps, more than this run has: both runs end them early
    build_model = trainer.build_model

    def short_statistics(*args, **kwargs):
        model = build_model(*args, **kwargs)
        for m in model.modules():
            if hasattr(m, "collect_stats_steps"):
                m.collect_stats_steps = stats_steps
        return model

    monkeypatch.setattr(trainer, "build_model", short_statistics)
    losses = {}
    for kernels in ("eager", "compiled"):
        recipe = {"epochs": 2, "batch_size": 32, "kernels": kernels, "teachers": [tiny_teacher], "teacher_inputs": "augmented"}
        cfg = _write(tmp_path / f"{kernels}.yaml", {"model": TINY_MODEL, "train": recipe})
        train_from_config(cfg, tiny_corpus, out=tmp_path / f"{kernels}.pt", log_dir=None)
        out = capsys.readouterr().out
        assert f'"kernels": "{kernels}"' in out
        assert ('"student": "compiled", "after_step": %d' % (stats_steps + 1) in out) == (kernels == "compiled")
        losses[kernels] = [h["loss"] for h in load_checkpoint(tmp_path / f"{kernels}.pt")[1]["history"]]
    import torch

    from melflow.data.kws import LABELS
    from melflow.train.distill import ensemble_probs, load_teachers
    from melflow.train.features import manifest_features
    from melflow.train.kernels import compiled_teachers

    ckpt = load_checkpoint(tiny_teacher)[1]
    plain = load_teachers([tiny_teacher], LABELS, ckpt["frontend"], "integer")
    x = torch.from_numpy(manifest_features(tiny_corpus / "val.csv")[0].astype(np.float32))[:, None]
    torch.testing.assert_close(ensemble_probs(compiled_teachers(plain), x, 1.0), ensemble_probs(plain, x, 1.0), rtol=0, atol=1e-5)
    # Not closer: 4-bit training turns the scale gradients' float-order differences (1e-4, the
    # test above) into flipped codes, so two epochs drift apart by CPU: under 1e-3 on one of this
    # project's machines, 2.5e-3 on another. The teacher's compiled values are checked just above.
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-2)


def test_bench_train_step_times_the_recipes_teachers(tiny_corpus, tiny_teacher, tmp_path, capsys, load_script):
    """scripts/bench_train_step.py times a distilling recipe's step with its teachers in it,
    compiled unless asked to leave them plain."""
    cfg = _write(tmp_path / "s.yaml", {"model": TINY_MODEL, "train": {"teachers": [tiny_teacher], "teacher_inputs": "augmented"}})
    bench = load_script("bench_train_step.py")["main"]
    for flags, kernels in (([], "compiled"), (["--eager-teachers"], "eager")):
        capsys.readouterr()
        args = ["--config", str(cfg), "--manifest", str(tiny_corpus / "test.csv"), "--steps", "2", "--kernels", "compiled"]
        assert bench(args + flags) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (out["teachers"], out["kernels"], out["teacher_kernels"]) == (1, "compiled", kernels)
        assert out["steps_per_s"] > 0


def test_precision_fp32_from_the_command_line_trains_every_epoch_in_float32(tmp_path):
    """A config written for bfloat16 with a float32 end (models/kws_cnn.yaml) stays usable for an
    all-float32 run: `--precision fp32` drops its fp32_epochs; other precisions keep them."""
    from melflow.cli import _precision_overrides

    path = _write(tmp_path / "bf16_end.yaml", {"model": TINY_MODEL, "train": {"epochs": 4, "fp32_epochs": 2}})
    _, tc = load_config(path, _precision_overrides("fp32"))
    assert (tc.precision, tc.fp32_epochs) == ("fp32", 0)
    _, tc = load_config(path, _precision_overrides("bf16"))
    assert (tc.precision, tc.fp32_epochs) == ("bf16", 2)
    assert _precision_overrides(None) is None


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"model": TINY_MODEL, "train": {"epochz": 3}}, "epochz"),
        ({"model": {**TINY_MODEL, "chanels": [4]}, "train": {}}, "chanels"),
        ({"model": {"name": "resnet9000"}}, "resnet9000"),
        ({"model": TINY_MODEL, "train": {"epochs": 0}}, "train.epochs"),
        ({"model": TINY_MODEL, "extra": 1}, "extra"),
        ({"model": TINY_MODEL, "train": {"features": "mfcc"}}, "train.features"),
        ({"model": TINY_MODEL, "train": {"ema": 1.0}}, "train.ema"),
        ({"model": TINY_MODEL, "train": {"precision": "fp8"}}, "train.precision"),
        ({"model": TINY_MODEL, "train": {"fp32_epochs": 2, "precision": "fp32"}}, "train.fp32_epochs"),
        ({"model": TINY_MODEL, "train": {"epochs": 3, "fp32_epochs": 4, "precision": "bf16"}}, "train.fp32_epochs"),
        ({"model": TINY_MODEL, "train": {"fit_on": "all"}}, "train.fit_on"),
        ({"model": {**TINY_MODEL, "weight_scaling": "per_row"}}, "model.weight_scaling"),
        ({"model": TINY_MODEL, "train": {"epochs": 5, "float_epochs": 5}}, "train.float_epochs"),
        ({"model": TINY_MODEL, "train": {"qat_lr": 0}}, "train.qat_lr"),
        ({"model": TINY_MODEL, "train": {"band_warp": 0.5}}, "train.band_warp"),
        ({"model": TINY_MODEL, "train": {"timbre_codes": -1}}, "train.timbre_codes"),
        ({"model": TINY_MODEL, "train": {"init": "nowhere.pt"}}, "train.init"),
        ({"model": TINY_MODEL, "train": {"kernels": "fast"}}, "train.kernels"),
    ],
)
def test_bad_config_names_the_key(tmp_path, cfg, key):
    path = _write(tmp_path / "bad.yaml", cfg)
    with pytest.raises(MelflowError, match=key):
        model_spec, _ = load_config(path)
        from melflow.nn import build_model

        build_model(model_spec)


def test_cli_reports_missing_corpus_without_traceback(tmp_path, capsys):
    cfg = _write(tmp_path / "tiny.yaml", {"model": TINY_MODEL})
    assert cli(["train", "--config", str(cfg), "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_eval_torch_backend_prints_one_json_line(tiny_corpus, shipped_model, capsys):
    assert cli(["eval", "--model", str(shipped_model), "--manifest", str(tiny_corpus / "test.csv"), "--backend", "torch"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    r = json.loads(line)
    assert r["clips"] == len((tiny_corpus / "test.csv").read_text().splitlines()) - 1
    assert 0 <= r["accuracy"] <= 1 and 0 <= r["macro_f1"] <= 1


def test_eval_by_voice_and_label_splits_the_clips_worst_first(tiny_corpus, shipped_model, capsys):
    """--by groups the same predictions: every clip in one group, the group accuracies
    weighted by their clips give the overall one, and the worst group comes first."""
    import pandas as pd

    manifest = tiny_corpus / "test.csv"
    for by in ("word", "voice", "label"):
        assert cli(["eval", "--model", str(shipped_model), "--manifest", str(manifest), "--by", by]) == 0
        r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        groups = r["groups"]
        assert sum(g["clips"] for g in groups) == r["clips"]
        assert abs(sum(g["accuracy"] * g["clips"] for g in groups) / r["clips"] - r["accuracy"]) < 1e-3
        assert [g["accuracy"] for g in groups] == sorted(g["accuracy"] for g in groups)
        for g in groups:  # what the wrong clips were taken for: every one of them, never their own class
            assert sum(g["mistaken_for"].values()) == round((1 - g["accuracy"]) * g["clips"]), g
            assert g["value"] not in g["mistaken_for"], g
        if by == "word":
            words = {g["value"] for g in groups}
            assert {"yes", "_silence_"} <= words and "_unknown_" not in words and words & set(UNKNOWN_WORDS)
    df = pd.read_csv(manifest)
    assert {g["value"] for g in groups} == set(df.label)
    voices = {s.split("+")[0].split("#")[0] if isinstance(s, str) else "(none)" for s in df.speaker}
    assert cli(["eval", "--model", str(shipped_model), "--manifest", str(manifest), "--by", "voice"]) == 0
    assert {g["value"] for g in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["groups"]} == voices


def test_paired_difference_tells_a_real_gap_from_noise():
    """The same predictions differ by nothing; a model right on 40 more clips of 400 spread
    over 20 speakers is better beyond doubt; a 2-clip edge is noise."""
    import numpy as np

    from melflow.eval.paired import paired_difference

    rng = np.random.default_rng(0)
    y = rng.integers(0, 12, 400)
    speakers = np.repeat(np.arange(20), 20)
    b = np.where(rng.random(400) < 0.8, y, (y + 1) % 12)
    same = paired_difference(y, b, b, speakers)
    assert same["points"] == 0 and same["points_ci95"] == [0, 0] and same["mcnemar_p"] == 1.0
    wrong = np.flatnonzero(b != y)
    better = b.copy()
    better[wrong[:40]] = y[wrong[:40]]
    r = paired_difference(y, better, b, speakers)
    assert r["points"] == 10.0 and r["only_model_right"] == 40 and r["only_against_right"] == 0
    assert r["mcnemar_p"] < 1e-6 and r["points_ci95"][0] > 0 and r["speakers"] == 20
    edge = b.copy()
    edge[wrong[:2]] = y[wrong[:2]]
    r = paired_difference(y, edge, b, speakers)
    assert r["mcnemar_p"] == 0.5 and r["points_ci95"][0] <= 0 <= r["points_ci95"][1]


def test_eval_against_a_second_model_on_the_same_clips(tiny_corpus, shipped_model, capsys):
    manifest = tiny_corpus / "test.csv"
    assert cli(["eval", "--model", str(shipped_model), "--manifest", str(manifest), "--against", str(shipped_model)]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["against"]["accuracy"] == r["accuracy"] and r["against"]["points"] == 0 and r["against"]["mcnemar_p"] == 1.0
    # the bootstrap resamples speakers (each noise-only clip on its own), not the few accents they share
    from melflow.data.manifest import read_manifest

    rows = read_manifest(manifest)
    assert r["against"]["speakers"] == len({x.speaker for x in rows if x.speaker}) + sum(not x.speaker for x in rows)
    assert cli(["eval", "--model", str(shipped_model), "--manifest", str(manifest), "--against", "nowhere.pt"]) == 2
    assert "nowhere.pt" in capsys.readouterr().err


def test_eval_accepts_any_contract_manifest(tiny_corpus, shipped_model, tmp_path, capsys):
    """A user's own folder: absolute paths, 44.1 kHz stereo files, extra columns."""
    import soundfile as sf
    from scipy.signal import resample_poly

    from melflow.data.manifest import read_manifest

    rows = read_manifest(tiny_corpus / "test.csv")[::10]
    lines = ["path,label,speaker,split,onset,offset"]
    for i, r in enumerate(rows):
        pcm, sr = sf.read(r.path)
        stereo = np.stack([resample_poly(pcm, 441, 160)] * 2, axis=1)
        dst = tmp_path / "mine" / f"clip{i}.wav"
        dst.parent.mkdir(exist_ok=True)
        sf.write(dst, stereo, 44100)
        lines.append(f"{dst},{r.label},me,test,,")
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    assert cli(["eval", "--model", str(shipped_model), "--manifest", str(tmp_path / "mine.csv")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["clips"] == len(rows)


def test_distillation_from_a_teacher_checkpoint(tiny_corpus, tmp_path):
    """A student learns from a teacher's softened outputs beside the labels; the loss is
    zero exactly when the student's distribution is the teacher's, and a missing teacher
    is named before training starts."""
    import torch

    from melflow.train.distill import distillation_loss

    logits = torch.tensor([[2.0, 0.0, -1.0]])
    same = torch.softmax(logits / 2.0, dim=1)
    assert float(distillation_loss(logits, same, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(logits, same.flip(1), 2.0)) > 0.1

    teacher = _write(tmp_path / "t.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32}})
    train_from_config(teacher, tiny_corpus, out=tmp_path / "t.pt")
    student = {"epochs": 1, "batch_size": 32, "mixup": 0.4, "teachers": ["t.pt"], "distill": 0.7}  # beside the config
    cfg = _write(tmp_path / "s.yaml", {"model": TINY_MODEL, "train": student})
    assert 0.0 <= train_from_config(cfg, tiny_corpus, out=tmp_path / "s.pt")["test_acc"] <= 1.0
    with pytest.raises(MelflowError, match="teachers.*nowhere.pt"):
        load_config(cfg, {"teachers": [str(tmp_path / "nowhere.pt")]})


def test_consistent_teaching_asks_the_teachers_on_the_augmented_batch(tiny_corpus, tmp_path, monkeypatch):
    """With `teacher_inputs: augmented` the teachers grade the very (augmented, mixed) batch
    the student sees, once per step; a teacher trained on another feature kind is refused
    with its path named before training starts."""
    import torch

    import melflow.train.trainer as trainer

    teacher = _write(tmp_path / "t.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32}})
    train_from_config(teacher, tiny_corpus, out=tmp_path / "t.pt", log_dir=None)
    seen, student_inputs = [], []
    real_probs, real_build = trainer.ensemble_probs, trainer.build_model

    def spy(teachers, x, temperature):
        seen.append(x.clone())
        return real_probs(teachers, x, temperature)

    def build_and_watch(*args, **kwargs):  # the student: record what it is trained on
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, inp: student_inputs.append(inp[0].clone()) if m.training else None)
        return model

    monkeypatch.setattr(trainer, "ensemble_probs", spy)
    monkeypatch.setattr(trainer, "build_model", build_and_watch)
    student = {"epochs": 1, "batch_size": 32, "mixup": 0.4, "teachers": ["t.pt"], "teacher_inputs": "augmented"}
    cfg = _write(tmp_path / "s.yaml", {"model": TINY_MODEL, "train": student})
    train_from_config(cfg, tiny_corpus, out=tmp_path / "s.pt", log_dir=None)
    n_train = sum(1 for _ in open(tiny_corpus / "train.csv")) - 1
    assert len(seen) == len(student_inputs) == -(-n_train // 32)  # one teacher call per step
    assert all(torch.equal(t, s) for t, s in zip(seen, student_inputs))

    ckpt = torch.load(tmp_path / "t.pt", weights_only=False)
    ckpt["train_config"]["features"] = "float"
    torch.save(ckpt, tmp_path / "t_float.pt")
    cfg = _write(tmp_path / "sf.yaml", {"model": TINY_MODEL, "train": {**student, "teachers": ["t_float.pt"]}})
    with pytest.raises(MelflowError, match="t_float.pt was trained on float features"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "sf.pt", log_dir=None)


def test_interrupted_run_resumes_to_the_same_result(tiny_corpus, tmp_path, monkeypatch, capsys):
    """A run stopped during its second epoch resumes (`melflow train --resume`) from the
    state saved after the first and ends with the same weights and history as a run that was
    never stopped; a resume with another recipe is refused with the key named. Both runs
    log their epochs to TensorBoard."""
    import torch

    import melflow.train.trainer as trainer

    cfg = _write(tmp_path / "r.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "batch_size": 32, "mixup": 0.4}})
    runs = tmp_path / "runs"
    whole = train_from_config(cfg, tiny_corpus, out=tmp_path / "whole.pt", log_dir=runs)
    assert not trainer.resume_path(tmp_path / "whole.pt").exists()  # removed once the checkpoint is written

    real_predict, calls = trainer.predict, []

    def interrupted(*a, **k):  # the second validation (end of epoch 2) is interrupted
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_predict(*a, **k)

    monkeypatch.setattr(trainer, "predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "cut.pt", log_dir=runs)
    monkeypatch.setattr(trainer, "predict", real_predict)
    assert trainer.resume_path(tmp_path / "cut.pt").exists() and not (tmp_path / "cut.pt").exists()

    with pytest.raises(MelflowError, match="train.lr"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "cut.pt", overrides={"lr": 0.01}, resume=True)
    from pathlib import Path  # another thread count is no other recipe

    from melflow.train.config import TrainConfig
    from melflow.train.state import load_resume_state, run_identity

    saved = torch.load(trainer.resume_path(tmp_path / "cut.pt"), weights_only=False)["identity"]
    tc = TrainConfig(**saved["train_config"] | {"threads": 7})
    load_resume_state(trainer.resume_path(tmp_path / "cut.pt"),
                      run_identity(saved["model_spec"], tc, saved["seed"], Path(saved["data"])) | {"devices": saved["devices"]})
    cli(["train", "--config", str(cfg), "--data", str(tiny_corpus), "--out", str(tmp_path / "cut.pt"), "--resume",
         "--logdir", str(runs)])
    assert '"after_epoch": 1' in capsys.readouterr().out
    a, b = torch.load(tmp_path / "whole.pt", weights_only=False), torch.load(tmp_path / "cut.pt", weights_only=False)
    assert a["history"] == b["history"] and a["metrics"]["test_acc"] == b["metrics"]["test_acc"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    with pytest.raises(MelflowError, match="no interrupted run"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "cut.pt", resume=True)

    # TensorBoard: one folder per run, the resumed run writing on in the folder it started
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert sorted(p.name.split("_seed")[0] for p in runs.iterdir()) == ["cut", "whole"]
    for run in runs.iterdir():
        ev = EventAccumulator(str(run))
        ev.Reload()
        assert [e.step for e in ev.Scalars("accuracy/val")] == [1, 2], run
        assert {"loss/train", "lr", "best/val_acc", "best/test_acc"} <= set(ev.Tags()["scalars"])
    assert whole["tensorboard"].startswith(str(runs))


def test_cross_validation_folds_are_speaker_disjoint(tiny_corpus, tmp_path, capsys):
    """`melflow cv` pools train and val, splits them into speaker-disjoint folds (each fold
    held out once, the next one validating), trains once per fold and prints one line per
    fold and a mean/std summary; too many folds is refused."""
    from melflow.data.manifest import read_manifest
    from melflow.eval.cv import speaker_folds

    cfg = _write(tmp_path / "cv.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32}})
    cli(["cv", "--config", str(cfg), "--data", str(tiny_corpus), "--folds", "3", "--out", str(tmp_path / "cv")])
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
    folds, summary = [l for l in lines if "fold" in l], lines[-1]
    assert [f["fold"] for f in folds] == [0, 1, 2] and summary["folds"] == 3
    assert sum(f["clips"] for f in folds) == summary["clips"]
    assert summary["accuracy_std"] >= 0 and 0 <= summary["accuracy_mean"] <= 1
    for k in range(3):
        sets = {n: read_manifest(tmp_path / "cv" / f"fold{k}" / f"{n}.csv") for n in ("train", "val", "heldout")}
        spk = {n: {r.speaker or r.path for r in rows} for n, rows in sets.items()}
        assert not (spk["train"] & spk["heldout"]) and not (spk["train"] & spk["val"]) and not (spk["val"] & spk["heldout"])
    rows = read_manifest(tiny_corpus / "train.csv")
    with pytest.raises(MelflowError, match="--folds"):
        speaker_folds(rows, 10**6)


def test_data_parallel_training_in_two_processes(tiny_corpus, tmp_path, capsys):
    """`melflow train --devices 2` trains in two processes (DDP over gloo, on the CPU): they
    share each batch, end with the same weights (checked by the trainer) and process 0
    writes one checkpoint with every epoch's history."""
    cfg = _write(tmp_path / "ddp.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "batch_size": 32, "mixup": 0.4}})
    cli(["train", "--config", str(cfg), "--data", str(tiny_corpus), "--out", str(tmp_path / "ddp.pt"), "--devices", "2",
         "--logdir", "none"])
    model, ckpt = load_checkpoint(tmp_path / "ddp.pt")
    assert [h["epoch"] for h in ckpt["history"]] == [1, 2] and 0 <= ckpt["metrics"]["test_acc"] <= 1
    assert (tmp_path / "ddp.onnx").exists() and not (tmp_path / "ddp.resume.pt").exists()
    with pytest.raises(MelflowError, match="--devices"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "x.pt", devices=0)


def test_float_start_trains_the_float_twin_first_and_teaches_the_quantized_phase(tiny_corpus, tmp_path, monkeypatch):
    """`float_epochs` trains the float twin first (saved beside the checkpoint), starts the
    W4A4 model from its weights and lets it teach the remaining epochs; the checkpoint records
    the config's recipe and times both phases. A resume after the float phase had finished
    goes on from it; a float start of another recipe is refused."""
    import torch

    from melflow.nn.quant import is_float
    from melflow.train import trainer

    taught, real_load = [], trainer.load_teachers
    monkeypatch.setattr(trainer, "load_teachers", lambda paths, *a: (paths and taught.append(list(paths))) or real_load(paths, *a))
    cfg = _write(tmp_path / "fs.yaml", {"model": TINY_MODEL, "train": {"epochs": 3, "float_epochs": 2, "batch_size": 32,
                                                                          "qat_lr": 0.001, "teacher_inputs": "augmented"}})
    result = train_from_config(cfg, tiny_corpus, out=tmp_path / "fs.pt", log_dir=None)
    start = trainer.float_start_path(tmp_path / "fs.pt")
    _, first = load_checkpoint(start)
    _, ckpt = load_checkpoint(tmp_path / "fs.pt")
    assert is_float(first["model_spec"]) and not is_float(ckpt["model_spec"])
    assert len(first["history"]) == 2 and len(ckpt["history"]) == 1
    assert taught and all(t == [str(start)] for t in taught)  # the float start, and only it, teaches
    assert ckpt["train_config"]["float_epochs"] == 2 and ckpt["train_config"]["lr"] == 0.003
    assert result["float_start"]["train_seconds"] < result["train_seconds"]
    # the quantized phase started from the float start's weights: its first layer moved little
    w0, w1 = first["state_dict"]["features.0.weight"], ckpt["state_dict"]["features.0.weight"]
    assert torch.nn.functional.cosine_similarity(w0.flatten(), w1.flatten(), dim=0) > 0.9

    taught.clear()  # as if the run had stopped after its float phase: the float start is there, no quantized state
    again = train_from_config(cfg, tiny_corpus, out=tmp_path / "fs.pt", log_dir=None, resume=True)
    assert taught and again["float_start"] == result["float_start"]  # the float phase was not rerun
    with pytest.raises(MelflowError, match="float start of another run"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "fs.pt", log_dir=None, resume=True, overrides={"qat_lr": 0.002})
    with pytest.raises(MelflowError, match="float_epochs"):
        train_from_config(cfg, tiny_corpus, out=tmp_path / "fs.pt", epochs=2)


def test_fine_tuning_starts_from_a_checkpoint_of_the_same_model(tiny_corpus, tmp_path):
    """`train.init` starts a run from a trained checkpoint's weights and activation scales
    (at a learning rate too small to move them, the fine-tuned model is the checkpoint);
    one trained for other layers, or a float start on top of it, is refused by key."""
    import torch

    base = _write(tmp_path / "base.yaml", {"model": TINY_MODEL, "train": {"epochs": 2, "batch_size": 32}})
    train_from_config(base, tiny_corpus, out=tmp_path / "base.pt", log_dir=None)
    tune = _write(tmp_path / "tune.yaml", {"model": TINY_MODEL, "train": {"epochs": 1, "batch_size": 32, "lr": 1e-9, "init": "base.pt"}})
    train_from_config(tune, tiny_corpus, out=tmp_path / "tune.pt", log_dir=None)
    _, a = load_checkpoint(tmp_path / "base.pt")
    _, b = load_checkpoint(tmp_path / "tune.pt")
    assert b["train_config"]["init"] == str(tmp_path / "base.pt")  # relative to the config's folder
    scales = [k for k in a["state_dict"] if k.endswith("scaling_impl.value")]
    assert scales  # the activation scales came with the weights and were not calibrated again
    for k, v in a["state_dict"].items():
        if v.is_floating_point() and "running_" not in k:  # BatchNorm's running statistics go on moving
            torch.testing.assert_close(b["state_dict"][k], v, rtol=1e-4, atol=1e-6)

    other = _write(tmp_path / "other.yaml", {"model": {**TINY_MODEL, "head_channels": 16}, "train": {"init": "base.pt"}})
    with pytest.raises(MelflowError, match="train.init.*model.head_channels"):
        train_from_config(other, tiny_corpus, out=tmp_path / "other.pt", log_dir=None)
    both = _write(tmp_path / "both.yaml", {"model": TINY_MODEL, "train": {"epochs": 3, "float_epochs": 1, "init": "base.pt"}})
    with pytest.raises(MelflowError, match="train.init and train.float_epochs"):
        load_config(both)
