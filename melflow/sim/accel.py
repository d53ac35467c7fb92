"""Simulate a stitched accelerator in Verilator through the cocotb testbench sim/test_accel.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melflow.core import MelflowError
from melflow.rtl.accel import AccelInterface
from melflow.sim import verilator
from melflow.sim.streams import pack_beats, unpack_beats


@dataclass
class AccelSimResult:
    logits: np.ndarray  # (clips, outputs) integers from the RTL
    mismatches: list[int] = field(default_factory=list)  # clips differing from `expected`
    cycles_per_inference: int = 0  # back-to-back interval, no stalls
    latency_cycles: int = 0  # first input beat to last output beat, one clip, no stalls
    sim_cycles: int = 0

    @property
    def bit_exact_fraction(self) -> float:
        """Share of clips whose RTL output equals the expected (golden) one."""
        return 1.0 - len(self.mismatches) / len(self.logits)


def build_accel_sim(rtl_dir: str | Path, sim_dir: str | Path):
    """Verilate the accelerator once; reused by every simulate_accel call on the same sim_dir."""
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    iface = AccelInterface.load(rtl_dir)
    runner = verilator.build(
        [rtl_dir / f for f in iface.files],
        iface.top,
        sim_dir / "obj",
        # FINN_SIMULATION selects FINN's behavioural DSP model instead of Xilinx primitives.
        defines={"FINN_SIMULATION": 1},
    )
    return runner, iface


def simulate_accel(
    rtl_dir: str | Path,
    sim_dir: str | Path,
    inputs: np.ndarray,
    expected: np.ndarray | None = None,
    seed: int = 0,
    p_gap: float = 0.3,
    p_backpressure: float = 0.3,
    n_timing: int = 3,
    timeout_cycles: int = 1_000_000,
) -> AccelSimResult:
    """Stream `inputs` through the RTL and return its logits: int8 codes (clips, frames,
    mels) for a features-in build, int16 PCM (clips, samples) for an audio-in build (each
    clip closed by tlast)."""
    rtl_dir, sim_dir = Path(rtl_dir).resolve(), Path(sim_dir).resolve()
    runner, iface = build_accel_sim(rtl_dir, sim_dir)
    inputs = np.asarray(inputs)
    if inputs.ndim < 2 or inputs[0].size != int(np.prod(iface.input_shape)):
        what = "PCM clips" if iface.input_kind == "audio" else "features"
        raise MelflowError(f"{what} of shape {inputs.shape[1:]} do not fit the accelerator input {iface.input_shape} ({rtl_dir})")
    clips = [pack_beats(f.reshape(-1), iface.in_bits, iface.in_per_beat) for f in inputs]
    vectors = {
        "seed": seed,
        "clips": clips,
        "n_out_beats": iface.out_beats,
        "p_gap": p_gap,
        "p_backpressure": p_backpressure,
        "n_timing": max(2, min(n_timing, len(clips))) if len(clips) > 1 else 1,
        "timeout_cycles": timeout_cycles,
    }
    if expected is not None:
        vectors["expected"] = [pack_beats(e, iface.out_bits, iface.out_per_beat) for e in np.asarray(expected)]
    run_dir = verilator.prepare_run(rtl_dir, sim_dir, iface.data_files, vectors)
    results_path = run_dir / "results.json"
    results_path.unlink(missing_ok=True)
    env = {"MELFLOW_VECTORS": str(run_dir / "vectors.json"), "MELFLOW_RESULTS": str(results_path)}
    verilator.run_test(runner, "test_accel", iface.top, sim_dir / "obj", run_dir, env, seed=seed)
    if not results_path.exists():
        log = run_dir / "sim.log"
        errors = [l.strip() for l in log.read_text(errors="replace").splitlines() if " ERROR " in l] if log.exists() else []
        raise MelflowError(f"the RTL simulation did not finish ({errors[0] if errors else 'no error logged'}); see {log}")
    res = json.loads(results_path.read_text())
    logits = np.stack([unpack_beats(o, iface.out_bits, iface.out_per_beat, iface.out_signed) for o in res["outputs"]])
    return AccelSimResult(
        logits=logits,
        mismatches=res["mismatches"],
        cycles_per_inference=res["cycles_per_inference"],
        latency_cycles=res["latency_cycles"],
        sim_cycles=res["sim_cycles"],
    )
