"""End to end: the shipped model built for pynq-z2, real test clips streamed through the
stitched RTL in Verilator with random stalls, bit-exact against the golden model."""

from __future__ import annotations

import json

import pytest

from melflow.boards.boards import load_board
from melflow.boards.build import build_accelerator
from melflow.boards.report import misfit, write_report
from melflow.eval.evaluate import evaluate


@pytest.fixture(scope="module")
def build(shipped_model, tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    report = build_accelerator(shipped_model, "pynq-z2", out, manifest=tiny_corpus / "test.csv", sim_clips=20, synth=True)
    return out, report


def test_rtl_is_bit_exact_on_real_clips(build):
    out, report = build
    sim = report["simulation"]
    assert sim["clips"] == 20
    assert sim["bit_exact_fraction"] == 1.0
    # the simulated throughput is the bottleneck layer's, within FIFO effects
    est = report["estimate"]["cycles_per_inference"]
    assert 0.8 * est <= sim["cycles_per_inference"] <= 1.5 * est
    assert sim["latency_cycles"] >= sim["cycles_per_inference"]


def test_build_directory_follows_the_contract(build):
    out, report = build
    for rel in ["rtl/melflow_accel.sv", "rtl/interface.json", "report/report.json", "report/summary.md", "report/cycles.png", "folding_config.json", "build.json", "models/7_ipgen.onnx"]:
        assert (out / rel).exists(), rel
    summary = (out / "report" / "summary.md").read_text()
    assert "RTL simulation, 20 clips" in summary
    model_line = next(l for l in summary.splitlines() if l.startswith("Model:"))
    assert "nan" not in model_line  # the shipped model was trained on train and val alone: no test score to quote
    saved = json.loads((out / "report" / "report.json").read_text())
    assert saved["estimate"]["resources"]["DSP"] > 0
    # yosys on the whole accelerator: the MVAUs' DSP48E1s and the weight memories are there
    y = saved["yosys"]["resources"]
    assert y["DSP"] > 0 and y["LUT"] > 0 and y["FF"] > 0 and y["BRAM18"] > 0
    assert "yosys synth_xilinx" in summary
    assert saved["estimate"]["over_device"] == [] and saved["yosys"]["over_device"] == []
    assert "Fits the xc7z020clg400-1 by FINN estimate and yosys." in summary


def test_report_says_when_a_build_does_not_fit(build, tmp_path):
    """The shipped build's own layers, reported for a part with half its DSPs: the summary
    names the resource and by how much, and the build is not called a fit."""
    out, report = build
    board = load_board("pynq-z2")
    needs = report["estimate"]["resources"]["DSP"]
    board.resources = {**board.resources, "DSP": int(needs // 2)}
    layers = report["layers"]
    r = write_report(tmp_path, board, {}, {L["name"]: L["est_cycles"] for L in layers},
                     {L["name"]: {k: v for k, v in L.items() if k not in ("name", "est_cycles")} for L in layers},
                     sim=None, synth=None, timings={}, build_info={"checkpoint": "x.pt"})
    assert r["estimate"]["over_device"] == ["DSP"]
    assert misfit(r) == f"FINN estimate: DSP {100 * needs / int(needs // 2):.1f} %"
    assert "**Does not fit the xc7z020clg400-1** (FINN estimate: DSP" in (tmp_path / "summary.md").read_text()


def test_eval_backends_agree(build, tiny_corpus):
    out, _ = build
    manifest = tiny_corpus / "test.csv"
    torch_r = evaluate(out, manifest, "torch", limit=8)
    golden_r = evaluate(out, manifest, "golden", limit=8)
    rtl_r = evaluate(out, manifest, "rtl", limit=8)
    assert torch_r["clips"] == golden_r["clips"] == rtl_r["clips"] == 8
    assert rtl_r["bit_exact_fraction"] == 1.0
    assert rtl_r["accuracy"] == golden_r["accuracy"]
    assert rtl_r["cycles_per_inference"] > 0


@pytest.fixture(scope="module")
def audio_build(shipped_model, tiny_corpus, tmp_path_factory):
    """The same model with the RTL log-Mel frontend in front: PCM in, logits out. Four clips,
    not twenty: each one is 228k cycles of the frontend, about 40 s of Verilator on a slow
    week's core, and the twenty-clip figure is the demo's (scripts/demo.py)."""
    out = tmp_path_factory.mktemp("audio_build")
    report = build_accelerator(shipped_model, "pynq-z2", out, manifest=tiny_corpus / "test.csv", sim_clips=4,
                               synth=False, audio_fold="fast")
    return out, report


def test_audio_in_accelerator_is_bit_exact_from_pcm_to_class(audio_build, tiny_corpus):
    from melflow.frontend import FrontendConfig
    from melflow.rtl.accel import AccelInterface
    from melflow.rtl.frontend import cycles_per_frame

    out, report = audio_build
    iface = AccelInterface.load(out / "rtl")
    assert iface.top == "melflow_audio_accel" and iface.input_kind == "audio" and iface.in_bits == 16
    sim = report["simulation"]
    # 4 real test clips, int16 PCM through frontend and network, equal to the golden
    # frontend's codes through the golden network on every logit
    assert sim["clips"] == 4 and sim["bit_exact_fraction"] == 1.0
    # batch throughput is the frontend's: its frames one after another
    frames = FrontendConfig().n_frames(16000)
    assert report["estimate"]["bottleneck"] == "LogMelFrontend"
    assert abs(sim["cycles_per_inference"] - frames * cycles_per_frame(FrontendConfig(), "fast")) <= 0.01 * sim["cycles_per_inference"]
    assert "RTL log-Mel frontend" in (out / "report" / "summary.md").read_text()
    # melflow eval --backend rtl takes the same manifest and feeds the build PCM
    r = evaluate(out, tiny_corpus / "test.csv", "rtl", limit=2)
    assert r["clips"] == 2 and r["bit_exact_fraction"] == 1.0
