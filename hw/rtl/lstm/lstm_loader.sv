// Input side of the LSTM unit: one time step's F input codes arrive IN_PAR per beat and
// are written into one of two x banks (double buffering), Q = gcd(IN_PAR, SIMD) codes per
// cycle. The x memory has SIMD lanes (element e in lane e % SIMD, word e / SIMD), written
// in groups of Q lanes: Q consecutive codes starting at a multiple of Q always fill one
// whole group, so no lane rotation is needed for any IN_PAR and SIMD that divide F.
//
// A bank is full once its F codes are in; it stays full (the input stalls when both banks
// are) until the compute side releases it at the end of the step that read it. Banks are
// filled and released in the same order, 0, 1, 0, ...; `ready` says the oldest full bank
// (the next step's x) is complete.
module lstm_loader #(
  parameter int IN_PAR = 1,
  parameter int IN_BITS = 4,
  parameter int INW = 8,       // TDATA width (IN_PAR * IN_BITS padded to bytes)
  parameter int SIMD = 1,
  parameter int Q = 1,         // codes written per cycle
  parameter int FX = 4,        // words per bank (F / SIMD)
  parameter int XAW = 3,       // x memory address bits (2 * FX words)
  parameter int GW = 1         // group select bits
) (
  input  logic                 clk,
  input  logic                 rst_n,
  /* verilator lint_off UNUSEDSIGNAL */  // the padding to whole bytes
  input  logic [INW-1:0]       in_data,
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic                 in_valid,
  output logic                 in_ready,
  output logic                 we,
  output logic [GW-1:0]        wgrp,
  output logic [XAW-1:0]       waddr,
  output logic [Q*IN_BITS-1:0] wdata,
  input  logic                 release_bank,  // the compute side is done with the oldest full bank
  output logic                 ready          // the oldest full bank is complete
);
  localparam int CPB = IN_PAR / Q;     // chunks (write cycles) per beat
  localparam int NGRP = SIMD / Q;
  localparam int CW = CPB > 1 ? $clog2(CPB) : 1;
  localparam int WW = FX > 1 ? $clog2(FX) : 1;

  logic                      hv;       // a beat is held
  logic [IN_PAR*IN_BITS-1:0] hd;
  logic [CW-1:0]             ci;       // its next chunk
  logic                      wb, rb;   // bank being written, oldest full bank
  logic [1:0]                full;
  logic [GW-1:0]             gi;       // group and word of the next chunk
  logic [WW-1:0]             wi;

  wire last_chunk = int'(ci) == CPB - 1;
  wire last_group = int'(gi) == NGRP - 1;
  wire last_word = int'(wi) == FX - 1;
  assign we = hv && !full[wb];
  assign in_ready = !hv || (we && last_chunk);
  assign wgrp = gi;
  assign waddr = wb ? XAW'(FX) + XAW'(wi) : XAW'(wi);
  assign wdata = hd[ci * Q * IN_BITS +: Q * IN_BITS];
  assign ready = full[rb];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      hv <= 1'b0;
      ci <= '0;
      wb <= 1'b0;
      rb <= 1'b0;
      full <= '0;
      gi <= '0;
      wi <= '0;
    end else begin
      if (we) begin
        ci <= last_chunk ? '0 : ci + 1'b1;
        if (last_chunk) hv <= 1'b0;
        gi <= last_group ? '0 : gi + 1'b1;
        if (last_group) begin
          wi <= last_word ? '0 : wi + 1'b1;
          if (last_word) begin
            full[wb] <= 1'b1;
            wb <= !wb;
          end
        end
      end
      if (in_valid && in_ready) hv <= 1'b1;
      // never the bank being written: that one is not full
      if (release_bank) begin
        full[rb] <= 1'b0;
        rb <= !rb;
      end
    end
    if (in_valid && in_ready) hd <= in_data[IN_PAR*IN_BITS-1:0];
  end
endmodule
