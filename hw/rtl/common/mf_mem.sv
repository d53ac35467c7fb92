// Memories shared by melflow's hand-written RTL blocks (the log-Mel frontend, the LSTM
// unit). Read ports are synchronous (one cycle of latency) except the FIFO's, so that
// synthesis infers block RAM or LUT RAM as it sees fit. Any DEPTH >= 1.

// One write port, one read port, same clock. A read of the address written in the same
// cycle returns the old contents (no block relies on it).
module mf_ram #(
  parameter int W = 8,
  parameter int DEPTH = 64
) (
  input  logic                                       clk,
  input  logic                                       we,
  input  logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0] waddr,
  input  logic [W-1:0]                               wdata,
  input  logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0] raddr,
  output logic [W-1:0]                               rdata
);
  logic [W-1:0] mem [DEPTH];
  always_ff @(posedge clk) begin
    if (we) mem[waddr] <= wdata;
    rdata <= mem[raddr];
  end
endmodule

// Constant table filled from a $readmemh file written by the block's generator in
// melflow.rtl. BLOCK asks for block RAM: yosys otherwise turns some tables into LUT logic.
module mf_rom #(
  parameter int    W = 8,
  parameter int    DEPTH = 256,
  parameter string FILE = "",
  parameter bit    BLOCK = 1'b0
) (
  input  logic                                       clk,
  input  logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0] addr,
  output logic [W-1:0]                               q
);
  if (BLOCK) begin : g_block
    (* rom_style = "block" *) logic [W-1:0] mem [DEPTH];
    initial $readmemh(FILE, mem);
    always_ff @(posedge clk) q <= mem[addr];
  end else begin : g_any
    logic [W-1:0] mem [DEPTH];
    initial $readmemh(FILE, mem);
    always_ff @(posedge clk) q <= mem[addr];
  end
endmodule

// First-word-fall-through FIFO (distributed RAM, combinational read), AXI-Stream read
// side; `count` is its fill level.
module mf_fifo #(
  parameter int W = 8,
  parameter int DEPTH = 4
) (
  input  logic                                     clk,
  input  logic                                     rst_n,
  input  logic                                     wr_en,     // never while full (the writer reserves space)
  input  logic [W-1:0]                             wr_data,
  output logic                                     rd_valid,
  input  logic                                     rd_ready,
  output logic [W-1:0]                             rd_data,
  output logic [(DEPTH > 1 ? $clog2(DEPTH) : 1):0] count
);
  localparam int AB = DEPTH > 1 ? $clog2(DEPTH) : 1;
  logic [W-1:0] mem [DEPTH];
  logic [AB-1:0] wp, rp;
  wire rd = rd_valid && rd_ready;
  always_ff @(posedge clk) begin
    if (wr_en) mem[wp] <= wr_data;
    if (!rst_n) begin
      wp <= '0;
      rp <= '0;
      count <= '0;
    end else begin
      if (wr_en) wp <= (int'(wp) == DEPTH - 1) ? '0 : wp + 1'b1;
      if (rd) rp <= (int'(rp) == DEPTH - 1) ? '0 : rp + 1'b1;
      count <= count + (AB+1)'(wr_en) - (AB+1)'(rd);
    end
  end
  assign rd_valid = count != '0;
  assign rd_data = mem[rp];
endmodule
