"""The model zoo table: every shipped checkpoint in models/, measured, as markdown.

`scripts/model_zoo.py` writes models/README.md from this, so the table is never typed by
hand: its accuracies are those of the checkpoints on disk, measured on the manifest named
in its header. Accuracy comes from the Brevitas model (the torch backend), which the
integer golden model and the RTL match clip for clip (tests/test_compiler.py,
tests/test_crnn.py, scripts/compare_f1.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from melflow.eval.evaluate import clips, predictions, scores
from melflow.nn.quant import is_float
from melflow.train.trainer import load_checkpoint


def weight_count(model) -> int:
    """Weights of the convolutions, matrices and recurrent gates (tensors of two or more
    dimensions): what the accelerator stores. BatchNorm and quantizer scales are folded
    away by the compiler and not counted."""
    return sum(p.numel() for p in model.parameters() if p.dim() >= 2)


def bit_widths(spec: dict) -> str:
    """W<weight bits>A<activation bits>, plus the LSTM's internal width where there is one;
    "float" for a float twin."""
    if is_float(spec):
        return "float"
    text = f"W{spec.get('weight_bits', '?')}A{spec.get('act_bits', '?')}"
    return text + (f", LSTM {spec['lstm_act_bits']}-bit" if "lstm_act_bits" in spec else "")


def shipped_checkpoints(models_dir: str | Path) -> list[Path]:
    """The trained checkpoints in a folder: its *.pt files, interrupted runs' resume states left out."""
    return [p for p in sorted(Path(models_dir).glob("*.pt")) if not p.name.endswith(".resume.pt")]


def zoo_rows(models_dir: str | Path, manifest: str | Path) -> list[dict]:
    """One row per checkpoint in `models_dir` (shipped_checkpoints)."""
    data = clips(manifest)
    rows = []
    for path in shipped_checkpoints(models_dir):
        model, ckpt = load_checkpoint(path)
        logits, _ = predictions(path, data, "torch")
        s = scores(data.y, logits.argmax(1))
        metrics = ckpt.get("metrics", {})
        recipe = ckpt.get("train_config", {})
        fit_on = recipe.get("fit_on", "train")
        rows.append({
            "model": path.stem, "architecture": ckpt["model_spec"]["name"], "weights": weight_count(model),
            "bits": bit_widths(ckpt["model_spec"]), "fit_on": fit_on,
            "trained_on": Path(ckpt.get("data", "?")).name + ("" if fit_on == "train" else f" ({fit_on})"),
            "epochs": recipe.get("epochs"), "float_epochs": recipe.get("float_epochs", 0),
            "train_seconds": metrics.get("train_seconds"),
            "val_acc": metrics.get("val_acc"),
            "test_acc": s["accuracy"], "macro_f1": s["macro_f1"], "clips": s["clips"],
            "teachers": [Path(t).stem for t in recipe.get("teachers", [])],
            "speaker_augment": [recipe.get(k, 0) for k in _SPEAKER_AUGMENT_KEYS],
            "spec": ckpt["model_spec"],
        })
    return rows


_BIT_KEYS = {"weight_bits", "act_bits", "input_bits", "lstm_act_bits"}
# Transforms that play other speakers (melflow/train/augment.py); a checkpoint older than them
# lacks the keys and was trained without them.
_SPEAKER_AUGMENT_KEYS = ("band_warp", "timbre_codes")


