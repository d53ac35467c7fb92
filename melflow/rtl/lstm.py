"""RTL of the integer LSTM unit: the hand-written SystemVerilog in hw/rtl/lstm/ plus what
depends on the cell and the folding, generated here from :class:`LstmIntegerParams`.

:func:`write_lstm_rtl` copies the sources into a folder and writes next to them

* ``lstm_cfg.sv``: package ``lstm_cfg`` with every size, width, shift, rounding mode and
  code range, the folding (PE, SIMD) and the ROM file names;
* ``$readmemh`` images (read relative to the simulator's / synthesizer's working folder,
  like FINN's): the gate weights laid out per PE and SIMD lane (one word per neuron fold and
  SIMD fold, as FINN's MVAU streams them), the biases, and the sigmoid / tanh tables.

The unit computes exactly :meth:`LstmIntegerParams.step` on ``x = input_code << x_lshift``,
step after step, and outputs the last hidden state of every ``n_steps``-step sequence;
``melflow.compiler.lstm_hw.lstm_golden`` is that reference on a batch of sequences. docs/lstm.md ("RTL LSTM
unit") describes the architecture; :func:`lstm_cycles_per_step` its speed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from melflow.compiler.lstm_cell import LstmIntegerParams
from melflow.compiler.lstm_hw import (  # the unit's cost model lives with its FINN layer
    _check_positive,
    check_folding,
    lstm_cycles_per_sequence,
    lstm_cycles_per_step,
)
from melflow.rtl.hdl import copy_hdl

TOP = "lstm_unit"
PACKAGE = "lstm_cfg.sv"
# compile order: the generated package first, the top last
SOURCES = ["lstm_mem.sv", "lstm_shr.sv", "lstm_addtree.sv", "lstm_loader.sv", "lstm_mac.sv", "lstm_post.sv", f"{TOP}.sv"]

# Rounding modes lstm_shr implements (its MODE parameter): every mode shift_round has.
RTL_ROUNDING = {"ROUND": 0, "FLOOR": 1, "CEIL": 2, "ROUND_TO_ZERO": 3}
GATE_TABLES = {"input": "input_sigmoid", "forget": "forget_sigmoid", "cell": "cell_tanh", "output": "output_sigmoid"}

def _sbits(lo: int, hi: int) -> int:
    """Bits of a two's complement integer that holds every value of [lo, hi]."""
    lo, hi = int(lo), int(hi)
    return max(1, max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length() if hi > 0 else 0) + 1)


def _ceil8(bits: int) -> int:
    return (bits + 7) // 8 * 8


def _quantizers_used(params: LstmIntegerParams) -> list[str]:
    """The quantizers whose rounding the RTL performs (the tables bake in the others)."""
    return [f"{g}_acc" for g in params.gates] + ["cell_state", "output"]


