"""Knowledge distillation from trained teachers (Hinton et al., 2015).

A single W4A4 network trained on hard labels varies by about a point of test accuracy
between seeds on unseen speakers, while the mean of a few such networks is steadier and
better; distilling that mean into one network keeps the hardware the same size. The
teachers' softened probabilities are computed once, on the clean training clips, and the
student learns them under its own augmentation: the augmentations keep the word, so the
clean clip's target stands for the augmented one, and the teachers cost nothing per step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from melflow.core import MelflowError


def teacher_targets(paths: list[str], x: np.ndarray, labels: list[str], frontend: dict, temperature: float) -> np.ndarray:
    """Mean softened class probabilities (clips, classes) of the teacher checkpoints on the
    features `x`. Teachers must share the student's label order and frontend, since their
    targets are read against the student's classes and computed on its features."""
    from melflow.train.trainer import load_checkpoint, predict

    probs = []
    for p in paths:
        if not Path(p).exists():
            raise MelflowError(f"train.teachers: checkpoint {p} does not exist")
        model, ckpt = load_checkpoint(p)
        if list(ckpt["labels"]) != list(labels):
            raise MelflowError(f"train.teachers: {p} has labels {ckpt['labels']}, the student {labels}")
        if ckpt["frontend"] != frontend:
            raise MelflowError(f"train.teachers: {p} was trained on another frontend configuration")
        logits = torch.from_numpy(predict(model, x))
        probs.append(torch.softmax(logits / temperature, dim=1).numpy())
    return np.mean(probs, axis=0).astype(np.float32)


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence of the student's softened distribution from the teachers', times T^2
    so that its gradients keep their size as the temperature changes."""
    log_p = torch.log_softmax(logits / temperature, dim=1)
    return torch.nn.functional.kl_div(log_p, targets, reduction="batchmean") * temperature**2
