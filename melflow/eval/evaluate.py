"""`melflow eval`: accuracy and macro F1 of one backend on a manifest, as one JSON line,
plus a confusion-matrix PNG (which classes a model mixes up is what one looks at first
when the accuracy disappoints; the JSON line cannot show it).

Backends: `torch` (the Brevitas model), `golden` (the integer dataflow graph executed in
Python: what the hardware must compute) and `rtl` (the stitched RTL in Verilator). For
golden and rtl, --model is a build directory from scripts/build_accel.py, or a checkpoint,
which is then compiled (no synthesis) into build/eval/<name>.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from melflow.boards.boards import load_board
from melflow.boards.build import compile_checkpoint
from melflow.compiler.execute import golden_logits
from melflow.compiler.flow import CompiledModel
from melflow.core import MelflowError
from melflow.data.kws import LABELS
from melflow.data.manifest import read_manifest, spread_rows
from melflow.eval.paired import paired_difference
from melflow.eval.plots import plot_confusion
from melflow.rtl.accel import AccelInterface
from melflow.sim.accel import simulate_accel
from melflow.train.features import manifest_features, manifest_pcm
from melflow.train.trainer import load_checkpoint, predict


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        # over the classes present in the clips or the predictions (sklearn's default)
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "clips": int(len(y_true)),
    }


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(LABELS)) -> np.ndarray:
    """(n_classes, n_classes) clip counts, rows the true class and columns the predicted
    one, every class present even when no clip has it (so matrices of runs line up)."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def default_confusion_png(model: str | Path, backend: str, manifest: str | Path) -> Path:
    """build/eval/<model stem>_<backend>_<manifest's folder>_<manifest stem>_confusion.png"""
    m = Path(manifest).resolve()
    return Path("build") / "eval" / f"{Path(model).stem}_{backend}_{m.parent.name}_{m.stem}_confusion.png"


def build_dir_for(model: str | Path) -> Path:
    """A build directory for `model`: itself if it is one, else a compiled checkpoint."""
    model = Path(model)
    if model.is_dir():
        if not (model / "compiled.json").exists():
            raise MelflowError(f"{model} is not a build directory (no compiled.json): run scripts/build_accel.py")
        return model
    out = Path("build") / "eval" / model.stem
    stamp = out / "checkpoint.mtime"
    if not (stamp.exists() and stamp.read_text() == str(model.stat().st_mtime)):
        compile_checkpoint(model, out, load_board("pynq-z2"), 5000.0)
        stamp.write_text(str(model.stat().st_mtime))
    return out


def checkpoint_of(build: Path) -> Path:
    info = build / "build.json"
    if info.exists():
        return Path(json.loads(info.read_text())["checkpoint"])
    raise MelflowError(f"{build} does not record its checkpoint (no build.json)")


@dataclass
class Clips:
    """The clips of a manifest as the backends take them: golden-frontend features and
    labels, and (read on first use, for audio-in accelerators) the int16 PCM."""

    manifest: Path
    limit: int | None
    x: np.ndarray  # int8 codes (clips, frames, mels)
    y: np.ndarray  # label indices into melflow.data.kws.LABELS
    paths: list[str]  # the audio file of each clip

    @cached_property
    def pcm(self) -> np.ndarray:
        return manifest_pcm(self.manifest, self.limit)[0]


def torch_model(model: str | Path):
    """(Brevitas model in eval mode, checkpoint dict) of a checkpoint or of the checkpoint
    a build directory was made from."""
    path = Path(model)
    return load_checkpoint(checkpoint_of(path) if path.is_dir() else path)