def _families(rows: list[dict]) -> list[list[dict]]:
    """The rows grouped by model spec with the bit widths set aside, by the clips they were
    fitted on (another corpus, or a final fit on train+val, has heard other speakers than its
    twins), by the teachers they learnt from (a distilled model has had help its twins
    had not), by the speaker transforms they trained with (they move test accuracy by about
    as much as 4 bits do), by their epochs (a shorter run of the recipe scores less for want of
    steps, not of bits) and by the float start of their recipe (whose float twin is that very
    start): the same layers, recipe and data at different widths (float twins included)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        layers = sorted((k, v) for k, v in r["spec"].items() if k not in _BIT_KEYS)
        key = (layers, r.get("trained_on"), r.get("fit_on", "train"), r.get("teachers", []),
               r.get("speaker_augment", [0] * len(_SPEAKER_AUGMENT_KEYS)), r.get("epochs"), r.get("float_epochs", 0))
        groups.setdefault(repr(key), []).append(r)
    return list(groups.values())


def float_twin_deltas(rows: list[dict]) -> list[dict]:
    """Each low-bit model beside its float twin, when one is shipped: the float model of its
    family (_families). The quantization cost is read from that pair, since a twin with
    other layers would measure the architecture as well."""
    out = []
    for family in _families(rows):
        twin = next((r for r in family if r["bits"] == "float"), None)
        if twin is None:
            continue
        out += [{"model": r["model"], "bits": r["bits"], "float_twin": twin["model"], "test_acc": r["test_acc"],
                 "float_test_acc": twin["test_acc"], "points": round(100 * (r["test_acc"] - twin["test_acc"]), 2)}
                for r in family if r is not twin]
    return out


def zoo_markdown(rows: list[dict], manifest: str | Path, command: str, plot: str | None = None) -> str:
    lines = [
        "# Model zoo", "",
        f"Written by `{command}`; do not edit by hand. Accuracy and macro F1 of each shipped",
        f"checkpoint on `{manifest}` ({rows[0]['clips'] if rows else 0} clips, speakers never heard in training), from the",
        "Brevitas model. For kws_cnn and kws_crnn, the models the tests and the demo build into hardware, the",
        "integer golden model and the RTL give the same classes; the others are software comparisons.", "",
        "Train min is the training command's own clock (`train_seconds` in the checkpoint, teachers' time not",
        "included, a float start's included), on the machine that trained it.", "",
        "| model | architecture | weights | bits | trained on | epochs | train min | distilled from | val acc | test acc | macro F1 |",
        "|---|---|---:|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        val = f"{100 * r['val_acc']:.1f} %" if r["val_acc"] is not None else "-"
        minutes = f"{r['train_seconds'] / 60:.1f}" if r.get("train_seconds") is not None else "-"
        epochs, teachers = r["epochs"], list(r["teachers"])
        if r.get("float_epochs"):  # a run with a float start (melflow.train.trainer.train_from_config)
            if r["bits"] == "float":
                epochs = f"{r['float_epochs']} (the float start of a {r['epochs']}-epoch run)"
            else:
                epochs, teachers = f"{epochs} ({r['float_epochs']} of them float)", teachers + ["its float start"]
        lines.append(f"| {r['model']} | {r['architecture']} | {r['weights']:,} | {r['bits']} | {r['trained_on']} | {epochs} | "
                     f"{minutes} | {', '.join(teachers) or '-'} | {val} | {100 * r['test_acc']:.1f} % | {r['macro_f1']:.3f} |")
    deltas = float_twin_deltas(rows)
    if deltas:
        lines += ["", "## Against the float twin", "",
                  "What quantization costs: each low-bit model beside the float model with the same layers and recipe.", "",
                  "| model | bits | test acc | float twin | its test acc | points |", "|---|---|---:|---|---:|---:|"]
        lines += [f"| {d['model']} | {d['bits']} | {100 * d['test_acc']:.1f} % | {d['float_twin']} | "
                  f"{100 * d['float_test_acc']:.1f} % | {d['points']:+.1f} |" for d in deltas]
    if plot:
        lines += ["", f"![Test accuracy against bit width]({plot})"]
    lines += ["", "Each model's recipe is its YAML beside the checkpoint: `melflow train --config models/<model>.yaml --data <corpus>`."]
    return "\n".join(lines) + "\n"


def bit_sweeps(rows: list[dict]) -> list[dict]:
    """Families of shipped models with the same layers at several bit widths (weights and
    activations alike): {"family", "bits": [...], "test_acc": [...], "float_test_acc", and the
    same for val_acc}, for the accuracy-versus-bits plot. A family needs two low-bit members to be a sweep."""
    out = []
    for family in _families(rows):
        low = sorted((r for r in family if r["bits"] != "float" and r["spec"].get("weight_bits") == r["spec"].get("act_bits")),
                     key=lambda r: r["spec"]["weight_bits"])
        if len(low) < 2:
            continue
        twin = next((r for r in family if r["bits"] == "float"), None)
        # named for what its members' names share (kws_cnn_w2a2, kws_cnn_undistilled: kws_cnn)
        name = os.path.commonprefix([r["model"] for r in low]).rstrip("_") or low[0]["model"]
        out.append({"family": name, "bits": [r["spec"]["weight_bits"] for r in low],
                    "test_acc": [r["test_acc"] for r in low], "float_test_acc": twin["test_acc"] if twin else None,
                    "val_acc": [r.get("val_acc") for r in low], "float_val_acc": twin.get("val_acc") if twin else None})
    return out
