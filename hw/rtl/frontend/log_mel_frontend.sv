// Streaming integer log-Mel frontend, bit-exact with melflow.frontend.integer_log_mel
// (docs/frontend.md). The configuration (sizes, widths, ROM files, the folding knob PAR)
// comes from package lmf_cfg, which melflow.rtl.frontend.write_frontend_rtl generates
// from a FrontendConfig together with the ROM images.
//
// s_axis: one signed 16-bit PCM sample per beat. m_axis: one signed int8 code per beat,
// mel 0..N_MELS-1 of frame 0, then frame 1, ...; tlast marks the last mel of a frame.
// A frame is computed as soon as its last sample has arrived (the first after WIN
// samples, then one every HOP samples). s_axis_tlast (optional, tie to 0 for one endless
// stream) marks the last sample of a clip: the clip's remaining frames are computed, its
// leftover samples (fewer than a frame) are dropped, and the next sample is the first of
// a new clip, exactly as if each clip went through integer_log_mel on its own. The input
// stalls from the tlast beat until the clip's last frame has been read from the buffer.
// ap_rst_n (active low, synchronous) clears the stream the same way.
//
// Per frame, one phase after the other:
//   LOAD  window + FFT stages 0 and 1 (lmf_loader) into two memory banks
//   FFT   stages 2..LOG2N-1 in place, one butterfly every 4/PAR cycles (lmf_bfly)
//   MEL   power, filterbank, log2, code (lmf_mel, lmf_log) into the output FIFO
// The input keeps filling a circular buffer of NBUF >= WIN + HOP samples meanwhile, and
// stalls only when the buffer is full.
//
// FFT memory: position p lives in bank parity(p) (xor of its bits) at address p >> 1.
// The two positions of a radix-2 butterfly differ in one bit, hence sit in different
// banks: a butterfly reads one word from each bank and writes one word to each.
`default_nettype none
module log_mel_frontend
  import lmf_cfg::*;
(
  input  wire        ap_clk,
  input  wire        ap_rst_n,
  input  wire [15:0] s_axis_tdata,
  input  wire        s_axis_tvalid,
  input  wire        s_axis_tlast,
  output wire        s_axis_tready,
  output wire [7:0]  m_axis_tdata,
  output wire        m_axis_tvalid,
  input  wire        m_axis_tready,
  output wire        m_axis_tlast
);
  localparam int N = 1 << LOG2N;
  localparam int HB = LOG2N - 1;            // bank address bits (N/2 words per bank)
  localparam int LP = (PAR == 4) ? 2 : 1;   // loader lanes
  localparam int II = 4 / PAR;              // cycles per butterfly and per mel step
  localparam int BF_LAT = II + 5;           // lmf_bfly latency
  // a stage may follow the previous one without a pause when no read of a position can
  // overtake its write (positions move by at most N/4 butterflies between stages)
  localparam bit STAGE_DRAIN = (II * N / 4 <= BF_LAT + 1);
  localparam int FDEPTH = (N_MELS <= 2) ? 2 : 1 << $clog2(N_MELS);
  localparam int SW = 2 + LOG2N + 2 * MBW;  // mel schedule word
  localparam int SB = (N_STEPS > 2) ? $clog2(N_STEPS) : 1;

  logic clk, rst_n;
  assign clk = ap_clk;
  assign rst_n = ap_rst_n;

  // ------------------------------------------------------------------ sample buffer
  logic signed [NBW+1:0] fill;  // samples from the next frame's first one (< 0: to skip)
  logic [NBW-1:0] wptr, rbase;
  logic release_hop;
  logic clip_end;  // the clip's last sample is in: no input until its frames are read
  wire s_fire = s_axis_tvalid && s_axis_tready;
  // while the clip's frames are pending, fill >= WIN (a frame being loaded counts until
  // release_hop), so fill < WIN means every frame of the clip has left the buffer
  wire clip_restart = clip_end && (fill < (NBW+2)'(WIN));
  assign s_axis_tready = rst_n && !clip_end && (fill < (NBW+2)'(NBUF));
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      fill <= '0;
      wptr <= '0;
      rbase <= '0;
      clip_end <= 1'b0;
    end else begin
      fill <= fill + (NBW+2)'(s_fire) - (release_hop ? (NBW+2)'(HOP) : '0);
      wptr <= wptr + NBW'(s_fire);
      if (release_hop) rbase <= NBW'(rbase + NBW'(HOP));
      if (s_fire && s_axis_tlast) clip_end <= 1'b1;
      if (clip_restart) begin
        fill <= '0;
        rbase <= wptr;  // the next sample's slot
        clip_end <= 1'b0;
      end
    end
  end

  logic [LP-1:0][NBW-1:0] buf_addr;
  logic [LP-1:0][15:0]    buf_data;
  for (genvar l = 0; l < LP; l++) begin : g_buf
    mf_ram #(.W(16), .DEPTH(NBUF)) ram (
      .clk, .we(s_fire), .waddr(wptr), .wdata(s_axis_tdata), .raddr(buf_addr[l]), .rdata(buf_data[l])
    );
  end

  // ------------------------------------------------------------------ control
  typedef enum logic [2:0] {IDLE, LOAD, FFT, FWAIT, MWAIT, MEL, MDRAIN} state_t;
  state_t state;
  logic ld_start, ld_busy, bf_busy, mel_busy, log_busy, mel_start;
  logic [$clog2(FDEPTH):0] fifo_count;

  // FFT issue counters: stage st, butterfly bi, twiddle index k = j * N / 2**(st+1)
  logic [LOG2N-1:0] hbit;   // 1 << st
  logic [HB-1:0]    bi, k, tstep;
  logic [$clog2(LOG2N)-1:0] st;
  logic [1:0]       icnt;   // cycle within the issue interval
  logic             drain;  // waiting between stages
  logic [SB-1:0]    step;
  logic             fv1, ms1, ms2;  // issue pipeline valids (FFT read, mel ROM, mel read)
  logic [SW-1:0]    sq;             // mel schedule word {last, emit, bin sk, w1, w2}
  logic [LOG2N-1:0] sk;

  wire issue_slot = (icnt == 2'(II - 1)) || (II == 1);
  wire bf_issue = (state == FFT) && !drain && issue_slot;
  wire mel_issue = (state == MEL) && issue_slot;
  wire last_bfly = bi == HB'(N / 2 - 1);

  assign ld_start = (state == IDLE) && (fill >= (NBW+2)'(WIN));
  assign release_hop = (state == LOAD) && !ld_busy;  // the loader is busy from the cycle after ld_start
  assign mel_start = (state == MWAIT) && (fifo_count <= ($clog2(FDEPTH)+1)'(FDEPTH - N_MELS));

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
      icnt <= '0;
      drain <= 1'b0;
    end else begin
      icnt <= (state == FFT && !drain) || state == MEL ? (issue_slot ? 2'd0 : icnt + 2'd1) : 2'd0;
      case (state)
        IDLE: if (ld_start) state <= LOAD;
        LOAD: if (release_hop) begin
          state <= FFT;
          st <= ($clog2(LOG2N))'(2);
          hbit <= LOG2N'(4);
          tstep <= HB'(N / 8);
          bi <= '0;
          k <= '0;
          drain <= 1'b0;
        end
        FFT: begin
          if (drain) drain <= bf_busy || fv1;
          else if (bf_issue) begin
            bi <= bi + 1'b1;
            k <= k + tstep;
            if (last_bfly) begin
              if (int'(st) == LOG2N - 1) state <= FWAIT;
              st <= st + 1'b1;
              hbit <= hbit << 1;
              tstep <= tstep >> 1;
              k <= '0;
              drain <= STAGE_DRAIN;
            end
          end
        end
        FWAIT: if (!bf_busy && !fv1) state <= MWAIT;
        MWAIT: if (mel_start) begin
          state <= MEL;
          step <= '0;
        end
        MEL: if (mel_issue) begin
          step <= step + 1'b1;
          if (step == SB'(N_STEPS - 1)) state <= MDRAIN;
        end
        MDRAIN: if (!ms1 && !ms2 && !mel_busy && !log_busy) state <= IDLE;
        default: state <= IDLE;
      endcase
    end
  end

  // ------------------------------------------------------------------ FFT memory banks
  logic [1:0]         bwe;
  logic [1:0][HB-1:0] bwaddr, braddr;
  logic [1:0][2*FW-1:0] bwdata, brdata;
  for (genvar i = 0; i < 2; i++) begin : g_bank
    mf_ram #(.W(2 * FW), .DEPTH(N / 2)) ram (
      .clk, .we(bwe[i]), .waddr(bwaddr[i]), .wdata(bwdata[i]), .raddr(braddr[i]), .rdata(brdata[i])
    );
  end

  // write pairs from the loader or the butterfly: position a to bank par_a, b to the other
  logic ld_wv, ld_wpar, bf_wv;
  logic [HB-1:0] ld_wa, ld_wb;
  logic [2*FW-1:0] ld_da, ld_db;
  logic [FW-1:0] bf_ar, bf_ai, bf_br, bf_bi;
  logic [2 * HB:0] bf_tag;  // {par_a, addr_a, addr_b}
  always_comb begin
    logic par;
    logic [HB-1:0] wa, wb;
    logic [2*FW-1:0] da, db;
    if (ld_wv) begin
      par = ld_wpar; wa = ld_wa; wb = ld_wb; da = ld_da; db = ld_db;
    end else begin
      {par, wa, wb} = bf_tag;
      da = {bf_ai, bf_ar};
      db = {bf_bi, bf_br};
    end
    bwe = {2{ld_wv || bf_wv}};
    bwaddr[0] = par ? wb : wa;
    bwaddr[1] = par ? wa : wb;
    bwdata[0] = par ? db : da;
    bwdata[1] = par ? da : db;
  end

  // ------------------------------------------------------------------ LOAD
  lmf_loader #(
    .LOG2N(LOG2N), .NBW(NBW), .LP(LP), .WIN_W(WIN_W), .WSH(WSH), .XW(XW), .FW(FW),
    .SH0(int'(FFT_SHIFTS[1:0])), .SH1(int'(FFT_SHIFTS[3:2])), .WROM0(WINDOW_ROM0), .WROM1(WINDOW_ROM1)
  ) loader (
    .clk, .rst_n, .start(ld_start), .rbase, .buf_addr, .buf_data,
    .wr_valid(ld_wv), .wr_par_a(ld_wpar), .wr_addr_a(ld_wa), .wr_addr_b(ld_wb),
    .wr_da(ld_da), .wr_db(ld_db), .busy(ld_busy)
  );

  // ------------------------------------------------------------------ FFT
  logic [LOG2N-1:0] pa, pb;
  always_comb begin
    logic [LOG2N-1:0] mask;
    mask = hbit - 1'b1;
    pa = ((LOG2N'(bi) & ~mask) << 1) | (LOG2N'(bi) & mask);
    pb = pa | hbit;
  end
  logic [2*TWW-1:0] twq;
  mf_rom #(.W(2 * TWW), .DEPTH(N / 2), .FILE(TWIDDLE_ROM), .BLOCK(1'b1)) twrom (.clk, .addr(k), .q(twq));

  logic          fpar;
  logic [HB-1:0] fa, fb;
  logic [1:0]    fsh;
  always_ff @(posedge clk) begin
    fv1 <= rst_n && bf_issue;
    fpar <= ms1 ? ^sk : ^pa;  // bank of position a, or of the mel step's bin
    fa <= HB'(pa >> 1);
    fb <= HB'(pb >> 1);
    fsh <= FFT_SHIFTS[2*st +: 2];
  end
  logic [2*FW-1:0] xa, xb;
  assign xa = fpar ? brdata[1] : brdata[0];
  assign xb = fpar ? brdata[0] : brdata[1];
  lmf_bfly #(.FW(FW), .TWW(TWW), .TB(TB), .PAR(PAR), .TAGW(2 * HB + 1)) bfly (
    .clk, .rst_n, .in_valid(fv1),
    .a_re(xa[FW-1:0]), .a_im(xa[2*FW-1:FW]), .b_re(xb[FW-1:0]), .b_im(xb[2*FW-1:FW]),
    .w_re(twq[TWW-1:0]), .w_im(twq[2*TWW-1:TWW]), .sh(fsh), .in_tag({fpar, fa, fb}),
    .out_valid(bf_wv), .oa_re(bf_ar), .oa_im(bf_ai), .ob_re(bf_br), .ob_im(bf_bi),
    .out_tag(bf_tag), .busy(bf_busy)
  );

  // ------------------------------------------------------------------ MEL
  mf_rom #(.W(SW), .DEPTH(N_STEPS), .FILE(MEL_ROM), .BLOCK(1'b1)) melrom (.clk, .addr(step), .q(sq));
  assign sk = sq[2*MBW +: LOG2N];
  always_comb begin
    // bank reads: the FFT's pair, or bin sk of the schedule (both banks, one is used)
    braddr[0] = ms1 ? HB'(sk >> 1) : HB'(((^pa) ? pb : pa) >> 1);
    braddr[1] = ms1 ? HB'(sk >> 1) : HB'(((^pa) ? pa : pb) >> 1);
  end
  logic [SW-1:0] msq;
  always_ff @(posedge clk) begin
    ms1 <= rst_n && mel_issue;
    ms2 <= rst_n && ms1;
    msq <= sq;
  end
  logic mel_v, mel_last;
  logic [ACCW-1:0] mel_acc;
  lmf_mel #(.FW(FW), .PW(PW), .PSH(PSH), .MBW(MBW), .ACCW(ACCW), .PAR(PAR)) mel (
    .clk, .rst_n, .start(mel_start), .in_valid(ms2),
    .re(xa[FW-1:0]), .im(xa[2*FW-1:FW]),  // bin sk from its bank
    .w1(msq[MBW +: MBW]), .w2(msq[0 +: MBW]), .emit(msq[SW-2]), .last(msq[SW-1]),
    .out_valid(mel_v), .out_acc(mel_acc), .out_last(mel_last), .busy(mel_busy)
  );

  logic log_v, log_last;
  logic [7:0] code;
  lmf_log #(.ACCW(ACCW), .LM(LM), .LF(LF), .OSH(OSH), .OFFSET(OFFSET), .LOG_ROM(LOG_ROM)) logu (
    .clk, .rst_n, .in_valid(mel_v), .acc(mel_acc), .in_last(mel_last),
    .out_valid(log_v), .code, .out_last(log_last), .busy(log_busy)
  );

  // ------------------------------------------------------------------ output
  logic [8:0] fifo_q;
  mf_fifo #(.W(9), .DEPTH(FDEPTH)) ofifo (
    .clk, .rst_n, .wr_en(log_v), .wr_data({log_last, code}),
    .rd_valid(m_axis_tvalid), .rd_ready(m_axis_tready), .rd_data(fifo_q), .count(fifo_count)
  );
  assign m_axis_tdata = fifo_q[7:0];
  assign m_axis_tlast = fifo_q[8];
endmodule
`default_nettype wire