def predictions(model: str | Path, data: Clips, backend: str, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Per-clip logits of a backend and extra figures (cycles for rtl). The golden model of
    an audio-in build is the integer frontend (whose codes `data.x` are) plus the network."""
    x = data.x
    if backend == "torch":
        net, _ = torch_model(model)
        return predict(net, x), {}
    build = build_dir_for(model)
    compiled = CompiledModel.load(build)
    golden = golden_logits(compiled, x)
    if backend == "golden":
        return golden, {}
    audio = AccelInterface.load(build / "rtl").input_kind == "audio"
    res = simulate_accel(build / "rtl", build / "sim", data.pcm if audio else x, golden, seed=seed)
    extra = {
        "cycles_per_inference": res.cycles_per_inference,
        "latency_cycles": res.latency_cycles,
        "bit_exact_fraction": res.bit_exact_fraction,
    }
    return res.logits, extra


def clips(manifest: str | Path, limit: int | None = None) -> Clips:
    """A manifest's clips (`limit`: that many, spread evenly); an empty manifest is an error."""
    x, y, paths = manifest_features(manifest, limit=limit)
    if len(x) == 0:
        raise MelflowError(f"manifest {manifest} has no clips")
    return Clips(Path(manifest), limit, x, y, paths)


GROUPINGS = ("label", "speaker", "voice", "word")


def said_word(path: str | Path, label: str) -> str:
    """The word a clip says: its folder's name (Speech Commands keeps a folder per word, and
    melflow's kws corpus one per keyword), except in a folder named after the label
    `_unknown_`, where melflow's kws corpus keeps every other word and names each clip
    `<word>[-<phonemes>]_<speaker>_<n>.wav`."""
    path = Path(path)
    if path.parent.name == label == "_unknown_":
        return re.split(r"[-_]", path.name, maxsplit=1)[0]
    return path.parent.name


def voice_of(speaker: str | None) -> str:
    """A speaker's voice: its id up to the first "+" or "#" (melflow's corpora name speakers
    `engine:voice+variant` or `engine:voice#NN`), "(none)" for a clip without a speaker."""
    return re.split(r"[+#]", speaker, maxsplit=1)[0] if speaker else "(none)"


def group_keys(manifest: str | Path, limit: int | None, by: str) -> np.ndarray:
    """One key per clip: its label, its speaker, its voice or the word it says (see
    group_scores); clips without a speaker (noise-only _silence_ clips, manifests without the
    column) are "(none)"."""
    if by not in GROUPINGS:
        raise MelflowError(f"--by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    rows = spread_rows(read_manifest(manifest, check_files=False), limit)
    if by == "label":
        return np.array([r.label for r in rows])
    if by == "word":
        return np.array([said_word(r.path, r.label) for r in rows])
    if by == "speaker":
        return np.array([r.speaker or "(none)" for r in rows])
    return np.array([voice_of(r.speaker) for r in rows])


def group_scores(manifest: str | Path, limit: int | None, y: np.ndarray, pred: np.ndarray, by: str) -> list[dict]:
    """Accuracy per value of a manifest column, worst first: per class (`label`), per
    `speaker`, per `voice`, the speaker id up to its first "+" or "#" (melflow's corpora
    name speakers `engine:voice+variant` or `engine:voice#NN`, so this is one accent or
    voice across its variants), or per `word` said (said_word: the `_unknown_` class is 35
    words, and which of them a model takes for keywords is not in the confusion matrix);
    clips without a speaker are the group "(none)". Where the errors sit is the question
    after the accuracy, and on unseen speakers it is a voice. `mistaken_for` counts the
    classes a group's wrong clips were taken for, most first."""
    keys = group_keys(manifest, limit, by)
    out = []
    for k in np.unique(keys):
        said, true = pred[keys == k], y[keys == k]
        taken = Counter(LABELS[c] for c in said[said != true])
        out.append({"value": str(k), "accuracy": round(float((said == true).mean()), 4), "clips": int(said.size),
                    "mistaken_for": dict(sorted(taken.items(), key=lambda t: (-t[1], t[0])))})
    return sorted(out, key=lambda g: (g["accuracy"], g["value"]))


def evaluate(model: str | Path, manifest: str | Path, backend: str, limit: int | None = None,
             confusion: str | Path | None = None, by: str | None = None, against: str | Path | None = None) -> dict:
    """Scores of one backend on a manifest; also saves the confusion matrix as a PNG at
    `confusion` (default: `default_confusion_png`), whose path the result names. `by` adds
    the accuracy per label, speaker, voice or word (group_scores); `against` adds a second model's
    scores on the same clips and backend and whether the difference is more than noise
    (melflow.eval.paired)."""
    data = clips(manifest, limit)
    logits, extra = predictions(model, data, backend)
    pred = logits.argmax(1)
    result = {"backend": backend, "model": str(model), "manifest": str(manifest), **scores(data.y, pred), **extra}
    png = plot_confusion(confusion_counts(data.y, pred), LABELS, confusion or default_confusion_png(model, backend, manifest),
                         title=f"{Path(model).stem} ({backend}) on {manifest}: accuracy {result['accuracy']:.3f}, {result['clips']} clips")
    result["confusion_png"] = str(png)
    if by:
        result["by"] = by
        result["groups"] = group_scores(manifest, limit, data.y, pred, by)
    if against:
        other = predictions(against, data, backend)[0].argmax(1)
        speakers = group_keys(manifest, limit, "speaker")
        speakers = np.where(speakers == "(none)", [f"(none) {i}" for i in range(len(speakers))], speakers)  # each its own
        s = scores(data.y, other)
        result["against"] = {"model": str(against), "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                             **paired_difference(data.y, pred, other, speakers)}
    return result


def evaluate_cli(args) -> None:
    print(json.dumps(evaluate(args.model, args.manifest, args.backend, args.limit, args.confusion, args.by, args.against)))
