// Memories of the log-Mel frontend: a simple dual-port RAM and a ROM, both with one
// synchronous read port (one cycle of latency), so that synthesis infers block RAM or
// LUT RAM as it sees fit.

// One write port, one read port, same clock. A read of the address written in the same
// cycle returns the old contents (the frontend never relies on it).
module lmf_ram #(
  parameter int W = 16,
  parameter int DEPTH = 1024
) (
  input  logic                     clk,
  input  logic                     we,
  input  logic [$clog2(DEPTH)-1:0] waddr,
  input  logic [W-1:0]             wdata,
  input  logic [$clog2(DEPTH)-1:0] raddr,
  output logic [W-1:0]             rdata
);
  logic [W-1:0] mem [DEPTH];
  always_ff @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    rdata <= mem[raddr];
  end
endmodule

// Constant table filled from a $readmemh file (written by melflow.rtl.frontend). BLOCK
// asks for block RAM: yosys otherwise turns some tables into LUT logic.
module lmf_rom #(
  parameter int    W = 16,
  parameter int    DEPTH = 512,
  parameter string FILE = "",
  parameter bit    BLOCK = 1'b1
) (
  input  logic                     clk,
  input  logic [$clog2(DEPTH)-1:0] addr,
  output logic [W-1:0]             q
);
  if (BLOCK) begin : g_block
    (* rom_style = "block" *) logic [W-1:0] mem [DEPTH];
    initial $readmemh(FILE, mem);
    always_ff @(posedge clk) q <= mem[addr];
  end else begin : g_lut
    logic [W-1:0] mem [DEPTH];
    initial $readmemh(FILE, mem);
    always_ff @(posedge clk) q <= mem[addr];
  end
endmodule
