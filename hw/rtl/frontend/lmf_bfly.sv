// One radix-2 decimation-in-time butterfly of the FFT (docs/frontend.md, step 2):
//
//   tr = (Br*Wr + Bi*(-Wi) + 2**(TB-1)) >>> TB,   ti = (Br*Wi + Bi*Wr + 2**(TB-1)) >>> TB
//   A' = A + t,  B' = A - t,  then each part rounded half up >>> sh (sh = 0, 1 or 2)
//
// The four products run on lmf_mac4 (PAR multipliers, a new butterfly every 4/PAR
// cycles). The tag (write addresses) travels with the data; results appear LAT cycles
// after in_valid.
module lmf_bfly #(
  parameter int FW = 25,   // data width (signed) of every FFT node
  parameter int TWW = 17,  // twiddle width (signed)
  parameter int TB = 15,   // twiddle fractional bits
  parameter int PAR = 4,
  parameter int TAGW = 1
) (
  input  logic                 clk,
  input  logic                 rst_n,
  input  logic                 in_valid,
  input  logic signed [FW-1:0] a_re, a_im, b_re, b_im,
  input  logic signed [TWW-1:0] w_re, w_im,
  input  logic [1:0]           sh,
  input  logic [TAGW-1:0]      in_tag,
  output logic                 out_valid,
  output logic [FW-1:0]        oa_re, oa_im, ob_re, ob_im,
  output logic [TAGW-1:0]      out_tag,
  output logic                 busy
);
  localparam int LAT = 4 / PAR + 5;
  localparam int OW = FW + TWW + 1;      // Br*Wr - Bi*Wi
  localparam int MTW = TAGW + 2 + 2 * FW;

  logic                 mv;
  logic signed [OW-1:0] mo0, mo1;
  logic [MTW-1:0]       mt;
  logic                 mbusy;
  logic signed [TWW-1:0] w_im_neg;  // |w| <= 2**TB < 2**(TWW-1): the negation fits
  assign w_im_neg = -w_im;
  lmf_mac4 #(.AW(FW), .BW(TWW), .OW(OW), .PAR(PAR), .SH1(0), .TW(MTW)) mac (
    .clk, .rst_n, .in_valid,
    .a({b_im, b_re, b_im, b_re}),
    .b({w_re, w_im, w_im_neg, w_re}),
    .in_tag({in_tag, sh, a_re, a_im}),
    .out_valid(mv), .o0(mo0), .o1(mo1), .out_tag(mt), .busy(mbusy)
  );

  // stage A: round the twiddle products
  logic signed [FW+1:0] tr, ti, ar, ai;
  logic [1:0]           sh_a;
  logic [TAGW-1:0]      tag_a;
  logic                 va;
  always_ff @(posedge clk) begin
    tr <= (FW+2)'((mo0 + (OW'(1) <<< (TB - 1))) >>> TB);
    ti <= (FW+2)'((mo1 + (OW'(1) <<< (TB - 1))) >>> TB);
    {tag_a, sh_a} <= mt[MTW-1:2*FW];
    ar <= (FW+2)'($signed(mt[2*FW-1:FW]));
    ai <= (FW+2)'($signed(mt[FW-1:0]));
    va <= rst_n && mv;
  end

  // stage B: butterfly and the stage's rounding shift
  function automatic logic [FW-1:0] rshift(input logic signed [FW+1:0] v, input logic [1:0] s);
    case (s)
      2'd1:    rshift = FW'((v + (FW+2)'(1)) >>> 1);
      2'd2:    rshift = FW'((v + (FW+2)'(2)) >>> 2);
      default: rshift = FW'(v);
    endcase
  endfunction
  always_ff @(posedge clk) begin
    oa_re <= rshift(ar + tr, sh_a);
    oa_im <= rshift(ai + ti, sh_a);
    ob_re <= rshift(ar - tr, sh_a);
    ob_im <= rshift(ai - ti, sh_a);
    out_tag <= tag_a;
    out_valid <= rst_n && va;
  end
  assign busy = mbusy || va || out_valid;
endmodule
