#!/usr/bin/env python
"""CPU latency of the shipped models: onnxruntime, one thread, batch 1 (a stand-in for an
embedded CPU beside the FPGA figures).

    .venv/bin/python scripts/bench_cpu_latency.py [--models models] [--manifest data/kws-small/test.csv] [--runs 200]

Each checkpoint is exported with Brevitas' QCDQ exporter (QuantizeLinear / Clip /
DequantizeLinear around float operators: standard ONNX that onnxruntime runs as is), then
timed on real test clips one at a time. Prints one JSON line per model: median and 90th
percentile latency in ms, inferences/s, and how many of the timed clips get the Brevitas
model's class. A model the QCDQ exporter cannot take (the CRNN: Brevitas exports a QuantLSTM
to QCDQ only with weights alone quantized, and says so) gets a line naming the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from melflow.core import reports_errors
from melflow.eval.evaluate import clips
from melflow.eval.zoo import shipped_checkpoints
from melflow.train.trainer import load_checkpoint, predict

REPO = Path(__file__).resolve().parents[1]


def export_qcdq(model, path: Path, n_frames: int, n_mels: int) -> Path:
    from brevitas.export import export_onnx_qcdq

    export_onnx_qcdq(model.eval(), torch.zeros(1, 1, n_frames, n_mels), export_path=str(path), dynamo=False)
    return path


def time_model(onnx_path: Path, x: np.ndarray, runs: int) -> tuple[np.ndarray, list[float]]:
    """Logits of each clip and the wall time of each batch-1 run, one thread."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feeds = [x[i % len(x)][None, None].astype(np.float32) for i in range(runs)]
    for f in feeds[:10]:  # warm-up
        sess.run(None, {name: f})
    times, logits = [], []
    for f in feeds:
        t0 = time.perf_counter()
        out = sess.run(None, {name: f})[0]
        times.append(time.perf_counter() - t0)
        logits.append(out[0])
    return np.array(logits), times


def bench(ckpt_path: Path, x: np.ndarray, runs: int, work: Path) -> dict:
    model, ckpt = load_checkpoint(ckpt_path)
    out = {"measure": "cpu_latency", "model": ckpt_path.stem, "threads": 1, "batch": 1}
    try:
        onnx_path = export_qcdq(model, work / f"{ckpt_path.stem}_qcdq.onnx", model.cfg.n_frames, model.cfg.n_mels)
    except Exception as err:  # Brevitas refuses layers it has no QCDQ handler for
        return out | {"skipped": f"no QCDQ ONNX export: {type(err).__name__}: {str(err).splitlines()[0][:200]}"}
    logits, times = time_model(onnx_path, x, runs)
    ref = predict(model, np.stack([x[i % len(x)] for i in range(runs)]))
    ms = 1000 * np.array(times)
    return out | {"runs": runs, "median_ms": round(float(np.median(ms)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
                  "inferences_per_s": round(1000 / float(np.median(ms)), 1),
                  "same_class_as_brevitas": round(float((logits.argmax(1) == ref.argmax(1)).mean()), 4)}


@reports_errors("bench_cpu_latency")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--manifest", type=Path, default=Path("data/kws-small/test.csv"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("build/bench_cpu"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    x = clips(args.manifest, limit=args.runs).x
    args.out.mkdir(parents=True, exist_ok=True)
    for path in shipped_checkpoints(args.models):
        print(json.dumps(bench(path, x, args.runs, args.out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
