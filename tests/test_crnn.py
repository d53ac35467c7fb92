"""The CRNN (issue #4): the model, its QONNX export, the integer semantics of its
QuantLSTMCell against Brevitas, and the recurrent layers the compiler refuses by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from brevitas.nn import QuantLSTM
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPoint,
)

from melflow.compiler.execute import execute_stage
from melflow.compiler.flow import compile_qonnx
from melflow.compiler.lstm_cell import (
    GATES,
    TABLES,
    CellSpec,
    Quantizer,
    check_recurrent_supported,
    find_cells,
    integer_lstm_tables,
    integer_params,
    run_float,
    run_integer,
    shift_round,
)
from melflow.core import MelflowError
from melflow.nn import build_model
from melflow.train.features import manifest_features
from melflow.train.trainer import export_onnx, predict, train_from_config

TINY_CRNN = {"name": "kws_crnn", "channels": [4, 8, 8], "time_stride": [2, 2, 2], "hidden": 16}
FIXED_POINT = {
    "weight_quant": Int8WeightPerTensorFixedPoint, "weight_bit_width": 4, "io_quant": Int8ActPerTensorFixedPoint,
    "gate_acc_quant": Int8ActPerTensorFixedPoint, "sigmoid_quant": Uint8ActPerTensorFixedPoint,
    "tanh_quant": Int8ActPerTensorFixedPoint, "cell_state_quant": Int8ActPerTensorFixedPoint,
}


def _qonnx(path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(ModelWrapper(str(path)))


def _calibrate(module, make_input, steps=3):
    """A few training-mode passes so that Brevitas' runtime-statistics scales are set."""
    module.train()
    with torch.no_grad():
        for _ in range(steps):
            module(make_input())
    return module.eval()


def test_forward_shapes_registry_and_unknown_keys():
    model = build_model({"name": "kws_crnn"})
    assert (model.steps, model.step_features) == (25, 160)
    assert model(torch.zeros(2, 1, 98, 40)).shape == (2, 12)
    assert model.sequence(torch.zeros(2, 1, 98, 40)).shape == (2, 25, 160)
    assert 40_000 < sum(p.numel() for p in model.parameters()) < 70_000  # fits a PYNQ-Z2 on chip
    short = build_model(TINY_CRNN)
    assert short.steps == 13 and short(torch.zeros(1, 1, 98, 40)).shape == (1, 12)
    with pytest.raises(MelflowError, match="hiden"):
        build_model({"name": "kws_crnn", "hiden": 32})
    with pytest.raises(MelflowError, match="time_stride"):
        build_model({**TINY_CRNN, "time_stride": [2, 3, 1]})


def test_shift_round_is_the_float_quantizer_on_a_power_of_two_grid():
    v = np.random.default_rng(0).integers(-5000, 5000, 4000)
    v = np.concatenate([v, np.arange(-40, 41)])  # every tie at small shifts
    for mode, fn in (("ROUND", np.round), ("FLOOR", np.floor), ("CEIL", np.ceil), ("ROUND_TO_ZERO", np.trunc)):
        for n in (-2, 0, 1, 2, 5):
            assert np.array_equal(shift_round(v, n, mode), fn(np.ldexp(v.astype(np.float64), -n))), (mode, n)


def test_tables_match_torch_float32_for_every_exponent():
    """The sigmoid/tanh tables equal Brevitas' quantized activations (torch's float32
    sigmoid/tanh, rounded half to even) for every input code, over the exponents and bit
    widths a cell can have. (Directed rounding modes are not compared: torch's float32
    sigmoid is not correctly rounded and flushes subnormals to zero, which FLOOR/CEIL see;
    docs/lstm.md.)"""
    from melflow.compiler.lstm_cell import _table

    for k_in in range(-3, 10):
        inp = Quantizer("acc", 2.0**-k_in, 0.0, 8, True, False, "ROUND")
        x = torch.arange(inp.lo, inp.hi + 1, dtype=torch.float32) * 2.0**-k_in
        for bits in range(2, 9):
            for fn_t, fn_np, signed, k_out in ((torch.sigmoid, TABLES["input_sigmoid"][1], False, bits), (torch.tanh, np.tanh, True, bits - 1)):
                out = Quantizer("act", 2.0**-k_out, 0.0, bits, signed, False, "ROUND")
                ref = torch.clamp(torch.round(fn_t(x) / 2.0**-k_out), out.lo, out.hi).numpy().astype(np.int64)
                assert np.array_equal(_table(inp, k_in, out, k_out, fn_np), ref), (fn_t, k_in, bits)


