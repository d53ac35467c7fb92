"""The `QuantLSTMCell` node of a Brevitas QONNX export, executed in integers.

Brevitas exports a `brevitas.nn.QuantLSTM` layer (with `dynamo=False`) as one node in the
domain `qonnx.custom_op.general` that qonnx cannot execute. This module gives it

- its semantics as Brevitas' quantized forward pass computes it, in float32
  (`run_float`, the reference);
- the same semantics in integers (`integer_params` / `integer_lstm_tables`, `run_integer`)
  for cells whose internal quantizers all have power-of-two scales: integer dot products,
  shifts with the quantizer's rounding, clipping and lookup tables for sigmoid and tanh.
  This is what the hardware LSTM unit computes and what the node's execution uses;
- a qonnx CustomOp, registered on import, so that qonnx's and FINN's `execute_onnx` run
  graphs that contain the node.

Numpy only at run time. docs/lstm.md has the formulas, and why the float and integer
paths agree exactly.

The node (brevitas 0.13, `BrevitasQuantLSTMCellFn`): 48 inputs —
  0 input sequence x, 1 initial hidden state h0, 2 initial cell state c0,
  3-6 input weights, 7-10 hidden weights, 11-14 biases, gates in the order (input,
  forget, cell, output), then (scale, zero point, bit width) of each quantizer of
  `QUANTIZERS`, in that order;
3 outputs — the hidden state of every step (the layout of x), the last hidden state
(batch, hidden) and the last cell state (batch, hidden); and attributes batch_first,
reverse_input, cifg and, per quantizer, signedness, narrow range and rounding mode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp
from qonnx.custom_op.registry import add_op_to_domain

from melflow.core import MelflowError

DOMAIN = "qonnx.custom_op.general"
OP_TYPE = "QuantLSTMCell"
GATES = ("input", "forget", "cell", "output")
QUANTIZERS = (
    "output",  # the hidden state (and, shared with the layer's io quantizer, its input)
    "cell_state",
    "input_acc",
    "forget_acc",
    "cell_acc",
    "output_acc",
    "input_sigmoid",
    "forget_sigmoid",
    "cell_tanh",
    "output_sigmoid",
    "hidden_state_tanh",
)
N_INPUTS = 15 + 3 * len(QUANTIZERS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) -> inf gives the right limit, 0
        return 1.0 / (1.0 + np.exp(-x))


def _f32(fn, x: np.ndarray) -> np.ndarray:
    """fn in float64, rounded once to float32: the correctly rounded float32 value. torch's
    float32 sigmoid/tanh are within an ulp of it, which never moves a round-half-even
    quantization (tests check every code); directed modes can see that ulp (docs/lstm.md)."""
    return fn(np.asarray(x, np.float64)).astype(np.float32)


# table name -> (quantizer of its input codes, function); the table's output quantizer is its name
TABLES = {
    "input_sigmoid": ("input_acc", _sigmoid),
    "forget_sigmoid": ("forget_acc", _sigmoid),
    "cell_tanh": ("cell_acc", np.tanh),
    "output_sigmoid": ("output_acc", _sigmoid),
    "hidden_state_tanh": ("cell_state", np.tanh),
}

# Brevitas' float-to-int modes (FloatToIntImplType) as float functions; ROUND is torch.round,
# half to even, like np.round.
_ROUND_FLOAT = {
    "ROUND": np.round,
    "FLOOR": np.floor,
    "CEIL": np.ceil,
    "ROUND_TO_ZERO": np.trunc,
}


def _attr_names(q: str) -> tuple[str, str, str]:
    # brevitas 0.13 names one attribute differently from the others
    narrow = "output_sigmoid_narrow_range" if q == "output_sigmoid" else f"{q}_narrow"
    return f"{q}_signed", narrow, f"{q}_rounding_mode"


@dataclass(frozen=True)
class Quantizer:
    """One of the cell's internal integer quantizers: value = (code - zero_point) * scale,
    code in [lo, hi]."""

    name: str
    scale: float
    zero_point: float
    bits: int
    signed: bool
    narrow: bool
    rounding: str

    @property
    def lo(self) -> int:
        if not self.signed:
            return 0
        return -(2 ** (self.bits - 1)) + int(self.narrow)

    @property
    def hi(self) -> int:
        return (2 ** (self.bits - 1) - 1) if self.signed else (2**self.bits - 1 - int(self.narrow))

    def fake_quant(self, x: np.ndarray) -> np.ndarray:
        """Brevitas' IntQuant in float32: round(x / scale + zp), clipped, back to the scale."""
        s, z = np.float32(self.scale), np.float32(self.zero_point)
        y = np.clip(_ROUND_FLOAT[self.rounding](np.asarray(x, np.float32) / s + z), self.lo, self.hi)
        return ((y - z) * s).astype(np.float32)

    @property
    def exponent(self) -> int:
        """k with scale == 2**-k; MelflowError if the quantizer is not fixed point."""
        m, e = np.frexp(np.float64(self.scale))
        if m != 0.5 or self.zero_point != 0:
            raise MelflowError(
                f"LSTM quantizer {self.name!r} has scale {self.scale!r} and zero point {self.zero_point!r}: "
                "the integer LSTM needs power-of-two scales and zero points of 0 (use Brevitas' *FixedPoint quantizers)"
            )
        return int(1 - e)

    def clip(self, v: np.ndarray) -> np.ndarray:
        return np.clip(v, self.lo, self.hi)


