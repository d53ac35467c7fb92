// Requantization between power-of-two scales: y = clip(shr(v, SHIFT, MODE), LO, HI), the
// integer form of a Brevitas quantizer (melflow.compiler.lstm_cell.shift_round):
// v / 2**SHIFT rounded to an integer, SHIFT <= 0 an exact left shift. Combinational.
//
// MODE: 0 ROUND (half to even), 1 FLOOR, 2 CEIL, 3 ROUND_TO_ZERO. With q = floor(v / 2**n)
// and r = v - q * 2**n in [0, 2**n): ROUND adds 1 if r > half, or r == half and q is odd;
// CEIL if r != 0; ROUND_TO_ZERO if r != 0 and v < 0.
module lstm_shr #(
  parameter int IW = 16,       // input width (signed)
  parameter int OW = 8,        // output width (signed), holds [LO, HI]
  parameter int SHIFT = 0,
  parameter int MODE = 0,
  parameter longint LO = -128,
  parameter longint HI = 127
) (
  input  logic signed [IW-1:0] v,
  output logic signed [OW-1:0] y
);
  localparam int LS = SHIFT < 0 ? -SHIFT : 0;
  localparam int RS = SHIFT > 0 ? SHIFT : 0;
  localparam int EW = IW + LS + 1;  // room for the left shift and the rounding increment
  logic signed [EW-1:0] s;

  if (RS == 0) begin : g_left
    assign s = EW'(v) <<< LS;
  end else begin : g_right
    localparam logic [RS-1:0] HALF = RS'(1) << (RS - 1);
    logic signed [EW-1:0] q;
    logic [RS-1:0] r;
    logic inc;
    assign q = EW'(v) >>> RS;   // floor
    assign r = v[RS-1:0];
    always_comb begin
      case (MODE)
        0: inc = (r > HALF) || ((r == HALF) && q[0]);
        1: inc = 1'b0;
        2: inc = r != '0;
        default: inc = (r != '0) && v[IW-1];
      endcase
    end
    assign s = q + EW'(inc);
  end

  logic signed [63:0] s64;
  assign s64 = 64'(s);
  assign y = s64 < LO ? OW'(LO) : (s64 > HI ? OW'(HI) : OW'(s64));
endmodule