def _random_cell(rng) -> CellSpec:
    """A cell with random sizes, exponents, bit widths, rounding modes and options."""
    hidden, features, bits = int(rng.integers(2, 9)), int(rng.integers(2, 12)), int(rng.integers(3, 9))

    def make(name, signed, k=None):
        k = int(rng.integers(-1, 9)) if k is None else k
        mode = str(rng.choice(["ROUND", "FLOOR", "CEIL", "ROUND_TO_ZERO"]))
        return Quantizer(name, 2.0**-k, 0.0, bits, signed, signed and bool(rng.integers(2)), mode)

    quant = {q: make(q, True) for q in ("output", "cell_state", "input_acc", "forget_acc", "cell_acc", "output_acc")}
    quant.update({q: make(q, False, bits) for q in ("input_sigmoid", "forget_sigmoid", "output_sigmoid")})
    quant.update({q: make(q, True, bits - 1) for q in ("cell_tanh", "hidden_state_tanh")})
    cifg = bool(rng.integers(2))
    if cifg:  # Brevitas exports the forget quantizers in the input's place
        quant["input_acc"], quant["input_sigmoid"] = quant["forget_acc"], quant["forget_sigmoid"]
    kw, kb = int(rng.integers(1, 5)), int(rng.integers(0, 14))  # kb > kw + k_out: a finer bias grid
    w = lambda *shape: (rng.integers(-7, 8, shape) * 2.0**-kw).astype(np.float32)
    zeros = np.zeros((1, hidden), np.float32)
    return CellSpec(
        "random", bool(rng.integers(2)), bool(rng.integers(2)), cifg, quant,
        {g: w(hidden, features) for g in GATES}, {g: w(hidden, hidden) for g in GATES},
        {g: (rng.integers(-3000, 3000, hidden) * 2.0**-kb).astype(np.float32) for g in GATES}, zeros, zeros,
    )


def test_float_and_integer_paths_agree_on_random_cells():
    rng = np.random.default_rng(1)
    for _ in range(150):
        spec = _random_cell(rng)
        p = integer_params(spec)
        steps, batch, q = int(rng.integers(1, 8)), int(rng.integers(1, 4)), spec.quant["output"]
        shape = (batch, steps, spec.features) if spec.batch_first else (steps, batch, spec.features)
        x = (rng.integers(q.lo, q.hi + 1, shape) * q.scale).astype(np.float32)
        yf, hf, cf = run_float(spec, x)
        yi, hi, ci = run_integer(p, x)
        assert np.array_equal(yf, yi * q.scale) and np.array_equal(hf, hi * q.scale), spec
        assert np.array_equal(cf, ci * spec.quant["cell_state"].scale), spec


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    """A tiny CRNN trained for two epochs on the tiny corpus, with its QONNX export."""
    out = tmp_path_factory.mktemp("crnn")
    cfg = out / "crnn.yaml"
    cfg.write_text(yaml.safe_dump({"model": TINY_CRNN, "train": {"epochs": 2, "batch_size": 64}}))
    result = train_from_config(cfg, tiny_corpus, out=out / "crnn.pt")
    from melflow.train.trainer import load_checkpoint

    model, _ = load_checkpoint(out / "crnn.pt")
    return model, out / "crnn.onnx", result


