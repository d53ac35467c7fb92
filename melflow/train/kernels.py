"""Compiled kernels for the CPU train loop: Brevitas' integer quantizers as fused kernels,
and the frozen teachers' forward passes through torch.compile.

Why this exists: on two CPU cores, three fifths of a W4A4 train step went to the quantizers'
element-wise arithmetic (divide, round, clamp, multiply and their gradients, each a pass over
memory), against about a quarter to the convolutions (torch.profiler). `torch.compile` of
the whole model did not fuse them (+13 %, docs/kws_training.md, "Time"), because Brevitas
rounds through its own registered operator (`brevitas.ops.autograd_ste_ops.round_ste_impl`),
which inductor must call as an opaque kernel. Written with a plain autograd function for the
straight-through rounding, the same arithmetic compiles into one loop forward and one backward:
an activation quantizer of the first layer's output (64 x 32 x 49 x 20) went from about 20 ms
to 2.3 ms forward and backward, and the kws_cnn_teacher step from 13.6 to 19.5 steps/s
(`python scripts/bench_train_step.py --config models/kws_cnn_teacher.yaml --manifest
data/kws-full-test/test.csv --kernels eager`, then `--kernels compiled`).

Only `IntQuant.forward` is replaced, per module and only inside `compiled_quantizers`: the
scales still come from Brevitas' own scaling modules (so statistics collection, learned
scales and their gradients are Brevitas'), the state dict is untouched, and on leaving the
block every quantizer is Brevitas' again, which is what the checkpoint's evaluation and the
QONNX export run. The values are Brevitas': the same operations in the same order, so the
outputs and the input gradients are bit-identical and the scale gradients equal up to the
order of a float sum (tests/test_train.py checks all three against Brevitas).

Teachers that grade each augmented batch (melflow.train.distill) are plain torch copies
(melflow.nn.frozen) that never change, so the whole forward pass compiles: inductor fuses
each BatchNorm, ReLU and rounding into one pass after its convolution. With its two teachers
compiled too, the shipped kws_cnn recipe's step went from 9.5 to 12.1 steps/s (`python
scripts/bench_train_step.py --manifest data/kws-full-test/test.csv --eager-teachers`, then
without the flag); their probabilities move by a float rounding (about 1e-7), not by a code.

Last, the student's own forward and backward compile as one graph each, around the compiled
quantizers, once Brevitas' activation scales have finished gathering statistics (their first
300 training steps take another path). On the shipped recipe's step that gained 10 to 18 %
(12.3 -> 14.5 and 13.0 -> 14.4 steps/s, two alternated pairs of `python
scripts/bench_train_step.py --manifest data/kws-full-test/test.csv --eager-student`, then
without the flag): what is left of the elementwise work between the convolutions fuses.
"""

from __future__ import annotations

import functools
import shutil
from contextlib import contextmanager

import torch
from brevitas.core.function_wrapper import Identity, RoundSte, TensorClamp, TensorClampSte
from brevitas.core.quant.delay import _NoDelay
from brevitas.core.quant.int_base import IntQuant

from melflow.core import MelflowError
from melflow.nn.quant import collecting_statistics
from melflow.train.device import training_layout

KERNELS = ("auto", "compiled", "eager")
# Below this many optimizer steps, compiling (about 15 s on two cores, less from inductor's
# on-disk cache) costs more than it saves, so `auto` leaves short runs, the tests', eager.
AUTO_MIN_STEPS = 1000
# One compiled graph per input rank, layout, size pattern and grad mode: a model's weight
# and activation quantizers, training and evaluation, need a dozen or so, above dynamo's
# default of 8 per function (past it, a call would silently run eager).
_RECOMPILE_LIMIT = 64


