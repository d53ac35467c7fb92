// log2 and int8 code of one mel energy (docs/frontend.md, steps 5 and 6):
//
//   a = max(acc, 1); e = position of the leading one; mant = the LM bits below it
//   lg = e * 2**LF + L[mant];   code = sat8(((lg + 2**(OSH-1)) >> OSH) - OFFSET)
//
// Four pipeline stages; one value per cycle.
module lmf_log #(
  parameter int    ACCW = 56,
  parameter int    LM = 7,       // mantissa bits (table index)
  parameter int    LF = 8,       // fractional bits of lg
  parameter int    OSH = 5,      // LF - out_frac_bits
  parameter int    OFFSET = 289,
  parameter string LOG_ROM = ""
) (
  input  logic            clk,
  input  logic            rst_n,
  input  logic            in_valid,
  input  logic [ACCW-1:0] acc,
  input  logic            in_last,
  output logic            out_valid,
  output logic [7:0]      code,
  output logic            out_last,
  output logic            busy
);
  localparam int EW = $clog2(ACCW);

  // stage 1: leading one
  logic [ACCW-1:0] a1;
  logic [EW-1:0]   e, e1, e2, e3;
  logic [3:0]      v;
  logic [3:0]      lst;
  always_comb begin
    e = '0;
    for (int i = 0; i < ACCW; i++) if (acc[i]) e = EW'(i);
  end
  always_ff @(posedge clk) begin
    a1 <= (acc == '0) ? ACCW'(1) : acc;
    e1 <= e;
  end

  // stage 2: the LM bits below the leading one ({a, LM zeros} >> e)
  logic [LM-1:0] mant;
  always_ff @(posedge clk) begin
    mant <= LM'({a1, LM'(0)} >> e1);
    e2 <= e1;
  end

  // stage 3: table
  logic [LF:0] lq;
  mf_rom #(.W(LF + 1), .DEPTH(1 << LM), .FILE(LOG_ROM), .BLOCK(1'b0)) rom (.clk, .addr(mant), .q(lq));
  always_ff @(posedge clk) e3 <= e2;

  // stage 4: round to the code step, offset, saturate
  int lg, c;
  always_comb begin
    lg = (int'(e3) << LF) + int'(lq);
    c = ((lg + ((OSH > 0) ? (1 << (OSH - 1)) : 0)) >>> OSH) - OFFSET;
  end
  always_ff @(posedge clk) begin
    code <= (c > 127) ? 8'sd127 : (c < -128) ? -8'sd128 : 8'(c);
    v <= rst_n ? {v[2:0], in_valid} : 4'd0;
    lst <= {lst[2:0], in_last};
  end
  assign out_valid = v[3];
  assign out_last = lst[3];
  assign busy = |v;
endmodule
