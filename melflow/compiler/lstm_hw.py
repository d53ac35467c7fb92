"""The LSTM as a FINN hardware layer: `ConvertLSTMToHW` and the `LstmUnit` HW custom op.

FINN has no recurrent layers. melflow adds one the way FINN adds its own: a HWCustomOp
(`LstmUnit`, registered in FINN's `finn.custom_op.fpgadataflow` registry with FINN's
`register_custom_op`) that FINN's passes see like any other layer — shapes, stream widths,
folding (PE, SIMD), expected cycles and resource estimates — and an RTL specialization
(`LstmUnit_rtl`) whose HDL is melflow's `hw/rtl/lstm` unit. Neither FINN op is modified.

`ConvertLSTMToHW` runs on the QONNX graph, before FINN's own conversion, because FINN
cannot take the cell apart (docs/lstm.md): it folds the cell's weight quantizers to
constants, drops the io quantizer (exact on the ReLU codes that feed it, checked here),
and replaces Reshape -> Quant -> QuantLSTMCell -> Unsqueeze -> Gather by

    Mul(2**k_in) -> LstmUnit -> Mul(2**-k_io)

The LstmUnit reads the ReLU's integer codes in the stream's NHWC order (one time step is
F1 x C codes) and returns the integer codes of the last hidden state; the two scalar Muls
keep the graph's values, and FINN's streamlining cancels the first against the ReLU's
scale and moves the second into the classifier's output scale. The unit keeps every input
and attribute of the cell, so `lstm_cell.cell_spec` / `integer_params` read it unchanged:
one definition of the integer semantics serves the cell, the HW op and the RTL.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation

from melflow.compiler.lstm_cell import OP_TYPE as CELL_OP
from melflow.compiler.lstm_cell import (
    LstmIntegerParams,
    Quantizer,
    QuantLSTMCell,
    cell_spec,
    find_cells,
    integer_params,
    run_integer,
)
from melflow.core import MelflowError

HW_DOMAIN = "finn.custom_op.fpgadataflow"
_BRAM18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))

# ---------------------------------------------------------------------------------------
# The cost model of the RTL unit (hw/rtl/lstm, docs/lstm.md): what FINN's analysis passes
# report for the layer and what melflow.rtl.lstm builds with; tests/test_lstm_rtl.py checks
# the cycles against Verilator.
# ---------------------------------------------------------------------------------------
# Cycles of a step beyond its (NF - 1) * slots + SF issue cycles, the adder tree's
# clog2(SIMD) / 2 and PE: from the last issue to `hold` (memory read, products, accumulate:
# 3), the last fold's drain (PE - 1 after its first unit), lstm_post (10 stages) and
# step_done -> the next start (1; start -> first issue is counted in the issue cycles).
STEP_OVERHEAD = 13


def _check_positive(**values) -> None:
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_folding(features: int, hidden: int, pe: int, simd: int, in_par: int = 1, out_par: int = 1) -> None:
    """ValueError naming the knob if the unit cannot be folded this way: PE hidden units in
    parallel need PE | H; SIMD elements of [x; h] per cycle need SIMD | F and SIMD | H (a SIMD
    word never straddles x and h); IN_PAR | F and OUT_PAR | H (whole beats per step / per h)."""
    _check_positive(pe=pe, simd=simd, in_par=in_par, out_par=out_par)
    if hidden % pe:
        raise ValueError(f"PE={pe} must divide the hidden size H={hidden}")
    if features % simd or hidden % simd:
        raise ValueError(f"SIMD={simd} must divide both the input size F={features} and the hidden size H={hidden}")
    if features % in_par:
        raise ValueError(f"IN_PAR={in_par} must divide the input size F={features}")
    if hidden % out_par:
        raise ValueError(f"OUT_PAR={out_par} must divide the hidden size H={hidden}")


def lstm_cycles_per_step(features: int, hidden: int, pe: int, simd: int, in_par: int = 1) -> int:
    """Clock cycles per time step in steady state when neither stream stalls.

    Compute: H/PE neuron folds, each max((F + H)/SIMD, PE) issue slots (the post-processing
    takes one hidden unit per cycle, so a fold's PE units need PE cycles), plus the pipeline
    latency of the last fold, which the next step waits for (it needs the whole new h):
    ``(H/PE - 1) * slots + (F + H)/SIMD + PE + 13 + clog2(SIMD) // 2``. Input: F codes,
    gcd(IN_PAR, SIMD) per cycle. The unit runs at the slower of the two (x is double
    buffered). tests/test_lstm_rtl.py checks it against Verilator."""
    check_folding(features, hidden, pe, simd, in_par)
    sf = (features + hidden) // simd
    slots = max(sf, pe)
    tree = (math.ceil(math.log2(simd)) if simd > 1 else 0) // 2
    compute = (hidden // pe - 1) * slots + sf + pe + STEP_OVERHEAD + tree
    load = features // math.gcd(in_par, simd)
    return max(compute, load)


def lstm_cycles_per_sequence(features: int, hidden: int, n_steps: int, pe: int, simd: int, in_par: int = 1) -> int:
    """Cycles between the outputs of back-to-back sequences (n_steps steps each)."""
    return n_steps * lstm_cycles_per_step(features, hidden, pe, simd, in_par)




def lstm_golden(params: LstmIntegerParams, codes: np.ndarray, x_lshift: int = 0) -> np.ndarray:
    """The last hidden state of each sequence, as the unit outputs it: ``codes`` (n_seq,
    n_steps, F) input codes, x = codes << x_lshift, h and c starting from 0 (the cell's
    exported initial states, which write_lstm_rtl requires to be zero). Goes through
    :func:`run_integer`, the cell's integer semantics."""
    codes = np.asarray(codes, np.int64)
    if codes.ndim != 3 or codes.shape[2] != params.spec.features:
        raise ValueError(f"codes must be (sequences, steps, {params.spec.features}), got {codes.shape}")
    x = np.ldexp((codes << x_lshift).astype(np.float64), -params.k["output"])
    if not params.spec.batch_first:
        x = np.swapaxes(x, 0, 1)
    _, h, _ = run_integer(params, x)
    return h


def _fold_weight_quants(model, cell) -> None:
    """Replace the Quant nodes in front of the cell's weights and biases by their values."""
    from qonnx.core.onnx_exec import execute_node

    for i in range(3, 15):
        q = model.find_producer(cell.input[i])
        if q is None:
            continue
        if q.op_type != "Quant" or any(model.get_initializer(t) is None for t in q.input):
            raise MelflowError(f"{CELL_OP} node {cell.name!r}: input {i} ({cell.input[i]}) is not a constant or a quantized constant")
        ctx = {t: model.get_initializer(t) for t in q.input}
        execute_node(q, ctx, model.graph, opset_version=model.model.opset_import[0].version)
        model.set_initializer(q.output[0], ctx[q.output[0]])
        model.graph.node.remove(q)


def _scalar(model, name: str, what: str, node) -> float:
    v = model.get_initializer(name)
    if v is None or np.asarray(v).size != 1:
        raise MelflowError(f"node {node.name!r}: its {what} is not a constant scalar")
    return float(np.asarray(v).ravel()[0])


def _pow2_exponent(scale: float, node) -> int:
    m, e = np.frexp(scale)
    if m != 0.5:
        raise MelflowError(f"node {node.name!r} ({node.op_type}) feeds the LSTM with scale {scale!r}, not a power of two: "
                           "the LSTM unit reads integer codes, so the activation before it must be fixed point")
    return int(1 - e)


def _producer(model, tensor: str, op_type: str, cell, what: str):
    p = model.find_producer(tensor)
    if p is None or p.op_type != op_type:
        found = "the graph input" if p is None else f"{p.name!r} ({p.op_type})"
        raise MelflowError(f"{CELL_OP} node {cell.name!r}: expected {what} ({op_type}) before it, found {found}; "
                           "the compiler maps conv blocks -> QuantReLU -> QuantLSTM as in melflow/nn/kws_crnn.py")
    return p


class ConvertLSTMToHW(Transformation):
    """QuantLSTMCell (with the layout and quantizer nodes around it) -> LstmUnit; see the
    module docstring. Run it on the cleaned-up QONNX model, before ConvertQONNXtoFINN."""

    def apply(self, model):
        for cell in find_cells(model):
            _fold_weight_quants(model, cell)
            spec = cell_spec(cell, model.get_initializer)
            p = integer_params(spec)  # MelflowError if some quantizer has no integer form
            if np.any(spec.h0) or np.any(spec.c0):
                raise MelflowError(f"{CELL_OP} node {cell.name!r} starts from a non-zero state; the LSTM unit starts every clip at zero")
            for k in (0, 2):
                if model.find_consumers(cell.output[k]):
                    raise MelflowError(f"{CELL_OP} node {cell.name!r}: output {k} (every step's hidden state or the cell state) "
                                       "is used; the LSTM unit streams out only the last hidden state")
            io = _producer(model, cell.input[0], "Quant", cell, "the LSTM's input quantizer")
            reshape = _producer(model, io.input[0], "Reshape", cell, "the (N, T, F, C) -> (N, T, F*C) reshape")
            act_out = reshape.input[0]
            tr = model.find_producer(act_out)
            if tr is not None and tr.op_type == "Transpose":
                act_out_codes = tr.input[0]
            else:
                act_out_codes = act_out
            act = _producer(model, act_out_codes, "Quant", cell, "a quantized activation")
            k_in = _pow2_exponent(_scalar(model, act.input[1], "scale", act), act)
            if _scalar(model, act.input[2], "zero point", act) != 0:
                raise MelflowError(f"node {act.name!r} feeds the LSTM with a non-zero zero point")
            bits = int(_scalar(model, act.input[3], "bit width", act))
            signed = bool(next((a.i for a in act.attribute if a.name == "signed"), 1))
            narrow = bool(next((a.i for a in act.attribute if a.name == "narrow"), 0))
            feeder = Quantizer(act.name, 2.0**-k_in, 0.0, bits, signed, narrow, "ROUND")
            lo, hi = feeder.lo, feeder.hi
            q_io, k_io = spec.quant["output"], p.k["output"]
            shift = k_io - k_in
            if shift < 0 or (lo << shift) < q_io.lo or (hi << shift) > q_io.hi:
                raise MelflowError(
                    f"{CELL_OP} node {cell.name!r}: its input quantizer would change the codes of {act.name!r} "
                    f"({bits}-bit, scale 2**-{k_in}) on its grid 2**-{k_io} with {q_io.bits} bits; the LSTM unit "
                    "needs an activation whose codes the input quantizer keeps (docs/lstm.md)")
            in_dt = f"{'INT' if signed else 'UINT'}{bits}"
            wmax = max(int(np.abs(w).max(initial=0)) for w in (*p.w_x.values(), *p.w_h.values()))
            w_dt = f"INT{wmax.bit_length() + 1}"
            in_shape = model.get_tensor_shape(act_out)
            steps, features = model.get_tensor_shape(reshape.output[0])[1:]
            if int(np.prod(in_shape[2:])) != features:
                raise MelflowError(f"{CELL_OP} node {cell.name!r}: the step of {features} features is not the rest of {in_shape}")

            # the last hidden state: output 1, often read through Unsqueeze -> Gather(0)
            last = cell.output[1]
            removed = [reshape, io, cell]
            nxt = model.find_consumers(last)
            if len(nxt) == 1 and nxt[0].op_type == "Unsqueeze":
                g = model.find_consumers(nxt[0].output[0])
                if len(g) == 1 and g[0].op_type == "Gather" and int(np.asarray(model.get_initializer(g[0].input[1])).ravel()[0]) == 0:
                    removed += [nxt[0], g[0]]
                    last = g[0].output[0]
            consumers = model.find_consumers(last)

            codes = model.make_new_valueinfo_name()
            h_codes = model.make_new_valueinfo_name()
            h_out = model.make_new_valueinfo_name()
            s_in, s_out = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(s_in, np.array(2.0**k_in, np.float32))
            model.set_initializer(s_out, np.array(2.0**-k_io, np.float32))
            attrs = {a.name: helper.get_attribute_value(a) for a in cell.attribute}
            unit = helper.make_node(
                "LstmUnit", [codes, *cell.input[1:]], [h_codes], domain=HW_DOMAIN, backend="fpgadataflow",
                name=f"LstmUnit_{cell.name}", numSteps=int(steps), numFeatures=int(features), numHidden=spec.hidden,
                in_shape=[int(d) for d in in_shape], inputDataType=in_dt, outputDataType=f"INT{q_io.bits}",
                weightDataType=w_dt, x_lshift=int(shift), PE=1, SIMD=1, **attrs,
            )
            new = [
                helper.make_node("Mul", [act_out, s_in], [codes], name=f"{cell.name}_to_codes"),
                unit,
                helper.make_node("Mul", [h_codes, s_out], [h_out], name=f"{cell.name}_from_codes"),
            ]
            at = list(model.graph.node).index(reshape)
            for n in removed:
                model.graph.node.remove(n)
            for j, n in enumerate(new):
                model.graph.node.insert(at + j, n)
            for c in consumers:
                for i, t in enumerate(c.input):
                    if t == last:
                        c.input[i] = h_out
            for out in model.graph.output:
                if out.name == last:
                    raise MelflowError(f"{CELL_OP} node {cell.name!r}: the last hidden state is the model's output; put a classifier after it")
            model.set_tensor_shape(codes, in_shape)
            model.set_tensor_shape(h_codes, [int(in_shape[0]), spec.hidden])
            model.set_tensor_shape(h_out, [int(in_shape[0]), spec.hidden])
            model.set_tensor_datatype(h_codes, DataType[f"INT{q_io.bits}"])
            return model, True
        return model, False


# ---------------------------------------------------------------------------------------
# The HW op
# ---------------------------------------------------------------------------------------
def _hw_classes():
    """Define and register the FINN ops (FINN's modules import only after init_finn)."""
    from finn.custom_op.fpgadataflow import register_custom_op
    from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp

    class LstmUnit(HWCustomOp):
        """One unidirectional LSTM layer over a stream of time steps (docs/lstm.md).

        Input 0: the step features as integer codes, NHWC (N, T, F1, C), SIMD codes per
        beat; the other inputs and the cell attributes are the QuantLSTMCell's. Output: the
        last hidden state's integer codes (N, H), PE codes per beat. Per step the unit
        computes the 4 (3 with CIFG) gate dot products over [x; h] for PE hidden units at a
        time, SIMD elements per cycle, then the element-wise cell update.
        """

        def get_nodeattr_types(self):
            attrs = super().get_nodeattr_types()
            attrs.update(QuantLSTMCell(self.onnx_node).get_nodeattr_types())
            attrs.update({
                "PE": ("i", False, 1),
                "SIMD": ("i", False, 1),
                "numSteps": ("i", True, 0),
                "numFeatures": ("i", True, 0),
                "numHidden": ("i", True, 0),
                "in_shape": ("ints", True, []),
                "inputDataType": ("s", True, ""),
                "outputDataType": ("s", True, ""),
                "weightDataType": ("s", True, ""),
                "x_lshift": ("i", False, 0),
            })
            return attrs

        # -- shapes and streams
        def get_normal_input_shape(self, ind=0):
            return list(self.get_nodeattr("in_shape"))

        def get_normal_output_shape(self, ind=0):
            return [self.get_nodeattr("in_shape")[0], self.get_nodeattr("numHidden")]

        def get_folded_input_shape(self, ind=0):
            n, t = self.get_nodeattr("in_shape")[:2]
            simd = self.get_nodeattr("SIMD")
            return [n, t, self.get_nodeattr("numFeatures") // simd, simd]

        def get_folded_output_shape(self, ind=0):
            pe = self.get_nodeattr("PE")
            return [self.get_nodeattr("in_shape")[0], self.get_nodeattr("numHidden") // pe, pe]

        def get_input_datatype(self, ind=0):
            return DataType[self.get_nodeattr("inputDataType")] if ind == 0 else DataType["FLOAT32"]

        def get_output_datatype(self, ind=0):
            return DataType[self.get_nodeattr("outputDataType")]

        def get_instream_width(self, ind=0):
            return self.get_nodeattr("SIMD") * self.get_input_datatype().bitwidth() if ind == 0 else 0

        def get_outstream_width(self, ind=0):
            return self.get_nodeattr("PE") * self.get_output_datatype().bitwidth()

        def get_number_output_values(self):
            return self.get_nodeattr("numHidden") // self.get_nodeattr("PE")

        def infer_node_datatype(self, model):
            model.set_tensor_datatype(self.onnx_node.output[0], self.get_output_datatype())

        def verify_node(self):
            simd = self.get_nodeattr("SIMD")
            try:
                check_folding(self.get_nodeattr("numFeatures"), self.get_nodeattr("numHidden"),
                              self.get_nodeattr("PE"), simd, in_par=simd, out_par=self.get_nodeattr("PE"))
            except ValueError as err:
                return [str(err)]
            return []

        # -- folding, cycles, resources (what FINN's analysis passes report)
        def gates(self) -> int:
            return 3 if self.get_nodeattr("cifg") else 4

        def cycles_per_step(self) -> int:
            f, h = self.get_nodeattr("numFeatures"), self.get_nodeattr("numHidden")
            simd = self.get_nodeattr("SIMD")
            return lstm_cycles_per_step(f, h, self.get_nodeattr("PE"), simd, in_par=simd)

        def get_exp_cycles(self):
            return self.get_nodeattr("numSteps") * self.cycles_per_step()

        def _weight_bits(self) -> int:
            return DataType[self.get_nodeattr("weightDataType")].bitwidth()

        def bram_estimation(self, fpgapart=""):
            """The weight ROM: one word of PE x gates x SIMD weights per (neuron fold, SIMD
            fold), in the BRAM18 aspect ratio that needs the fewest blocks."""
            f, h = self.get_nodeattr("numFeatures"), self.get_nodeattr("numHidden")
            pe, simd = self.get_nodeattr("PE"), self.get_nodeattr("SIMD")
            width = pe * self.gates() * simd * self._weight_bits()
            depth = (h // pe) * ((f + h) // simd)
            return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in _BRAM18_SHAPES)

        def lut_estimation(self, fpgapart=""):
            """Fitted to yosys synth_xilinx of the unit for the xc7z020 (F=160, H=48, 4-bit
            weights built from LUTs; scripts/bench_lstm.py): about 900 LUTs of control,
            requantisation and tables, and 51 per weight product of a cycle."""
            products = self.gates() * self.get_nodeattr("PE") * self.get_nodeattr("SIMD")
            per_product = 51 if self._weight_bits() <= 4 else 8  # wider weights go to DSP48s
            return int(900 + per_product * products)

        def dsp_estimation(self, fpgapart=""):
            products = self.gates() * self.get_nodeattr("PE") * self.get_nodeattr("SIMD")
            return 3 + (products if self._weight_bits() > 4 else 0)  # f*c, i*g, o*tanh(c)

        def uram_estimation(self, fpgapart=""):
            return 0

        # -- execution: the integer cell of lstm_cell, step by step
        def execute_node(self, context, graph):
            n = self.onnx_node
            x = np.asarray(context[n.input[0]])
            codes = np.rint(x).astype(np.int64)
            if not np.array_equal(codes, x):
                raise MelflowError(f"LstmUnit {n.name!r}: its input is not integer codes")
            p = integer_params(cell_spec(n, context.get))
            h = lstm_golden(p, codes.reshape(*codes.shape[:2], -1), self.get_nodeattr("x_lshift"))
            context[n.output[0]] = h.astype(np.float32)

    register_custom_op(LstmUnit)
    _rtl_class(LstmUnit)
    return LstmUnit


def _rtl_class(LstmUnit):
    from finn.custom_op.fpgadataflow.rtl import register_custom_op
    from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

    class LstmUnit_rtl(LstmUnit, RTLBackend):  # FINN's naming of specializations
        """LstmUnit on melflow's RTL unit (hw/rtl/lstm), written by melflow.rtl.lstm."""

        def get_nodeattr_types(self):
            return {**LstmUnit.get_nodeattr_types(self), **RTLBackend.get_nodeattr_types(self)}

        def generate_hdl(self, model, fpgapart, clk):
            # The HDL writer belongs to the rtl stage; FINN asks for it here, at code generation.
            from pathlib import Path

            from melflow.rtl.lstm_node import write_lstm_node_rtl

            n = self.onnx_node
            gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
            files = write_lstm_node_rtl(gen_dir, n.name, integer_params(cell_spec(n, model.get_initializer)), self)
            self.set_nodeattr("gen_top_module", n.name)
            self.set_nodeattr("ipgen_path", str(gen_dir))
            self.set_nodeattr("ip_path", str(gen_dir))
            (gen_dir / "rtl_files.txt").write_text("\n".join(files))

        def get_rtl_file_list(self, abspath=False):
            from pathlib import Path

            gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
            names = (gen_dir / "rtl_files.txt").read_text().split()
            return [gen_dir / f for f in names] if abspath else names

        def code_generation_ipi(self):
            raise MelflowError("LstmUnit_rtl: IP integrator scripts need Vivado; melflow stitches the RTL itself (melflow.rtl.top)")

        def execute_node(self, context, graph):
            LstmUnit.execute_node(self, context, graph)

    register_custom_op(LstmUnit_rtl)


class FoldLstmUnit(Transformation):
    """PE and SIMD of every LstmUnit: the fewest multipliers (PE x SIMD, hence LUTs) whose
    cycles per clip meet `target_cycles`, and among those the fewest PE lanes (each has its
    own cell-update datapath and table ports; wider SIMD words only widen the memories);
    the fastest folding if none meets the target. FINN's SetFolding does not know the op,
    so this plays its part for it."""

    def __init__(self, target_cycles: int):
        super().__init__()
        self.target_cycles = target_cycles

    def apply(self, model):
        from qonnx.custom_op.registry import getCustomOp

        for n in model.graph.node:
            if not n.op_type.startswith("LstmUnit"):
                continue
            inst = getCustomOp(n)
            h, f = inst.get_nodeattr("numHidden"), inst.get_nodeattr("numFeatures")
            options = []
            for pe in (d for d in range(1, h + 1) if h % d == 0):
                for simd in (d for d in range(1, min(f, h) + 1) if f % d == 0 and h % d == 0):
                    inst.set_nodeattr("PE", pe)
                    inst.set_nodeattr("SIMD", simd)
                    options.append((inst.get_exp_cycles() > self.target_cycles, pe * simd, inst.get_exp_cycles(), pe, simd))
            best = min(options) if any(not o[0] for o in options) else min(options, key=lambda o: (o[2], o[1], o[3]))
            inst.set_nodeattr("PE", best[3])
            inst.set_nodeattr("SIMD", best[4])
        return model, False


LstmUnit = None


def register_lstm_ops():
    """Register LstmUnit with FINN (idempotent); called by melflow.compiler.finn_env.init_finn."""
    global LstmUnit
    if LstmUnit is None:
        LstmUnit = _hw_classes()
    return LstmUnit
