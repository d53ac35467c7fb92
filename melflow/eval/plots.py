"""Pictures of evaluation results: confusion matrices and spectrogram saliency maps.

Drawing is kept apart from computing so that any evaluator (`melflow eval`, the software
vs hardware comparison, `melflow saliency`) can save the same pictures. Figures are made
with matplotlib's object API (`Figure`, no pyplot): saving a PNG renders through Agg, no
display is needed, and no global backend is switched under a caller's feet (a notebook
keeps its own).

A confusion PNG also carries its counts as a PNG text chunk (key `CONFUSION_KEY`, JSON),
so a script or test can read back the exact matrix that was drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

CONFUSION_KEY = "melflow-confusion"


def plot_confusion(counts: np.ndarray, class_names: list[str], path: str | Path, title: str = "") -> Path:
    """Save a confusion matrix as a PNG: rows are the true class, columns the predicted
    class, each cell annotated with its count and coloured by its share of the row (so a
    rare class's errors are as visible as a common one's). Parent folders are made."""
    counts = np.asarray(counts)
    n = len(class_names)
    if counts.shape != (n, n):
        raise ValueError(f"confusion counts of shape {counts.shape} do not match {n} class names")
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)

    fig = Figure(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="share of the true class", shrink=0.8)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {CONFUSION_KEY: json.dumps({"labels": list(class_names), "counts": counts.astype(int).tolist()})}
    fig.savefig(path, format="png", dpi=100, metadata=meta)
    return path


def read_confusion(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(class names, counts) stored in a PNG written by `plot_confusion`."""
    from PIL import Image

    with Image.open(path) as im:
        stored = json.loads(im.text[CONFUSION_KEY])
    return stored["labels"], np.array(stored["counts"], dtype=np.int64)


def plot_saliency(codes: np.ndarray, saliency: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Save one clip's log-Mel codes (frames, mels) above its saliency map of the same
    shape; time runs along x, mel band along y (low bands at the bottom). The saliency
    colour scale is symmetric around zero: red cells raised the predicted class's logit,
    blue cells lowered it."""
    if codes.shape != saliency.shape:
        raise ValueError(f"spectrogram {codes.shape} and saliency {saliency.shape} differ in shape")
    fig = Figure(figsize=(7.0, 5.5), layout="constrained")
    spec_ax, sal_ax = fig.subplots(2, 1, sharex=True)
    im = spec_ax.imshow(codes.T, origin="lower", aspect="auto", cmap="magma")
    spec_ax.set_ylabel("mel band")
    spec_ax.set_title("log-Mel (int8 codes)", fontsize=9)
    fig.colorbar(im, ax=spec_ax, label="code")
    bound = float(np.abs(saliency).max()) or 1.0
    im = sal_ax.imshow(saliency.T, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound)
    sal_ax.set_ylabel("mel band")
    sal_ax.set_xlabel("frame")
    sal_ax.set_title("gradient x input of the predicted logit", fontsize=9)
    fig.colorbar(im, ax=sal_ax, label="saliency")
    if title:
        fig.suptitle(title, fontsize=10)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def plot_bit_sweep(sweeps: list[dict], path: str | Path, manifest: str = "") -> Path:
    """Test (and validation) accuracy against weight/activation bits, one colour per model
    family (melflow.eval.zoo.bit_sweeps), its float twin as a level line."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for i, sw in enumerate(sweeps):
        color = f"C{i}"
        ax.plot(sw["bits"], [100 * a for a in sw["test_acc"]], "o-", color=color, label=f"{sw['family']}: test (unseen speakers)")
        if sw["float_test_acc"] is not None:
            ax.axhline(100 * sw["float_test_acc"], color=color, ls="--", label=f"{sw['family']} float twin: test")
        if None not in sw.get("val_acc", [None]):  # the larger split: less noise between single runs
            ax.plot(sw["bits"], [100 * a for a in sw["val_acc"]], "s:", color=color, alpha=0.6, label=f"{sw['family']}: val")
            if sw.get("float_val_acc") is not None:
                ax.axhline(100 * sw["float_val_acc"], color=color, ls=":", alpha=0.6, label=f"{sw['family']} float twin: val")
    ax.set_xlabel("weight and activation bits")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(sorted({b for sw in sweeps for b in sw["bits"]}))
    where = f" (test: {manifest}; val: the training corpus's)" if manifest else ""
    ax.set_title(f"Accuracy against bit width{where}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
