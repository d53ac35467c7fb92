"""`melflow saliency`: which time-frequency cells of the log-Mel input drove a prediction.

For each chosen clip, the saliency map is gradient x input: the gradient of the predicted
class's logit with respect to the int8 log-Mel codes the network is fed, times those codes.
It is the cheapest attribution that is faithful enough to look at (one backward pass for
all clips), it has the input's shape so it lies over the spectrogram cell for cell, and it
is zero wherever a code is zero. The Brevitas quantizers round with a straight-through
estimator, so the gradient is that of the network around its quantized operating point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from melflow.core import MelflowError
from melflow.data.kws import LABELS
from melflow.eval.evaluate import clips, torch_model
from melflow.eval.plots import plot_saliency


def gradient_x_input(net: torch.nn.Module, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits (clips, classes), saliency (clips, frames, mels)) of int8 codes (clips,
    frames, mels): the saliency is d(predicted logit)/d(code) x code, per clip."""
    net.eval()
    x = torch.from_numpy(codes.astype(np.float32))[:, None].requires_grad_(True)
    logits = net(x)
    predicted = logits.gather(1, logits.argmax(1, keepdim=True))
    # in eval mode clips do not interact, so the sum's gradient is each clip's own
    (grad,) = torch.autograd.grad(predicted.sum(), x)
    return logits.detach().numpy(), (grad * x).detach()[:, 0].numpy()


def first_clip_of_each_class(y: np.ndarray, n: int) -> list[int]:
    """Index of the first clip of each class present, in class order, at most `n` of them."""
    first: dict[int, int] = {}
    for i, label in enumerate(y.tolist()):
        first.setdefault(label, i)
    return [first[label] for label in sorted(first)][:n]


def saliency_pngs(model: str | Path, manifest: str | Path, out: str | Path, indices: list[int] | None = None,
                  n_clips: int = 12) -> dict:
    """Save one saliency PNG per chosen clip under `out` and say what was saved.

    `indices` are row numbers of the manifest (0 = first clip); without them the first clip
    of each class present is taken, at most `n_clips`. The whole manifest's features are
    read (they are cached beside it), so indices mean the same as in the CSV."""
    if indices is None and n_clips < 1:
        raise MelflowError(f"--clips must be at least 1, got {n_clips}")
    data = clips(manifest)
    if indices is None:
        indices = first_clip_of_each_class(data.y, n_clips)
    bad = [i for i in indices if not 0 <= i < len(data.y)]
    if bad:
        raise MelflowError(f"{manifest}: clip index {bad[0]} is out of range (the manifest has {len(data.y)} clips)")
    net, ckpt = torch_model(model)
    names = ckpt.get("labels", LABELS)
    logits, saliency = gradient_x_input(net, data.x[indices])
    out = Path(out)
    pngs, described = [], []
    for k, i in enumerate(indices):
        audio = Path(data.paths[i])
        true, predicted = LABELS[data.y[i]], names[int(logits[k].argmax())]
        title = f"{audio.name}: true {true}, predicted {predicted}"
        pngs.append(str(plot_saliency(data.x[i], saliency[k], out / f"{i:05d}_{audio.stem}_saliency.png", title)))
        described.append({"index": i, "file": str(audio), "true": true, "predicted": predicted})
    return {"model": str(model), "manifest": str(manifest), "pngs": pngs, "clips": described}


def saliency_cli(args) -> None:
    print(json.dumps(saliency_pngs(args.model, args.manifest, args.out, args.index, args.clips)))
