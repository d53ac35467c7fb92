"""Weight memories moved from block RAM to LUT RAM when the part's BRAM18s run out.

An MVAU keeps its weights in a finn-rtllib memstream whose RAM_STYLE is the node's `ram_style`
("auto", which FINN's estimate counts as block RAM). SetFolding never changes it, so a network
whose weights need a few more BRAM18s than the part has does not fit, though many of the part's
LUTs are idle. `SpillWeightsToLutram` sets `ram_style="distributed"` on the MVAUs whose weights
free the most BRAM18s for the fewest LUTs, until FINN's estimate fits. FINN has no such pass.

The memstream keeps its write port (an AXI-lite port the accelerator's top ties off), so its
memory stays a RAM and "distributed" puts it in LUT RAM: SLICEM LUTs, a third of a 7-series
part's. FINN's RTL MVAU estimates no LUTs at all (its lut_estimation returns 0), so they are
priced here with the rule FINN's HLS MVAU uses for the same memory: one LUT6 holds 64 bits of
one bit lane, so a memory `width` bits wide and `depth` words deep takes width * ceil(depth / 64).
"""

from __future__ import annotations

import math
from functools import partial

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

BITS_PER_LUT6 = 64
_MVAU = {"MVAU_rtl", "MVAU_hls"}


def _as_lutram(inst) -> int:
    pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
    width = pe * simd * inst.get_input_datatype(1).bitwidth()
    depth = inst.get_nodeattr("MW") * inst.get_nodeattr("MH") // (pe * simd)
    return width * math.ceil(depth / BITS_PER_LUT6)


def weight_lutram(inst) -> int:
    """LUTs an MVAU's weights take as LUT RAM (0 unless its ram_style is distributed)."""
    if inst.onnx_node.op_type not in _MVAU or inst.get_nodeattr("ram_style") != "distributed":
        return 0
    return _as_lutram(inst)


class SpillWeightsToLutram(Transformation):
    """Move MVAU weight memories to LUT RAM, fewest LUTs per freed BRAM18 first, until FINN's
    BRAM18 estimate is within `bram18_budget`, spending at most `lutram_budget` LUTs on weights.
    Where that is not enough it moves what it can, and the build report says what is over the
    device."""

    def __init__(self, fpga_part: str, bram18_budget: int, lutram_budget: int):
        super().__init__()
        self.fpga_part, self.bram18_budget, self.lutram_budget = fpga_part, bram18_budget, lutram_budget

    def apply(self, model):
        from finn.analysis.fpgadataflow.res_estimation import res_estimation

        res = model.analysis(partial(res_estimation, fpgapart=self.fpga_part))
        insts = [getCustomOp(n) for n in model.graph.node]
        bram = {i.onnx_node.name: int(res[i.onnx_node.name].get("BRAM_18K", 0)) for i in insts}
        need, luts = sum(bram.values()), sum(weight_lutram(i) for i in insts)
        # FINN counts no BRAM18 for a memory already distributed, so bram > 0 leaves those out
        cost = {i.onnx_node.name: (_as_lutram(i), i) for i in insts if i.onnx_node.op_type in _MVAU
                and bram[i.onnx_node.name] > 0 and i.get_nodeattr("mem_mode") == "internal_decoupled"}
        for name in sorted(cost, key=lambda n: (cost[n][0] / bram[n], n)):
            if need <= self.bram18_budget:
                break
            extra, inst = cost[name]
            if luts + extra <= self.lutram_budget:
                inst.set_nodeattr("ram_style", "distributed")
                need, luts = need - bram[name], luts + extra
        return model, False
