// The LSTM unit's lane memories, built from the shared mf_ram (hw/rtl/common/mf_mem.sv).

// A vector of LANES elements of W bits per word, written GROUP lanes at a time (group g
// holds lanes g*GROUP .. g*GROUP+GROUP-1) and read a whole word at a time. Each group is
// its own memory, so a write touches one group without a read-modify-write. This is how
// the unit keeps x (written as the input chunks arrive) and h (written one hidden unit at
// a time) while the MAC array reads SIMD elements per cycle.
module lstm_lanemem #(
  parameter int LANES = 4,
  parameter int GROUP = 1,
  parameter int W = 8,
  parameter int DEPTH = 16
) (
  input  logic                                           clk,
  input  logic                                           we,
  input  logic [(LANES/GROUP > 1 ? $clog2(LANES/GROUP) : 1)-1:0] wgrp,
  input  logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0]     waddr,
  input  logic [GROUP*W-1:0]                             wdata,
  input  logic [(DEPTH > 1 ? $clog2(DEPTH) : 1)-1:0]     raddr,
  output logic [LANES*W-1:0]                             rdata
);
  localparam int NGRP = LANES / GROUP;
  for (genvar g = 0; g < NGRP; g++) begin : g_grp
    logic [GROUP*W-1:0] q;
    mf_ram #(.W(GROUP * W), .DEPTH(DEPTH)) ram (
      .clk, .we(we && (int'(wgrp) == g)), .waddr, .wdata, .raddr, .rdata(q)
    );
    assign rdata[g*GROUP*W +: GROUP*W] = q;
  end
endmodule
