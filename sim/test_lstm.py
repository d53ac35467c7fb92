"""cocotb testbench for the RTL LSTM unit (`lstm_unit`, FINN-style in0_V / out0_V ports).

Vectors come from the JSON file named by MELFLOW_VECTORS (written by melflow.sim.lstm): the
input beats of every sequence (n_steps steps of F codes, packed IN_PAR per beat) and the
output beats the golden model gives for each (the last h, OUT_PAR codes per beat).

One test, two passes, a reset before each:

1. No stalls, with the lean driver and collector of sim/axis_tb.py (they wake only on
   transfers): the first `n_timing` sequences back to back; the cycle at which each
   sequence's last output beat leaves gives the cycles per sequence. With `junk` beats,
   those go in first and ap_rst_n pulses `junk_cycles` later, in the middle of a step: the
   sequences after it must not see any of it.
2. cocotbext-axi source and sink with random gaps on the input and random backpressure on
   the output: every sequence back to back, every output beat must equal the golden model's.

Both passes compare every output beat with the golden model's.

Results go to MELFLOW_RESULTS (JSON).
"""

import json
import os
import random

import cocotb
from axis_tb import CLK_NS, collect, cycle, drive, pauses, reset
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


class FinnPorts:
    """The unit's in0_V_* / out0_V_* ports under the s_axis_* / m_axis_* names that the
    shared lean driver and collector (axis_tb.drive / collect) use."""

    def __init__(self, dut):
        self.ap_clk = dut.ap_clk
        self.s_axis_tdata, self.s_axis_tvalid, self.s_axis_tready = dut.in0_V_TDATA, dut.in0_V_TVALID, dut.in0_V_TREADY
        self.m_axis_tdata, self.m_axis_tvalid, self.m_axis_tready = dut.out0_V_TDATA, dut.out0_V_TVALID, dut.out0_V_TREADY


def _bfms(dut):
    """cocotbext-axi source on in0_V and sink on out0_V (no tlast: every beat is a frame)."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "in0_V"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "out0_V"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False, byte_lanes=1)
    for bfm in (source, sink):
        bfm.log.setLevel("WARNING")
    return source, sink


async def _stalled(dut, cfg, rng):
    """Pass 1: every sequence with random input gaps and output backpressure."""
    source, sink = _bfms(dut)
    source.set_pause_generator(pauses(rng, cfg["p_gap"]))
    sink.set_pause_generator(pauses(rng, cfg["p_backpressure"]))
    await reset(dut, 3, 2)
    for seq in cfg["inputs"]:
        await source.send(AxiStreamFrame(seq))  # no tlast port: the beats just follow each other
    outputs = []

    async def take():
        for _ in cfg["inputs"]:
            beats = []
            for _ in range(cfg["n_out_beats"]):
                frame = await sink.recv()
                beats.extend(frame.tdata)
            outputs.append(beats)

    try:
        await with_timeout(take(), cfg["stalled_timeout_cycles"] * CLK_NS, "ns")
    except SimTimeoutError:
        dut._log.error("stalled pass: %d of %d sequences after %d cycles", len(outputs), len(cfg["inputs"]), cfg["stalled_timeout_cycles"])
        raise
    await source.wait()
    return outputs


async def _free(dut, cfg):
    """Pass 2: the timing sequences back to back without stalls; returns (outputs, the cycle
    each sequence's last beat left, the cycle the first beat went in)."""
    ports = FinnPorts(dut)
    if cfg.get("junk"):  # random input, then a reset while the unit is in the middle of a step
        await reset(dut, 3, 2)
        junk = cocotb.start_soon(drive(ports, cfg["junk"]))
        await ClockCycles(dut.ap_clk, cfg["junk_cycles"])
        junk.cancel()
        dut.in0_V_TVALID.value = 0
    await reset(dut, 3, 2)
    seqs = cfg["inputs"][: cfg["n_timing"]]
    beats = [b for s in seqs for b in s]
    accepted = []
    driver = cocotb.start_soon(drive(ports, beats, accepted=accepted))
    outputs, done = [], []
    for _ in seqs:
        try:
            out = await with_timeout(collect(ports, cfg["n_out_beats"]), cfg["free_timeout_cycles"] * CLK_NS, "ns")
        except SimTimeoutError:
            dut._log.error("free pass: no output for %d cycles (in0_V valid/ready %s/%s, out0_V valid %s)", cfg["free_timeout_cycles"],
                           dut.in0_V_TVALID.value, dut.in0_V_TREADY.value, dut.out0_V_TVALID.value)
            raise
        outputs.append(out)
        done.append(cycle())
    await driver
    return outputs, done, accepted[0]


def _load() -> dict:
    with open(os.environ["MELFLOW_VECTORS"]) as f:
        return json.load(f)


def _save(results: dict) -> None:
    with open(os.environ["MELFLOW_RESULTS"], "w") as f:
        json.dump(results, f)


@cocotb.test()
async def sequences(dut):
    cfg = _load()
    rng = random.Random(cfg["seed"])
    cocotb.start_soon(Clock(dut.ap_clk, CLK_NS, unit="ns").start())
    dut.in0_V_TVALID.value = 0
    dut.out0_V_TREADY.value = 0
    dut.ap_rst_n.value = 0
    results = {"stalled": [], "free": [], "mismatches": []}
    # the free pass first: cocotbext-axi's BFMs, once made, drive the handshakes for good
    if cfg["n_timing"]:
        free, done, first_in = await _free(dut, cfg)
        results["free"], results["done"], results["first_in"] = free, done, first_in
        results["mismatches"] += [f"free {i}" for i, (o, e) in enumerate(zip(free, cfg["expected"])) if o != e]
        await ClockCycles(dut.ap_clk, 2)
    if cfg["stall"]:
        results["stalled"] = await _stalled(dut, cfg, rng)
        results["mismatches"] += [f"stalled {i}" for i, (o, e) in enumerate(zip(results["stalled"], cfg["expected"])) if o != e]
    results["sim_cycles"] = cycle()
    _save(results)
    assert not results["mismatches"], f"sequences whose RTL output differs from the golden model: {results['mismatches']}"