def lstm_params(params: LstmIntegerParams, n_steps: int, pe: int, simd: int, in_bits: int, in_signed: bool,
                x_lshift: int, in_par: int = 1, out_par: int = 1, mul_lut: bool | None = None) -> dict:
    """The contents of package lstm_cfg (sizes, widths, shifts, modes, ranges), validated.

    Raises ValueError for a folding the unit cannot do (:func:`check_folding`), a rounding
    mode it does not implement (naming the quantizer), a reversed cell, non-zero initial
    states or an unsigned output quantizer."""
    spec, q = params.spec, params.spec.quant
    F, H = spec.features, spec.hidden
    _check_positive(n_steps=n_steps, in_bits=in_bits)
    check_folding(F, H, pe, simd, in_par, out_par)
    if not isinstance(x_lshift, (int, np.integer)) or x_lshift < 0:
        raise ValueError(f"x_lshift must be an integer >= 0, got {x_lshift!r}")
    if spec.reverse:
        raise ValueError(f"LSTM cell {spec.name!r} runs backwards in time; the RTL unit runs forwards only")
    if np.any(spec.h0) or np.any(spec.c0):
        raise ValueError(f"LSTM cell {spec.name!r} has non-zero initial states; the RTL unit starts every sequence from h = c = 0")
    for name in _quantizers_used(params):
        mode = q[name].rounding
        if mode not in RTL_ROUNDING:
            raise ValueError(f"LSTM quantizer {name!r} rounds with {mode!r}; the RTL LSTM unit implements {', '.join(RTL_ROUNDING)}")
    if not q["output"].signed:
        raise ValueError("LSTM quantizer 'output' (the hidden state) is unsigned; the RTL unit streams h as signed codes")
    gates = params.gates
    ng = len(gates)

    # input, weights and the dot-product bound (any codes in range)
    xlo, xhi = ((-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if in_signed else (0, (1 << in_bits) - 1))
    xmax = max(abs(xlo), abs(xhi)) << x_lshift
    hq = q["output"]
    hmax = max(abs(hq.lo), abs(hq.hi))
    wmin = min(int(min(params.w_x[g].min(initial=0), params.w_h[g].min(initial=0))) for g in gates)
    wmax = max(int(max(params.w_x[g].max(initial=0), params.w_h[g].max(initial=0))) for g in gates)
    dot_bound = {g: np.abs(params.w_x[g]).sum(1) * xmax + np.abs(params.w_h[g]).sum(1) * hmax for g in gates}
    bmax = max(int(dot_bound[g].max()) for g in gates)
    acc_bound = max(int(((dot_bound[g] << params.acc_lshift[g]) + np.abs(params.bias[g])).max()) for g in gates)
    bias_lo = min(int(params.bias[g].min()) for g in gates)
    bias_hi = max(int(params.bias[g].max()) for g in gates)

    accq = [q[f"{g}_acc"] for g in gates]
    tabq = [q[GATE_TABLES[g]] for g in gates]
    cq, tq = q["cell_state"], q["hidden_state_tanh"]
    for name, inp in [(GATE_TABLES[g], f"{g}_acc") for g in gates] + [("hidden_state_tanh", "cell_state")]:
        if params.table_lo[name] != q[inp].lo or params.tables[name].size != q[inp].hi - q[inp].lo + 1:
            raise ValueError(f"table {name!r} does not cover the codes of quantizer {inp!r}")
    s = params.shifts
    p = {
        "F": F,
        "H": H,
        "NG": ng,
        "N_STEPS": int(n_steps),
        "PE": int(pe),
        "SIMD": int(simd),
        "NF": H // pe,
        "SF": (F + H) // simd,
        "WAW": max(1, math.ceil(math.log2(H // pe * ((F + H) // simd)))),
        "IN_BITS": int(in_bits),
        "IN_SIGNED": int(bool(in_signed)),
        "X_LSHIFT": int(x_lshift),
        "IN_PAR": int(in_par),
        "Q": math.gcd(in_par, simd),
        "INW": _ceil8(in_par * in_bits),
        "OUT_PAR": int(out_par),
        "OUTW": _ceil8(out_par * hq.bits),
        "WB": _sbits(wmin, wmax),
        "HB": hq.bits,
        "DOTW": _sbits(-bmax, bmax),
        "ACCW": max(params.accumulator_bits(), _sbits(-acc_bound, acc_bound)),
        "BW": _sbits(bias_lo, bias_hi),
        "TBW": max(_sbits(t.lo, t.hi) for t in tabq),
        "THW": _sbits(tq.lo, tq.hi),
        "CB": _sbits(cq.lo, cq.hi),
        "C_BITS": max(1, (cq.hi - cq.lo).bit_length()),
        "C_DEPTH": cq.hi - cq.lo + 1,
        "C_LO": cq.lo,
        "C_HI": cq.hi,
        "C_MODE": RTL_ROUNDING[cq.rounding],
        "H_LO": hq.lo,
        "H_HI": hq.hi,
        "H_MODE": RTL_ROUNDING[hq.rounding],
        "SH_FC": s["forget_cell"],
        "SH_IC": s["input_cell"],
        "SH_H": s["hidden"],
        "CIFG": int(spec.cifg),
        "ONES": params.ones,
        "GI_I": gates.index("input"),
        "GI_F": gates.index("forget") if "forget" in gates else 0,
        "GI_G": gates.index("cell"),
        "GI_O": gates.index("output"),
        "ACC_OW": max(_sbits(a.lo, a.hi) for a in accq),
        "ACC_IB": max(max(1, (a.hi - a.lo).bit_length()) for a in accq),
        "ACC_LSH": [params.acc_lshift[g] for g in gates],
        "ACC_SHIFT": [params.acc_shift[g] for g in gates],
        "ACC_MODE": [RTL_ROUNDING[a.rounding] for a in accq],
        "ACC_LO": [a.lo for a in accq],
        "ACC_HI": [a.hi for a in accq],
        "ACC_DEPTH": [a.hi - a.lo + 1 for a in accq],
    }
    p["MUL_LUT"] = int(p["WB"] <= 4 if mul_lut is None else bool(mul_lut))
    return p


def _hex_lines(words, bits: int) -> str:
    digits = max(1, (bits + 3) // 4)
    mask = (1 << bits) - 1
    return "".join(f"{int(w) & mask:0{digits}x}\n" for w in words)


def _pack_rows(values: np.ndarray, bits: int) -> list[int]:
    """Rows of integers -> one word per row, element 0 in the least significant bits."""
    mask = (1 << bits) - 1
    out = []
    for row in np.asarray(values, np.int64).tolist():
        word = 0
        for i, v in enumerate(row):
            word |= (int(v) & mask) << (i * bits)
        out.append(word)
    return out


def weight_words(params: LstmIntegerParams, pe: int, simd: int) -> list[int]:
    """The weight ROM: word nf * SF + sf holds, at bits ((pe * NG + gi) * SIMD + s) * WB, the
    weight of hidden unit nf * PE + pe, gate gi, column sf * SIMD + s of [W_x | W_h]."""
    gates = params.gates
    w = np.stack([np.concatenate([params.w_x[g], params.w_h[g]], axis=1) for g in gates])  # (NG, H, F+H)
    ng, hidden, cols = w.shape
    nf, sf = hidden // pe, cols // simd
    rows = w.reshape(ng, nf, pe, sf, simd).transpose(1, 3, 2, 0, 4).reshape(nf * sf, pe * ng * simd)
    wmin, wmax = int(w.min(initial=0)), int(w.max(initial=0))
    return _pack_rows(rows, _sbits(wmin, wmax))


def _package(p: dict, roms: dict[str, str | list[str]]) -> str:
    lines = ["// Generated by melflow.rtl.lstm.write_lstm_rtl: do not edit.", "package lstm_cfg;"]
    for name, value in p.items():
        if isinstance(value, list):
            kind = "longint" if name in ("ACC_LO", "ACC_HI") else "int"
            lines.append(f"  localparam {kind} {name} [NG] = '{{{', '.join(str(v) for v in value)}}};")
        elif name in ("C_LO", "C_HI", "H_LO", "H_HI"):
            lines.append(f"  localparam longint {name} = {value};")
        elif name in ("IN_SIGNED", "CIFG", "MUL_LUT"):
            lines.append(f"  localparam bit {name} = 1'b{value};")
        else:
            lines.append(f"  localparam int {name} = {value};")
    for name, file in roms.items():
        if isinstance(file, list):
            lines.append(f"  localparam string {name} [NG] = '{{{', '.join(f'{chr(34)}{f}{chr(34)}' for f in file)}}};")
        else:
            lines.append(f'  localparam string {name} = "{file}";')
    lines.append("endpackage")
    return "\n".join(lines) + "\n"


def write_lstm_rtl(out_dir: str | Path, params: LstmIntegerParams, n_steps: int, pe: int = 1, simd: int = 1,
                   in_bits: int = 8, in_signed: bool = True, x_lshift: int = 0, in_par: int = 1, out_par: int = 1,
                   mul_lut: bool | None = None, rom_prefix: str = "") -> dict:
    """Write the LSTM unit for ``params`` into ``out_dir``.

    ``n_steps`` time steps per sequence; the folding ``pe`` (hidden units in parallel) and
    ``simd`` ([x; h] elements per cycle); the input stream's codes (``in_bits``, ``in_signed``,
    ``in_par`` per beat, seen by the cell as ``code << x_lshift``) and ``out_par`` h codes per
    output beat. ``mul_lut`` builds the weight products from shifts and adds (LUTs) instead of
    multipliers synthesis may put in DSP slices; default: for weights of at most 4 bits.
    ROM images are named ``<rom_prefix>lstm_*.dat`` (FINN's extension for memory images; a
    prefix such as the node's name keeps them apart in a stitched design's folder).

    Returns the interface (also saved as ``lstm.json``): top, files (compile order),
    data_files (``$readmemh`` images, read relative to the working folder), the stream
    widths and packing, the estimated cycles per step and sequence, and the package values.
    """
    p = lstm_params(params, n_steps, pe, simd, in_bits, in_signed, x_lshift, in_par, out_par, mul_lut)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gates = params.gates
    if not isinstance(rom_prefix, str) or any(ch in rom_prefix for ch in ' "/\\'):
        raise ValueError(f"rom_prefix must be a plain file-name prefix, got {rom_prefix!r}")
    images = {
        "WEIGHT_ROM": (f"{rom_prefix}lstm_weights.dat", _hex_lines(weight_words(params, pe, simd), pe * p["NG"] * simd * p["WB"])),
        "BIAS_ROM": (f"{rom_prefix}lstm_bias.dat", _hex_lines(_pack_rows(np.stack([params.bias[g] for g in gates], 1), p["BW"]), p["NG"] * p["BW"])),
        "TANH_H_ROM": (f"{rom_prefix}lstm_tanh_h.dat", _hex_lines(params.tables["hidden_state_tanh"], p["THW"])),
    }
    gate_files = []
    for g in gates:
        file = f"{rom_prefix}lstm_{GATE_TABLES[g]}.dat"
        images[f"_{g}"] = (file, _hex_lines(params.tables[GATE_TABLES[g]], p["TBW"]))
        gate_files.append(file)
    for file, text in images.values():
        (out / file).write_text(text)
    roms: dict[str, str | list[str]] = {k: f for k, (f, _) in images.items() if not k.startswith("_")}
    roms["GATE_ROM"] = gate_files
    (out / PACKAGE).write_text(_package(p, roms))
    files = copy_hdl(out, "lstm", SOURCES)

    F, H = params.spec.features, params.spec.hidden
    iface = {
        "top": TOP,
        "files": [PACKAGE, *files],
        "data_files": sorted(f for f, _ in images.values()),
        "features": F,
        "hidden": H,
        "n_steps": int(n_steps),
        "gates": list(gates),
        "pe": int(pe),
        "simd": int(simd),
        "in_bits": int(in_bits),
        "in_signed": bool(in_signed),
        "x_lshift": int(x_lshift),
        "in_par": int(in_par),
        "in_width": p["INW"],
        "out_bits": p["HB"],
        "out_par": int(out_par),
        "out_width": p["OUTW"],
        "in_beats_per_sequence": int(n_steps) * F // in_par,
        "out_beats_per_sequence": H // out_par,
        "cycles_per_step": lstm_cycles_per_step(F, H, pe, simd, in_par),
        "cycles_per_sequence": lstm_cycles_per_sequence(F, H, n_steps, pe, simd, in_par),
        "params": p,
    }
    (out / "lstm.json").write_text(json.dumps(iface, indent=2))
    return iface


