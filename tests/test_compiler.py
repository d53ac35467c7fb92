"""The compiler: every stage executes in Python and agrees with the QONNX model on real
features; unmappable layers are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantReLU
from qonnx.custom_op.registry import getCustomOp
from torch import nn

from melflow.boards.boards import load_board
from melflow.compiler.execute import FULL_GRAPH_STAGES, execute_stage
from melflow.compiler.flow import STAGES, CompileOptions, as_int_array, compile_qonnx
from melflow.core import MelflowError
from melflow.train.features import manifest_features
from melflow.train.trainer import export_onnx, load_checkpoint, predict


def _compile_for_pynq_z2(model, out):
    onnx = export_onnx(model, out / "model.onnx", model.cfg.n_frames, model.cfg.n_mels)
    board = load_board("pynq-z2")
    return compile_qonnx(onnx, out, CompileOptions(fpga_part=board.part, clk_ns=board.clk_ns))


@pytest.fixture(scope="module")
def compiled(shipped_model, tmp_path_factory):
    model, _ = load_checkpoint(shipped_model)
    return _compile_for_pynq_z2(model, tmp_path_factory.mktemp("compiled")), model


def _assert_stages_agree(c, model, x):
    torch_logits = predict(model, x)
    qonnx = execute_stage(c.model("qonnx"), x, "qonnx")
    # the exported QONNX model computes what Brevitas computes
    np.testing.assert_allclose(qonnx, torch_logits, rtol=1e-4, atol=1e-4 * np.abs(torch_logits).max())
    for stage in STAGES[1:]:
        out = execute_stage(c.model(stage), x, stage)
        if stage not in FULL_GRAPH_STAGES:
            out = as_int_array(out) * c.output_scale  # the integer logits the hardware returns
        np.testing.assert_allclose(out, qonnx, rtol=1e-4, atol=1e-4 * np.abs(qonnx).max(), err_msg=f"stage {stage}")
        assert (out.argmax(1) == qonnx.argmax(1)).all(), stage


def test_every_stage_agrees_with_qonnx(compiled, tiny_corpus):
    c, model = compiled
    x, _, _ = manifest_features(tiny_corpus / "test.csv", limit=6)
    _assert_stages_agree(c, model, x)


def test_per_channel_weight_scales_fold_into_thresholds(tiny_corpus, tmp_path):
    """Convolutions with a scale per output channel (`weight_scaling: per_channel`) lower to
    the same integer layers: FINN moves each scale behind its layer and streamlining folds it
    into the thresholds, so every stage still computes what Brevitas does."""
    from melflow.nn import build_model

    torch.manual_seed(0)
    model = build_model({"name": "kws_cnn", "channels": [4, 8, 8, 8], "head_channels": 8, "weight_scaling": "per_channel"})
    convs = [m for m in model.features if isinstance(m, QuantConv2d)]
    with torch.no_grad():  # channels of very different sizes: one per-tensor grid would not fit them all
        for conv in convs:
            conv.weight.mul_(torch.logspace(-1, 0.5, conv.out_channels)[:, None, None, None])
    x = _calibrate(model, tiny_corpus)
    scales = convs[1].quant_weight().scale.flatten()
    assert len(scales) == 8 and scales.max() > 3 * scales.min()
    _assert_stages_agree(_compile_for_pynq_z2(model, tmp_path), model, x[:6])


def _calibrate(model, corpus):
    """Batch-norm statistics and activation scales from real features; returns the features."""
    x, _, _ = manifest_features(corpus / "test.csv", limit=32)
    model.train()
    for _ in range(3):
        model(torch.from_numpy(x.astype(np.float32))[:, None])
    model.eval()
    return x


def test_stride_one_convolutions_lower_to_the_same_layers(tiny_corpus, tmp_path):
    """kws_cnn_deep puts stride-1 convolutions between the stride-2 ones: FINN's sliding window
    then steps by one pixel, and every stage still computes what Brevitas does."""
    from melflow.nn import build_model

    torch.manual_seed(0)
    model = build_model({"name": "kws_cnn", "channels": [4, 8, 8, 8, 8, 8], "stride": [2, 2, 2, 1, 2, 1], "head_channels": 8})
    x = _calibrate(model, tiny_corpus)
    c = _compile_for_pynq_z2(model, tmp_path)
    windows = [getCustomOp(n) for n in c.model("ipgen").graph.node if n.op_type.startswith("ConvolutionInputGenerator")]
    assert [w.get_nodeattr("Stride")[0] for w in windows if w.get_nodeattr("ConvKernelDim") == [3, 3]] == [2, 2, 2, 1, 2, 1]
    _assert_stages_agree(c, model, x[:6])


def test_compiler_writes_folded_rtl_layers(compiled):
    c, _ = compiled
    ops = [n.op_type for n in c.model("ipgen").graph.node]
    assert all(op.endswith("_rtl") for op in ops), ops
    assert {"MVAU_rtl", "Thresholding_rtl", "ConvolutionInputGenerator_rtl", "StreamingFIFO_rtl"} <= set(ops)


class _PooledNet(nn.Module):
    """A model with a max-pool, which has no RTL layer on the xc7z020."""

    def __init__(self):
        super().__init__()
        self.conv = QuantConv2d(1, 4, 3, padding=1, bias=False, weight_bit_width=4)
        self.act = QuantReLU(bit_width=4)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return torch.flatten(self.pool(self.act(self.conv(x))), 1)


def test_unmappable_layer_is_named(tmp_path):
    from brevitas.export import export_qonnx

    net = _PooledNet().eval()
    export_qonnx(net, torch.zeros(1, 1, 8, 8), export_path=str(tmp_path / "pool.onnx"), dynamo=False)
    with pytest.raises(MelflowError, match=r"MaxPool"):
        compile_qonnx(tmp_path / "pool.onnx", tmp_path / "out")


def test_unreadable_model_is_named(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(MelflowError, match="broken.onnx"):
        compile_qonnx(bad, tmp_path / "out")


def test_dsp48_packing_keeps_cycles_and_uses_fewer_slices():
    from melflow.compiler.folding import best_split, dsp48e1_cost

    for pe, simd, mh, mw in [(1, 216, 48, 216), (1, 9, 24, 9), (2, 36, 64, 576), (1, 1, 12, 96)]:
        p, s = best_split(pe, simd, mh, mw)
        assert p * s == pe * simd and mh % p == 0 and mw % s == 0
        assert dsp48e1_cost(p, s) <= dsp48e1_cost(pe, simd)
    assert best_split(1, 216, 48, 216) == (4, 54)


def test_folded_design_fits_the_pynq_z2(compiled):
    from functools import partial

    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    c, _ = compiled
    res = c.model("folded").analysis(partial(res_estimation, fpgapart=load_board("pynq-z2").part))
    assert sum(r.get("DSP", 0) for r in res.values()) <= load_board("pynq-z2").resources["DSP"]


def test_weights_move_to_lut_ram_when_block_ram_runs_out(compiled):
    """Given ten BRAM18s fewer than kws_cnn's weights take at 5,000/s, the weight memories that
    free the most for the fewest LUTs move to LUT RAM until FINN's estimate fits, and their LUTs
    are counted; with no LUT RAM to spare nothing moves."""
    from melflow.compiler.flow import layer_resources
    from melflow.compiler.memory import SpillWeightsToLutram, weight_lutram

    c, _ = compiled
    part = load_board("pynq-z2").part

    def totals(m):
        res = layer_resources(m, part)
        return [sum(r.get(k, 0) for r in res.values()) for k in ("BRAM_18K", "LUT", "LUTRAM")]

    bram, luts, lutram = totals(c.model("folded"))
    assert bram > 10 and lutram == 0
    spilled = c.model("folded").transform(SpillWeightsToLutram(part, bram - 10, 10**6))
    moved = [getCustomOp(n) for n in spilled.graph.node if n.op_type.startswith("MVAU")
             and getCustomOp(n).get_nodeattr("ram_style") == "distributed"]
    bram_after, luts_after, lutram_after = totals(spilled)
    assert moved and bram_after <= bram - 10
    assert lutram_after == sum(weight_lutram(i) for i in moved) > 0 and luts_after == luts + lutram_after
    assert totals(c.model("folded").transform(SpillWeightsToLutram(part, bram - 10, 0))) == [bram, luts, 0]
