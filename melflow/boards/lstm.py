"""The RTL LSTM unit on a board: yosys resources and simulated cycles per step.

    from melflow.boards.lstm import lstm_report
    lstm_report("build/lstm", params, n_steps=25, pe=8, simd=4, in_bits=4, in_signed=False, x_lshift=3)

``scripts/bench_lstm.py`` prints one JSON line per folding with these numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from melflow.boards.boards import load_board
from melflow.boards.yosys import synthesize
from melflow.compiler.lstm_cell import LstmIntegerParams
from melflow.rtl.lstm import write_lstm_rtl
from melflow.sim.lstm import simulate_lstm


def synthesize_lstm(work_dir: str | Path, params: LstmIntegerParams, board: str = "pynq-z2",
                    timeout: float | None = None, **rtl) -> dict:
    """yosys ``synth_xilinx`` of the unit (``rtl``: the arguments of write_lstm_rtl after
    ``params``) for ``board``'s family: LUT, FF, BRAM18, DSP, LUTRAM, seconds and the log."""
    work_dir = Path(work_dir)
    b = load_board(board)
    iface = write_lstm_rtl(work_dir / "rtl", params, **rtl)
    res = synthesize(work_dir / "rtl", iface["top"], iface["files"], iface["data_files"], work_dir / "yosys",
                     family=b.family, timeout=timeout)
    return {k: res[k] for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM", "seconds", "log")}


def measure_lstm_cycles(work_dir: str | Path, params: LstmIntegerParams, codes: np.ndarray, **rtl) -> dict:
    """Cycles per step and per sequence from a Verilator run without stalls on ``codes``
    (sequences, n_steps, F), at least two sequences back to back; every output is checked
    against the golden model."""
    work_dir = Path(work_dir)
    write_lstm_rtl(work_dir / "rtl", params, **rtl)
    res = simulate_lstm(work_dir / "rtl", work_dir / "sim", params, codes, stall=False, n_timing=len(codes))
    if res.mismatches:
        raise AssertionError(f"RTL LSTM unit (PE={rtl.get('pe')}, SIMD={rtl.get('simd')}) differs from the golden model: {res.mismatches}")
    return {"cycles_per_step": res.cycles_per_step, "cycles_per_sequence": res.cycles_per_sequence,
            "latency_cycles": res.latency_cycles}


def lstm_report(work_dir: str | Path, params: LstmIntegerParams, codes: np.ndarray, board: str = "pynq-z2",
                synth: bool = True, **rtl) -> dict:
    """Cycles (simulated and estimated) and, with ``synth``, yosys resources of one folding.
    ``rtl``: the arguments of write_lstm_rtl after ``params`` (n_steps, pe, simd, ...)."""
    work_dir = Path(work_dir)
    b = load_board(board)
    iface = write_lstm_rtl(work_dir / "rtl", params, **rtl)
    out = {"pe": iface["pe"], "simd": iface["simd"], "features": iface["features"], "hidden": iface["hidden"],
           "n_steps": iface["n_steps"], "in_par": iface["in_par"], "out_par": iface["out_par"],
           "mul_lut": bool(iface["params"]["MUL_LUT"]),
           "cycles_per_step_estimate": iface["cycles_per_step"],
           "cycles_per_sequence_estimate": iface["cycles_per_sequence"]}
    out.update(measure_lstm_cycles(work_dir, params, codes, **rtl))
    out["clock_mhz"] = b.clock_mhz
    out["sequence_us"] = round(out["cycles_per_sequence"] / b.clock_mhz, 2)
    if synth:
        res = synthesize_lstm(work_dir, params, board, **rtl)
        out.update({"part": b.part, **{k: res[k] for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM")},
                    "yosys_seconds": res["seconds"]})
    return out


def synthesize_lstm_nodes(model, work_dir: str | Path, board: str = "pynq-z2") -> dict[str, dict]:
    """yosys resources of each LstmUnit of a compiled graph (stage "ipgen") on its own: the
    accelerator is synthesized flattened, so this is how the build report tells the LSTM's
    share of the total (the unit's wrapper module and ROM images, as FINN's PrepareIP left them)."""
    from qonnx.custom_op.registry import getCustomOp

    family = load_board(board).family
    out = {}
    for node in model.graph.node:
        if node.op_type != "LstmUnit_rtl":
            continue
        inst = getCustomOp(node)
        gen_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        data = sorted(p.name for p in gen_dir.glob("*.dat"))
        res = synthesize(gen_dir, node.name, inst.get_rtl_file_list(), data, Path(work_dir) / node.name, family=family)
        out[node.name] = {k: res[k] for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM")}
    return out


__all__ = ["lstm_report", "measure_lstm_cycles", "synthesize_lstm", "synthesize_lstm_nodes"]
