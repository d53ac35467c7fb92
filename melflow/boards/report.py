"""The build report: report.json (machine-readable), summary.md (for people), cycles.png."""

from __future__ import annotations

import json
from pathlib import Path

# LUTRAM: those of the LUTs (counted in LUT too) used as memory, weights moved off block RAM
# included (melflow.compiler.memory); its device total is the SLICEM LUTs, the ones that can be RAM.
RES_KEYS = ["LUT", "LUTRAM", "FF", "BRAM18", "DSP"]


_FINN_NAMES = {"LUT": "LUT", "LUTRAM": "LUTRAM", "BRAM_18K": "BRAM18", "DSP": "DSP", "URAM": "URAM"}


def _finn_in_report_names(res: dict) -> dict[str, float]:
    """One layer's FINN estimate in the report's resource names (BRAM_18K -> BRAM18)."""
    return {_FINN_NAMES[k]: float(v) for k, v in res.items() if k in _FINN_NAMES}


def _finn_totals(layer_res: dict[str, dict]) -> dict[str, float]:
    """FINN's per-layer estimates summed, in the report's resource names."""
    tot: dict[str, float] = {}
    for res in layer_res.values():
        for k, v in _finn_in_report_names(res).items():
            tot[k] = tot.get(k, 0) + v
    return tot


def _utilization(counts: dict, device: dict) -> dict[str, float]:
    return {k: round(100.0 * counts[k] / device[k], 2) for k in RES_KEYS if k in counts and k in device}


def _against_device(counts: dict, device: dict) -> dict:
    """Resource counts, their share of the device and the resources over it. A build that does not
    fit is still built and simulated (the RTL is right whatever the part), so the report says it
    rather than the build failing: the user lowers --target-fps or the model's width."""
    util = _utilization(counts, device)
    return {"resources": counts, "utilization_pct": util, "over_device": [k for k in RES_KEYS if util.get(k, 0) > 100.0]}


def _share(part: dict, whole: dict) -> dict[str, float]:
    return {k: round(100.0 * part[k] / whole[k], 1) for k in RES_KEYS if k in part and whole.get(k)}


def recurrent_shares(names: list[str], layer_cycles: dict, layer_res: dict, finn_tot: dict, synth, lstm_synth: dict) -> list[dict]:
    """What each recurrent layer costs within the accelerator: its estimated cycles against
    the bottleneck's and against the sum over layers (how much of one clip's pass through
    the pipeline it takes), FINN's resource estimate against the total estimate, and its
    own yosys synthesis against the whole accelerator's."""
    total_cycles = sum(layer_cycles.values())
    bottleneck = max(layer_cycles.values())
    out = []
    for n in names:
        finn = _finn_in_report_names(layer_res.get(n, {}))
        entry = {"name": n, "est_cycles": layer_cycles[n],
                 "pct_of_bottleneck": round(100.0 * layer_cycles[n] / bottleneck, 1),
                 "pct_of_layer_cycles": round(100.0 * layer_cycles[n] / total_cycles, 1),
                 "finn_estimate": finn, "finn_pct": _share(finn, finn_tot)}
        if n in (lstm_synth or {}):
            entry["yosys"] = lstm_synth[n]
            entry["yosys_pct"] = _share(lstm_synth[n], {k: synth[k] for k in RES_KEYS}) if synth else {}
        out.append(entry)
    return out


def write_report(report_dir: Path, board, model: dict, layer_cycles: dict, layer_res: dict, sim, synth, timings, build_info,
                 recurrent: list[str] = (), lstm_synth: dict | None = None) -> dict:
    """`recurrent`: names of the LstmUnit layers, whose share of the accelerator gets its
    own section; `lstm_synth`: their yosys resources synthesized alone."""
    report_dir.mkdir(parents=True, exist_ok=True)
    clk_hz = board.clock_mhz * 1e6
    bottleneck = max(layer_cycles, key=layer_cycles.get)
    finn_tot = _finn_totals(layer_res)
    report = {
        "board": {"name": board.name, "part": board.part, "clock_mhz": board.clock_mhz, "resources": board.resources},
        "build": build_info,
        "model": {"metrics": model.get("metrics", {}), "spec": model.get("model_spec", {})},
        "layers": [{"name": n, "est_cycles": c, **{k: v for k, v in layer_res.get(n, {}).items()}} for n, c in layer_cycles.items()],
        "estimate": {
            "bottleneck": bottleneck,
            "cycles_per_inference": layer_cycles[bottleneck],
            "inferences_per_s": clk_hz / layer_cycles[bottleneck],
            **_against_device(finn_tot, board.resources),
        },
        "simulation": sim,
        "recurrent": recurrent_shares(list(recurrent), layer_cycles, layer_res, finn_tot, synth, lstm_synth),
        "yosys": None,
        "timings_s": timings,
    }
    if synth:
        report["yosys"] = {**_against_device({k: synth[k] for k in RES_KEYS}, board.resources), "cells": synth.get("cells", {})}
    (report_dir / "report.json").write_text(json.dumps(report, indent=2))
    (report_dir / "summary.md").write_text(summary_markdown(report))
    _plot_cycles(report, report_dir / "cycles.png")
    return report


