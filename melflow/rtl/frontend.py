"""RTL of the integer log-Mel frontend: the hand-written SystemVerilog in hw/rtl/frontend/
plus what depends on the configuration, generated here from the golden model's tables.

:func:`write_frontend_rtl` copies the sources into a folder and writes next to them

* ``lmf_cfg.sv``: package ``lmf_cfg`` with every size and width (from
  :func:`melflow.frontend.widths`) and the folding knob ``PAR``;
* ``$readmemh`` images (paths relative to the simulator's / synthesizer's working folder,
  like FINN's): the window (one image per loader lane), the twiddles, the mel schedule and
  the log2 table, all from :func:`melflow.frontend.tables`.

So another :class:`FrontendConfig` gives matching RTL without editing any SystemVerilog.
docs/frontend.md ("RTL") describes the architecture.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from melflow.frontend import FrontendConfig, tables, widths
from melflow.rtl.hdl import copy_hdl

TOP = "log_mel_frontend"
# compile order: the generated package first, the top last
SOURCES = ["lmf_mac4.sv", "lmf_bfly.sv", "lmf_loader.sv", "lmf_mel.sv", "lmf_log.sv", f"{TOP}.sv"]
PACKAGE = "lmf_cfg.sv"

# Folding: PAR multipliers per butterfly (and per power / mel-weight unit); one butterfly
# and one mel step every 4 / PAR cycles. "fast" also loads two samples per cycle.
FOLDS = {"realtime": 1, "fast": 4}
N_FFT_RANGE = (8, 4096)


def _par(fold) -> int:
    if isinstance(fold, str):
        if fold not in FOLDS:
            raise ValueError(f"fold must be one of {sorted(FOLDS)} or PAR 1, 2 or 4, got {fold!r}")
        return FOLDS[fold]
    if fold not in (1, 2, 4):
        raise ValueError(f"fold must be one of {sorted(FOLDS)} or PAR 1, 2 or 4, got {fold!r}")
    return int(fold)


def check_supported(cfg: FrontendConfig) -> None:
    """Raise ValueError naming the field if the RTL cannot implement ``cfg``.

    Everything :class:`FrontendConfig` and :func:`tables` accept is supported except
    ``n_fft`` outside [8, 4096] (the loader does FFT stages 0 and 1, so at least one
    multiplier stage must follow; larger transforms need deeper memories than this design
    was checked with).
    """
    lo, hi = N_FFT_RANGE
    if not lo <= cfg.n_fft <= hi:
        raise ValueError(f"n_fft={cfg.n_fft} is not supported by the RTL frontend (needs {lo} <= n_fft <= {hi})")
    w = widths(cfg)
    # the power unit splits |re| (fft - 1 bits) into two 17-bit pieces
    if w["fft"] > 35:
        raise ValueError(f"fft_shifts / n_fft give {w['fft']}-bit FFT data; the RTL power unit handles at most 35")
    tables(cfg)  # raises ValueError if a bin feeds more than two adjacent filters


def mel_schedule(cfg: FrontendConfig) -> np.ndarray:
    """The mel unit's program: rows ``(bin, w1, w2, emit, last)``.

    Bins come in filter order (``tables(cfg).mel_first`` is non-decreasing). A step with
    ``emit`` first outputs the filter in accumulator 0 and moves on by one filter
    (acc0 <- acc1, acc1 <- 0); then it adds ``w1 * P[bin]`` to acc0 and ``w2 * P[bin]`` to acc1.
    Bins whose weights are both zero are skipped; a filter that is nobody's first filter gets
    a zero-weight step that only emits, and zero-weight steps at the end emit the last
    filters, so there are exactly ``n_mels`` emits and the last step has ``last`` set.
    """
    t = tables(cfg)
    rows: list[list[int]] = []
    cur = 0  # the filter in acc0
    for k in range(cfg.n_freqs):
        w1, w2 = int(t.mel_w_first[k]), int(t.mel_w_second[k])
        if w1 == 0 and w2 == 0:
            continue
        first = int(t.mel_first[k])
        while cur < first - 1:
            rows.append([0, 0, 0, 1, 0])
            cur += 1
        rows.append([k, w1, w2, int(cur < first), 0])
        cur = first
    while cur < cfg.n_mels:
        rows.append([0, 0, 0, 1, 0])
        cur += 1
    rows[-1][4] = 1
    return np.array(rows, dtype=np.int64)


def run_mel_schedule(power: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """What the mel unit computes from ``power`` (n_freqs,) with :func:`mel_schedule`."""
    out, acc0, acc1 = [], 0, 0
    for k, w1, w2, emit, _ in mel_schedule(cfg).tolist():
        if emit:
            out.append(acc0)
            acc0, acc1 = acc1, 0
        acc0 += w1 * int(power[k])
        acc1 += w2 * int(power[k])
    return np.array(out, dtype=np.int64)


def _hex_lines(values, bits: int) -> str:
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def _pack(fields, widths_) -> list[int]:
    """Rows of fields -> integers, the first field in the most significant bits."""
    out = []
    for row in fields:
        word = 0
        for v, w in zip(row, widths_):
            word = (word << w) | (int(v) & ((1 << w) - 1))
        out.append(word)
    return out


def frontend_params(cfg: FrontendConfig = FrontendConfig(), fold="realtime") -> dict:
    """Sizes and widths of the RTL for ``cfg`` (what goes into package lmf_cfg)."""
    check_supported(cfg)
    par = _par(fold)
    w = widths(cfg)
    log2n = cfg.fft_stages
    nbuf = 1 << max(1, (cfg.win_length + cfg.hop_length - 1).bit_length())
    return {
        "LOG2N": log2n,
        "WIN": cfg.win_length,
        "HOP": cfg.hop_length,
        "NBW": nbuf.bit_length() - 1,
        "NBUF": nbuf,
        "WIN_W": cfg.window_bits + 1,
        "WSH": cfg.window_bits - cfg.window_frac_bits,
        "XW": w["windowed"],
        "FW": w["fft"],
        "TWW": cfg.twiddle_bits + 2,
        "TB": cfg.twiddle_bits,
        "FFT_SHIFTS": sum(s << (2 * i) for i, s in enumerate(cfg.shifts)),
        "PW": w["power"],
        "PSH": cfg.power_shift,
        "MBW": cfg.mel_bits + 1,
        "ACCW": w["mel_acc"],
        "N_MELS": cfg.n_mels,
        "N_STEPS": len(mel_schedule(cfg)),
        "LM": cfg.log_mant_bits,
        "LF": cfg.log_frac_bits,
        "OSH": cfg.log_frac_bits - cfg.out_frac_bits,
        "OFFSET": cfg.out_offset,
        "PAR": par,
    }


def cycles_per_frame(cfg: FrontendConfig = FrontendConfig(), fold="realtime") -> int:
    """Clock cycles the RTL spends on one frame when neither stream stalls; frames come out
    every ``max(cycles_per_frame, hop_length)`` cycles at one input sample per cycle.

    ``N/LP`` cycles of load, ``(log2(N) - 2) * N/2`` butterflies and ``N_STEPS`` mel steps of
    ``II = 4/PAR`` cycles each, 3 more issue intervals and 29 cycles of pipeline latency; a
    tiny ``n_fft`` (``II * N/4 <= II + 6``) adds ``II + 7`` cycles of drain between FFT stages.
    Exact for the configurations tests/test_frontend_rtl.py simulates."""
    p = frontend_params(cfg, fold)
    n, ii = cfg.n_fft, 4 // p["PAR"]
    lp = 2 if p["PAR"] == 4 else 1
    stages = p["LOG2N"] - 2
    cycles = n // lp + (stages * (n // 2) + p["N_STEPS"] + 3) * ii + 29
    if ii * n // 4 <= ii + 6:  # STAGE_DRAIN in log_mel_frontend.sv (BF_LAT + 1 = II + 6)
        cycles += (stages - 1) * (ii + 7)
    return cycles


def _package(p: dict, roms: dict[str, str]) -> str:
    lines = ["// Generated by melflow.rtl.frontend.write_frontend_rtl: do not edit.", "package lmf_cfg;"]
    for name, value in p.items():
        if name == "FFT_SHIFTS":
            lines.append(f"  localparam logic [{2 * p['LOG2N'] - 1}:0] FFT_SHIFTS = {2 * p['LOG2N']}'h{value:x};")
        else:
            lines.append(f"  localparam int {name} = {value};")
    for name, file in roms.items():
        lines.append(f'  localparam string {name} = "{file}";')
    lines.append("endpackage")
    return "\n".join(lines) + "\n"


def write_frontend_rtl(out_dir: str | Path, cfg: FrontendConfig = FrontendConfig(), fold="realtime") -> dict:
    """Write the frontend RTL for ``cfg`` into ``out_dir``.

    ``fold``: "realtime" (PAR=1), "fast" (PAR=4) or PAR itself (1, 2 or 4). Returns the
    interface (also saved as ``frontend.json``): top, files (compile order), data_files
    (``$readmemh`` images, read relative to the working folder), in/out widths, n_mels,
    the estimated cycles per frame and the bit widths of every stage.
    """
    p = frontend_params(cfg, fold)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = tables(cfg)
    n, lp = cfg.n_fft, (2 if p["PAR"] == 4 else 1)

    window = np.zeros(n, dtype=np.int64)
    window[: cfg.win_length] = t.window
    images = {f"WINDOW_ROM{l}": (f"lmf_window{l}.hex", _hex_lines(part, p["WIN_W"])) for l, part in enumerate(np.split(window, lp))}
    tww = p["TWW"]
    images["TWIDDLE_ROM"] = ("lmf_twiddle.hex", _hex_lines(_pack(zip(t.twiddle_im, t.twiddle_re), [tww, tww]), 2 * tww))
    sched = mel_schedule(cfg)
    sw = [1, 1, p["LOG2N"], p["MBW"], p["MBW"]]  # {last, emit, bin, w1, w2}
    images["MEL_ROM"] = ("lmf_mel.hex", _hex_lines(_pack(sched[:, [4, 3, 0, 1, 2]], sw), sum(sw)))
    images["LOG_ROM"] = ("lmf_log.hex", _hex_lines(t.log_table, p["LF"] + 1))
    for file, text in images.values():
        (out / file).write_text(text)
    roms = {name: file for name, (file, _) in images.items()}
    roms.setdefault("WINDOW_ROM1", "")
    (out / PACKAGE).write_text(_package(p, dict(sorted(roms.items()))))
    files = copy_hdl(out, "frontend", SOURCES)

    iface = {
        "top": TOP,
        "files": [PACKAGE, *files],
        "data_files": sorted(f for f in roms.values() if f),
        "fold": fold if isinstance(fold, str) else f"PAR={p['PAR']}",
        "par": p["PAR"],
        "in_bits": 16,
        "out_bits": 8,
        "n_mels": cfg.n_mels,
        "win_length": cfg.win_length,
        "hop_length": cfg.hop_length,
        "cycles_per_frame": cycles_per_frame(cfg, fold),
        "widths": widths(cfg),
        "params": p,
        "config": asdict(cfg),
    }
    (out / "frontend.json").write_text(json.dumps(iface, indent=2))
    return iface
