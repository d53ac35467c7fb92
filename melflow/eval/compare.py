"""Software against hardware on one manifest (scripts/compare_f1.py, the demo)."""

from __future__ import annotations

from pathlib import Path

from melflow.compiler.execute import golden_logits
from melflow.compiler.flow import CompiledModel
from melflow.core import MelflowError
from melflow.eval.evaluate import checkpoint_of, scores
from melflow.sim.accel import simulate_accel
from melflow.train.features import manifest_features
from melflow.train.trainer import load_checkpoint, predict


def compare_sw_hw(build: str | Path, manifest: str | Path, limit: int | None = None, seed: int = 0) -> dict:
    """F1 of the Brevitas model and of the RTL on the same clips, and how many RTL outputs
    equal the golden model's bit for bit."""
    build = Path(build)
    x, y, _ = manifest_features(manifest, limit=limit)
    if len(x) == 0:
        raise MelflowError(f"manifest {manifest} has no clips")
    net, _ = load_checkpoint(checkpoint_of(build))
    sw = predict(net, x).argmax(1)
    golden = golden_logits(CompiledModel.load(build), x)
    res = simulate_accel(build / "rtl", build / "sim", x, golden, seed=seed)
    hw = res.logits.argmax(1)
    s, h = scores(y, sw), scores(y, hw)
    return {
        "clips": s["clips"],
        "sw_accuracy": s["accuracy"],
        "sw_macro_f1": s["macro_f1"],
        "hw_accuracy": h["accuracy"],
        "hw_macro_f1": h["macro_f1"],
        "bit_exact_fraction": float((res.logits == golden).all(axis=1).mean()),
        "sw_hw_same_class_fraction": float((sw == hw).mean()),
        "cycles_per_inference": res.cycles_per_inference,
    }