def shift_round(v: np.ndarray, n: int, rounding: str) -> np.ndarray:
    """v / 2**n rounded to an integer in a Brevitas rounding mode, for int64 v; n <= 0 is an
    exact left shift. This is the whole of requantization between power-of-two scales."""
    v = np.asarray(v, np.int64)
    if n <= 0:
        return v << -n
    q = v >> n  # floor
    if rounding == "FLOOR":
        return q
    r = v - (q << n)  # remainder in [0, 2**n)
    if rounding == "CEIL":
        return q + (r != 0)
    if rounding == "ROUND_TO_ZERO":
        return q + ((r != 0) & (v < 0))
    if rounding == "ROUND":  # half to even
        half = np.int64(1) << (n - 1)
        return q + ((r > half) | ((r == half) & (q & 1 == 1)))
    raise MelflowError(f"rounding mode {rounding!r} has no integer form (supported: {', '.join(_ROUND_FLOAT)})")


@dataclass
class CellSpec:
    """What one QuantLSTMCell node says, as float arrays and quantizers."""

    name: str
    batch_first: bool
    reverse: bool
    cifg: bool
    quant: dict[str, Quantizer]
    w_x: dict[str, np.ndarray]  # gate -> (hidden, features)
    w_h: dict[str, np.ndarray]  # gate -> (hidden, hidden)
    bias: dict[str, np.ndarray]  # gate -> (hidden,) (0-d when the layer has no bias)
    h0: np.ndarray
    c0: np.ndarray

    @property
    def hidden(self) -> int:
        return self.w_h["input"].shape[0]

    @property
    def features(self) -> int:
        return self.w_x["input"].shape[1]


def _int_attr(node, name: str, default: int = 0) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _str_attr(node, name: str, default: str) -> str:
    for a in node.attribute:
        if a.name == name:
            return a.s.decode()
    return default


