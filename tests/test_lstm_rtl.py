"""RTL LSTM unit (hw/rtl/lstm) against the golden model: every output code of the unit must
equal ``run_integer``'s last hidden state (docs/lstm.md, "RTL LSTM unit").

Each configuration is verilated once and simulated once: random input and a reset in the
middle of a step, then a few sequences back to back without stalls (which measures the
cycles per sequence), then every sequence back to back through cocotbext-axi with random
input gaps and output backpressure.

* random cells (the generator of tests/test_crnn.py with chosen sizes: random exponents, bit
  widths, narrow ranges, all four rounding modes, CIFG) at foldings that reach the corners
  of the control: PE = SIMD = 1, more PEs than SIMD folds (idle issue slots), an
  input-bound unit, one step per sequence with a nearly stalled output, Booth and plain
  multipliers, 4- and 6-bit weights, signed and unsigned inputs;
* the real cell shape (F = 160, H = 48, 25 steps) with the weights of an exported CRNN, fed
  the conv spine's own codes, at a fast folding;
* the analytic cycle estimate against the measurement;
* what the writer refuses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from melflow.compiler.lstm_cell import (
    GATES,
    CellSpec,
    Quantizer,
    integer_params,
    run_integer,
)
from melflow.compiler.lstm_hw import lstm_golden
from melflow.rtl.lstm import (
    lstm_cycles_per_step,
    lstm_params,
    write_lstm_rtl,
)

pytestmark = pytest.mark.slow

MODES = ("ROUND", "FLOOR", "CEIL", "ROUND_TO_ZERO")


def random_cell(rng, hidden: int, features: int, cifg: bool, weight_bits: int = 4, full_range_h: bool = False) -> CellSpec:
    """tests/test_crnn.py's random cell with chosen sizes, CIFG and weight width: random
    exponents (the accumulators', the state's, the bias grid), activation bit widths,
    narrow ranges and rounding modes. `full_range_h` gives the hidden state the exponent of
    a real model's io quantizer (range [-1, 1), bits - 1), as in the CRNN; a random one
    often leaves h a code or two wide, too small for the recurrence to show."""
    bits = int(rng.integers(3, 9))

    def make(name, signed, k=None):
        k = int(rng.integers(-1, 9)) if k is None else k
        return Quantizer(name, 2.0**-k, 0.0, bits, signed, signed and bool(rng.integers(2)), str(rng.choice(MODES)))

    quant = {q: make(q, True) for q in ("cell_state", "input_acc", "forget_acc", "cell_acc", "output_acc")}
    quant["output"] = make("output", True, bits - 1 if full_range_h else None)
    quant.update({q: make(q, False, bits) for q in ("input_sigmoid", "forget_sigmoid", "output_sigmoid")})
    quant.update({q: make(q, True, bits - 1) for q in ("cell_tanh", "hidden_state_tanh")})
    if cifg:  # Brevitas exports the forget quantizers in the input's place
        quant["input_acc"], quant["input_sigmoid"] = quant["forget_acc"], quant["forget_sigmoid"]
    wmax = 2 ** (weight_bits - 1) - 1
    kw, kb = int(rng.integers(1, 5)), int(rng.integers(0, 14))  # kb > kw + k_out: a finer bias grid
    w = lambda *shape: (rng.integers(-wmax, wmax + 1, shape) * 2.0**-kw).astype(np.float32)
    zeros = np.zeros((1, hidden), np.float32)
    return CellSpec(
        "random", bool(rng.integers(2)), False, cifg, quant,
        {g: w(hidden, features) for g in GATES}, {g: w(hidden, hidden) for g in GATES},
        {g: (rng.integers(-3000, 3000, hidden) * 2.0**-kb).astype(np.float32) for g in GATES}, zeros, zeros,
    )


def _codes(rng, shape, bits: int, signed: bool) -> np.ndarray:
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    return rng.integers(lo, hi, shape)


def _reference(p, codes, x_lshift) -> np.ndarray:
    """The last hidden state straight from run_integer (float input on the io grid, the
    cell's own layout), independent of lstm_golden's plumbing."""
    x = (codes << x_lshift) * 2.0 ** -p.k["output"]
    if not p.spec.batch_first:
        x = np.swapaxes(x, 0, 1)
    return run_integer(p, x)[1]


# name -> (cell: hidden, features, cifg, weight bits, full-range h; unit: write_lstm_rtl
#          arguments; sequences, p_gap, p_backpressure)
RANDOM_CONFIGS = {
    # the smallest folding on a tiny cell; the CRNN's 4-bit ReLU codes shifted by 3
    "tiny_pe1_simd1": ((3, 5, False, 4, True), {"n_steps": 3, "pe": 1, "simd": 1, "in_bits": 4, "in_signed": False, "x_lshift": 3, "in_par": 5, "out_par": 3}, 6, 0.3, 0.3),
    # PE=4 > SF=3: idle issue slots between the two neuron folds; 6-bit weights (3 Booth digits)
    "pe_over_sf_cifg": ((8, 4, True, 6, False), {"n_steps": 4, "pe": 4, "simd": 4, "in_bits": 5, "in_signed": True, "x_lshift": 1, "in_par": 2, "out_par": 4}, 5, 0.5, 0.5),
    # input-bound (48 cycles of input per 40 of compute), one step per sequence, a nearly
    # stalled output (the last step waits for the output FIFO), plain multipliers
    "input_bound_dsp": ((2, 48, False, 4, False), {"n_steps": 1, "pe": 2, "simd": 2, "in_bits": 4, "in_signed": True, "x_lshift": 0, "in_par": 1, "out_par": 1, "mul_lut": False}, 8, 0.2, 0.9),
}


def wrong_state_variants(p, codes, x_lshift: int, n_steps: int) -> dict[str, np.ndarray]:
    """The last h of each sequence as a unit that mishandles the state would give it: h
    ignored (with more than one step), or h or c carried over from the previous sequence
    instead of starting from 0."""
    hidden, x, n = p.spec.hidden, codes << x_lshift, len(codes)
    zero = np.zeros((1, hidden), np.int64)
    out = {}
    if n_steps > 1:
        h, c = np.zeros((n, hidden), np.int64), np.zeros((n, hidden), np.int64)
        for t in range(n_steps):
            h, c = p.step(x[:, t], np.zeros_like(h), c)
        out["no_recurrence"] = h
    for carry in ("h", "c"):
        h, c, last = zero, zero, []
        for s in range(n):
            h, c = (h, zero) if carry == "h" else (zero, c)
            for t in range(n_steps):
                h, c = p.step(x[s : s + 1, t], h, c)
            last.append(h[0])
        out[f"{carry}_carried_over"] = np.array(last)
    return out


def draw_random_case(name: str):
    """The cell and input codes of configuration `name`, deterministic per name. Cells are
    drawn until the last h takes at least 4 values on the test sequences and differs from
    every `wrong_state_variants` answer: many random cells barely feel h (small h codes,
    large accumulator shifts), and on those a unit that drops the recurrence or never
    resets its state would pass."""
    (hidden, features, cifg, wbits, full_h), rtl, n_seq, _, _ = RANDOM_CONFIGS[name]
    rng = np.random.default_rng(sorted(RANDOM_CONFIGS).index(name) + 11)
    for _ in range(2000):
        p = integer_params(random_cell(rng, hidden, features, cifg, wbits, full_h))
        codes = _codes(rng, (n_seq, rtl["n_steps"], features), rtl["in_bits"], rtl["in_signed"])
        expected = _reference(p, codes, rtl["x_lshift"])
        wrong = wrong_state_variants(p, codes, rtl["x_lshift"], rtl["n_steps"])
        if len(np.unique(expected)) >= 4 and all((w != expected).any() for w in wrong.values()):
            return p, codes, expected
    raise AssertionError(f"{name}: no random cell feels its state")


@pytest.fixture(scope="module", params=list(RANDOM_CONFIGS))
def random_run(request, tmp_path_factory):
    from melflow.sim.lstm import simulate_lstm

    name = request.param
    _, rtl, _, p_gap, p_bp = RANDOM_CONFIGS[name]
    p, codes, expected = draw_random_case(name)
    out = tmp_path_factory.mktemp(f"lstm_{name}")
    iface = write_lstm_rtl(out / "rtl", p, **rtl)
    res = simulate_lstm(out / "rtl", out / "sim", p, codes, p_gap=p_gap, p_backpressure=p_bp, n_timing=3, reset_mid_sequence=True, seed=1)
    return {"name": name, "params": p, "codes": codes, "expected": expected, "iface": iface, "res": res}


def test_random_cells_bit_exact(random_run):
    r = random_run
    res, expected, iface = r["res"], r["expected"], r["iface"]
    assert not res.mismatches, f"{r['name']}: RTL differs from the golden model on {res.mismatches}"
    assert res.outputs.shape == expected.shape and np.array_equal(res.outputs, expected), r["name"]
    # the testbench compared with lstm_golden; it is run_integer on the same codes
    assert np.array_equal(lstm_golden(r["params"], r["codes"], iface["x_lshift"]), expected)


def test_random_cells_cover_every_rounding_mode():
    """The random cells together round with all four modes in the quantizers the RTL rounds
    with (accumulators, cell state, hidden state), so every mode of lstm_shr is checked bit
    for bit (ROUND is also the real cell's)."""
    used = set()
    for name in RANDOM_CONFIGS:  # the same cells as random_run's
        p, _, _ = draw_random_case(name)
        used |= {p.spec.quant[q].rounding for q in [f"{g}_acc" for g in p.gates] + ["cell_state", "output"]}
    assert used == set(MODES), used


@pytest.fixture(scope="module")
def crnn_cell(tmp_path_factory):
    """The LSTM of the shipped CRNN configuration (F = 160, H = 48, 25 steps), exported after
    a few calibration passes, and the sequences its conv spine makes of random log-Mel codes
    (4-bit ReLU codes, which the LSTM sees shifted by 3)."""
    import torch

    from melflow.compiler.lstm_cell import integer_lstm_tables
    from melflow.nn import build_model
    from melflow.train.trainer import export_onnx, load_config

    torch.manual_seed(0)
    spec, _ = load_config(Path(__file__).resolve().parents[1] / "models" / "kws_crnn.yaml")
    model = build_model(spec)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randint(-128, 128, (4, 1, 98, 40)).float())
    model.eval()
    p = integer_lstm_tables(export_onnx(model, tmp_path_factory.mktemp("crnn") / "crnn.onnx", 98, 40))
    with torch.no_grad():
        seq = model.sequence(torch.randint(-128, 128, (3, 1, 98, 40)).float())
        xq = model.lstm.layers[0][0].io_quant(seq)
        xq = getattr(xq, "value", xq).numpy()
    relu_bits = model.cfg.act_bits
    codes = np.ldexp(xq.astype(np.float64), relu_bits).astype(np.int64)  # the ReLU's codes 0..15
    assert np.array_equal(np.ldexp(codes.astype(np.float64), -relu_bits), xq)
    x_lshift = p.k["output"] - relu_bits
    return p, codes, relu_bits, x_lshift


REAL_FOLD = {"pe": 4, "simd": 8, "in_par": 8, "out_par": 4}


@pytest.fixture(scope="module")
def real_run(crnn_cell, tmp_path_factory):
    from melflow.sim.lstm import simulate_lstm

    p, spine_codes, relu_bits, x_lshift = crnn_cell
    rng = np.random.default_rng(5)
    codes = np.concatenate([spine_codes, rng.integers(0, 1 << relu_bits, (1, 25, 160)), np.full((1, 25, 160), (1 << relu_bits) - 1)])
    out = tmp_path_factory.mktemp("lstm_crnn")
    iface = write_lstm_rtl(out / "rtl", p, n_steps=25, in_bits=relu_bits, in_signed=False, x_lshift=x_lshift, **REAL_FOLD)
    res = simulate_lstm(out / "rtl", out / "sim", p, codes, p_gap=0.3, p_backpressure=0.3, n_timing=3, reset_mid_sequence=True, seed=2)
    return p, codes, x_lshift, iface, res


def test_real_crnn_cell_bit_exact(real_run):
    p, codes, x_lshift, iface, res = real_run
    assert (p.spec.features, p.spec.hidden) == (160, 48) and x_lshift == 3
    expected = _reference(p, codes, x_lshift)
    assert not res.mismatches, res.mismatches
    assert np.array_equal(res.outputs, expected)
    assert all(len(np.unique(h)) > 8 for h in expected)  # the hidden state is not stuck
    assert iface["params"]["ACCW"] == p.accumulator_bits()


def _check_estimate(iface, res):
    est = lstm_cycles_per_step(iface["features"], iface["hidden"], iface["pe"], iface["simd"], iface["in_par"])
    assert res.cycles_per_step > 0
    assert abs(est - res.cycles_per_step) <= 0.1 * res.cycles_per_step, (iface["pe"], iface["simd"], est, res.cycles_per_step)
    assert abs(iface["cycles_per_sequence"] - res.cycles_per_sequence) <= 0.1 * res.cycles_per_sequence


def test_cycle_estimate_within_10_percent(random_run):
    """lstm_cycles_per_step against the cycles measured without stalls (the interval between
    consecutive outputs over n_steps), compute-bound and input-bound."""
    _check_estimate(random_run["iface"], random_run["res"])


def test_cycle_estimate_of_the_real_cell(real_run):
    """The same for the real cell, whose fast folding stays within 400 cycles per step."""
    iface, res = real_run[3], real_run[4]
    _check_estimate(iface, res)
    assert res.cycles_per_step <= 400


def test_writer_refuses_what_the_unit_cannot_do(tmp_path):
    rng = np.random.default_rng(0)
    spec = random_cell(rng, 6, 4, False)
    p = integer_params(spec)
    ok = {"n_steps": 2, "pe": 2, "simd": 2, "in_bits": 4, "in_signed": False, "x_lshift": 0}
    lstm_params(p, **ok)  # the baseline is accepted
    with pytest.raises(ValueError, match="PE=4 must divide the hidden size H=6"):
        lstm_params(p, **{**ok, "pe": 4})
    with pytest.raises(ValueError, match="SIMD=3 must divide both the input size F=4 and the hidden size H=6"):
        lstm_params(p, **{**ok, "simd": 3})
    with pytest.raises(ValueError, match="SIMD=4 must divide both"):
        lstm_params(p, **{**ok, "simd": 4})  # divides F, not H
    with pytest.raises(ValueError, match="IN_PAR=3 must divide the input size F=4"):
        lstm_params(p, **{**ok, "in_par": 3})
    with pytest.raises(ValueError, match="OUT_PAR=4 must divide the hidden size H=6"):
        lstm_params(p, **{**ok, "out_par": 4})
    with pytest.raises(ValueError, match="pe must be a positive integer"):
        lstm_params(p, **{**ok, "pe": 0})
    with pytest.raises(ValueError, match="x_lshift"):
        lstm_params(p, **{**ok, "x_lshift": -1})
    # a rounding mode lstm_shr does not implement, named with its quantizer
    for q in ("cell_state", "output", "cell_acc"):
        bad = dataclasses.replace(p, spec=dataclasses.replace(spec, quant={**spec.quant, q: dataclasses.replace(spec.quant[q], rounding="STOCHASTIC_ROUND")}))
        with pytest.raises(ValueError, match=f"quantizer '{q}' rounds with 'STOCHASTIC_ROUND'"):
            write_lstm_rtl(tmp_path / q, bad, **ok)
        assert not (tmp_path / q).exists()  # refused before anything is written
    # every mode the golden model knows is accepted
    for mode in MODES:
        lstm_params(dataclasses.replace(p, spec=dataclasses.replace(spec, quant={q: dataclasses.replace(v, rounding=mode) for q, v in spec.quant.items()})), **ok)
    with pytest.raises(ValueError, match="non-zero initial states"):
        lstm_params(dataclasses.replace(p, spec=dataclasses.replace(spec, c0=np.ones_like(spec.c0))), **ok)
    with pytest.raises(ValueError, match="backwards"):
        lstm_params(dataclasses.replace(p, spec=dataclasses.replace(spec, reverse=True)), **ok)


def test_writer_files_and_weight_layout(tmp_path):
    """What write_lstm_rtl leaves in the folder, and the weight ROM decoded back: word
    nf * SF + sf, field (pe * NG + gi) * SIMD + s is W[gi][nf * PE + pe, sf * SIMD + s] of
    [W_x | W_h] (what lstm_mac reads)."""
    rng = np.random.default_rng(3)
    p = integer_params(random_cell(rng, 6, 4, True))
    iface = write_lstm_rtl(tmp_path, p, n_steps=2, pe=3, simd=2, in_bits=4, in_signed=False, x_lshift=3, rom_prefix="node7_")
    assert iface["files"][0] == "lstm_cfg.sv" and iface["files"][-1] == "lstm_unit.sv"
    assert all((tmp_path / f).is_file() for f in iface["files"] + iface["data_files"])
    assert all(f.startswith("node7_lstm_") and f.endswith(".dat") for f in iface["data_files"])
    assert len(iface["data_files"]) == 2 + 1 + len(p.gates)  # weights, biases, tanh(c), one table per gate
    package = (tmp_path / "lstm_cfg.sv").read_text()
    assert all(f'"{f}"' in package for f in iface["data_files"])
    prm = iface["params"]
    assert (prm["NG"], prm["CIFG"], prm["IN_SIGNED"]) == (3, 1, 0)
    wb, ng, pe, simd = prm["WB"], prm["NG"], 3, 2
    words = [int(line, 16) for line in (tmp_path / "node7_lstm_weights.dat").read_text().split()]
    w = {g: np.concatenate([p.w_x[g], p.w_h[g]], axis=1) for g in p.gates}
    sf_n = (4 + 6) // simd
    assert len(words) == (6 // pe) * sf_n
    for addr, word in enumerate(words):
        nf, sf = divmod(addr, sf_n)
        for pi in range(pe):
            for gi, g in enumerate(p.gates):
                for s in range(simd):
                    v = (word >> (((pi * ng + gi) * simd + s) * wb)) & ((1 << wb) - 1)
                    v -= (v >> (wb - 1)) << wb
                    assert v == w[g][nf * pe + pi, sf * simd + s]
    with pytest.raises(ValueError, match="rom_prefix"):
        write_lstm_rtl(tmp_path / "bad", p, n_steps=2, rom_prefix="a/b")
