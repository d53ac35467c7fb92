"""cocotb testbench for the RTL log-Mel frontend (`log_mel_frontend`).

Vectors come from the JSON file named by MELFLOW_VECTORS (written by melflow.sim.frontend):
PCM streams, each with the codes the golden model gives. Every stream starts after a reset
(a clip is a stream of samples; ap_rst_n starts a new one, and so does the sample after
one with tlast: a stream may hold several clips, each closed by tlast).

1. `stalled_streams`: cocotbext-axi source and sink with random gaps on the input and random
   backpressure on the output (probabilities per stream); every code must equal the golden
   model's.
2. `free_streams`: no stalls, with a lean driver and monitor that wake up only on transfers
   and on handshake changes (not every cycle), so long clips simulate at close to Verilator
   speed; the frame-end times give the cycles per frame. A stream with `junk` samples gets
   them first and a reset `junk_cycles` later, in the middle of a frame.

Results (codes per stream, mismatches, frame-end cycles) go to MELFLOW_RESULTS.<test>.json.
"""

import json
import os
import random

import cocotb
from axis_tb import CLK_NS, axis_bfms, cycle, drive, pauses, reset
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamFrame


def _vectors(stall: bool):
    """The vectors file and those of its streams that go with (or without) random stalls."""
    with open(os.environ["MELFLOW_VECTORS"]) as f:
        cfg = json.load(f)
    return cfg, [s for s in cfg["streams"] if s["stall"] == stall]


async def _start(dut):
    # a test's tasks end with it: every test starts its own clock
    cocotb.start_soon(Clock(dut.ap_clk, CLK_NS, unit="ns").start())
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tlast.value = 0
    dut.m_axis_tready.value = 0


def _timeout_ns(cfg, stream) -> int:
    frames = len(stream["expected"]) // cfg["n_mels"]
    return (len(stream["pcm"]) * 4 + (frames + 2) * cfg["frame_budget_cycles"]) * CLK_NS


def _save(name, results):
    with open(f"{os.environ['MELFLOW_RESULTS']}.{name}.json", "w") as f:
        json.dump(results, f)


@cocotb.test()
async def stalled_streams(dut):
    cfg, streams = _vectors(stall=True)
    results = {"outputs": {}, "mismatches": []}
    if not streams:
        _save("stalled_streams", results)
        return
    rng = random.Random(cfg["seed"])
    await _start(dut)
    dut.ap_rst_n.value = 0
    source, sink = axis_bfms(dut)
    n_mels = cfg["n_mels"]
    for s in streams:
        source.set_pause_generator(pauses(rng, s["p_gap"]))
        sink.set_pause_generator(pauses(rng, s["p_backpressure"]))
        await reset(dut, 3, 2)
        start = 0
        for end in s["clip_ends"]:  # one AxiStreamFrame per clip: tlast on its last sample
            await source.send(AxiStreamFrame([x & 0xFFFF for x in s["pcm"][start:end + 1]]))
            start = end + 1
        codes = []

        async def collect(codes, n, name):
            while len(codes) < n:
                frame = await sink.recv()  # tlast closes a frame: one frame of mels
                assert len(frame.tdata) == n_mels, f"{name}: a frame of {len(frame.tdata)} codes"
                codes.extend(frame.tdata)

        await with_timeout(collect(codes, len(s["expected"]), s["name"]), _timeout_ns(cfg, s), "ns")
        await source.wait()
        codes = [c - 256 if c > 127 else c for c in codes]
        results["outputs"][s["name"]] = codes
        if codes != s["expected"]:
            results["mismatches"].append(s["name"])
        dut._log.info("stalled stream %s: %d codes", s["name"], len(codes))
    _save("stalled_streams", results)
    assert not results["mismatches"], f"streams whose RTL codes differ from the golden model: {results['mismatches']}"


async def _monitor(dut, n, n_mels, codes, frame_ends):
    dut.m_axis_tready.value = 1
    while len(codes) < n:
        await FallingEdge(dut.ap_clk)
        if int(dut.m_axis_tvalid.value):  # taken at the next rising edge
            c = int(dut.m_axis_tdata.value)
            codes.append(c - 256 if c > 127 else c)
            if int(dut.m_axis_tlast.value):
                assert len(codes) % n_mels == 0, f"tlast after {len(codes)} codes"
                frame_ends.append(cycle() + 1)
        else:
            await RisingEdge(dut.m_axis_tvalid)
    dut.m_axis_tready.value = 0


@cocotb.test()
async def free_streams(dut):
    cfg, streams = _vectors(stall=False)
    results = {"outputs": {}, "mismatches": [], "frame_ends": {}, "accepted": {}}
    await _start(dut)
    for s in streams:
        if s.get("junk"):
            await reset(dut, 3, 2)
            junk = cocotb.start_soon(drive(dut, [x & 0xFFFF for x in s["junk"]]))
            await ClockCycles(dut.ap_clk, s["junk_cycles"])
            junk.cancel()
            dut.s_axis_tvalid.value = 0
        await reset(dut, 3, 2)
        codes, frame_ends, accepted = [], [], []
        drv = cocotb.start_soon(drive(dut, [x & 0xFFFF for x in s["pcm"]], s["clip_ends"], accepted=accepted))
        await with_timeout(_monitor(dut, len(s["expected"]), cfg["n_mels"], codes, frame_ends), _timeout_ns(cfg, s), "ns")
        await drv
        results["outputs"][s["name"]] = codes
        results["frame_ends"][s["name"]] = frame_ends
        results["accepted"][s["name"]] = [accepted[0], accepted[-1], len(accepted)] if accepted else []
        if codes != s["expected"]:
            results["mismatches"].append(s["name"])
        dut._log.info("free stream %s: %d codes, %d frames", s["name"], len(codes), len(frame_ends))
    results["sim_cycles"] = cycle()
    _save("free_streams", results)
    assert not results["mismatches"], f"streams whose RTL codes differ from the golden model: {results['mismatches']}"
