"""Knowledge distillation from trained teachers (Hinton et al., 2015).

A single W4A4 network trained on hard labels varies by about a point of test accuracy
between seeds on unseen speakers, while the mean of a few such networks is steadier and
better; distilling that mean into one network keeps the hardware the same size.

Two ways to ask the teachers (`train.teacher_inputs`):
- "clean": their softened probabilities are computed once, on the clean training clips,
  and the student learns them under its own augmentation. The teachers cost nothing per
  step, but they have learnt those very clips, so their targets are nearly one-hot.
- "augmented": the teachers see the student's own augmented (and mixed) batch every step
  ("consistent teaching", Beyer et al., 2022, "Knowledge distillation: A good teacher is
  patient and consistent"). Each step's input is new to them, so their targets carry what
  they know about confusable words; each step costs a forward pass per teacher.

Either way the teachers run as plain torch copies (melflow.nn.frozen: exact for
convolutional teachers, float gate arithmetic for an LSTM), several times faster than
through Brevitas, which is what makes several teachers per step affordable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from melflow.core import MelflowError
from melflow.nn.frozen import frozen_copy


def load_teachers(paths: list[str], labels: list[str], frontend: dict, features: str) -> list[torch.nn.Module]:
    """The teacher models as plain torch copies in eval mode. Teachers must share the
    student's label order, frontend and feature kind, since their targets are read against the student's classes
    and computed on its features."""
    from melflow.train.trainer import load_checkpoint

    models = []
    for p in paths:
        if not Path(p).exists():
            raise MelflowError(f"train.teachers: checkpoint {p} does not exist")
        model, ckpt = load_checkpoint(p)
        check_same_inputs(ckpt, p, "train.teachers", labels, frontend, features)
        models.append(frozen_copy(model))
    return models


def check_same_inputs(ckpt: dict, path, key: str, labels: list[str], frontend: dict, features: str) -> None:
    """Refuse a checkpoint (named by the config key that brought it in) whose classes,
    frontend or feature kind differ from the model being trained: its outputs or weights
    would be read against other classes or other features."""
    if list(ckpt["labels"]) != list(labels):
        raise MelflowError(f"{key}: {path} has labels {ckpt['labels']}, the model being trained {labels}")
    if ckpt["frontend"] != frontend:
        raise MelflowError(f"{key}: {path} was trained on another frontend configuration")
    kind = ckpt["train_config"].get("features", "integer")
    if kind != features:
        raise MelflowError(f"{key}: {path} was trained on {kind} features, the model being trained on {features}")


def ensemble_probs(teachers: list[torch.nn.Module], x: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean softened class probabilities of the teachers on a batch (N, 1, frames, mels)."""
    with torch.no_grad():
        return torch.stack([torch.softmax(t.eval()(x) / temperature, dim=1) for t in teachers]).mean(0)


def teacher_targets(teachers: list[torch.nn.Module], x: np.ndarray, temperature: float, batch: int = 256) -> np.ndarray:
    """Mean softened class probabilities (clips, classes) of the teachers on the features `x`."""
    out = [ensemble_probs(teachers, torch.from_numpy(x[i : i + batch].astype(np.float32))[:, None], temperature)
           for i in range(0, len(x), batch)]
    return torch.cat(out).numpy().astype(np.float32)


def blended_loss(label_loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, weight: float,
                 temperature: float) -> torch.Tensor:
    """The hard-label loss and the distillation loss, weighted `1 - weight` and `weight`
    (`train.distill`); the targets in float32 even when the step autocasts."""
    return (1 - weight) * label_loss + weight * distillation_loss(logits, targets.float(), temperature)


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence of the student's softened distribution from the teachers', times T^2
    so that its gradients keep their size as the temperature changes."""
    log_p = torch.log_softmax(logits / temperature, dim=1)
    return torch.nn.functional.kl_div(log_p, targets, reduction="batchmean") * temperature**2
