"""The zoo's other architectures (issue #5): the MLPerf-style DS-CNN and the FINN KWS MLP
build from their YAML, train on the tiny corpus and export to QONNX."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchaudio
import yaml

from melflow.core import MelflowError
from melflow.nn import build_model
from melflow.train.trainer import load_checkpoint, load_config, train_from_config

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("recipe", sorted(p.name for p in MODELS.glob("*.yaml")))
def test_every_recipe_loads_and_builds(recipe):
    """Each models/*.yaml, shipped checkpoint or not (kws_cnn_wide is a recipe only), passes the
    config checks (known keys, its teachers present) and builds its model: a recipe the docs
    quote cannot rot unseen."""
    spec, tc = load_config(MODELS / recipe)
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) > 0 and tc.epochs >= 1


def test_finn_mlp_is_the_peer_shape_on_mfcc_of_the_integer_log_mel():
    """490-256-256-256-12 (the FINN / MLPerf Tiny KWS MLP) on 10 DCT coefficients of every
    second log-Mel frame."""
    spec, _ = load_config(MODELS / "kws_finn_mlp.yaml")
    m = build_model(spec).eval()
    shapes = [tuple(p.shape) for p in m.parameters() if p.dim() >= 2]
    assert shapes == [(256, 490), (256, 256), (256, 256), (12, 256)]
    x = torch.randint(-128, 128, (3, 1, 98, 40)).float()
    mfcc = torchaudio.functional.create_dct(10, 40, norm="ortho")
    expected = (x[:, 0, ::2] @ mfcc).flatten(1)
    assert torch.allclose(m.mfcc(x), expected)
    with pytest.raises(MelflowError, match="n_mfcc"):
        build_model({**spec, "n_mfcc": 41})


def test_dscnn_downsamples_to_a_25_by_10_map():
    spec, _ = load_config(MODELS / "kws_dscnn.yaml")
    m = build_model(spec).eval()
    assert tuple(m.features(torch.zeros(1, 1, 98, 40)).shape) == (1, 64, 25, 10)
    groups = [l.groups for l in m.modules() if isinstance(l, torch.nn.Conv2d)]
    assert groups.count(64) == 4  # the depthwise convolutions


@pytest.mark.parametrize("name,small", [("kws_dscnn", {"channels": 8, "blocks": 2}), ("kws_finn_mlp", {"hidden": [32, 32]})])
def test_zoo_model_trains_and_exports(name, small, tiny_corpus, tmp_path):
    spec = yaml.safe_load((MODELS / f"{name}.yaml").read_text())
    spec["model"].update(small)
    spec["train"].update(epochs=1, batch_size=32)
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(spec))
    result = train_from_config(cfg, tiny_corpus, out=tmp_path / f"{name}.pt", log_dir=None)
    assert 0 <= result["test_acc"] <= 1
    model, ckpt = load_checkpoint(tmp_path / f"{name}.pt")
    assert ckpt["model_spec"]["name"] == name and (tmp_path / f"{name}.onnx").stat().st_size > 0


def test_float_twin_and_its_pytorch_baselines(tiny_corpus, tmp_path):
    """`weight_bits: null` trains the float twin; PyTorch's dynamic INT8 quantizes its Linear
    layers only and static INT8 its convolutions too, both keeping the float model's answers
    close; magnitude pruning zeroes the asked share of weights; the compiler refuses the
    float twin, naming the missing quantizers, and the golden backend names the checkpoint
    and the software backend that scores it."""
    import numpy as np

    from melflow.compiler.flow import compile_qonnx
    from melflow.eval.baselines import dynamic_int8, magnitude_pruned, quantized_layer_count, static_int8
    from melflow.eval.evaluate import evaluate
    from melflow.eval.zoo import bit_widths
    from melflow.train.features import manifest_features
    from melflow.train.trainer import predict

    spec = {"name": "kws_cnn", "channels": [4, 8, 8, 8], "head_channels": 8, "weight_bits": None, "act_bits": None}
    cfg = tmp_path / "f.yaml"
    cfg.write_text(yaml.safe_dump({"model": spec, "train": {"epochs": 2, "batch_size": 32}}))
    train_from_config(cfg, tiny_corpus, out=tmp_path / "f.pt", log_dir=None)
    model, ckpt = load_checkpoint(tmp_path / "f.pt")
    assert bit_widths(ckpt["model_spec"]) == "float"
    x, _, _ = manifest_features(tiny_corpus / "test.csv")
    ref = predict(model, x)

    dyn = dynamic_int8(model)
    assert quantized_layer_count(dyn) == (1, 6)  # the classifier; five convolutions stay float
    stat = static_int8(model, manifest_features(tiny_corpus / "train.csv", limit=64)[0])
    assert quantized_layer_count(stat)[0] == 6
    for q in (dyn, stat):
        out = predict(q, x)
        assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.9

    pruned, sparsity = magnitude_pruned(model, 0.5)
    assert 0.5 <= sparsity < 0.51
    assert magnitude_pruned(model, 0.0)[1] < 0.01
    with pytest.raises(MelflowError, match="no quantizers"):
        compile_qonnx(tmp_path / "f.onnx", tmp_path / "build")
    with pytest.raises(MelflowError, match=r"f\.pt is a float model.*--backend torch"):
        evaluate(tmp_path / "f.pt", tiny_corpus / "test.csv", "golden")


def test_float_twin_pairs_models_with_the_same_layers_only(tmp_path):
    """The zoo's quantization cost compares a low-bit model with the float model of the same
    layers, and its accuracy-versus-bits plot joins the models of the same layers; a model of
    another shape, one fitted on more clips, one distilled from teachers, one trained with the
    speaker transforms or one trained for fewer epochs is in neither."""
    from melflow.eval.plots import plot_bit_sweep
    from melflow.eval.zoo import bit_sweeps, float_twin_deltas, zoo_markdown

    base = {"name": "kws_cnn", "channels": [4, 8], "weight_bits": 4, "act_bits": 4}
    rows = [
        {"model": "w4", "bits": "W4A4", "spec": base, "test_acc": 0.88},
        {"model": "w2", "bits": "W2A2", "spec": {**base, "weight_bits": 2, "act_bits": 2}, "test_acc": 0.80},
        {"model": "wide", "bits": "W4A4", "spec": {**base, "channels": [8, 16]}, "test_acc": 0.9},
        {"model": "fp", "bits": "float", "spec": {**base, "weight_bits": None, "act_bits": None}, "test_acc": 0.89},
        {"model": "final", "bits": "W4A4", "spec": base, "test_acc": 0.91, "fit_on": "train+val"},  # heard val too
        {"model": "more", "bits": "W4A4", "spec": base, "test_acc": 0.91, "trained_on": "bigger"},  # another corpus
        {"model": "taught", "bits": "W4A4", "spec": base, "test_acc": 0.92, "teachers": ["big"]},  # distilled
        {"model": "warped", "bits": "W4A4", "spec": base, "test_acc": 0.92, "speaker_augment": [0.3, 16]},  # other transforms
        {"model": "short", "bits": "W4A4", "spec": base, "test_acc": 0.86, "epochs": 3},  # fewer epochs of the recipe
        # a run with a float start, and that start: a pair of their own
        {"model": "fast", "bits": "W4A4", "spec": base, "test_acc": 0.90, "epochs": 8, "float_epochs": 6},
        {"model": "fast_float_start", "bits": "float", "spec": {**base, "weight_bits": None, "act_bits": None},
         "test_acc": 0.905, "epochs": 8, "float_epochs": 6},
    ]
    deltas = float_twin_deltas(rows)
    assert [(d["model"], d["float_twin"], d["points"]) for d in deltas] == [
        ("w4", "fp", -1.0), ("w2", "fp", -9.0), ("fast", "fast_float_start", -0.5)]
    for r in rows:
        r.update(architecture="kws_cnn", weights=1, val_acc=None, macro_f1=0.5, clips=10)
        r.setdefault("epochs", 1)
        r.setdefault("trained_on", None)
        r.setdefault("teachers", [])
    rows[0]["train_seconds"] = 750.0
    text = zoo_markdown(rows, "t.csv", "cmd", "sweep.png")
    assert "| w4 | kws_cnn | 1 | W4A4 | None | 1 | 12.5 | - |" in text and "| w2 | kws_cnn | 1 | W2A2 | None | 1 | - | - |" in text
    assert "## Against the float twin" in text and "| w2 | W2A2 | 80.0 % | fp | 89.0 % | -9.0 |" in text
    assert "](sweep.png)" in text
    assert "| fast | kws_cnn | 1 | W4A4 | None | 8 (6 of them float) | - | its float start |" in text
    assert "| fast_float_start | kws_cnn | 1 | float | None | 6 (the float start of a 8-epoch run) | - | - |" in text
    sweeps = bit_sweeps(rows)  # "wide" has other layers: not part of the sweep; named for the members' shared prefix
    assert sweeps == [{"family": "w", "bits": [2, 4], "test_acc": [0.80, 0.88], "float_test_acc": 0.89,
                       "val_acc": [None, None], "float_val_acc": None}]
    png = plot_bit_sweep(sweeps, tmp_path / "sweep.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_frozen_copies_of_the_shipped_models_compute_what_brevitas_does(tiny_corpus):
    """The plain torch copies that teachers run as (melflow.nn.frozen): no Brevitas layer is
    left; the convolutional models' logits are the Brevitas models' own, and the CRNN's copy
    (torch's LSTM with the quantized weights, float gate arithmetic) picks nearly the same
    classes."""
    import numpy as np

    from melflow.eval.baselines import plain_torch
    from melflow.nn.frozen import frozen_copy
    from melflow.train.features import manifest_features
    from melflow.train.trainer import predict

    x, _, _ = manifest_features(tiny_corpus / "test.csv")
    for name in ("kws_cnn", "kws_dscnn", "kws_crnn"):
        model, _ = load_checkpoint(MODELS / f"{name}.pt")
        copy = frozen_copy(model)
        assert not [m for m in copy.modules() if type(m).__module__.startswith("brevitas")], name
        ref, out = predict(model, x), predict(copy, x)
        if name == "kws_crnn":
            assert (ref.argmax(1) == out.argmax(1)).mean() >= 0.9
        else:
            np.testing.assert_allclose(out, ref, atol=1e-4, err_msg=name)
    with pytest.raises(MelflowError, match="layer features.0 has a weight quantizer"):
        plain_torch(load_checkpoint(MODELS / "kws_cnn.pt")[0])
