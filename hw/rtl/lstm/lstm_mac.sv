// The MAC array of the LSTM unit: PE hidden units at a time, each computing the dot
// products of all NG gates with the concatenated [x; h] vector, SIMD elements per cycle.
//
// Weights: one ROM word per (neuron fold nf, SIMD fold sf), address nf * SF + sf, holding
// the weight of (PE pe, gate gi, lane s) at bits ((pe * NG + gi) * SIMD + s) * WB, i.e. of
// hidden unit nf * PE + pe and column sf * SIMD + s of [W_x | W_h] (melflow.rtl.lstm).
//
// Pipeline (no stalls; the controller spaces the folds at least PE cycles apart):
//   issue   ROM and x/h memory addresses (in the top)
//   M1      ROM word and x/h lanes arrive; operand = x code << X_LSHIFT or h (0 in the
//           first step of a sequence); PE * NG * SIMD products, registered
//   tree    SIMD products summed per (pe, gate), TL = clog2(SIMD) / 2 cycles
//   acc     acc = first ? sum : acc + sum; the last SIMD fold also writes `hold`
//   drain   hold[0], hold[1], ... hold[PE-1] leave on consecutive cycles (one hidden unit
//           per cycle towards lstm_post), before the next fold overwrites hold
module lstm_mac
  import lstm_cfg::*;
(
  input  logic                    clk,
  input  logic                    rst_n,
  input  logic                    issue,      // issue cycle: a valid (nf, sf) slot
  input  logic                    first,      // sf == 0
  input  logic                    last,       // sf == SF - 1
  input  logic                    isx,        // sf < F / SIMD: the x part
  input  logic [WAW-1:0]          waddr,
  input  logic                    zero_h,     // the first step of a sequence: h = 0
  input  logic [SIMD*IN_BITS-1:0] x_lanes,    // M1: x memory word
  input  logic [SIMD*HB-1:0]      h_lanes,    // M1: h memory word
  output logic                    out_valid,  // one hidden unit's NG dot products
  output logic [NG*DOTW-1:0]      out_dot
);
  localparam int XW = IN_BITS + (IN_SIGNED ? 0 : 1) + X_LSHIFT;  // x operand (signed)
  localparam int VW = XW > HB ? XW : HB;
  localparam int PW = WB + VW;
  localparam int TL = (SIMD > 1 ? $clog2(SIMD) : 0) / 2;
  localparam int DW = PE > 1 ? $clog2(PE) : 1;

  // ---------------------------------------------------------------- M1
  logic [PE*NG*SIMD*WB-1:0] wq;
  mf_rom #(.W(PE * NG * SIMD * WB), .DEPTH(NF * SF), .FILE(WEIGHT_ROM)) wrom (.clk, .addr(waddr), .q(wq));
  logic v1, first1, last1, isx1;
  always_ff @(posedge clk) begin
    v1 <= rst_n && issue;
    first1 <= first;
    last1 <= last;
    isx1 <= isx;
  end

  logic signed [VW-1:0] op [SIMD];
  for (genvar s = 0; s < SIMD; s++) begin : g_op
    logic signed [XW-1:0] xs;
    if (IN_SIGNED) begin : g_s
      assign xs = XW'($signed(x_lanes[s*IN_BITS +: IN_BITS])) <<< X_LSHIFT;
    end else begin : g_u
      assign xs = XW'($signed({1'b0, x_lanes[s*IN_BITS +: IN_BITS]})) <<< X_LSHIFT;
    end
    assign op[s] = isx1 ? VW'(xs) : (zero_h ? '0 : VW'($signed(h_lanes[s*HB +: HB])));
  end

  // ---------------------------------------------------------------- M2: products
  logic v2, first2, last2;
  always_ff @(posedge clk) begin
    v2 <= rst_n && v1;
    first2 <= first1;
    last2 <= last1;
  end

  // w * v. MUL_LUT: radix-4 Booth, the weight's bit pairs as digits in {-2, ..., 2}, so a
  // product is ceil(WB / 2) selected (+-v, +-2v, 0) partial products added up: narrow products
  // stay in LUTs (about a third fewer than shift-and-add) instead of taking a DSP slice each.
  // Otherwise a plain product that synthesis may map to a DSP.
  localparam int ND = (WB + 1) / 2;  // Booth digits
  function automatic logic signed [PW-1:0] mul(input logic signed [WB-1:0] w, input logic signed [VW-1:0] v);
    logic signed [PW-1:0] r;
    if (MUL_LUT) begin
      logic [2*ND:0] e;  // {w sign-extended to 2 * ND bits, 0}
      e = {(2*ND)'(w), 1'b0};
      r = '0;
      for (int k = 0; k < ND; k++) begin
        logic signed [PW-1:0] pp;
        case (e[2*k +: 3])
          3'b001, 3'b010: pp = PW'(v);
          3'b011:         pp = PW'(v) <<< 1;
          3'b100:         pp = -(PW'(v) <<< 1);
          3'b101, 3'b110: pp = -PW'(v);
          default:        pp = '0;
        endcase
        r = r + (pp <<< (2 * k));
      end
    end else begin
      r = PW'(w) * PW'(v);
    end
    return r;
  endfunction

  logic signed [DOTW-1:0] sum [PE][NG];
  for (genvar p = 0; p < PE; p++) begin : g_pe
    for (genvar g = 0; g < NG; g++) begin : g_gate
      logic [SIMD*PW-1:0] prod;
      always_ff @(posedge clk) begin
        for (int s = 0; s < SIMD; s++)
          prod[s*PW +: PW] <= mul(wq[((p * NG + g) * SIMD + s) * WB +: WB], op[s]);
      end
      lstm_addtree #(.N(SIMD), .IW(PW), .OW(DOTW)) tree (.clk, .in(prod), .sum(sum[p][g]));
    end
  end

  // ---------------------------------------------------------------- accumulate
  logic va, fa, la;  // M2 flags delayed by the tree latency
  if (TL == 0) begin : g_nodelay
    assign va = v2;
    assign fa = first2;
    assign la = last2;
  end else begin : g_delay
    logic [TL-1:0] dv, df, dl;
    always_ff @(posedge clk) begin
      for (int i = TL - 1; i > 0; i--) begin
        dv[i] <= rst_n && dv[i-1];
        df[i] <= df[i-1];
        dl[i] <= dl[i-1];
      end
      dv[0] <= rst_n && v2;
      df[0] <= first2;
      dl[0] <= last2;
    end
    assign va = dv[TL-1];
    assign fa = df[TL-1];
    assign la = dl[TL-1];
  end

  logic signed [DOTW-1:0] acc [PE][NG];
  logic signed [DOTW-1:0] hold [PE][NG];
  always_ff @(posedge clk) begin
    for (int p = 0; p < PE; p++) begin
      for (int g = 0; g < NG; g++) begin
        logic signed [DOTW-1:0] nxt;
        nxt = fa ? sum[p][g] : acc[p][g] + sum[p][g];
        if (va) acc[p][g] <= nxt;
        if (va && la) hold[p][g] <= nxt;
      end
    end
  end

  // ---------------------------------------------------------------- drain
  logic [DW-1:0] d;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_valid <= 1'b0;
      d <= '0;
    end else if (va && la) begin
      out_valid <= 1'b1;
      d <= '0;
    end else if (out_valid) begin
      out_valid <= int'(d) != PE - 1;
      d <= (int'(d) == PE - 1) ? '0 : d + 1'b1;
    end
  end
  for (genvar g = 0; g < NG; g++) begin : g_out
    assign out_dot[g*DOTW +: DOTW] = hold[d][g];
  end
endmodule
