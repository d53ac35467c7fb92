// Four products summed in pairs, on PAR multipliers (the frontend's folding knob):
//
//   o0 = a[0]*b[0] + (a[1]*b[1] << SH1),   o1 = a[2]*b[2] + (a[3]*b[3] << SH1)
//
// a and b are signed. PAR = 4 computes one operation per cycle; PAR = 2 or 1 holds the
// operands and runs the products through its multipliers, so a new operation may start
// every II = 4/PAR cycles: PAR = 2 does one pair per cycle, PAR = 1 one product per cycle
// in the order 1, 0, 3, 2 (o = (a1*b1 << SH1) + a0*b0 with a single adder). The results
// (and the tag given with the operands) appear LAT = II + 3 cycles after in_valid, for one
// cycle. Each product is a registered a*b of registered operands, which maps onto one
// DSP48 when AW <= 25 and BW <= 18. The sums are exact modulo 2**OW.
module lmf_mac4 #(
  parameter int AW = 25,
  parameter int BW = 18,
  parameter int OW = 48,
  parameter int PAR = 4,
  parameter int SH1 = 0,
  parameter int TW = 1
) (
  input  logic                 clk,
  input  logic                 rst_n,
  input  logic                 in_valid,
  input  logic [3:0][AW-1:0]   a,
  input  logic [3:0][BW-1:0]   b,
  input  logic [TW-1:0]        in_tag,
  output logic                 out_valid,
  output logic signed [OW-1:0] o0,
  output logic signed [OW-1:0] o1,
  output logic [TW-1:0]        out_tag,
  output logic                 busy
);
  localparam int II = 4 / PAR;
  localparam int PW = AW + BW;

  // hold the operands for the II cycles of one operation
  logic [3:0][AW-1:0] ah;
  logic [3:0][BW-1:0] bh;
  logic [TW-1:0]      th;
  logic [II-1:0]      ph;  // one-hot: cycle of the operation in progress
  always_ff @(posedge clk) begin
    if (in_valid) begin
      ah <= a;
      bh <= b;
      th <= in_tag;
    end
    if (!rst_n) ph <= '0;
    else begin
      ph[0] <= in_valid;
      for (int i = 1; i < II; i++) ph[i] <= ph[i-1];
    end
  end

  // stage 1: operand registers; lane l of cycle c takes product c*PAR + l (c ^ 1 if PAR = 1)
  logic signed [AW-1:0] ar [PAR];
  logic signed [BW-1:0] br [PAR];
  logic [1:0]    c1, c2;
  logic          v1, v2;
  logic [TW-1:0] t1, t2;
  always_ff @(posedge clk) begin
    for (int c = 0; c < II; c++) begin
      if (ph[c]) begin
        for (int l = 0; l < PAR; l++) begin
          ar[l] <= $signed(ah[PAR == 1 ? c ^ 1 : c * PAR + l]);
          br[l] <= $signed(bh[PAR == 1 ? c ^ 1 : c * PAR + l]);
        end
        c1 <= 2'(c);
      end
    end
    if (ph[II-1]) t1 <= th;
    v1 <= rst_n && (|ph);
  end

  // stage 2: products
  logic signed [PW-1:0] m [PAR];
  always_ff @(posedge clk) begin
    for (int l = 0; l < PAR; l++) m[l] <= ar[l] * br[l];
    c2 <= c1;
    t2 <= t1;
    v2 <= rst_n && v1;
  end

  // stage 3: pair sums
  logic signed [OW-1:0] r0, r1;
  if (PAR == 4) begin : g_par4
    always_ff @(posedge clk) begin
      if (v2) begin
        r0 <= OW'(m[0]) + (OW'(m[1]) <<< SH1);
        r1 <= OW'(m[2]) + (OW'(m[3]) <<< SH1);
      end
    end
  end else if (PAR == 2) begin : g_par2
    logic signed [OW-1:0] s;
    assign s = OW'(m[0]) + (OW'(m[1]) <<< SH1);
    always_ff @(posedge clk) begin
      if (v2 && !c2[0]) r0 <= s;
      if (v2 && c2[0]) r1 <= s;
    end
  end else begin : g_par1
    logic signed [PW-1:0] w;  // the odd product of the pair, waiting for the even one
    logic signed [OW-1:0] s;
    assign s = (OW'(w) <<< SH1) + OW'(m[0]);
    always_ff @(posedge clk) begin
      if (v2 && !c2[0]) w <= m[0];
      if (v2 && c2 == 2'd1) r0 <= s;
      if (v2 && c2 == 2'd3) r1 <= s;
    end
  end
  always_ff @(posedge clk) begin
    if (v2 && int'(c2) == II - 1) out_tag <= t2;
    out_valid <= rst_n && v2 && (int'(c2) == II - 1);
  end
  assign o0 = r0;
  assign o1 = r1;
  assign busy = (|ph) || v1 || v2 || out_valid;
endmodule
