// Streaming integer LSTM unit, bit-exact with melflow.compiler.lstm_cell.LstmIntegerParams
// (docs/lstm.md, "RTL LSTM unit"). Sizes, widths, shifts, the folding (PE, SIMD) and the ROM
// files come from package lstm_cfg, which melflow.rtl.lstm.write_lstm_rtl generates from the
// cell's integer parameters together with the ROM images.
//
// in0_V: the input codes of one time step after the other, F per step, IN_PAR per beat
// (element 0 in the LSBs); the cell sees x = code << X_LSHIFT. out0_V: after the N_STEPS-th
// step of a sequence, the last hidden state h, H signed HB-bit codes, OUT_PAR per beat.
// h and c then start again from 0 for the next sequence, which follows without a reset.
// ap_rst_n (active low, synchronous) starts a new sequence.
//
// Per step: NF = H / PE neuron folds of SF = (F + H) / SIMD cycles; in each cycle PE hidden
// units multiply all their NG gates' weights with SIMD elements of [x; h] (lstm_mac). A
// fold's NG * PE dot products then pass one unit per cycle through lstm_post (folds are
// spaced max(SF, PE) cycles apart so that it keeps up). The new h goes to the second h
// bank, swapped in when the step's last unit is done (every row needs the whole old h);
// the next step's x streams into the second x bank meanwhile (lstm_loader).
`default_nettype none
module lstm_unit
  import lstm_cfg::*;
(
  input  wire             ap_clk,
  input  wire             ap_rst_n,
  input  wire [INW-1:0]   in0_V_TDATA,
  input  wire             in0_V_TVALID,
  output wire             in0_V_TREADY,
  output wire [OUTW-1:0]  out0_V_TDATA,
  output wire             out0_V_TVALID,
  input  wire             out0_V_TREADY
);
  localparam int FX = F / SIMD;                 // x words per bank
  localparam int HX = H / SIMD;                 // h words per bank
  localparam int XAW = $clog2(2 * FX);
  localparam int HAW = $clog2(2 * HX);
  localparam int XGW = SIMD / Q > 1 ? $clog2(SIMD / Q) : 1;
  localparam int HGW = SIMD > 1 ? $clog2(SIMD) : 1;
  localparam int SLOTS = SF > PE ? SF : PE;     // cycles per neuron fold
  localparam int SLW = $clog2(SLOTS + 1);
  localparam int NFW = NF > 1 ? $clog2(NF) : 1;
  localparam int TW = N_STEPS > 1 ? $clog2(N_STEPS) : 1;
  localparam int HWW = HX > 1 ? $clog2(HX) : 1;
  localparam int ODEPTH = H / OUT_PAR;

  logic clk, rst_n;
  assign clk = ap_clk;
  assign rst_n = ap_rst_n;

  // ---------------------------------------------------------------- x input, two banks
  logic x_we, x_ready, step_done;
  logic [XGW-1:0] x_wgrp;
  logic [XAW-1:0] x_waddr, x_raddr;
  logic [Q*IN_BITS-1:0] x_wdata;
  logic [SIMD*IN_BITS-1:0] x_lanes;
  lstm_loader #(
    .IN_PAR(IN_PAR), .IN_BITS(IN_BITS), .INW(INW), .SIMD(SIMD), .Q(Q), .FX(FX), .XAW(XAW), .GW(XGW)
  ) loader (
    .clk, .rst_n, .in_data(in0_V_TDATA), .in_valid(in0_V_TVALID), .in_ready(in0_V_TREADY),
    .we(x_we), .wgrp(x_wgrp), .waddr(x_waddr), .wdata(x_wdata), .release_bank(step_done), .ready(x_ready)
  );
  lstm_lanemem #(.LANES(SIMD), .GROUP(Q), .W(IN_BITS), .DEPTH(2 * FX)) xmem (
    .clk, .we(x_we), .wgrp(x_wgrp), .waddr(x_waddr), .wdata(x_wdata), .raddr(x_raddr), .rdata(x_lanes)
  );

  // ---------------------------------------------------------------- step control
  logic active, issuing;    // a step is running; its slots are being issued
  logic [TW-1:0] t;         // step within the sequence
  logic xb, hb;             // x bank and h bank (old h) the step reads
  logic [SLW-1:0] sf;       // slot within the fold; slots >= SF are idle
  logic [NFW-1:0] nf;
  logic [WAW-1:0] wa;
  logic [(ODEPTH > 1 ? $clog2(ODEPTH) : 1):0] fifo_count;
  wire fifo_empty = fifo_count == '0;
  wire first_step = t == '0;
  wire last_step = int'(t) == N_STEPS - 1;
  // the last step of a sequence writes the output FIFO, which holds exactly one h
  wire start = !active && x_ready && (!last_step || fifo_empty);
  wire issue = issuing && (int'(sf) < SF);
  wire isx = int'(sf) < FX;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      active <= 1'b0;
      issuing <= 1'b0;
      t <= '0;
      xb <= 1'b0;
      hb <= 1'b0;
      sf <= '0;
      nf <= '0;
      wa <= '0;
    end else begin
      if (start) begin
        active <= 1'b1;
        issuing <= 1'b1;
        sf <= '0;
        nf <= '0;
        wa <= '0;
      end
      if (issuing) begin
        if (issue) wa <= wa + 1'b1;
        if (int'(sf) == SLOTS - 1) begin
          sf <= '0;
          if (int'(nf) == NF - 1) issuing <= 1'b0;
          else nf <= nf + 1'b1;
        end else begin
          sf <= sf + 1'b1;
        end
      end
      if (step_done) begin
        active <= 1'b0;
        xb <= !xb;
        hb <= !hb;
        t <= last_step ? '0 : t + 1'b1;
      end
    end
  end
  assign x_raddr = isx ? (xb ? XAW'(FX) + XAW'(sf) : XAW'(sf)) : '0;

  // ---------------------------------------------------------------- h, two banks
  logic h_we;
  logic [HB-1:0] h_new;
  logic [HGW-1:0] h_lane;   // lane and word of the next h' (units come in order)
  logic [HWW-1:0] h_word;
  logic [HAW-1:0] h_raddr, h_waddr;
  logic [SIMD*HB-1:0] h_lanes;
  /* verilator lint_off UNUSEDSIGNAL */  // sh < HX: its high bits are 0
  wire [SLW-1:0] sh = sf - SLW'(FX);
  /* verilator lint_on UNUSEDSIGNAL */
  assign h_raddr = isx ? '0 : (hb ? HAW'(HX) + HAW'(sh) : HAW'(sh));
  assign h_waddr = hb ? HAW'(h_word) : HAW'(HX) + HAW'(h_word);
  lstm_lanemem #(.LANES(SIMD), .GROUP(1), .W(HB), .DEPTH(2 * HX)) hmem (
    .clk, .we(h_we), .wgrp(h_lane), .waddr(h_waddr), .wdata(h_new), .raddr(h_raddr), .rdata(h_lanes)
  );
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      h_lane <= '0;
      h_word <= '0;
    end else if (h_we) begin
      h_lane <= (int'(h_lane) == SIMD - 1) ? '0 : h_lane + 1'b1;
      if (int'(h_lane) == SIMD - 1) h_word <= (int'(h_word) == HX - 1) ? '0 : h_word + 1'b1;
    end
  end

  // ---------------------------------------------------------------- compute
  logic dot_valid;
  logic [NG*DOTW-1:0] dot;
  lstm_mac mac (
    .clk, .rst_n, .issue, .first(sf == '0), .last(int'(sf) == SF - 1), .isx, .waddr(wa),
    .zero_h(first_step), .x_lanes, .h_lanes, .out_valid(dot_valid), .out_dot(dot)
  );
  logic h_last;
  lstm_post post (
    .clk, .rst_n, .in_valid(dot_valid), .in_dot(dot), .first_step,
    .out_valid(h_we), .out_h(h_new), .out_last(h_last)
  );
  assign step_done = h_we && h_last;

  // ---------------------------------------------------------------- output
  logic o_we;
  logic [OUT_PAR*HB-1:0] o_word;
  if (OUT_PAR == 1) begin : g_pack1
    assign o_we = h_we && last_step;
    assign o_word = h_new;
  end else begin : g_pack
    localparam int PCW = $clog2(OUT_PAR);
    logic [PCW-1:0] pc;
    logic [(OUT_PAR-1)*HB-1:0] pk;  // the codes of the beat so far, the first in the LSBs
    always_ff @(posedge clk) begin
      if (!rst_n) pc <= '0;
      else if (h_we && last_step) pc <= (int'(pc) == OUT_PAR - 1) ? '0 : pc + 1'b1;
      if (h_we && last_step) begin
        for (int k = 0; k < OUT_PAR - 2; k++) pk[k*HB +: HB] <= pk[(k+1)*HB +: HB];
        pk[(OUT_PAR-2)*HB +: HB] <= h_new;
      end
    end
    assign o_we = h_we && last_step && (int'(pc) == OUT_PAR - 1);
    assign o_word = {h_new, pk};
  end
  logic [OUT_PAR*HB-1:0] o_data;
  mf_fifo #(.W(OUT_PAR * HB), .DEPTH(ODEPTH)) ofifo (
    .clk, .rst_n, .wr_en(o_we), .wr_data(o_word),
    .rd_valid(out0_V_TVALID), .rd_ready(out0_V_TREADY), .rd_data(o_data), .count(fifo_count)
  );
  assign out0_V_TDATA = OUTW'(o_data);
endmodule
`default_nettype wire