class _RoundSte(torch.autograd.Function):
    """round() forward, identity backward: Brevitas' RoundSte, traceable by dynamo."""

    @staticmethod
    def forward(x):
        return torch.round(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad


class _ClampSte(torch.autograd.Function):
    """clamp() forward, identity backward: Brevitas' TensorClampSte (weights)."""

    @staticmethod
    def forward(x, lo, hi):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


@torch.compile
def _quantize(x, scale, zero_point, lo, hi):
    """IntQuant.forward with TensorClamp (activations): no gradient outside [lo, hi]."""
    y = torch.clamp(_RoundSte.apply(x / scale + zero_point), lo, hi)
    return (y - zero_point) * scale


@torch.compile
def _quantize_ste_clamp(x, scale, zero_point, lo, hi):
    """IntQuant.forward with TensorClampSte (weights): the gradient passes the clamp."""
    y = _ClampSte.apply(_RoundSte.apply(x / scale + zero_point), lo, hi)
    return (y - zero_point) * scale


def _compiled_forward(self, kernel, scale, zero_point, bit_width, x):
    return kernel(x, scale, zero_point, self.min_int(bit_width), self.max_int(bit_width))


def _replaceable(m: torch.nn.Module) -> bool:
    """An IntQuant whose parts are the ones `_quantize*` reproduce (any other stays Brevitas')."""
    return (isinstance(m, IntQuant) and type(m.float_to_int_impl) is RoundSte
            and type(m.tensor_clamp_impl) in (TensorClamp, TensorClampSte) and type(m.input_view_impl) is Identity
            and type(m.delay_wrapper.delay_impl) is _NoDelay)


@contextmanager
def compiled_quantizers(*nets: torch.nn.Module):
    """Within the block, the integer quantizers of `nets` run as compiled kernels."""
    patched = [m for net in nets for m in net.modules() if _replaceable(m)]
    with torch._dynamo.config.patch(recompile_limit=_RECOMPILE_LIMIT):
        for m in patched:  # the kernel is chosen once here, not on every call
            kernel = _quantize_ste_clamp if type(m.tensor_clamp_impl) is TensorClampSte else _quantize
            m.forward = functools.partial(_compiled_forward, m, kernel)
        try:
            yield len(patched)
        finally:
            for m in patched:
                del m.forward  # the class's, Brevitas', forward again


def compiled_teachers(teachers: list[torch.nn.Module]) -> list[torch.nn.Module]:
    """The frozen teachers with their forward passes compiled (the first batches compile), in
    channels-last layout: compiled in torch's default layout, they gained half as much here,
    as inductor then reorders every activation around oneDNN's convolutions."""
    return [torch.compile(training_layout(t)) for t in teachers]


def compiled_student(model: torch.nn.Module) -> torch.nn.Module:
    """`model`'s train step through torch.compile, sharing its weights (evaluation and the
    checkpoint keep calling `model` itself). Only once the statistics are in: a graph traced
    while Brevitas gathers them would hold that path and recompile when it ends."""
    if collecting_statistics(model):
        raise MelflowError("compiled_student: Brevitas' activation scales are still gathering statistics; compile after them")
    return torch.compile(model)


def has_compiler() -> bool:
    """Whether inductor can build its CPU kernels here (it needs a C++ compiler)."""
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def use_compiled(kernels: str, device: torch.device, steps: int, where: str = "train.kernels") -> bool:
    """Whether a run of `steps` optimizer steps on `device` compiles its quantizers, teachers
    and (once their statistics are in) student.

    `auto` compiles on the CPU for runs long enough to win back the compile time; on CUDA it
    stays eager (not measured here: no GPU on this project's machines)."""
    if kernels == "eager":
        return False
    if kernels == "compiled":
        if device.type == "cpu" and not has_compiler():
            raise MelflowError(f"{where}: compiled needs a C++ compiler (g++ or clang++) for torch.compile's CPU kernels; "
                               "install one or choose eager")
        return True
    return device.type == "cpu" and steps >= AUTO_MIN_STEPS and has_compiler()