def test_export_has_one_quant_lstm_cell_between_layout_nodes(trained):
    _, onnx_path, _ = trained
    model = _qonnx(onnx_path)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantLSTMCell") == 1
    i = ops.index("QuantLSTMCell")
    # (N, C, T, F) -> Transpose -> (N, T, F, C) -> Reshape -> (N, T, F*C) -> io Quant -> cell
    assert ops[i - 3 : i] == ["Transpose", "Reshape", "Quant"]
    cell = find_cells(model)[0]
    assert model.get_tensor_shape(cell.output[0]) == [1, 13, 16]
    assert model.get_tensor_shape(cell.output[1]) == [1, 16]
    check_recurrent_supported(model)


def test_integer_model_predicts_what_brevitas_predicts(trained, tiny_corpus):
    """Whole graph through FINN's execute_onnx (the cell on its integer path) against the
    Brevitas model, on random codes and on every clip of the test split.

    The logits are the integer logits the hardware returns times one positive scale (the
    classifier's weight scale, which is not a power of two, times the hidden state's). In
    float32 they agree to rounding only, because onnxruntime and torch sum the products in
    different orders; divided by that scale they are the same integers on every clip. The
    predicted classes then agree except where two classes tie exactly on the top integer
    logit and float rounding breaks the tie (a barely trained model has such ties)."""
    model, onnx_path, _ = trained
    qonnx = _qonnx(onnx_path)
    rng = np.random.default_rng(0)
    x_test, _, _ = manifest_features(tiny_corpus / "test.csv")
    x = np.concatenate([rng.integers(-128, 128, (4, 98, 40)).astype(np.int8), x_test])
    ref = predict(model, x)
    out = execute_stage(qonnx, x, "qonnx")
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    scale = float(model.classifier.quant_weight().scale) * 2.0 ** -(model.cfg.lstm_act_bits - 1)
    ints_ref, ints_out = ref / scale, out / scale
    np.testing.assert_allclose(ints_ref, np.round(ints_ref), atol=1e-3)
    assert np.array_equal(np.round(ints_out), np.round(ints_ref))
    same = out.argmax(1) == ref.argmax(1)
    top = np.round(ints_ref) == np.round(ints_ref).max(1, keepdims=True)
    tie = top.sum(1) > 1
    assert (same | tie).all(), np.flatnonzero(~same & ~tie)
    assert same[~tie].all() and same.mean() >= 0.95


def test_integer_cell_equals_brevitas_and_float_path(trained, tiny_corpus):
    """On the trained cell's real input sequences: Brevitas' QuantLSTM, the float reference
    and the integer path give the same hidden and cell states, bit for bit."""
    model, onnx_path, _ = trained
    p = integer_lstm_tables(onnx_path)
    x, _, _ = manifest_features(tiny_corpus / "test.csv")
    layer = model.lstm.layers[0][0]
    with torch.no_grad():
        seq = model.sequence(torch.from_numpy(x.astype(np.float32))[:, None])
        xq = layer.io_quant(seq)
        xq = getattr(xq, "value", xq)
        y, (h, c) = model.lstm(seq)
    yi, hi, ci = run_integer(p, xq.numpy())
    so, sc = 2.0 ** -p.k["output"], 2.0 ** -p.k["cell_state"]
    assert np.array_equal(yi * so, y.numpy()) and np.array_equal(hi * so, h[0].numpy()) and np.array_equal(ci * sc, c[0].numpy())
    yf, _, cf = run_float(p.spec, xq.numpy())
    assert np.array_equal(yf, y.numpy()) and np.array_equal(cf, c[0].numpy())
    # what the RTL will need: small integers, short accumulators, 256-entry tables
    assert all(np.abs(w).max() <= 7 for w in p.w_x.values()) and all(np.abs(w).max() <= 7 for w in p.w_h.values())
    assert p.accumulator_bits() < 24  # float32 sums them exactly: the float and integer paths agree
    assert all(t.size == 256 for t in p.tables.values())
    assert len(np.unique(yi)) > 8  # the hidden state is not stuck at a constant


