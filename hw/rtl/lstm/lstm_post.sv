// Everything of an LSTM time step after the dot products, one hidden unit per cycle, fully
// pipelined (docs/lstm.md, "One time step in integers"; LstmIntegerParams.step):
//
//   S1  NG dot products in; the gate biases of unit n (bias ROM)
//   S2  acc_g = (dot_g << ACC_LSH[g]) + bias_g
//   S3  a_g = clip_acc_g(shr(acc_g, ACC_SHIFT[g])), as a table index a_g - lo
//   S4  i, f, g, o from the sigmoid / tanh ROMs (CIFG: f = ONES - i); c of unit n
//       (cell-state RAM, 0 in the first step of a sequence)
//   S5  f * c, i * g
//   S6  clip_c(shr(f * c)), clip_c(shr(i * g))
//   S7  c' = clip_c(sum), written back; tanh(c') ROM index
//   S8  tanh(c')
//   S9  o * tanh(c')
//   S10 h' = clip_io(shr(o * tanh(c'))): out_valid, out_h, out_last (unit H - 1)
//
// Units arrive in order 0, 1, ..., H-1 once per step (a counter gives n). A unit's cell
// state is read in S3 and written in S7 of the same pass; the controller starts the next
// step only after unit H-1 has left S10, so no read can see a stale c.
module lstm_post
  import lstm_cfg::*;
(
  input  logic              clk,
  input  logic              rst_n,
  input  logic              in_valid,
  input  logic [NG*DOTW-1:0] in_dot,
  input  logic              first_step,   // stable during a step: c = 0
  output logic              out_valid,
  output logic [HB-1:0]     out_h,
  output logic              out_last
);
  localparam int NW = H > 1 ? $clog2(H) : 1;
  localparam int FWD = TBW + 1;                  // f, also as ONES - i
  localparam int FCW = FWD + CB;                 // f * c
  localparam int IGW = 2 * TBW;                  // i * g
  localparam int OTW = TBW + THW;                // o * tanh(c)
  localparam int CIB = C_BITS;                   // tanh(c) table index bits
  localparam int NLAT = 10;

  // valid, last and unit index along the pipeline: index k is stage Sk
  logic [NLAT:1] v, lst;
  logic [NW-1:0] n [NLAT+1];
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      n[0] <= '0;
      v <= '0;
    end else begin
      if (in_valid) n[0] <= (int'(n[0]) == H - 1) ? '0 : n[0] + 1'b1;
      v <= {v[NLAT-1:1], in_valid};
    end
    lst <= {lst[NLAT-1:1], int'(n[0]) == H - 1};
    for (int k = 1; k <= NLAT; k++) n[k] <= n[k-1];
  end
  assign out_valid = v[NLAT];
  assign out_last = lst[NLAT];

  // ---------------------------------------------------------------- S1, S2
  logic [NG*BW-1:0] bias1;
  mf_rom #(.W(NG * BW), .DEPTH(H), .FILE(BIAS_ROM)) brom (.clk, .addr(n[0]), .q(bias1));
  logic signed [DOTW-1:0] dot1 [NG];
  logic signed [ACCW-1:0] acc2 [NG];
  always_ff @(posedge clk) begin
    for (int g = 0; g < NG; g++) begin
      dot1[g] <= $signed(in_dot[g*DOTW +: DOTW]);
      acc2[g] <= (ACCW'(dot1[g]) <<< ACC_LSH[g]) + ACCW'($signed(bias1[g*BW +: BW]));
    end
  end

  // ---------------------------------------------------------------- S3, S4: gate activations
  logic signed [TBW-1:0] act4 [NG];
  for (genvar g = 0; g < NG; g++) begin : g_gate
    logic signed [ACC_OW-1:0] a;
    lstm_shr #(
      .IW(ACCW), .OW(ACC_OW), .SHIFT(ACC_SHIFT[g]), .MODE(ACC_MODE[g]), .LO(ACC_LO[g]), .HI(ACC_HI[g])
    ) requant (.v(acc2[g]), .y(a));
    logic [ACC_IB-1:0] idx3;
    always_ff @(posedge clk) idx3 <= ACC_IB'(a - ACC_OW'(ACC_LO[g]));
    logic [TBW-1:0] q;
    mf_rom #(.W(TBW), .DEPTH(ACC_DEPTH[g]), .FILE(GATE_ROM[g])) rom (.clk, .addr(idx3), .q(q));
    assign act4[g] = $signed(q);
  end

  logic signed [CB-1:0] c4;
  logic [CB-1:0] cq;
  logic signed [CB-1:0] c7;
  mf_ram #(.W(CB), .DEPTH(H)) cmem (.clk, .we(v[7]), .waddr(n[7]), .wdata(c7), .raddr(n[3]), .rdata(cq));
  assign c4 = first_step ? '0 : $signed(cq);

  // ---------------------------------------------------------------- S5 .. S7: cell update
  logic signed [FWD-1:0] f4;
  if (CIFG) begin : g_cifg
    assign f4 = FWD'(ONES) - FWD'(act4[GI_I]);
  end else begin : g_forget
    assign f4 = FWD'(act4[GI_F]);
  end
  logic signed [FCW-1:0] fc5;
  logic signed [IGW-1:0] ig5;
  logic signed [TBW-1:0] o5, o6, o7, o8;
  always_ff @(posedge clk) begin
    fc5 <= FCW'(f4) * FCW'(c4);
    ig5 <= IGW'(act4[GI_I]) * IGW'(act4[GI_G]);
    o5 <= act4[GI_O];
    o6 <= o5;
    o7 <= o6;
    o8 <= o7;
  end
  logic signed [CB-1:0] c1, c2, c1_6, c2_6;
  lstm_shr #(.IW(FCW), .OW(CB), .SHIFT(SH_FC), .MODE(C_MODE), .LO(C_LO), .HI(C_HI)) shr_fc (.v(fc5), .y(c1));
  lstm_shr #(.IW(IGW), .OW(CB), .SHIFT(SH_IC), .MODE(C_MODE), .LO(C_LO), .HI(C_HI)) shr_ig (.v(ig5), .y(c2));
  logic signed [CB:0] csum;
  assign csum = (CB+1)'(c1_6) + (CB+1)'(c2_6);
  always_ff @(posedge clk) begin
    c1_6 <= c1;
    c2_6 <= c2;
    c7 <= csum < (CB+1)'(C_LO) ? CB'(C_LO) : (csum > (CB+1)'(C_HI) ? CB'(C_HI) : CB'(csum));
  end

  // ---------------------------------------------------------------- S8 .. S10: hidden output
  logic [THW-1:0] t8;
  mf_rom #(.W(THW), .DEPTH(C_DEPTH), .FILE(TANH_H_ROM)) trom (.clk, .addr(CIB'(c7 - CB'(C_LO))), .q(t8));
  logic signed [OTW-1:0] ot9;
  always_ff @(posedge clk) ot9 <= OTW'(o8) * OTW'($signed(t8));
  logic signed [HB-1:0] h;
  lstm_shr #(.IW(OTW), .OW(HB), .SHIFT(SH_H), .MODE(H_MODE), .LO(H_LO), .HI(H_HI)) shr_h (.v(ot9), .y(h));
  always_ff @(posedge clk) out_h <= h;
endmodule
