// Pipelined adder tree: the sum of N signed IW-bit inputs as a signed OW-bit value (OW
// must hold the largest sum, and then every partial sum too; melflow.rtl.lstm sizes it from
// the weights). Level l adds pairs of level l-1 (an odd one passes through); levels 2, 4, ...
// are registered, so the latency is clog2(N) / 2 cycles and at most two adders sit between
// registers. Level l is min(IW + l, OW) bits wide.
module lstm_addtree #(
  parameter int N = 4,
  parameter int IW = 12,
  parameter int OW = 16
) (
  input  logic                 clk,
  input  logic [N*IW-1:0]      in,
  output logic signed [OW-1:0] sum
);
  localparam int L = N > 1 ? $clog2(N) : 0;

  for (genvar l = 0; l <= L; l++) begin : lv
    localparam int NL = (N + (1 << l) - 1) >> l;
    localparam int LW = (IW + l < OW) ? IW + l : OW;
    logic [NL*LW-1:0] v;
    if (l == 0) begin : g_in
      for (genvar i = 0; i < NL; i++) begin : g_i
        assign v[i*LW +: LW] = LW'($signed(in[i*IW +: IW]));
      end
    end else begin : g_add
      localparam int NP = (N + (1 << (l - 1)) - 1) >> (l - 1);
      localparam int PW = (IW + l - 1 < OW) ? IW + l - 1 : OW;
      logic [NL*LW-1:0] s;
      always_comb begin
        for (int i = 0; i < NL; i++) begin
          if (2 * i + 1 < NP)
            s[i*LW +: LW] = LW'($signed(lv[l-1].v[2*i*PW +: PW])) + LW'($signed(lv[l-1].v[(2*i+1)*PW +: PW]));
          else
            s[i*LW +: LW] = LW'($signed(lv[l-1].v[2*i*PW +: PW]));
        end
      end
      if (l % 2 == 0) begin : g_reg
        always_ff @(posedge clk) v <= s;
      end else begin : g_comb
        assign v = s;
      end
    end
  end
  localparam int LWL = (IW + L < OW) ? IW + L : OW;
  assign sum = OW'($signed(lv[L].v[LWL-1:0]));
endmodule