def summary_markdown(r: dict) -> str:
    b, e, s, y = r["board"], r["estimate"], r["simulation"], r["yosys"]
    m = r["model"]["metrics"]
    # a corpus without a test split (the shipped models' are train and val only) has no test_acc
    scores = ", ".join(f"{k.removesuffix('_acc')} accuracy in training {m[k]:.4f}" for k in ("val_acc", "test_acc") if m.get(k) is not None)
    lines = [
        f"# melflow accelerator for {b['name']} ({b['part']}, {b['clock_mhz']:g} MHz)",
        "",
        f"Model: `{r['build']['checkpoint']}`" + (f" ({scores})" if scores else ""),
        "",
        ("Input: int16 PCM through the RTL log-Mel frontend (hw/rtl/frontend, fold "
         f"`{r['build'].get('frontend_fold')}`), one sample per beat, tlast closing each clip."
         if r["build"].get("input") == "audio" else "Input: int8 log-Mel codes of the golden frontend, one per beat."),
        "",
        "## Throughput",
        "",
        "| source | cycles / inference | inferences / s |",
        "|---|---:|---:|",
        f"| FINN estimate (bottleneck {e['bottleneck']}) | {e['cycles_per_inference']} | {e['inferences_per_s']:.0f} |",
    ]
    if s:
        lines.append(f"| RTL simulation, {s['clips']} clips | {s['cycles_per_inference']} | {s['inferences_per_s']:.0f} |")
        lines += ["", f"Latency of one clip (simulated): {s['latency_cycles']} cycles. Bit-exact fraction against the golden model: {s['bit_exact_fraction']:.3f}."]
    lines += ["", "## Resources", "", "| source | " + " | ".join(RES_KEYS) + " |", "|---|" + "---:|" * len(RES_KEYS)]
    lines.append("| device | " + " | ".join(str(b["resources"].get(k, "")) for k in RES_KEYS) + " |")
    lines.append("| FINN estimate | " + " | ".join(_cell(e["resources"], e["utilization_pct"], k) for k in RES_KEYS) + " |")
    if y:
        lines.append("| yosys synth_xilinx | " + " | ".join(_cell(y["resources"], y["utilization_pct"], k) for k in RES_KEYS) + " |")
    else:
        lines.append("| yosys synth_xilinx | not run |" + " |" * (len(RES_KEYS) - 1))
    lines += ["", fit_sentence(r)]
    if r.get("recurrent"):
        finn_keys = [k for k in RES_KEYS if k != "FF"]  # FINN estimates no flip-flops
        lines += ["", "## Recurrent layers", "",
                  "Share of the accelerator taken by each LSTM unit: its cycles against the bottleneck's and against the "
                  "sum over all layers, and its resources (FINN's estimate, and yosys on the unit alone) against the whole "
                  "accelerator's.", "",
                  "| layer | est. cycles | % of bottleneck | % of layer cycles | " + " | ".join(f"{k} (FINN)" for k in finn_keys)
                  + " | " + " | ".join(f"{k} (yosys)" for k in RES_KEYS) + " |",
                  "|---|" + "---:|" * (3 + len(finn_keys) + len(RES_KEYS))]
        for L in r["recurrent"]:
            finn = " | ".join(_cell(L["finn_estimate"], L["finn_pct"], k) for k in finn_keys)
            ys = " | ".join(_cell(L["yosys"], L["yosys_pct"], k) for k in RES_KEYS) if "yosys" in L else " | ".join("-" for _ in RES_KEYS)
            lines.append(f"| {L['name']} | {L['est_cycles']} | {L['pct_of_bottleneck']:.1f} | {L['pct_of_layer_cycles']:.1f} | {finn} | {ys} |")
    lines += ["", "## Layers", "", "| layer | est. cycles | LUT | LUTRAM | BRAM18 | DSP |", "|---|---:|---:|---:|---:|---:|"]
    for L in r["layers"]:
        lines.append(f"| {L['name']} | {L['est_cycles']} | {L.get('LUT', 0):.0f} | {L.get('LUTRAM', 0):.0f} | {L.get('BRAM_18K', 0):.0f} "
                     f"| {L.get('DSP', 0):.0f} |")
    lines += ["", "![cycles per layer](cycles.png)", ""]
    return "\n".join(lines)


def _count_sources(r: dict) -> list[tuple[str, dict]]:
    """The resource counts a build has, by who made them (yosys only when synthesis ran)."""
    return [(src, d) for src, d in (("FINN estimate", r["estimate"]), ("yosys", r["yosys"])) if d]


def misfit(r: dict) -> str:
    """What a build needs beyond its device, by each source of resource counts that was run
    ("FINN estimate: BRAM18 134.3 %, DSP 170.4 %"); empty when it fits."""
    return "; ".join(f"{src}: " + ", ".join(f"{k} {d['utilization_pct'][k]:.1f} %" for k in d["over_device"])
                     for src, d in _count_sources(r) if d["over_device"])


def fit_sentence(r: dict) -> str:
    part, over = r["board"]["part"], misfit(r)
    if not over:
        return f"Fits the {part} by " + " and ".join(src for src, _ in _count_sources(r)) + "."
    return (f"**Does not fit the {part}** ({over} of the device): lower --target-fps (fewer DSPs, "
            "fewer BRAMs split for parallel reads) or the model's width (its weights are the BRAMs, and the "
            "LUT RAM they move to when those run out).")


def _cell(counts: dict, pct: dict, k: str) -> str:
    if k not in counts:
        return "-"
    return f"{counts[k]:.0f} ({pct.get(k, 0):.1f} %)"


def _plot_cycles(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [L["name"] for L in r["layers"]]
    cycles = [L["est_cycles"] for L in r["layers"]]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(names) + 1.5))
    ax.barh(names[::-1], cycles[::-1], color="#4477aa")
    if r["simulation"]:
        ax.axvline(r["simulation"]["cycles_per_inference"], color="#cc3311", ls="--", label="simulated cycles / inference")
        ax.legend(loc="lower right")
    ax.set_xlabel("estimated cycles per inference (FINN)")
    ax.set_title(f"{r['board']['name']}: cycles per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
