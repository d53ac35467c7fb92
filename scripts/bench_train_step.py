#!/usr/bin/env python
"""Training steps per second of a model's recipe on this machine, on a manifest's clips:
the figure that tells a slower machine from a slower recipe when `melflow train`'s
`train_seconds` changes between sessions.

    .venv/bin/python scripts/bench_train_step.py [--config models/kws_cnn.yaml] [--manifest data/kws-small/test.csv]
        [--steps 60] [--threads 0] [--kernels auto|compiled|eager] [--precision fp32|bf16] [--eager-teachers] [--eager-student]

One step is what `melflow train` does per batch: augmentation (the recipe's SpecAugment
and level/shift jitter), forward and loss (under bfloat16 autocast when the recipe's
`train.precision` is bf16), the teachers' forward passes on the augmented batch when the
recipe distills with `teacher_inputs: augmented` (their targets join the loss), backward,
AdamW. Brevitas'
activation quantizers gather percentile statistics for their first training steps
(`collect_stats_steps`, 300 here; a slower path), so the script runs those first and times
the steps after them, which are all but a few hundred of a real run's. Prints one JSON line: steps/s,
clips/s, and the minutes an epoch of `--clips` train clips would take. The step runs as a
full-length `melflow train` runs it (`--kernels auto`: on the CPU when a C++ compiler is there,
compiled quantizers and teachers, and the student's whole step compiled after the statistics
steps, melflow.train.kernels); `--kernels eager` times Brevitas' own quantizers, plain teachers
and an eager student, `--eager-teachers` and `--eager-student` leave one of the two plain while
the rest compiles (what compiling it adds). `BREVITAS_JIT=1` before the command times Brevitas'
TorchScript quantizers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext

import torch

from melflow.core import reports_errors
from melflow.data.kws import LABELS
from melflow.eval.evaluate import clips
from melflow.nn import build_model
from melflow.nn.quant import collecting_statistics
from melflow.train.augment import augment
from melflow.train.config import load_config
from melflow.train.device import autocast_dtype, training_layout
from melflow.train.distill import blended_loss, ensemble_probs, load_teachers
from melflow.train.kernels import AUTO_MIN_STEPS, KERNELS, compiled_quantizers, compiled_student, compiled_teachers, use_compiled
from melflow.train.trainer import load_checkpoint, optimizer_and_loss


@reports_errors("bench_train_step")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="models/kws_cnn.yaml")
    ap.add_argument("--manifest", default="data/kws-small/test.csv", help="clips whose integer log-Mel codes make the batches")
    ap.add_argument("--steps", type=int, default=60, help="timed steps (after the statistics steps)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    ap.add_argument("--kernels", choices=KERNELS, default="auto", help="the quantizers', teachers' and student's kernels (train.kernels of a full-length run)")
    ap.add_argument("--precision", default=None, help="override the config's train.precision (auto, fp32, bf16)")
    ap.add_argument("--eager-teachers", action="store_true", help="leave the teachers plain torch while the quantizers compile")
    ap.add_argument("--eager-student", action="store_true", help="leave the student's step eager around its compiled quantizers")
    ap.add_argument("--clips", type=int, default=30120, help="train clips per epoch for the estimate (default: the shipped kws_cnn's corpus)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    spec, tc = load_config(args.config, None if args.precision is None else {"precision": args.precision})
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = training_layout(build_model(spec)).train()
    opt, loss_fn = optimizer_and_loss(net, tc)
    amp = autocast_dtype(torch.device("cpu"), tc.precision)  # train.precision: bf16 autocasts here too
    data = clips(args.manifest)
    codes, labels = torch.from_numpy(data.x.astype("float32"))[:, None], torch.from_numpy(data.y)

    model = net
    teachers = []
    if tc.teachers and tc.teacher_inputs == "augmented":  # the same checks as melflow train's
        frontend = load_checkpoint(tc.teachers[0])[1]["frontend"]
        teachers = load_teachers(tc.teachers, LABELS, frontend, tc.features)

    def step():
        idx = torch.randint(0, len(codes), (tc.batch_size,), generator=gen)
        x, y = augment(codes[idx], tc, gen), labels[idx]
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            logits = model(x)
            loss = loss_fn(logits, y)
            if teachers:
                loss = blended_loss(loss, logits, ensemble_probs(teachers, x, tc.temperature), tc.distill, tc.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()

    compiled = use_compiled(args.kernels, torch.device("cpu"), AUTO_MIN_STEPS, where="--kernels")
    teacher_kernels = "compiled" if compiled and teachers and not args.eager_teachers else "eager"
    student_kernels = "compiled" if compiled and not args.eager_student else "eager"
    if teacher_kernels == "compiled":
        teachers = compiled_teachers(teachers)
    with compiled_quantizers(net) if compiled else nullcontext():
        untimed = 0
        while collecting_statistics(net) or untimed < 5:  # with compiled kernels, the first ones compile (about 15 s)
            step()
            untimed += 1
        if student_kernels == "compiled":
            model = compiled_student(net)
            for _ in range(5):  # the first compiled steps compile (tens of seconds): untimed
                step()
                untimed += 1
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
    per_s = args.steps / (time.perf_counter() - t0)
    print(json.dumps({
        "config": args.config, "batch": tc.batch_size, "precision": str(amp).removeprefix("torch.") if amp else "fp32", "threads": torch.get_num_threads(),
        "teachers": len(teachers), "kernels": "compiled" if compiled else "eager",
        "teacher_kernels": teacher_kernels, "student_kernels": student_kernels,
        "brevitas_jit": os.environ.get("BREVITAS_JIT", "0") == "1", "untimed_steps": untimed,
        "steps_per_s": round(per_s, 2), "clips_per_s": round(per_s * tc.batch_size, 1),
        "epoch_minutes": round(args.clips / tc.batch_size / per_s / 60, 2), "epoch_clips": args.clips,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