def test_coupled_input_forget_gates_and_batch_major(tmp_path):
    """CIFG and a time-major sequence through the exported node, against Brevitas."""
    from brevitas.export import export_qonnx

    lstm = QuantLSTM(6, 5, batch_first=False, coupled_input_forget_gates=True, **FIXED_POINT)
    _calibrate(lstm, lambda: torch.randn(7, 4, 6))
    x = torch.randn(7, 3, 6)
    export_qonnx(lstm, x[:, :1], export_path=str(tmp_path / "cifg.onnx"), dynamo=False)
    p = integer_lstm_tables(tmp_path / "cifg.onnx")
    assert p.spec.cifg and not p.spec.batch_first
    with torch.no_grad():
        xq = lstm.layers[0][0].io_quant(x)
        xq = getattr(xq, "value", xq)
        y, _ = lstm(x)
    yi, _, _ = run_integer(p, xq.numpy())
    assert np.array_equal(yi * 2.0 ** -p.k["output"], y.numpy())


def _export_lstm(tmp_path, name, **kw):
    from brevitas.export import export_qonnx

    lstm = _calibrate(QuantLSTM(6, 5, batch_first=True, **kw), lambda: torch.randn(4, 7, 6))
    path = tmp_path / f"{name}.onnx"
    export_qonnx(lstm, torch.zeros(1, 7, 6), export_path=str(path), dynamo=False)
    return path


def test_unsupported_recurrent_layers_are_named(tmp_path):
    bi = _export_lstm(tmp_path, "bi", bidirectional=True, **FIXED_POINT)
    with pytest.raises(MelflowError, match=r"QuantLSTMCell.*bidirectional.*unidirectional, single-layer"):
        check_recurrent_supported(bi)
    stacked = _export_lstm(tmp_path, "stacked", num_layers=2, **FIXED_POINT)
    with pytest.raises(MelflowError, match=r"2 QuantLSTMCell nodes.*stacked"):
        check_recurrent_supported(stacked)
    float_scales = _export_lstm(tmp_path, "float", weight_bit_width=4)  # Brevitas' default float-scale quantizers
    with pytest.raises(MelflowError, match=r"QuantLSTMCell.*power-of-two"):
        check_recurrent_supported(float_scales)
    # ... though qonnx still executes it, on the float path
    from qonnx.core.onnx_exec import execute_onnx

    m = _qonnx(float_scales)
    out = execute_onnx(m, {m.graph.input[0].name: np.ones((1, 7, 6), np.float32)})
    assert np.isfinite(out[m.graph.output[0].name]).all()


