"""Write the RTL of a compiled model: per-layer sources, the stitched top and its interface.

`interface.json` in the rtl folder says how a clip becomes input beats and output beats
become logits (FINN stream packing), so simulators and board drivers need nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from melflow.rtl.sources import collect_sources
from melflow.rtl.top import write_top

TOP = "melflow_accel"


@dataclass
class AccelInterface:
    top: str
    files: list[str]  # compile order, relative to the rtl folder
    data_files: list[str]
    input_shape: list[int]  # one clip, NHWC without batch
    in_bits: int
    in_signed: bool
    in_per_beat: int
    in_width: int  # padded TDATA width
    out_bits: int
    out_signed: bool
    out_per_beat: int
    out_width: int
    n_outputs: int  # integer logits per clip

    @property
    def in_beats(self) -> int:
        return int(np.prod(self.input_shape)) // self.in_per_beat

    @property
    def out_beats(self) -> int:
        return self.n_outputs // self.out_per_beat

    def save(self, rtl_dir: Path) -> None:
        (Path(rtl_dir) / "interface.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, rtl_dir: str | Path) -> "AccelInterface":
        return cls(**json.loads((Path(rtl_dir) / "interface.json").read_text()))


def write_accel_rtl(model, rtl_dir: str | Path) -> AccelInterface:
    """`model`: the dataflow graph after PrepareIP (stage "ipgen")."""
    from qonnx.custom_op.registry import getCustomOp

    rtl_dir = Path(rtl_dir)
    src = collect_sources(model, rtl_dir)
    write_top(src, TOP)
    first, last = getCustomOp(model.graph.node[0]), getCustomOp(model.graph.node[-1])
    idt, odt = first.get_input_datatype(0), last.get_output_datatype(0)
    iface = AccelInterface(
        top=TOP,
        files=src.files,
        data_files=src.data_files,
        input_shape=[int(d) for d in first.get_normal_input_shape(0)[1:]],
        in_bits=idt.bitwidth(),
        in_signed=idt.signed(),
        in_per_beat=int(first.get_folded_input_shape(0)[-1]),
        in_width=first.get_instream_width_padded(0),
        out_bits=odt.bitwidth(),
        out_signed=odt.signed(),
        out_per_beat=int(last.get_folded_output_shape(0)[-1]),
        out_width=last.get_outstream_width_padded(0),
        n_outputs=int(np.prod(last.get_normal_output_shape(0)[1:])),
    )
    iface.save(rtl_dir)
    (rtl_dir / "files.f").write_text("\n".join(src.files) + "\n")
    return iface
