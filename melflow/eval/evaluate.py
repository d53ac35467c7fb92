"""`melflow eval`: accuracy and macro F1 of one backend on a manifest, as one JSON line.

Backends: `torch` (the Brevitas model), `golden` (the integer dataflow graph executed in
Python: what the hardware must compute) and `rtl` (the stitched RTL in Verilator). For
golden and rtl, --model is a build directory from scripts/build_accel.py, or a checkpoint,
which is then compiled (no synthesis) into build/eval/<name>.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from melflow.boards.boards import load_board
from melflow.boards.build import compile_checkpoint
from melflow.compiler.execute import golden_logits
from melflow.compiler.flow import CompiledModel
from melflow.core import MelflowError
from melflow.sim.accel import simulate_accel
from melflow.train.features import manifest_features
from melflow.train.trainer import load_checkpoint, predict


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
        # over the classes present in the clips or the predictions (sklearn's default)
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "clips": int(len(y_true)),
    }


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


def predictions(model: str | Path, x: np.ndarray, backend: str, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Per-clip logits of a backend and extra figures (cycles for rtl)."""
    if backend == "torch":
        path = Path(model)
        net, _ = load_checkpoint(checkpoint_of(path) if path.is_dir() else path)
        return predict(net, x), {}
    build = build_dir_for(model)
    compiled = CompiledModel.load(build)
    golden = golden_logits(compiled, x)
    if backend == "golden":
        return golden, {}
    res = simulate_accel(build / "rtl", build / "sim", x, golden, seed=seed)
    extra = {
        "cycles_per_inference": res.cycles_per_inference,
        "latency_cycles": res.latency_cycles,
        "bit_exact_fraction": res.bit_exact_fraction,
    }
    return res.logits, extra


def clips(manifest: str | Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a manifest's clips; an empty manifest is an error."""
    x, y, _ = manifest_features(manifest, limit=limit)
    if len(x) == 0:
        raise MelflowError(f"manifest {manifest} has no clips")
    return x, y


def evaluate(model: str | Path, manifest: str | Path, backend: str, limit: int | None = None) -> dict:
    x, y = clips(manifest, limit)
    logits, extra = predictions(model, x, backend)
    return {"backend": backend, "model": str(model), "manifest": str(manifest), **scores(y, logits.argmax(1)), **extra}


def evaluate_cli(args) -> None:
    print(json.dumps(evaluate(args.model, args.manifest, args.backend, args.limit)))
