"""`melflow cv`: speaker-disjoint K-fold cross-validation of a training recipe.

One train/val/test split measures a recipe on a handful of unseen speakers: on the small
corpus a point of test accuracy is seven clips, and seeds alone move it by more than that.
K folds over the speakers of a corpus's train and val manifests give every speaker a turn
as unseen, and the spread over the folds says how large a difference between two recipes
must be before it means something.

Fold k's speakers are its held-out set; fold k+1's are the validation set that picks the
best epoch; the others train. The corpus's own test split is not touched. Clips without a
speaker (noise-only `_silence_` clips, say) are groups of their own. Folds come from
scikit-learn's GroupKFold, which balances the clip counts of the folds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from melflow.core import MelflowError
from melflow.data.manifest import ManifestRow, read_manifest, write_manifest
from melflow.eval.evaluate import evaluate
from melflow.train.trainer import train_from_config


def speaker_groups(rows: list[ManifestRow]) -> list[str]:
    """The group of each row for a speaker-disjoint split: its speaker, or the clip alone where
    it has none (noise-only `_silence_` clips)."""
    return [r.speaker or f"clip:{r.path}" for r in rows]


def speaker_folds(rows: list[ManifestRow], k: int) -> list[np.ndarray]:
    """Row indices of each of `k` speaker-disjoint folds."""
    groups = speaker_groups(rows)
    n_groups = len(set(groups))
    if k < 2 or k > n_groups:
        raise MelflowError(f"--folds must be between 2 and the number of speakers ({n_groups}), got {k}")
    return [test for _, test in GroupKFold(n_splits=k).split(np.zeros(len(rows)), groups=groups)]


def write_fold_manifests(rows: list[ManifestRow], folds: list[np.ndarray], k: int, out: Path) -> Path:
    """train.csv, val.csv and heldout.csv of fold `k` in `out` (paths stay absolute-resolved)."""
    n = len(folds)
    val_k = (k + 1) % n
    train = np.concatenate([f for i, f in enumerate(folds) if i not in (k, val_k)])
    for name, idx in (("train", train), ("val", folds[val_k]), ("heldout", folds[k])):
        write_manifest(out / f"{name}.csv", [rows[i] for i in sorted(idx)])
    return out


def cross_validate(config: str | Path, data_dir: str | Path, folds: int, out: str | Path, seed: int = 0,
                   epochs: int | None = None, overrides: dict | None = None, echo=print) -> dict:
    """Train the config once per fold and score each model on its held-out speakers; `echo`
    gets one JSON line per fold. Returns the mean and the standard deviation over folds
    (ddof=1, the spread one would expect between two runs) of accuracy and macro F1."""
    data_dir, out = Path(data_dir), Path(out)
    rows = [r for split in ("train", "val") for r in read_manifest(data_dir / f"{split}.csv")]
    parts = speaker_folds(rows, folds)
    per_fold = []
    for k in range(folds):
        fold_dir = write_fold_manifests(rows, parts, k, out / f"fold{k}")
        trained = train_from_config(config, fold_dir, out=fold_dir / "model.pt", epochs=epochs, seed=seed,
                                    overrides={**(overrides or {}), "fit_on": "train"}, log_dir=out / "runs")
        ev = evaluate(fold_dir / "model.pt", fold_dir / "heldout.csv", "torch", confusion=fold_dir / "confusion.png")
        speakers = {rows[i].speaker for i in parts[k] if rows[i].speaker}
        per_fold.append({"fold": k, "speakers": len(speakers), "clips": ev["clips"], "accuracy": ev["accuracy"],
                         "macro_f1": ev["macro_f1"], "val_acc": trained["val_acc"], "best_epoch": trained["best_epoch"]})
        echo(json.dumps(per_fold[-1]))
    summary = {"config": str(config), "data": str(data_dir), "folds": folds, "clips": len(rows)}
    for key in ("accuracy", "macro_f1"):
        v = np.array([f[key] for f in per_fold])
        summary[f"{key}_mean"] = round(float(v.mean()), 4)
        summary[f"{key}_std"] = round(float(v.std(ddof=1)), 4)
    (out / "cv.json").write_text(json.dumps({"summary": summary, "folds": per_fold}, indent=2))
    echo(json.dumps(summary))
    return summary


def cross_validate_cli(args) -> None:
    out = Path(args.out) if args.out else Path("build") / "cv" / Path(args.config).stem
    cross_validate(args.config, args.data, args.folds, out, seed=args.seed, epochs=args.epochs)
