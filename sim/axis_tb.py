"""Pieces the cocotb testbenches share: the clock period, random pause generators, the
cocotbext-axi source / sink on a design's s_axis / m_axis ports and the reset pulse
(ap_clk, active-low ap_rst_n)."""

import logging

from cocotb.triggers import ClockCycles
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
