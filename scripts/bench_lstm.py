"""Speed and size of the RTL LSTM unit for the CRNN's cell (F = 160, H = 48, 25 steps).

    .venv/bin/python scripts/bench_lstm.py [--onnx MODEL.onnx] [--folds realtime mid fast fast-dsp]
                                           [--no-synth] [--out DIR]

The cell comes from ``--onnx`` (an exported CRNN) or, by default, from the shipped
configuration models/kws_crnn.yaml built with a fixed seed, calibrated on random log-Mel codes
and exported (the weights' values do not change cycles or resources much; their bit widths
and the quantizers' do, and those are the configuration's).

Per folding, one JSON line: PE and SIMD, the cycles per step measured in Verilator (two
25-step sequences back to back, no stalls, every output checked against the golden model)
and estimated by lstm_cycles_per_step, the cycles and microseconds per sequence at the board
clock, and the yosys ``synth_xilinx`` resources for the PYNQ-Z2's xc7z020 (LUT, FF, BRAM18,
DSP, LUTRAM). About a minute per folding; the build folders go under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

# name -> write_lstm_rtl folding. "realtime": the smallest unit (one multiply-accumulate per
# gate per cycle), 25 steps in about 2.5 ms at 100 MHz, well inside a 10 ms budget; "fast":
# PE * SIMD = 32, the least parallelism that stays within 400 cycles per step, with Booth
# multipliers in LUTs; "fast-dsp" the same with products that synthesis puts in DSP slices.
FOLDS = {
    "realtime": {"pe": 1, "simd": 1},
    "mid": {"pe": 2, "simd": 4},
    "fast": {"pe": 4, "simd": 8},
    "fast-dsp": {"pe": 4, "simd": 8, "mul_lut": False},
}
STREAMS = {"in_par": 8, "out_par": 4}  # 8 ReLU codes per input beat, 4 h codes per output beat


def crnn_cell(out_dir: Path, onnx: str | None = None, seed: int = 0):
    """(LstmIntegerParams, input codes (2, steps, F), ReLU bits) of the CRNN's LSTM. The codes
    are what the calibrated model's conv spine makes of random log-Mel codes; with ``onnx``
    (another model's export), uniformly random ReLU codes."""
    import torch

    from melflow.compiler.lstm_cell import integer_lstm_tables
    from melflow.nn import build_model
    from melflow.train.trainer import export_onnx, load_config

    repo = Path(__file__).resolve().parents[1]
    spec, _ = load_config(repo / "models" / "kws_crnn.yaml")
    torch.manual_seed(seed)
    model = build_model(spec)
    relu_bits = model.cfg.act_bits
    if onnx is not None:
        params = integer_lstm_tables(onnx)
        codes = np.random.default_rng(seed).integers(0, 1 << relu_bits, (2, model.steps, params.spec.features))
        return params, codes, relu_bits
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randint(-128, 128, (4, 1, 98, 40)).float())
    model.eval()
    params = integer_lstm_tables(export_onnx(model, out_dir / "crnn.onnx", 98, 40))
    with torch.no_grad():
        seq = model.sequence(torch.randint(-128, 128, (2, 1, 98, 40)).float())
        xq = model.lstm.layers[0][0].io_quant(seq)
        xq = getattr(xq, "value", xq).numpy()
    return params, np.ldexp(xq.astype(np.float64), relu_bits).astype(np.int64), relu_bits


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", default=None, help="an exported CRNN (default: the shipped configuration, calibrated)")
    ap.add_argument("--folds", nargs="+", default=list(FOLDS), choices=list(FOLDS), help="foldings to measure")
    ap.add_argument("--no-synth", action="store_true", help="cycles only, no yosys")
    ap.add_argument("--out", default=None, help="build folder (default: a temporary one)")
    args = ap.parse_args(argv)
    from melflow.boards.lstm import lstm_report

    with tempfile.TemporaryDirectory(prefix="bench_lstm_") as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        params, codes, relu_bits = crnn_cell(out, args.onnx)
        x_lshift = params.k["output"] - relu_bits
        for name in args.folds:
            rtl = dict(n_steps=codes.shape[1], in_bits=relu_bits, in_signed=False, x_lshift=x_lshift, **STREAMS, **FOLDS[name])
            rep = lstm_report(out / name, params, codes, synth=not args.no_synth, **rtl)
            print(json.dumps({"fold": name, **rep}), flush=True)


if __name__ == "__main__":
    main()
