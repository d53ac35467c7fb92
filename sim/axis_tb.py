"""Pieces the cocotb testbenches share: the clock period, random pause generators, the
cocotbext-axi source / sink on a design's s_axis / m_axis ports and the reset pulse
(ap_clk, active-low ap_rst_n)."""

import logging

from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

CLK_NS = 10


def pauses(rng, p_pause):
    """Endless pause pattern for a cocotbext-axi BFM: pause with probability p_pause per cycle."""
    while True:
        yield rng.random() < p_pause


def axis_bfms(dut):
    """(source on s_axis, sink on m_axis), one byte lane each, quiet unless something is wrong."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.ap_clk, dut.ap_rst_n, reset_active_level=False, byte_lanes=1)
    for bfm in (source, sink):
        bfm.log.setLevel(logging.WARNING)
    return source, sink


async def reset(dut, hold: int, settle: int):
    """ap_rst_n low for `hold` cycles, then `settle` cycles before the caller goes on."""
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, hold)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, settle)


# ---- lean stream driver and collector -------------------------------------------------
# cocotbext-axi's BFMs wake up every clock cycle. An audio-in accelerator holds its input
# for most of the ~230k cycles a clip takes, so these wake only on transfers, on handshake
# changes and at the end of a random stall (drawn as a whole run: a pause per cycle with
# probability p gives runs of geometric length), which keeps Verilator's speed.


def stall_cycles(rng, p: float) -> int:
    """Length of a random stall run: each further cycle stalls with probability p."""
    n = 0
    while p and rng.random() < p:
        n += 1
    return n


async def drive(dut, beats, last=(), rng=None, p_gap: float = 0.0, accepted=None):
    """Drive s_axis with `beats` in order; tlast (when the port exists) on the indices in
    `last`; after each beat a random gap of stall_cycles(rng, p_gap) cycles. Signals are
    set after a falling edge and sampled there, so they are settled for the rising edge."""
    ends = set(last)
    has_last = hasattr(dut, "s_axis_tlast")
    for i, beat in enumerate(beats):
        dut.s_axis_tdata.value = beat
        if has_last:
            dut.s_axis_tlast.value = int(i in ends)
        dut.s_axis_tvalid.value = 1
        await FallingEdge(dut.ap_clk)
        while not int(dut.s_axis_tready.value):
            await RisingEdge(dut.s_axis_tready)
            await FallingEdge(dut.ap_clk)
        await RisingEdge(dut.ap_clk)  # the beat goes through here
        if accepted is not None:
            accepted.append(cycle())
        gap = stall_cycles(rng, p_gap) if rng else 0
        if gap:
            dut.s_axis_tvalid.value = 0
            await ClockCycles(dut.ap_clk, gap)
    dut.s_axis_tvalid.value = 0
    if has_last:
        dut.s_axis_tlast.value = 0


async def collect(dut, n: int, rng=None, p_backpressure: float = 0.0, done=None) -> list[int]:
    """Take `n` beats from m_axis, holding tready low for random runs between beats;
    `done` gets the cycle of every beat."""
    beats = []
    while len(beats) < n:
        stall = stall_cycles(rng, p_backpressure) if rng else 0
        if stall:
            dut.m_axis_tready.value = 0
            await ClockCycles(dut.ap_clk, stall)
        dut.m_axis_tready.value = 1
        await FallingEdge(dut.ap_clk)
        while not int(dut.m_axis_tvalid.value):
            await RisingEdge(dut.m_axis_tvalid)
            await FallingEdge(dut.ap_clk)
        beats.append(int(dut.m_axis_tdata.value))  # taken at the coming rising edge
        await RisingEdge(dut.ap_clk)
        if done is not None:
            done.append(cycle())
    dut.m_axis_tready.value = 0
    return beats


def cycle() -> int:
    """The current clock cycle (CLK_NS per cycle)."""
    return int(get_sim_time("ns") // CLK_NS)
