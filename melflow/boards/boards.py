"""Board descriptions (hw/boards/<name>/board.yaml): FPGA part, clock, device totals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from melflow.core import MelflowError

BOARDS_DIR = Path(__file__).resolve().parents[2] / "hw" / "boards"


@dataclass
class Board:
    name: str
    part: str
    family: str
    clock_mhz: float
    resources: dict[str, int]
    folder: Path

    @property
    def clk_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def load_board(name: str) -> Board:
    path = BOARDS_DIR / name / "board.yaml"
    if not path.exists():
        known = sorted(p.name for p in BOARDS_DIR.iterdir() if (p / "board.yaml").exists())
        raise MelflowError(f"unknown board {name!r}: no {path}; known boards: {', '.join(known)}")
    d = yaml.safe_load(path.read_text())
    return Board(d["name"], d["part"], d["family"], float(d["clock_mhz"]), dict(d["resources"]), path.parent)
