// First-word-fall-through FIFO (distributed RAM), AXI-Stream read side.
module lmf_fifo #(
  parameter int W = 9,
  parameter int DEPTH = 64   // a power of two
) (
  input  logic                   clk,
  input  logic                   rst_n,
  input  logic                   wr_en,     // never while full (the writer reserves space)
  input  logic [W-1:0]           wr_data,
  output logic                   rd_valid,
  input  logic                   rd_ready,
  output logic [W-1:0]           rd_data,
  output logic [$clog2(DEPTH):0] count
);
  localparam int AB = $clog2(DEPTH);
  logic [W-1:0] mem [DEPTH];
  logic [AB:0]  wp, rp;
  always_ff @(posedge clk) begin
    if (wr_en) mem[wp[AB-1:0]] <= wr_data;
    if (!rst_n) begin
      wp <= '0;
      rp <= '0;
    end else begin
      wp <= wp + (AB+1)'(wr_en);
      rp <= rp + (AB+1)'(rd_valid && rd_ready);
    end
  end
  assign count = wp - rp;
  assign rd_valid = wp != rp;
  assign rd_data = mem[rp[AB-1:0]];
endmodule
