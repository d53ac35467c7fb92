"""cocotb testbench for a stitched melflow accelerator (`melflow_accel`).

Streams packed input beats of several clips through the top (tlast on the last beat of a
clip where the top has one), first with random gaps on the input and random backpressure on
the output (every output must still equal the golden model's), then a few clips back to
back with no stalls to measure latency and cycles per inference. The driver and collector
(sim/axis_tb.py) wake only on transfers and stall ends, not every cycle. Vectors come from the JSON file named by MELFLOW_VECTORS and
results go to MELFLOW_RESULTS, so the Python side (melflow.sim.accel) drives it.
"""

import itertools
import json
import os
import random

import cocotb
from axis_tb import CLK_NS, collect, cycle, drive, reset
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout


def _stall_report(dut) -> str:
    """valid/ready of every inter-layer stream: where a hang starts (valid=1, ready=0 last).
    In an audio-in top the layers sit in its `network` instance, after the frontend (f_)."""
    net = getattr(dut, "network", dut)
    layers = sorted((n[:-7] for n in dir(net) if n.startswith("l") and n.endswith("_tvalid")), key=lambda n: int(n[1:]))
    names = [(dut, "s_axis")] + ([(dut, "f")] if net is not dut else []) + [(net, n) for n in layers] + [(dut, "m_axis")]
    return " ".join(f"{n}:{int(getattr(h, n + '_tvalid').value)}{int(getattr(h, n + '_tready').value)}" for h, n in names)


async def _stream(dut, clips, n_out, timeout_cycles, rng=None, p_gap=0.0, p_backpressure=0.0):
    """Send every clip back to back (tlast on each clip's last beat, where the top has the
    port) and collect n_out beats per clip; a clip that takes more than timeout_cycles
    fails the test with the state of every stream instead of hanging it.
    Returns (outputs per clip, cycle at which each clip's last beat left)."""
    beats = [b for clip in clips for b in clip]
    ends = list(itertools.accumulate(len(c) for c in clips))
    driver = cocotb.start_soon(drive(dut, beats, [e - 1 for e in ends], rng, p_gap))
    outputs, done = [], []
    for _ in clips:
        try:
            out = await with_timeout(collect(dut, n_out, rng, p_backpressure), timeout_cycles * CLK_NS, "ns")
        except SimTimeoutError:
            dut._log.error("no result for %d cycles; streams (valid,ready): %s", timeout_cycles, _stall_report(dut))
            raise
        outputs.append(out)
        done.append(cycle())
    await driver
    return outputs, done


@cocotb.test()
async def stream_clips(dut):
    with open(os.environ["MELFLOW_VECTORS"]) as f:
        cfg = json.load(f)
    rng = random.Random(cfg["seed"])
    cocotb.start_soon(Clock(dut.ap_clk, CLK_NS, unit="ns").start())
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    await reset(dut, 10, 5)
    n_out = cfg["n_out_beats"]
    results = {"outputs": [], "mismatches": []}

    # 1. Random gaps and backpressure: every output must match the golden model.
    outputs, _ = await _stream(dut, cfg["clips"], n_out, cfg["timeout_cycles"], rng, cfg["p_gap"], cfg["p_backpressure"])
    dut._log.info("random-stall pass done")
    results["outputs"] = outputs
    expected = cfg.get("expected")
    if expected is not None:
        results["mismatches"] = [i for i, (o, e) in enumerate(zip(outputs, expected)) if o != e]

    # 2. No stalls: latency of one clip and the interval between back-to-back clips.
    timing = cfg["clips"][: cfg["n_timing"]]
    await ClockCycles(dut.ap_clk, 2)
    t0 = cycle()
    _, done = await _stream(dut, timing, n_out, cfg["timeout_cycles"])
    results["latency_cycles"] = done[0] - t0
    gaps = [b - a for a, b in zip(done, done[1:])]
    results["cycles_per_inference"] = max(gaps) if gaps else results["latency_cycles"]
    results["sim_cycles"] = cycle()
    with open(os.environ["MELFLOW_RESULTS"], "w") as f:
        json.dump(results, f)
    assert not results["mismatches"], f"clips whose RTL output differs from the golden model: {results['mismatches']}"
