"""cocotb testbench for a stitched melflow accelerator (`melflow_accel`).

Streams packed input beats of several clips through the top with cocotbext-axi, first with
random gaps on the input and random backpressure on the output (every output must still
equal the golden model's), then a few clips back to back with no stalls to measure latency
and cycles per inference. Vectors come from the JSON file named by MELFLOW_VECTORS and
results go to MELFLOW_RESULTS, so the Python side (melflow.sim.accel) drives it.
"""

import json
import os
import random

import cocotb
from axis_tb import CLK_NS, axis_bfms, pauses, reset
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamFrame


def _stall_report(dut) -> str:
    """valid/ready of every inter-layer stream: where a hang starts (valid=1, ready=0 last)."""
    names = sorted((n[:-7] for n in dir(dut) if n.startswith("l") and n.endswith("_tvalid")), key=lambda n: int(n[1:]))
    names = ["s_axis"] + names + ["m_axis"]
    return " ".join(f"{n}:{int(getattr(dut, n + '_tvalid').value)}{int(getattr(dut, n + '_tready').value)}" for n in names)


async def _stream(dut, source, sink, clips, n_out, timeout_cycles):
    """Send every clip (queued back to back) and collect n_out beats per clip; a beat that
    takes more than timeout_cycles fails the test instead of hanging it."""
    for clip in clips:
        await source.send(AxiStreamFrame(clip))
    outputs, done_ns = [], []
    for _ in clips:
        beats = []
        for _ in range(n_out):
            try:
                frame = await with_timeout(sink.recv(), timeout_cycles * CLK_NS, "ns")
            except SimTimeoutError:
                dut._log.error(
                    "no output for %d cycles; %d input frames still queued; streams (valid,ready): %s",
                    timeout_cycles, source.count(), _stall_report(dut),
                )
                raise
            beats.append(frame.tdata[0])
        done_ns.append(get_sim_time("ns"))
        outputs.append(beats)
    return outputs, done_ns


@cocotb.test()
async def stream_clips(dut):
    cfg = json.load(open(os.environ["MELFLOW_VECTORS"]))
    rng = random.Random(cfg["seed"])
    cocotb.start_soon(Clock(dut.ap_clk, CLK_NS, unit="ns").start())
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    await reset(dut, 10, 5)

    source, sink = axis_bfms(dut)
    n_out = cfg["n_out_beats"]
    results = {"outputs": [], "mismatches": []}

    # 1. Random gaps and backpressure: every output must match the golden model.
    source.set_pause_generator(pauses(rng, cfg["p_gap"]))
    sink.set_pause_generator(pauses(rng, cfg["p_backpressure"]))
    outputs, _ = await _stream(dut, source, sink, cfg["clips"], n_out, cfg["timeout_cycles"])
    dut._log.info("random-stall pass done")
    results["outputs"] = outputs
    expected = cfg.get("expected")
    if expected is not None:
        results["mismatches"] = [i for i, (o, e) in enumerate(zip(outputs, expected)) if o != e]

    # 2. No stalls: latency of one clip and the interval between back-to-back clips.
    for bfm in (source, sink):
        bfm.set_pause_generator(None)
        bfm.pause = False  # removing the generator leaves its last value in force

    timing = cfg["clips"][: cfg["n_timing"]]
    await ClockCycles(dut.ap_clk, 2)
    t0 = get_sim_time("ns")
    _, done_ns = await _stream(dut, source, sink, timing, n_out, cfg["timeout_cycles"])
    results["latency_cycles"] = int((done_ns[0] - t0) // CLK_NS)
    gaps = [int((b - a) // CLK_NS) for a, b in zip(done_ns, done_ns[1:])]
    results["cycles_per_inference"] = max(gaps) if gaps else results["latency_cycles"]
    results["sim_cycles"] = int(get_sim_time("ns") // CLK_NS)
    json.dump(results, open(os.environ["MELFLOW_RESULTS"], "w"))
    assert not results["mismatches"], f"clips whose RTL output differs from the golden model: {results['mismatches']}"
