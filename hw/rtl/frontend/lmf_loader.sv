// Frame loader: window, then FFT stages 0 and 1, into the FFT working memory.
//
// FFT input position i holds windowed sample bitrev(i). The four positions 4g..4g+3 hold
// samples r, r + N/2, r + N/4, r + 3N/4 (r = bitrev(4g) < N/4), and stages 0 and 1 combine
// exactly these four with the exact twiddles 1 and -j (no multiplier, as the spec allows):
//
//   p0 = X0 + X1, p1 = X0 - X1, p2 = X2 + X3, p3 = X2 - X3         (then shift of stage 0)
//   4g: (p0 + p2, 0)  4g+1: (p1, -p3)  4g+2: (p0 - p2, 0)  4g+3: (p1, p3)  (then stage 1's)
//
// LP lanes (1 or 2) read LP samples per cycle from their copy of the sample buffer and
// multiply them by the window ROM (lane l holds window entries [l*N/LP, (l+1)*N/LP), zero
// from win_length on): xw = (x * w + 2**(WSH-1)) >>> WSH. A group of four takes 4/LP cycles;
// its four results are written as two pairs (one position per memory bank each).
module lmf_loader #(
  parameter int    LOG2N = 9,
  parameter int    NBW = 10,     // log2 of the sample buffer depth
  parameter int    LP = 1,
  parameter int    WIN_W = 16,   // window ROM width (unsigned)
  parameter int    WSH = 14,
  parameter int    XW = 17,      // windowed sample width (signed)
  parameter int    FW = 25,
  parameter int    SH0 = 0,
  parameter int    SH1 = 0,
  parameter string WROM0 = "",
  parameter string WROM1 = ""
) (
  input  logic                clk,
  input  logic                rst_n,
  input  logic                start,     // one-cycle pulse: load the frame at rbase
  input  logic [NBW-1:0]      rbase,     // buffer address of the frame's first sample
  output logic [LP-1:0][NBW-1:0] buf_addr,
  input  logic [LP-1:0][15:0] buf_data,  // one cycle after buf_addr
  // write pair: position a to bank par_a at addr_a, position b to the other bank at addr_b
  output logic                wr_valid,
  output logic                wr_par_a,
  output logic [LOG2N-2:0]    wr_addr_a,
  output logic [LOG2N-2:0]    wr_addr_b,
  output logic [2*FW-1:0]     wr_da,     // {im, re}
  output logic [2*FW-1:0]     wr_db,
  output logic                busy
);
  localparam int N = 1 << LOG2N;
  localparam int GB = LOG2N - 2;               // group index bits
  localparam int CPG = 4 / LP;                 // cycles per group
  localparam int CB = LOG2N - $clog2(LP);      // issue counter bits (N / LP reads per lane)
  localparam int RA = LOG2N - $clog2(LP);      // window ROM address bits per lane

  function automatic logic [GB-1:0] bitrev_g(input logic [GB-1:0] v);
    for (int i = 0; i < GB; i++) bitrev_g[i] = v[GB-1-i];
  endfunction

  // ---- issue: sample n = {bitrev2(u), bitrev(g)} for u = 0..3 of group g
  logic          active;
  logic [CB-1:0] cnt;
  logic [GB-1:0] g0;
  logic [1:0]    u0;  // u of lane 0
  always_comb begin
    g0 = GB'(cnt >> $clog2(CPG));
    u0 = 2'((int'(cnt) % CPG) * LP);
  end
  logic [LP-1:0][RA-1:0] rom_addr;
  always_comb begin
    for (int l = 0; l < LP; l++) begin
      logic [1:0] u;
      logic [LOG2N-1:0] n;
      u = u0 + 2'(l);
      n = {u[0], u[1], bitrev_g(g0)};
      buf_addr[l] = NBW'(rbase + NBW'(n));
      rom_addr[l] = RA'(n);
    end
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      active <= 1'b0;
      cnt <= '0;
    end else if (start) begin
      active <= 1'b1;
      cnt <= '0;
    end else if (active) begin
      cnt <= cnt + 1'b1;
      if (cnt == CB'(N / LP - 1)) active <= 1'b0;
    end
  end

  logic [LP-1:0][WIN_W-1:0] wq;
  for (genvar l = 0; l < LP; l++) begin : g_wrom
    mf_rom #(.W(WIN_W), .DEPTH(N / LP), .FILE(l == 0 ? WROM0 : WROM1), .BLOCK(1'b1)) rom (
      .clk, .addr(rom_addr[l]), .q(wq[l])
    );
  end

  // ---- window products: data (stage 1) -> operand regs (2) -> product (3)
  logic          v1, v2, v3;
  logic [1:0]    u1, u2, u3;
  logic [GB-1:0] gq1, gq2, gq3;
  logic signed [15:0]      xr [LP];
  logic signed [WIN_W:0]   wr [LP];
  logic signed [WIN_W+16:0] pr [LP];
  always_ff @(posedge clk) begin
    v1 <= rst_n && active;
    u1 <= u0;
    gq1 <= g0;
    v2 <= rst_n && v1;
    u2 <= u1;
    gq2 <= gq1;
    v3 <= rst_n && v2;
    u3 <= u2;
    gq3 <= gq2;
    for (int l = 0; l < LP; l++) begin
      xr[l] <= $signed(buf_data[l]);
      wr[l] <= $signed({1'b0, wq[l]});
      pr[l] <= xr[l] * wr[l];
    end
  end

  // ---- collect the four windowed samples of a group (they arrive in the order u = 0..3)
  logic signed [XW-1:0] xw [LP];
  logic signed [XW-1:0] xs [4 - LP];  // the group's earlier samples, oldest first
  logic signed [XW-1:0] xg [4];
  logic [GB-1:0] gg;
  logic [1:0]    wph;  // 1: write pair (4g, 4g+1), 2: write pair (4g+3, 4g+2)
  wire group_done = v3 && (int'(u3) + LP == 4);
  always_comb
    for (int l = 0; l < LP; l++) xw[l] = XW'((pr[l] + (1 <<< (WSH - 1))) >>> WSH);
  always_ff @(posedge clk) begin
    if (v3) begin
      for (int i = 0; i < 4 - 2 * LP; i++) xs[i] <= xs[i + LP];
      for (int l = 0; l < LP; l++) xs[4 - 2 * LP + l] <= xw[l];
    end
    if (group_done) begin
      for (int i = 0; i < 4 - LP; i++) xg[i] <= xs[i];
      for (int l = 0; l < LP; l++) xg[4 - LP + l] <= xw[l];
      gg <= gq3;
    end
    if (!rst_n) wph <= 2'd0;
    else if (group_done) wph <= 2'd1;
    else wph <= (wph == 2'd1) ? 2'd2 : 2'd0;
  end

  // ---- stages 0 and 1 on the group, then the write pairs
  function automatic logic signed [XW+2:0] rs(input logic signed [XW+2:0] v, input int s);
    rs = (s == 0) ? v : (v + (XW+3)'(1 <<< (s - 1))) >>> s;
  endfunction
  logic signed [XW+2:0] p0, p1, p2, p3, o0, o2, o1r, o1i, o3i;
  always_comb begin
    p0 = rs((XW+3)'(xg[0]) + (XW+3)'(xg[1]), SH0);
    p1 = rs((XW+3)'(xg[0]) - (XW+3)'(xg[1]), SH0);
    p2 = rs((XW+3)'(xg[2]) + (XW+3)'(xg[3]), SH0);
    p3 = rs((XW+3)'(xg[2]) - (XW+3)'(xg[3]), SH0);
    o0 = rs(p0 + p2, SH1);
    o2 = rs(p0 - p2, SH1);
    o1r = rs(p1, SH1);
    o1i = rs(-p3, SH1);
    o3i = rs(p3, SH1);
  end
  localparam logic [FW-1:0] ZERO = '0;
  assign wr_valid = wph != 2'd0;
  assign wr_par_a = ^gg;
  assign wr_addr_a = {gg, wph == 2'd2};
  assign wr_addr_b = {gg, wph == 2'd2};
  assign wr_da = (wph == 2'd2) ? {FW'(o3i), FW'(o1r)} : {ZERO, FW'(o0)};
  assign wr_db = (wph == 2'd2) ? {ZERO, FW'(o2)} : {FW'(o1i), FW'(o1r)};
  assign busy = active || v1 || v2 || v3 || (wph != 2'd0);
endmodule
