"""Folding adjustments FINN's SetFolding does not make.

SetFolding raises an MVAU's SIMD before its PE. FINN's RTL MVAU on a DSP48E1 (7-series)
packs four PEs into one DSP slice and spends one slice per SIMD lane (FINN's own estimate:
ceil(PE/4) * SIMD), so SIMD-first folding leaves three quarters of every DSP idle and a
modest network no longer fits the xc7z020. `PackMVAUForDSP48` keeps each MVAU's
parallelism PE*SIMD (hence its cycles) and re-splits it to use the fewest DSP slices.
"""

from __future__ import annotations

import math

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

PES_PER_DSP48E1 = 4


def dsp48e1_cost(pe: int, simd: int) -> int:
    return math.ceil(pe / PES_PER_DSP48E1) * simd


def best_split(pe: int, simd: int, mh: int, mw: int) -> tuple[int, int]:
    """The (PE, SIMD) with the same product, PE | MH and SIMD | MW, fewest DSP48E1 slices."""
    par = pe * simd
    best = (dsp48e1_cost(pe, simd), pe, simd)
    for p in range(1, mh + 1):
        if mh % p or par % p or mw % (par // p):
            continue
        cost = dsp48e1_cost(p, par // p)
        if (cost, p) < best[:2]:
            best = (cost, p, par // p)
    return best[1], best[2]


class PackMVAUForDSP48(Transformation):
    """Re-split PE/SIMD of every RTL MVAU so DSP48E1 slices are fully used (same cycles)."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "MVAU_rtl":
                continue
            inst = getCustomOp(node)
            pe, simd = best_split(inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD"), inst.get_nodeattr("MH"), inst.get_nodeattr("MW"))
            inst.set_nodeattr("PE", pe)
            inst.set_nodeattr("SIMD", simd)
        return model, False
