"""Gather the RTL of a compiled dataflow graph into one folder.

Per-layer sources come from finn-plus: the files it generated for each node and the
finn-rtllib modules they use, read from the installed package at build time (never copied
into this repository). One fix is applied to the build copy only: finn-rtllib's
`add_multi.sv` declares a constant function inside a generate block, which Verilator
rejects; the same function at module level means the same thing (DESIGN.md).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from melflow.compiler.finn_env import finn_rtllib
from melflow.core import MelflowError

# memstream (weights for MVAU in internal_decoupled mode) and the AXI-lite block it uses.
MEMSTREAM_LIB = ["memstream/hdl/memstream.sv", "memstream/hdl/memstream_axi.sv", "axi/hdl/axilite.sv"]


@dataclass
class NodeRtl:
    name: str
    op_type: str
    top_file: str  # file (in the rtl folder) that declares module `name`
    memstream: str | None = None  # module name of the weight streamer, if any
    in_width: int = 0
    out_width: int = 0


@dataclass
class RtlSources:
    rtl_dir: Path
    files: list[str] = field(default_factory=list)  # HDL files, compile order, names inside rtl_dir
    data_files: list[str] = field(default_factory=list)  # memory init files ($readmemh)
    nodes: list[NodeRtl] = field(default_factory=list)


def hoist_generate_functions(text: str) -> str:
    """Move add_multi's `leaf_load_t` typedef and `init_leaf_loads` function out of the
    generate block to module level, where Verilator accepts them."""
    m = re.search(r"\n([ \t]*typedef int unsigned\s+leaf_load_t\[[^\n]*\n.*?endfunction : init_leaf_loads\n)", text, re.S)
    if not m:
        return text
    block = m.group(1)
    text = text.replace(block, "")
    anchor = re.search(r"\n[ \t]*localparam int unsigned\s+L = \$clog2\(N\);[^\n]*\n", text)
    if not anchor:
        raise MelflowError("finn-rtllib add_multi.sv changed shape: cannot hoist init_leaf_loads for Verilator")
    return text[: anchor.end()] + block + text[anchor.end():]


_PATCHES = {"add_multi.sv": hoist_generate_functions}


def _copy(src: Path, dst_dir: Path, name: str | None = None, rewrite=None) -> str:
    name = name or src.name
    text = src.read_text()
    if rewrite:
        text = rewrite(text)
    if name in _PATCHES:
        text = _PATCHES[name](text)
    (dst_dir / name).write_text(text)
    return name


def collect_sources(model, rtl_dir: str | Path) -> RtlSources:
    """Copy every node's generated RTL, its init files and the finn-rtllib modules it needs."""
    from qonnx.custom_op.registry import getCustomOp

    rtl_dir = Path(rtl_dir)
    rtl_dir.mkdir(parents=True, exist_ok=True)
    out = RtlSources(rtl_dir=rtl_dir)
    lib_files: dict[str, None] = {}  # ordered set of finn-rtllib files (packages first below)
    node_files: list[str] = []
    rtllib = finn_rtllib().resolve()

    for node in model.graph.node:
        inst = getCustomOp(node)
        if not node.op_type.endswith("_rtl"):
            raise MelflowError(f"node {node.name!r} (op type {node.op_type}) has no RTL implementation on this part")
        gen_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
        # Generated init files: make names unique per node and paths relative to the sim folder.
        renames: dict[str, str] = {}
        for dat in sorted(gen_dir.glob("*.dat")):
            new = dat.name if dat.name.startswith(node.name) else f"{node.name}_{dat.name}"
            shutil.copyfile(dat, rtl_dir / new)
            out.data_files.append(new)
            renames[str(dat)] = new

        def rewrite(text, renames=renames):
            for old, new in renames.items():
                text = text.replace(old, new)
            return text

        top_file = None
        for f in inst.get_rtl_file_list(abspath=True):
            f = Path(f).resolve()
            if rtllib in f.parents:
                lib_files[str(f)] = None
            else:
                name = _copy(f, rtl_dir, rewrite=rewrite)
                node_files.append(name)
                if re.search(rf"\bmodule\s+{re.escape(node.name)}\b", (rtl_dir / name).read_text()):
                    top_file = name
        memstream = None
        if inst.get_nodeattr_types().get("mem_mode") and inst.get_nodeattr("mem_mode") == "internal_decoupled":
            memstream = f"{node.name}_memstream_wrapper"
            node_files.append(_copy(gen_dir / f"{memstream}.v", rtl_dir, rewrite=rewrite))
            for lib in MEMSTREAM_LIB:
                lib_files[str(rtllib / lib)] = None
        if top_file is None:
            raise MelflowError(f"no RTL file declares module {node.name!r} in {gen_dir}")
        out.nodes.append(
            NodeRtl(node.name, node.op_type, top_file, memstream, inst.get_instream_width_padded(0), inst.get_outstream_width_padded(0))
        )

    # Packages must be compiled before the modules that import them.
    ordered = sorted(lib_files, key=lambda f: (not f.endswith("_pkg.sv"), f))
    out.files = [_copy(Path(f), rtl_dir) for f in ordered] + list(dict.fromkeys(node_files))
    return out