def cell_spec(node, value: Callable[[str], np.ndarray]) -> CellSpec:
    """Read a QuantLSTMCell node; `value(name)` returns the array of one of its input tensors."""
    if len(node.input) != N_INPUTS:
        raise MelflowError(f"{OP_TYPE} node {node.name!r} has {len(node.input)} inputs, expected {N_INPUTS} (a brevitas 0.13 export)")

    def arr(i: int) -> np.ndarray:
        v = value(node.input[i])
        if v is None:
            raise MelflowError(f"{OP_TYPE} node {node.name!r}: input {i} ({node.input[i]}) is not a constant")
        return np.asarray(v, np.float32)

    quant = {}
    for j, q in enumerate(QUANTIZERS):
        signed, narrow, rounding = _attr_names(q)
        scale, zp, bits = (arr(15 + 3 * j + k) for k in range(3))
        if scale.size != 1 or zp.size != 1:
            raise MelflowError(f"{OP_TYPE} node {node.name!r}: quantizer {q!r} is not per tensor")
        mode = _str_attr(node, rounding, "ROUND").upper()
        if mode not in _ROUND_FLOAT:
            raise MelflowError(f"{OP_TYPE} node {node.name!r}: quantizer {q!r} rounds with {mode}; supported: {', '.join(_ROUND_FLOAT)}")
        quant[q] = Quantizer(q, float(scale.ravel()[0]), float(zp.ravel()[0]), int(bits.ravel()[0]),
                             bool(_int_attr(node, signed, 1)), bool(_int_attr(node, narrow, 0)), mode)
    return CellSpec(
        name=node.name,
        batch_first=bool(_int_attr(node, "batch_first")),
        reverse=bool(_int_attr(node, "reverse_input")),
        cifg=bool(_int_attr(node, "cifg")),
        quant=quant,
        w_x={g: arr(3 + k) for k, g in enumerate(GATES)},
        w_h={g: arr(7 + k) for k, g in enumerate(GATES)},
        bias={g: arr(11 + k) for k, g in enumerate(GATES)},
        h0=arr(1),
        c0=arr(2),
    )


def _scan(x: np.ndarray, h, c, step, batch_first: bool, reverse: bool):
    """Run `step(x_t, h, c) -> (h, c)` over the time axis; returns (every h, last h, last c)
    with the hidden states at the positions of their inputs, in the layout of x."""
    seq = x if batch_first else np.swapaxes(x, 0, 1)  # (batch, time, features)
    order = range(seq.shape[1] - 1, -1, -1) if reverse else range(seq.shape[1])
    outs = [None] * seq.shape[1]
    for t in order:
        h, c = step(seq[:, t], h, c)
        outs[t] = h
    y = np.stack(outs, axis=1)
    return (y if batch_first else np.swapaxes(y, 0, 1)), h, c


