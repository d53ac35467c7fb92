"""Simulate the RTL LSTM unit in Verilator through the cocotb testbench sim/test_lstm.py,
against the golden model (:func:`melflow.compiler.lstm_hw.lstm_golden`, i.e. ``run_integer``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melflow.compiler.lstm_cell import LstmIntegerParams
from melflow.compiler.lstm_hw import lstm_golden
from melflow.core import MelflowError
from melflow.sim import verilator
from melflow.sim.streams import pack_beats, unpack_beats


@dataclass
class LstmSimResult:
    outputs: np.ndarray  # (sequences, H) last-h codes from the RTL (stalled pass, else free pass)
    expected: np.ndarray  # the golden model's codes for the same sequences
    mismatches: list[str] = field(default_factory=list)  # "stalled i" / "free i": sequences that differ
    cycles_per_sequence: int = 0  # steady state, no stalls (0 with fewer than 2 timing sequences)
    cycles_per_step: float = 0.0
    latency_cycles: int = 0  # first input beat accepted -> first sequence's last output beat
    sim_cycles: int = 0


def load_interface(rtl_dir: str | Path) -> dict:
    return json.loads((Path(rtl_dir) / "lstm.json").read_text())


def build_lstm_sim(rtl_dir: str | Path, sim_dir: str | Path):
    """Verilate the unit once; reused by every simulate_lstm call on the same sim_dir."""
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    iface = load_interface(rtl_dir)
    runner = verilator.build_block(rtl_dir, sim_dir, iface)
    return runner, iface


def simulate_lstm(
    rtl_dir: str | Path,
    sim_dir: str | Path,
    params: LstmIntegerParams,
    codes: np.ndarray,
    p_gap: float = 0.3,
    p_backpressure: float = 0.3,
    stall: bool = True,
    n_timing: int = 2,
    reset_mid_sequence: bool = False,
    seed: int = 0,
) -> LstmSimResult:
    """Stream sequences of input codes through the RTL written by ``write_lstm_rtl`` for
    ``params`` into ``rtl_dir``; compare every output with the golden model.

    ``codes``: (sequences, n_steps, F) input codes (the cell sees ``code << x_lshift``).
    With ``stall``, all sequences go back to back through cocotbext-axi with an input gap with
    probability ``p_gap`` and output backpressure with probability ``p_backpressure`` per
    cycle. Then the first ``n_timing`` sequences run again without stalls, which measures
    the cycles per sequence (the interval between consecutive outputs; needs n_timing >= 2).
    """
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    runner, iface = build_lstm_sim(rtl_dir, sim_dir)
    codes = np.asarray(codes, np.int64)
    F, H, n_steps = iface["features"], iface["hidden"], iface["n_steps"]
    if codes.ndim != 3 or codes.shape[1:] != (n_steps, F):
        raise MelflowError(f"codes must be (sequences, {n_steps}, {F}) for this unit, got {codes.shape}")
    bits, signed = iface["in_bits"], iface["in_signed"]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if codes.size and (codes.min() < lo or codes.max() > hi):
        raise MelflowError(f"input codes outside [{lo}, {hi}] ({bits}-bit {'signed' if signed else 'unsigned'})")
    if not stall and n_timing < 1:
        raise MelflowError("nothing to simulate: stall=False and n_timing=0")
    n_timing = min(n_timing, len(codes))
    expected = lstm_golden(params, codes, iface["x_lshift"])
    out_bits, out_par = iface["out_bits"], iface["out_par"]
    est = iface["cycles_per_sequence"]
    vectors = {
        "seed": seed,
        "stall": bool(stall),
        "p_gap": p_gap,
        "p_backpressure": p_backpressure,
        "n_timing": n_timing,
        "n_out_beats": iface["out_beats_per_sequence"],
        "inputs": [pack_beats(seq.reshape(-1), bits, iface["in_par"]) for seq in codes],
        "expected": [pack_beats(h, out_bits, out_par) for h in expected],
        # generous: stalls slow both streams, the first sequence adds the pipeline latency
        "stalled_timeout_cycles": int((est * 4 + 2000) * len(codes) / max(1e-3, 1 - max(p_gap, p_backpressure))),
        "free_timeout_cycles": 2 * est + 2000,
    }
    if reset_mid_sequence and n_timing:
        rng = np.random.default_rng(seed)
        junk = rng.integers(lo, hi + 1, (2, n_steps, F))
        vectors["junk"] = pack_beats(junk.reshape(-1), bits, iface["in_par"])
        vectors["junk_cycles"] = est + iface["cycles_per_step"] * n_steps // 2 + iface["cycles_per_step"] // 3
    run_dir = verilator.prepare_run(rtl_dir, sim_dir, iface["data_files"], vectors)
    results_file = run_dir / "results.json"
    results_file.unlink(missing_ok=True)
    env = {"MELFLOW_VECTORS": str(run_dir / "vectors.json"), "MELFLOW_RESULTS": str(results_file)}
    try:
        verilator.run_test(runner, "test_lstm", iface["top"], sim_dir / "obj", run_dir, env, seed=seed)
    except SystemExit:
        pass  # under pytest cocotb's runner exits when the testbench fails; the results say why
    if not results_file.exists():
        log = run_dir / "sim.log"
        errors = [l.strip() for l in log.read_text(errors="replace").splitlines() if " ERROR " in l or "FAIL" in l] if log.exists() else []
        raise MelflowError(f"the LSTM simulation did not finish ({errors[0] if errors else 'no error logged'}); see {log}")
    res = json.loads(results_file.read_text())
    beats = res["stalled"] if stall else res["free"]
    outputs = np.stack([unpack_beats(b, out_bits, out_par, signed=True) for b in beats]) if beats else np.zeros((0, H), np.int64)
    out = LstmSimResult(outputs=outputs, expected=expected[: len(outputs)], mismatches=res["mismatches"], sim_cycles=res["sim_cycles"])
    done = res.get("done", [])
    if done:
        out.latency_cycles = int(done[0] - res["first_in"])
    if len(done) >= 2:
        out.cycles_per_sequence = int(max(np.diff(done)))
        out.cycles_per_step = out.cycles_per_sequence / n_steps
    return out
