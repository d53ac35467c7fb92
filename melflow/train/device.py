"""Where a training process runs, and in which precision.

A process trains on its own GPU when the machine has one for each process (DDP over NCCL)
and on the CPU otherwise (DDP over gloo). Mixed precision follows `train.precision`:
"auto" is float16 autocast with loss scaling on CUDA, where it roughly halves step time,
and plain float32 on the CPU, where float16 kernels are slow; "bf16" is bfloat16 autocast
on either (no loss scaling needed: bfloat16 has float32's range); "fp32" turns it off.
Brevitas' quantizers run under autocast like any other op; the checkpoint, the export and
every evaluation stay float32, so the integer model the hardware runs is unchanged.
"""

from __future__ import annotations

import torch


def training_device(rank: int, world: int) -> torch.device:
    """CUDA device `rank` when every process can have a GPU of its own, else the CPU."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= world:
        torch.cuda.set_device(rank)
        return torch.device("cuda", rank)
    return torch.device("cpu")


def training_layout(model: torch.nn.Module) -> torch.nn.Module:
    """The model with its 4-D weights in channels-last order, the layout oneDNN's (and
    cuDNN's) convolutions run fastest in: on 2 CPU cores the [24, 48, 64, 96] kws_cnn's train
    step went from 12.3 to 15.1 steps/s (scripts/bench_train_step.py). Inputs of one channel are already in
    that order, so batches need no copy. Values, state dicts and the export are unchanged."""
    return model.to(memory_format=torch.channels_last)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The dtype autocast runs the forward pass in, or None for plain float32."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda":
        return torch.float16
    return None
