"""melflow's own hand-written HDL (hw/rtl): where it lives and how a block's sources get
into a build folder, with the memories the blocks share (hw/rtl/common)."""

from __future__ import annotations

import shutil
from pathlib import Path

HW_RTL = Path(__file__).resolve().parents[2] / "hw" / "rtl"
COMMON = ["mf_mem.sv"]  # mf_ram, mf_rom, mf_fifo


def copy_hdl(out_dir: str | Path, block: str, sources: list[str]) -> list[str]:
    """Copy the shared memories and `block`'s `sources` (hw/rtl/<block>/, compile order)
    into `out_dir`; returns the file names in compile order."""
    out_dir = Path(out_dir)
    for name in COMMON:
        shutil.copyfile(HW_RTL / "common" / name, out_dir / name)
    for name in sources:
        shutil.copyfile(HW_RTL / block / name, out_dir / name)
    return [*COMMON, *sources]