def _batch(state: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(state, (n, state.shape[-1])).copy()


def run_float(spec: CellSpec, x: np.ndarray):
    """The cell as Brevitas' `_QuantLSTMCell.forward_iter` computes it, in float32."""
    q = spec.quant
    x = np.asarray(x, np.float32)
    n = x.shape[0] if spec.batch_first else x.shape[1]

    def gate(g, xt, h):
        acc = (xt @ spec.w_x[g].T + h @ spec.w_h[g].T) + spec.bias[g]
        return q[f"{g}_acc"].fake_quant(acc)

    def step(xt, h, c):
        i = q["input_sigmoid"].fake_quant(_f32(_sigmoid, gate("input", xt, h)))
        if spec.cifg:
            f = q["input_sigmoid"].fake_quant(np.ones_like(i)) - i
        else:
            f = q["forget_sigmoid"].fake_quant(_f32(_sigmoid, gate("forget", xt, h)))
        g = q["cell_tanh"].fake_quant(_f32(np.tanh, gate("cell", xt, h)))
        o = q["output_sigmoid"].fake_quant(_f32(_sigmoid, gate("output", xt, h)))
        cs = q["cell_state"]
        c = cs.fake_quant(cs.fake_quant(f * c) + cs.fake_quant(i * g))
        h = q["output"].fake_quant(o * q["hidden_state_tanh"].fake_quant(_f32(np.tanh, c)))
        return h, c

    return _scan(x, _batch(spec.h0, n), _batch(spec.c0, n), step, spec.batch_first, spec.reverse)


def _grid_exponent(a: np.ndarray, what: str, node: str) -> int:
    """The smallest k such that every value of `a` is an integer times 2**-k."""
    a = np.asarray(a, np.float64)
    if not np.any(a):
        return 0
    for k in range(-32, 64):
        s = np.ldexp(a, k)
        if np.array_equal(s, np.round(s)):
            return k
    raise MelflowError(f"{OP_TYPE} node {node!r}: the {what} are not on a power-of-two grid (use a fixed-point quantizer)")


def _on_grid(a: np.ndarray, k: int, what: str, node: str) -> np.ndarray:
    s = np.ldexp(np.asarray(a, np.float64), k)
    if not np.array_equal(s, np.round(s)):
        raise MelflowError(f"{OP_TYPE} node {node!r}: the {what} is not on the grid 2**-{k} of the LSTM's output quantizer")
    return s.astype(np.int64)


@dataclass
class LstmIntegerParams:
    """Everything an integer LSTM unit needs, for one QuantLSTMCell (docs/lstm.md).

    Codes: a quantizer q's value is code * 2**-k[q]. Per gate g, the accumulator
        acc_g = (w_x[g] @ x + w_h[g] @ h) << acc_lshift[g] + bias[g]   (exponent acc_exp[g])
    is requantized to the gate's accumulator code by shift_round(acc_g, acc_shift[g]) and
    clipping; tables[t][code - table_lo[t]] gives the sigmoid/tanh codes; the cell update and
    the output are products requantized by the shifts in `shifts` (see `step`).
    """

    spec: CellSpec
    k: dict[str, int]  # exponent of every internal quantizer
    w_x: dict[str, np.ndarray]  # gate -> int64 (hidden, features), exponent k_w[g]
    w_h: dict[str, np.ndarray]  # gate -> int64 (hidden, hidden), exponent k_w[g]
    k_w: dict[str, int]
    bias: dict[str, np.ndarray]  # gate -> int64 (hidden,), at the accumulator's exponent
    acc_exp: dict[str, int]
    acc_lshift: dict[str, int]  # 0 unless the bias lies on a finer grid than the products
    acc_shift: dict[str, int]  # accumulator -> gate pre-activation code (right shift)
    tables: dict[str, np.ndarray] = field(default_factory=dict)  # int64, indexed by input code - table_lo
    table_lo: dict[str, int] = field(default_factory=dict)

    @property
    def gates(self) -> tuple[str, ...]:
        return tuple(g for g in GATES if not (self.spec.cifg and g == "forget"))

    @property
    def forget_exp(self) -> int:
        return self.k["input_sigmoid" if self.spec.cifg else "forget_sigmoid"]

    @property
    def shifts(self) -> dict[str, int]:
        """Right shifts of the cell update and the output (negative: left shift)."""
        k = self.k
        return {
            "forget_cell": self.forget_exp,  # f*c: 2**-(k_f + k_c) -> 2**-k_c
            "input_cell": k["input_sigmoid"] + k["cell_tanh"] - k["cell_state"],  # i*g -> cell state
            "hidden": k["output_sigmoid"] + k["hidden_state_tanh"] - k["output"],  # o*tanh(c) -> h
        }

    @property
    def ones(self) -> int:
        """The code of 1.0 in the input sigmoid's quantizer (CIFG: forget = ones - input)."""
        q = self.spec.quant["input_sigmoid"]
        return int(q.clip(shift_round(np.int64(1), -self.k["input_sigmoid"], q.rounding)))

    def accumulator_bits(self) -> int:
        """Bits (with sign) that hold every accumulator for any input and state codes."""
        q = self.spec.quant
        xmax = max(abs(q["output"].lo), abs(q["output"].hi))
        worst = max(
            int((((np.abs(self.w_x[g]).sum(1) + np.abs(self.w_h[g]).sum(1)) * xmax << self.acc_lshift[g]) + np.abs(self.bias[g])).max())
            for g in self.gates
        )
        return worst.bit_length() + 1

    def lookup(self, table: str, code: np.ndarray) -> np.ndarray:
        return self.tables[table][code - self.table_lo[table]]

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One time step on int64 codes: x (batch, features) and h at the output quantizer's
        exponent, c at the cell state's. Returns the new (h, c) codes."""
        q, s = self.spec.quant, self.shifts
        pre = {}
        for g in self.gates:
            acc = ((x @ self.w_x[g].T + h @ self.w_h[g].T) << self.acc_lshift[g]) + self.bias[g]
            qa = q[f"{g}_acc"]
            pre[g] = qa.clip(shift_round(acc, self.acc_shift[g], qa.rounding))
        i = self.lookup("input_sigmoid", pre["input"])
        f = self.ones - i if self.spec.cifg else self.lookup("forget_sigmoid", pre["forget"])
        g = self.lookup("cell_tanh", pre["cell"])
        o = self.lookup("output_sigmoid", pre["output"])
        cs = q["cell_state"]
        c = cs.clip(cs.clip(shift_round(f * c, s["forget_cell"], cs.rounding)) + cs.clip(shift_round(i * g, s["input_cell"], cs.rounding)))
        t = self.lookup("hidden_state_tanh", c)
        h = q["output"].clip(shift_round(o * t, s["hidden"], q["output"].rounding))
        return h, c


def _table(inp: Quantizer, k_in: int, out: Quantizer, k_out: int, fn) -> np.ndarray:
    """fn over every code of `inp`, quantized by `out`, as integer codes. Like Brevitas, the
    function's value is taken in float32 (correctly rounded) before quantization: near
    saturation that value is exactly +-1, which decides FLOOR/CEIL modes (docs/lstm.md)."""
    real = _f32(fn, np.ldexp(np.arange(inp.lo, inp.hi + 1, dtype=np.float64), -k_in))
    return out.clip(_ROUND_FLOAT[out.rounding](np.ldexp(real.astype(np.float64), k_out))).astype(np.int64)


def integer_params(spec: CellSpec) -> LstmIntegerParams:
    """The integer form of a cell; MelflowError (naming the quantizer or tensor) if some
    value is not on a power-of-two grid."""
    k = {name: q.exponent for name, q in spec.quant.items()}
    k_io = k["output"]
    p = LstmIntegerParams(spec, k, {}, {}, {}, {}, {}, {}, {})
    for g in GATES:
        # the input and hidden weights of a gate share one quantizer, hence one exponent
        kw = _grid_exponent(np.concatenate([spec.w_x[g].ravel(), spec.w_h[g].ravel()]), f"{g} gate weights", spec.name)
        kb = _grid_exponent(spec.bias[g], f"{g} gate biases", spec.name)
        acc = max(k_io + kw, kb)
        p.k_w[g], p.acc_exp[g], p.acc_lshift[g] = kw, acc, acc - (k_io + kw)
        p.w_x[g] = np.ldexp(spec.w_x[g].astype(np.float64), kw).astype(np.int64)
        p.w_h[g] = np.ldexp(spec.w_h[g].astype(np.float64), kw).astype(np.int64)
        p.bias[g] = np.broadcast_to(np.ldexp(spec.bias[g].astype(np.float64), acc), (spec.hidden,)).astype(np.int64)
        p.acc_shift[g] = acc - k[f"{g}_acc"]
    for name, (inp, fn) in TABLES.items():
        p.tables[name] = _table(spec.quant[inp], k[inp], spec.quant[name], k[name], fn)
        p.table_lo[name] = spec.quant[inp].lo
    return p


def run_integer(p: LstmIntegerParams, x: np.ndarray):
    """The cell on codes: x is the float input (on the output quantizer's grid); returns
    (every h, last h, last c) as int64 codes."""
    spec = p.spec
    xi = _on_grid(x, p.k["output"], "input sequence", spec.name)
    n = xi.shape[0] if spec.batch_first else xi.shape[1]
    h0 = _on_grid(_batch(spec.h0, n), p.k["output"], "initial hidden state", spec.name)
    c0 = _on_grid(_batch(spec.c0, n), p.k["cell_state"], "initial cell state", spec.name)
    return _scan(xi, h0, c0, p.step, spec.batch_first, spec.reverse)


def execute_cell(spec: CellSpec, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The node's outputs as float32: through the integer path when every quantizer is fixed
    point, else (a cell that has no integer form, hence no hardware) through run_float."""
    try:
        p = integer_params(spec)
    except MelflowError:
        return run_float(spec, x)
    y, h, c = run_integer(p, x)
    so, sc = (np.float32(2.0 ** -p.k[q]) for q in ("output", "cell_state"))
    return (y * so).astype(np.float32), (h * so).astype(np.float32), (c * sc).astype(np.float32)


def find_cells(model) -> list:
    return [n for n in model.graph.node if n.op_type == OP_TYPE]


def integer_lstm_tables(model, node=None) -> LstmIntegerParams:
    """The integer parameters of a QuantLSTMCell of a QONNX model (a ModelWrapper or a path):
    weights and biases as integers, exponents, shifts and the sigmoid/tanh tables. `node`
    defaults to the model's only QuantLSTMCell."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants

    model = ModelWrapper(copy.deepcopy(model.model)) if isinstance(model, ModelWrapper) else ModelWrapper(str(model))
    cells = find_cells(model)
    if node is None:
        if len(cells) != 1:
            raise MelflowError(f"the model has {len(cells)} {OP_TYPE} nodes; name the one you want")
        name = cells[0].name
    else:
        name = node if isinstance(node, str) else node.name
    # weights and biases sit behind Quant nodes in an export: fold them to constants
    model = model.transform(FoldConstants(exclude_op_types=[]))
    cell = next((n for n in find_cells(model) if n.name == name), None)
    if cell is None:
        raise MelflowError(f"no {OP_TYPE} node named {name!r} in the model")
    return integer_params(cell_spec(cell, model.get_initializer))


class QuantLSTMCell(CustomOp):
    """qonnx execution of Brevitas' QuantLSTMCell (integer path, see module docstring)."""

    def get_nodeattr_types(self):
        attrs = {"batch_first": ("i", False, 0), "reverse_input": ("i", False, 0), "cifg": ("i", False, 0)}
        for q in QUANTIZERS:
            signed, narrow, rounding = _attr_names(q)
            attrs[signed] = ("i", False, 1)
            attrs[narrow] = ("i", False, 0)
            attrs[rounding] = ("s", False, "ROUND")
        return attrs

    def make_shape_compatible_op(self, model):
        # Three outputs of different ranks: an If whose branch makes constants of the output
        # shapes. The branch is fully typed, so shape inference leaves the node as it is
        # (qonnx finds the node again by its text to put the QuantLSTMCell back).
        n = self.onnx_node
        x = model.get_tensor_shape(n.input[0])
        h0 = model.get_tensor_shape(n.input[1])
        if x is None or h0 is None:
            raise MelflowError(f"{OP_TYPE} node {n.name!r}: the shape of its input or initial state is unknown")
        batch = x[0] if self.get_nodeattr("batch_first") else x[1]
        shapes = [list(x[:-1]) + [h0[-1]], [batch, h0[-1]], [batch, h0[-1]]]
        outs = [o + "_shape" for o in n.output]
        consts = [helper.make_node("Constant", [], [o], value=numpy_helper.from_array(np.zeros(s, np.float32), o)) for o, s in zip(outs, shapes)]
        body = helper.make_graph(consts, "shape_of_" + n.name, [], [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in zip(outs, shapes)])
        return helper.make_node("If", [n.input[0]], list(n.output), then_branch=body, else_branch=body)

    def infer_node_datatype(self, model):
        n = self.onnx_node
        for out, q in zip(n.output, ("output", "output", "cell_state")):
            j = QUANTIZERS.index(q)
            scale, bits = model.get_initializer(n.input[15 + 3 * j]), model.get_initializer(n.input[17 + 3 * j])
            if scale is None or bits is None:
                dt = DataType["FLOAT32"]
            elif np.all(scale == 1):
                dt = DataType[("INT" if self.get_nodeattr(_attr_names(q)[0]) else "UINT") + str(int(bits))]
            else:
                dt = DataType[f"SCALEDINT<{int(bits)}>"]
            model.set_tensor_datatype(out, dt)

    def execute_node(self, context, graph):
        n = self.onnx_node
        spec = cell_spec(n, context.get)
        for out, value in zip(n.output, execute_cell(spec, context[n.input[0]])):
            context[out] = value

    def verify_node(self):
        info = []
        if len(self.onnx_node.input) != N_INPUTS:
            info.append(f"{OP_TYPE} expects {N_INPUTS} inputs, has {len(self.onnx_node.input)}")
        if len(self.onnx_node.output) != 3:
            info.append(f"{OP_TYPE} expects 3 outputs, has {len(self.onnx_node.output)}")
        return info


add_op_to_domain(DOMAIN, QuantLSTMCell)


_SUPPORTED = (
    "melflow maps one unidirectional, single-layer brevitas.nn.QuantLSTM with power-of-two "
    "(fixed-point) quantizers, exported by brevitas.export.export_qonnx(dynamo=False) as one "
    f"{OP_TYPE} node (see melflow/nn/kws_crnn.py and docs/lstm.md)"
)
# Recurrent ops of the ONNX standard (a float LSTM/GRU/RNN from torch.onnx or another frontend)
# and the control flow some exporters unroll recurrences into.
_FOREIGN_RECURRENT = {"LSTM", "GRU", "RNN", "Scan", "Loop"}


def check_recurrent_supported(model) -> None:
    """MelflowError naming the first recurrent node the compiler cannot map, and saying what
    it supports. `model`: a qonnx ModelWrapper, an onnx ModelProto or a path."""
    from qonnx.core.modelwrapper import ModelWrapper

    if not isinstance(model, ModelWrapper):
        model = ModelWrapper(model if not hasattr(model, "__fspath__") else str(model))
    for n in model.graph.node:
        if n.op_type in _FOREIGN_RECURRENT and n.domain in ("", "ai.onnx"):
            direction = next((a.s.decode() for a in n.attribute if a.name == "direction"), "forward")
            what = f"a {direction} float {n.op_type}" if n.op_type in ("LSTM", "GRU", "RNN") else f"an ONNX {n.op_type} (a loop, as some exporters write a recurrence)"
            raise MelflowError(f"node {n.name!r} (op type {n.op_type}) is {what}, a recurrent layer the compiler cannot map: {_SUPPORTED}")
    cells = find_cells(model)
    for n in cells:
        if _int_attr(n, "reverse_input"):
            raise MelflowError(
                f"node {n.name!r} ({OP_TYPE}) runs backwards in time: part of a bidirectional (or reversed) LSTM, "
                f"which the compiler cannot map: {_SUPPORTED}"
            )
    if len(cells) > 1:
        raise MelflowError(
            f"the model has {len(cells)} {OP_TYPE} nodes ({', '.join(repr(c.name) for c in cells)}): a stacked "
            f"(multi-layer) or repeated LSTM, which the compiler cannot map: {_SUPPORTED}"
        )
    for n in cells:
        try:
            integer_lstm_tables(model, n)
        except MelflowError as err:
            raise MelflowError(f"node {n.name!r} ({OP_TYPE}) has no integer form: {err}; {_SUPPORTED}") from None
