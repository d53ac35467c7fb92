"""Build an accelerator for a board: compile, write RTL, simulate, synthesize, report.

This is what `scripts/build_accel.py` runs. The build directory follows DESIGN.md:
models/ (every compiler stage), rtl/ (sources, init files, the top), sim/ (Verilator
build and results), report/ (JSON, summary, plots), folding_config.json and build.json.
The board's Vivado project and PYNQ driver are not generated yet (no Vivado here).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from melflow.boards.boards import load_board
from melflow.boards.report import write_report
from melflow.compiler.execute import golden_logits
from melflow.compiler.flow import (
    CompileOptions,
    compile_qonnx,
    folding_config,
    layer_cycles,
    layer_resources,
)
from melflow.core import MelflowError
from melflow.nn.quant import is_float
from melflow.rtl.accel import write_accel_rtl
from melflow.sim.accel import simulate_accel
from melflow.train.features import manifest_features, manifest_pcm
from melflow.train.trainer import export_onnx, load_checkpoint

REPO = Path(__file__).resolve().parents[2]
# The share of the part's LUT RAM that weights moved off block RAM may take: the sliding-window
# buffers and FIFOs (shift registers) need LUT RAM too. A board.yaml without a LUTRAM total
# keeps every weight in block RAM.
WEIGHT_LUTRAM_SHARE = 0.7


def default_manifest(ckpt: dict) -> Path:
    """The test split of the corpus the checkpoint was trained on (its path as recorded in
    the checkpoint, relative to the working directory or to the repository)."""
    recorded = Path(ckpt.get("data", "")) / "test.csv"
    for path in (recorded, REPO / recorded):
        if path.exists():
            return path
    raise MelflowError(
        f"no --manifest given and the training corpus' test split {recorded} does not exist: "
        "pass --manifest, or write it with `melflow data kws --size small --out data/kws-small --splits test`"
    )


def compile_checkpoint(checkpoint: str | Path, out: Path, board, target_fps: float, audio_fold: str | None = None):
    """Export the checkpoint to QONNX and compile it with RTL written; returns (compiled, iface, ckpt).
    `audio_fold` ("realtime" or "fast") puts the RTL log-Mel frontend in front."""
    model, ckpt = load_checkpoint(checkpoint)
    if is_float(ckpt["model_spec"]):  # named here, with the way out, before FINN says the ONNX has no quantizers
        raise MelflowError(f"{checkpoint} is a float model (weight_bits or act_bits null): it has no integer golden "
                           "model or accelerator; score it in software (`melflow eval --backend torch`, or "
                           "`--backend torch` for the voice probes)")
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = export_onnx(model, out / "model_qonnx.onnx", model.cfg.n_frames, model.cfg.n_mels)
    compiled = compile_qonnx(onnx_path, out, CompileOptions(
        fpga_part=board.part, clk_ns=board.clk_ns, target_fps=target_fps,
        bram18_budget=board.resources["BRAM18"], lutram_budget=int(WEIGHT_LUTRAM_SHARE * board.resources.get("LUTRAM", 0))))
    iface = write_accel_rtl(compiled.model("ipgen"), out / "rtl", audio_fold=audio_fold)
    return compiled, iface, ckpt


def _with_frontend(cycles: dict, iface) -> dict:
    """Per-layer cycles with the RTL frontend first (its frames one after another) in an
    audio-in build: it then sets the throughput of batch work."""
    if iface.input_kind != "audio":
        return cycles
    fe = iface.frontend
    return {"LogMelFrontend": fe["frames_per_clip"] * fe["cycles_per_frame"], **cycles}


def build_accelerator(
    checkpoint: str | Path,
    board_name: str,
    out: str | Path,
    target_fps: float = 5000.0,
    manifest: str | Path | None = None,
    sim_clips: int = 20,
    synth: bool = True,
    seed: int = 0,
    audio_fold: str | None = None,
) -> dict:
    """`audio_fold` None builds a features-in accelerator (int8 log-Mel codes in); "fast"
    or "realtime" an audio-in one (int16 PCM in, the RTL frontend with that folding)."""
    out = Path(out).resolve()
    board = load_board(board_name)
    timings: dict[str, float] = {}
    t = time.time()
    compiled, iface, ckpt = compile_checkpoint(checkpoint, out, board, target_fps, audio_fold)
    timings["compile_s"] = round(time.time() - t, 1)
    folded = compiled.model("folded")
    (out / "folding_config.json").write_text(json.dumps(folding_config(folded), indent=2))
    manifest = Path(manifest) if manifest else default_manifest(ckpt)
    build_info = {"checkpoint": str(Path(checkpoint).resolve()), "board": board.name, "target_fps": target_fps,
                  "manifest": str(manifest), "input": iface.input_kind, "frontend_fold": audio_fold}
    (out / "build.json").write_text(json.dumps(build_info, indent=2))

    sim = None
    if sim_clips > 0:
        t = time.time()
        x, _, _ = manifest_features(manifest, limit=sim_clips)
        expected = golden_logits(compiled, x)  # the golden frontend's codes through the network
        inputs = manifest_pcm(manifest, limit=sim_clips)[0] if iface.input_kind == "audio" else x
        sim = simulate_accel(out / "rtl", out / "sim", inputs, expected, seed=seed)
        timings["simulate_s"] = round(time.time() - t, 1)
        sim = {
            "clips": len(x),
            "bit_exact_fraction": sim.bit_exact_fraction,
            "mismatched_clips": sim.mismatches,
            "cycles_per_inference": sim.cycles_per_inference,
            "latency_cycles": sim.latency_cycles,
            "inferences_per_s": board.clock_mhz * 1e6 / sim.cycles_per_inference,
        }
        (out / "sim" / "summary.json").write_text(json.dumps(sim, indent=2))

    synth_res, lstm_synth = None, {}
    if synth:
        from melflow.boards.lstm import synthesize_lstm_nodes
        from melflow.boards.yosys import synthesize

        t = time.time()
        synth_res = synthesize(out / "rtl", iface.top, iface.files, iface.data_files, out / "synth", family=board.family)
        lstm_synth = synthesize_lstm_nodes(compiled.model("ipgen"), out / "synth_lstm", board.name)
        timings["synth_s"] = round(time.time() - t, 1)

    report = write_report(
        out / "report",
        board=board,
        model=ckpt,
        layer_cycles=_with_frontend(layer_cycles(folded), iface),
        layer_res=layer_resources(folded, board.part),
        sim=sim,
        synth=synth_res,
        recurrent=[n.name for n in folded.graph.node if n.op_type.startswith("LstmUnit")],
        lstm_synth=lstm_synth,
        timings=timings,
        build_info=build_info,
    )
    if sim and sim["mismatched_clips"]:
        raise MelflowError(f"RTL output differs from the golden model on clips {sim['mismatched_clips']} (see {out / 'sim'})")
    return report