def test_foreign_gru_is_named_by_the_compiler(tmp_path):
    class Gru(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(6, 5, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.gru(x)[0]

    path = tmp_path / "gru.onnx"
    torch.onnx.export(Gru().eval(), torch.zeros(1, 7, 6), str(path), dynamo=False)
    with pytest.raises(MelflowError, match=r"node '.*' \(op type GRU\) is a bidirectional float GRU.*QuantLSTM"):
        compile_qonnx(path, tmp_path / "out")


def test_export_of_the_default_model(tmp_path):
    """The YAML's model exports (brevitas export_qonnx, dynamo=False) and its cell passes the check."""
    from melflow.train.trainer import load_config

    spec, _ = load_config(Path(__file__).resolve().parents[1] / "models" / "kws_crnn.yaml")
    model = _calibrate(build_model(spec), lambda: torch.randint(-128, 128, (4, 1, 98, 40)).float(), steps=2)
    onnx_path = export_onnx(model, tmp_path / "crnn.onnx", 98, 40)
    p = integer_lstm_tables(onnx_path)
    assert (p.spec.hidden, p.spec.features) == (48, 160)
    assert p.accumulator_bits() < 24


@pytest.fixture(scope="module")
def compiled_crnn(trained, tmp_path_factory):
    """The tiny trained CRNN through the whole compiler (LstmUnit included) at 10k inferences/s."""
    from melflow.compiler.flow import CompileOptions

    _, onnx_path, _ = trained
    return compile_qonnx(onnx_path, tmp_path_factory.mktemp("crnn_build"), CompileOptions(target_fps=10_000))


def test_crnn_compiles_to_hw_layers_and_every_stage_agrees(compiled_crnn, trained, tiny_corpus):
    """ConvertLSTMToHW + FINN: the CRNN becomes FINN HW layers and one LstmUnit, and every
    stage (QONNX, FINN, streamlined, HW, dataflow, folded) gives the QONNX model's logits;
    the dataflow stages give them as the integer logits the hardware returns."""
    from melflow.compiler.execute import FULL_GRAPH_STAGES
    from melflow.compiler.flow import STAGES, as_int_array, layer_cycles

    c = compiled_crnn
    x, _, _ = manifest_features(tiny_corpus / "test.csv", limit=4)
    ref = execute_stage(c.model("qonnx"), x, "qonnx")
    for stage in STAGES[1:]:
        out = execute_stage(c.model(stage), x, stage)
        if stage not in FULL_GRAPH_STAGES:
            out = as_int_array(out) * c.output_scale
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(), err_msg=stage)
    ops = [n.op_type for n in c.model("folded").graph.node]
    assert ops.count("LstmUnit_rtl") == 1 and ops[-1] == "MVAU_rtl", ops
    cycles = layer_cycles(c.model("folded"))
    lstm = next(k for k in cycles if k.startswith("LstmUnit"))
    assert cycles[lstm] <= 10_000 and max(cycles.values()) <= 11_000, cycles


def test_lstm_the_unit_cannot_stream_is_named(tmp_path):
    """A bare QuantLSTM returns its cell state and every step's output: the LSTM unit streams
    only the last hidden state, and the compiler says so, naming the node."""
    alone = _export_lstm(tmp_path, "alone", **FIXED_POINT)
    with pytest.raises(MelflowError, match=r"QuantLSTMCell node 'QuantLSTMCell_0': output \d .* is used; the LSTM unit streams"):
        compile_qonnx(alone, tmp_path / "out")


def test_crnn_accelerator_is_bit_exact_in_rtl(trained, tiny_corpus, tmp_path):
    """The whole CRNN accelerator (conv layers from finn-plus, melflow's LSTM unit, the
    classifier MVAU, stitched by melflow) on real test clips in Verilator with random
    stalls: every logit equals the golden model's, and the LSTM's share of cycles and
    resources (FINN's estimate, and yosys on the unit alone) appears in the report."""
    from melflow.boards.build import build_accelerator

    ckpt = trained[1].with_suffix(".pt")
    report = build_accelerator(ckpt, "pynq-z2", tmp_path / "build", target_fps=10_000,
                               manifest=tiny_corpus / "test.csv", sim_clips=12, synth=False)
    sim = report["simulation"]
    assert sim["clips"] == 12 and sim["bit_exact_fraction"] == 1.0
    layers = {layer["name"]: layer for layer in report["layers"]}
    lstm = [k for k in layers if k.startswith("LstmUnit")]
    assert len(lstm) == 1 and layers[lstm[0]]["LUT"] > 0, list(layers)
    assert sim["cycles_per_inference"] <= 1.5 * report["estimate"]["cycles_per_inference"]
    (rec,) = report["recurrent"]
    assert rec["name"] == lstm[0] and 0 < rec["pct_of_layer_cycles"] < rec["pct_of_bottleneck"] <= 100
    assert 0 < rec["finn_pct"]["LUT"] < 100

    from qonnx.core.modelwrapper import ModelWrapper

    from melflow.boards.lstm import synthesize_lstm_nodes

    ipgen = ModelWrapper(str(tmp_path / "build" / "models" / "7_ipgen.onnx"))
    res = synthesize_lstm_nodes(ipgen, tmp_path / "synth_lstm")
    assert list(res) == lstm and res[lstm[0]]["LUT"] > 100 and res[lstm[0]]["DSP"] <= 3
