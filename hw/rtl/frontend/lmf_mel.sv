// Power spectrum and mel filterbank (docs/frontend.md, steps 3 and 4), one schedule step
// at a time.
//
// A step brings one FFT bin (re, im), the weights w1, w2 of the two adjacent filters it
// feeds, and flags. Two lmf_mac4 units do the wide products in 25 x 18 pieces:
//
//   power:   x*x = x*x[16:0] + (x*x[..:17] << 17) for x = |re|, |im|;
//            P = (re*re + im*im + 2**(PSH-1)) >> PSH
//   weights: w*P = w*P[23:0] + (w*P[..:24] << 24) for w = w1, w2
//
// and two accumulators follow the filters (the bins are in filter order): acc0 for filter
// m, acc1 for filter m+1. A step with `emit` first outputs acc0 (filter m is complete) and
// moves on: acc0 <- acc1, acc1 <- 0. The schedule (melflow.rtl.frontend) skips bins with
// zero weights and adds zero-weight steps where a filter must be emitted without a bin.
module lmf_mel #(
  parameter int FW = 25,    // FFT data width (signed)
  parameter int PW = 40,    // power width (unsigned)
  parameter int PSH = 8,
  parameter int MBW = 16,   // mel weight width (unsigned)
  parameter int ACCW = 56,  // accumulator width (unsigned)
  parameter int PAR = 4
) (
  input  logic                 clk,
  input  logic                 rst_n,
  input  logic                 start,   // clear the accumulators (between frames)
  input  logic                 in_valid,
  input  logic signed [FW-1:0] re, im,
  input  logic [MBW-1:0]       w1, w2,
  input  logic                 emit, last,
  output logic                 out_valid,
  output logic [ACCW-1:0]      out_acc,
  output logic                 out_last,
  output logic                 busy
);
  // ---- power
  localparam int POW = (2 * FW > FW + 18) ? 2 * FW : FW + 18;
  logic [FW-2:0] mre, mim;  // |re|, |im| < 2**(FW-1)
  assign mre = (FW-1)'(re[FW-1] ? -re : re);
  assign mim = (FW-1)'(im[FW-1] ? -im : im);
  logic                  pv;
  logic signed [POW-1:0] po0, po1;
  logic [2*MBW+1:0]      ptag;
  logic                  pbusy;
  lmf_mac4 #(.AW(FW), .BW(18), .OW(POW), .PAR(PAR), .SH1(17), .TW(2 * MBW + 2)) pmac (
    .clk, .rst_n, .in_valid,
    .a({FW'(mim), FW'(mim), FW'(mre), FW'(mre)}),
    .b({18'(mim >> 17), 18'(17'(mim)), 18'(mre >> 17), 18'(17'(mre))}),
    .in_tag({w1, w2, emit, last}),
    .out_valid(pv), .o0(po0), .o1(po1), .out_tag(ptag), .busy(pbusy)
  );
  logic [POW:0]  psum;
  logic [PW-1:0] power;
  assign psum = (POW+1)'(po0) + (POW+1)'(po1);
  if (PSH > 0) begin : g_round
    assign power = PW'((psum + (POW+1)'(1 << (PSH - 1))) >> PSH);
  end else begin : g_exact
    assign power = PW'(psum);
  end

  // ---- weights
  localparam int AWW = (PW - 24 + 1 > 25) ? PW - 24 + 1 : 25;
  logic                   wv;
  logic signed [ACCW:0]   ca, cb;
  logic [1:0]             wtag;
  logic                   wbusy;
  logic [MBW-1:0]         pw1, pw2;
  assign {pw1, pw2} = ptag[2*MBW+1:2];
  lmf_mac4 #(.AW(AWW), .BW(MBW + 1), .OW(ACCW + 1), .PAR(PAR), .SH1(24), .TW(2)) wmac (
    .clk, .rst_n, .in_valid(pv),
    .a({AWW'(power >> 24), AWW'(24'(power)), AWW'(power >> 24), AWW'(24'(power))}),
    .b({(MBW+1)'(pw2), (MBW+1)'(pw2), (MBW+1)'(pw1), (MBW+1)'(pw1)}),
    .in_tag(ptag[1:0]),
    .out_valid(wv), .o0(ca), .o1(cb), .out_tag(wtag), .busy(wbusy)
  );

  // ---- the two filter accumulators
  logic [ACCW-1:0] acc0, acc1;
  always_ff @(posedge clk) begin
    if (start) begin
      acc0 <= '0;
      acc1 <= '0;
    end else if (wv) begin
      acc0 <= (wtag[1] ? acc1 : acc0) + ACCW'(ca);
      acc1 <= (wtag[1] ? '0 : acc1) + ACCW'(cb);
    end
    out_acc <= acc0;
    out_last <= wtag[0];
    out_valid <= rst_n && wv && wtag[1];
  end
  assign busy = pbusy || wbusy || out_valid;
endmodule
