"""Software against hardware on one manifest (scripts/compare_f1.py, the demo)."""

from __future__ import annotations

from pathlib import Path

from melflow.eval.evaluate import clips, predictions, scores


def compare_sw_hw(build: str | Path, manifest: str | Path, limit: int | None = None, seed: int = 0) -> dict:
    """F1 of the Brevitas model and of the RTL on the same clips, and how many RTL outputs
    equal the golden model's bit for bit."""
    data = clips(manifest, limit)
    sw = predictions(build, data, "torch")[0].argmax(1)
    hw_logits, rtl = predictions(build, data, "rtl", seed=seed)
    hw = hw_logits.argmax(1)
    s, h = scores(data.y, sw), scores(data.y, hw)
    return {
        "clips": s["clips"],
        "sw_accuracy": s["accuracy"],
        "sw_macro_f1": s["macro_f1"],
        "hw_accuracy": h["accuracy"],
        "hw_macro_f1": h["macro_f1"],
        "bit_exact_fraction": rtl["bit_exact_fraction"],
        "sw_hw_same_class_fraction": float((sw == hw).mean()),
        "cycles_per_inference": rtl["cycles_per_inference"],
    }
