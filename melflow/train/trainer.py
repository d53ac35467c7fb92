"""`melflow train`: quantization-aware training of a model from its YAML config.

The config has a `model:` block (see melflow.nn) and a `train:` block (TrainConfig). The
checkpoint keeps everything later stages need: the model spec, the weights, the label
order, the frontend configuration and the measured accuracy; its QONNX export is written
beside it, since the compiler starts from that.
"""

from __future__ import annotations

import gc
import json
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from melflow.core import MelflowError
from melflow.data.kws import LABELS
from melflow.frontend import FrontendConfig
from melflow.nn import build_model, float_twin
from melflow.nn.quant import collecting_statistics, is_float
from melflow.train.augment import augment, mixup
from melflow.train.config import TrainConfig, load_config
from melflow.train.device import autocast_dtype, training_device, training_layout
from melflow.train.distill import blended_loss, check_same_inputs, ensemble_probs, load_teachers, teacher_targets
from melflow.train.features import manifest_features
from melflow.train.kernels import compiled_quantizers, compiled_student, compiled_teachers, use_compiled
from melflow.train.state import (
    WeightAverage,
    calibration_state,
    load_resume_state,
    restore_calibration,
    resume_path,
    run_identity,
    save_atomic,
)


def predict(model, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits of the Brevitas model for int8 features (clips, frames, mels), computed in
    float32 on the device the model is on."""
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device  # PyTorch's INT8 modules hold no parameters
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i : i + batch].astype(np.float32))[:, None].to(device)
            outs.append(model(xb).cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, len(LABELS)), np.float32)


def export_onnx(model, path: Path, n_frames: int, n_mels: int) -> Path:
    from brevitas.export import export_qonnx

    model.eval()
    x = torch.zeros(1, 1, n_frames, n_mels)
    export_qonnx(model, x, export_path=str(path), dynamo=False)
    return path


def load_checkpoint(path: str | Path):
    """(model in eval mode, checkpoint dict) from a .pt written by train_from_config."""
    path = Path(path)
    if not path.exists():
        raise MelflowError(f"checkpoint {path} does not exist (train it with `melflow train`)")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(ckpt["model_spec"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt


@dataclass
class _Job:
    """Everything one training process needs: what train_from_config read and decided.
    `tc` is the recipe of this phase (epochs, learning rate, teachers), `recipe` the config's
    own train block, which the checkpoint records."""

    config: Path
    data_dir: Path
    out: Path
    model_spec: dict
    tc: TrainConfig
    recipe: TrainConfig
    seed: int
    devices: int
    identity: dict
    state: dict | None
    run_dir: str | None
    xtr: np.ndarray
    ytr: np.ndarray
    xva: np.ndarray
    yva: np.ndarray
    soft: torch.Tensor | None
    t0: float
    frontend: FrontendConfig
    init: dict | None = None  # weights the model starts from (the float start's, or train.init's)
    before: dict | None = None  # the float start's metrics, reported with the run's


def float_start_path(out: Path) -> Path:
    """Where a run with `train.float_epochs` keeps its float start (a checkpoint of the float twin)."""
    return out.with_name(out.stem + "_float_start.pt")


def train_from_config(config: str | Path, data_dir: str | Path, out: str | Path | None = None, epochs: int | None = None,
                      seed: int = 0, overrides: dict | None = None, resume: bool = False,
                      log_dir: str | Path | None = "build/runs", devices: int = 1) -> dict:
    """Train the model of a YAML config; `overrides` replace keys of its `train:` block.

    After every epoch the run's whole state (weights, optimizer, schedule, random
    generators, best epoch so far) is saved beside the checkpoint (`resume_path`), so that
    `resume` continues an interrupted run where it stopped, with the same result as an
    uninterrupted one; the file is deleted once the checkpoint is written. TensorBoard
    scalars (training loss, validation accuracy, learning rate per epoch) go to a run folder
    under `log_dir` (None: no logs), the same folder again when a run is resumed.

    `devices` > 1 trains data-parallel in that many processes on this machine (PyTorch
    DistributedDataParallel over gloo): each process takes its share of every batch of
    `batch_size` clips and the gradients are averaged, so the recipe (batch, learning-rate
    schedule, epochs) stays that of one process; process 0 validates and saves.

    With `train.float_epochs` the run has two phases. Why: on the CPU a float step costs
    half a W4A4 step (Brevitas' fake quantization is a third of it), so the network learns
    the task in float first and only the last epochs pay for quantization. The float twin
    trains `float_epochs` and is saved as `float_start_path(out)`; the quantized model starts
    from its weights (its activation scales calibrate on their first steps, as in any run)
    and trains the remaining epochs under a schedule of their own at `qat_lr`, with the float
    start as one more teacher, since its softened outputs are what 4 bits lose. The
    checkpoint's `train_seconds` covers both phases."""
    config, data_dir = Path(config), Path(data_dir)
    # --epochs is one more override, checked with the config's own keys (float_epochs below it)
    model_spec, tc = load_config(config, (overrides or {}) | ({} if epochs is None else {"epochs": epochs}))
    if devices < 1 or devices > tc.batch_size:
        raise MelflowError(f"--devices must be between 1 and train.batch_size ({tc.batch_size}), got {devices}")
    if tc.float_epochs and is_float(model_spec):
        raise MelflowError(f"{config}: train.float_epochs needs a quantized model; this one is already a float twin")
    out = Path(out) if out else config.with_suffix(".pt")
    recipe = tc  # the config's own train block, recorded in the checkpoint; tc becomes each phase's below
    t0 = time.time()
    fe = FrontendConfig()
    # a fine-tuning start is checked before the corpus's features are computed (minutes)
    init = _fine_tuning_start(Path(tc.init), model_spec, tc, fe, config) if tc.init else None
    xtr, ytr, _ = manifest_features(data_dir / "train.csv", fe, progress=True, kind=tc.features)
    xva, yva, _ = manifest_features(data_dir / "val.csv", fe, progress=True, kind=tc.features)
    if tc.fit_on == "train+val":  # the final fit: nothing is held out to validate on
        xtr, ytr = np.concatenate([xtr, xva]), np.concatenate([ytr, yva])
        xva, yva = xva[:0], yva[:0]
    common = dict(config=config, data_dir=data_dir, recipe=recipe, seed=seed, devices=devices, log_dir=log_dir,
                  data=(xtr, ytr, xva, yva), t0=t0, frontend=fe)
    before = None
    if tc.float_epochs:
        start, start_spec = float_start_path(out), float_twin(model_spec, f"{config}: model")
        done = resume and start.exists() and not resume_path(start).exists()  # finished before the interruption
        if not done:
            _run(_job(out=start, model_spec=start_spec, tc=replace(tc, epochs=tc.float_epochs, fp32_epochs=0), resume=resume, **common))
        ckpt = torch.load(start, map_location="cpu", weights_only=False)
        if done and (ckpt["model_spec"], ckpt["train_config"], ckpt["data"]) != (start_spec, asdict(recipe), str(data_dir)):
            raise MelflowError(f"--resume: {start} is the float start of another run (delete it to start over)")
        before, init = ckpt["metrics"], ckpt["state_dict"]
        # the quantized phase resumes only if it had started (saved an epoch) before the interruption
        resume = done and resume_path(out).exists()
        tc = replace(tc, epochs=tc.epochs - tc.float_epochs, lr=tc.qat_lr or tc.lr, teachers=[str(start), *tc.teachers])
    return _run(_job(out=out, model_spec=model_spec, tc=tc, resume=resume, init=init, before=before, **common))


def _job(config: Path, data_dir: Path, out: Path, model_spec: dict, tc: TrainConfig, recipe: TrainConfig, seed: int, devices: int,
         resume: bool, log_dir, data: tuple, t0: float, frontend: FrontendConfig, init: dict | None = None,
         before: dict | None = None) -> _Job:
    """One phase's job: its resume state (refused if another run wrote it), its teachers'
    targets on the clean clips when they are asked once, and its TensorBoard folder."""
    xtr, ytr, xva, yva = data
    identity = run_identity(model_spec, recipe, seed, data_dir) | {"devices": devices}
    state = None
    if resume:
        if not resume_path(out).exists():
            raise MelflowError(f"--resume: no interrupted run to resume ({resume_path(out)} does not exist)")
        state = load_resume_state(resume_path(out), identity)
    soft = None
    if tc.teachers:  # checked before training starts, in either mode
        teachers = load_teachers(tc.teachers, LABELS, asdict(frontend), tc.features)
        if tc.teacher_inputs == "clean":
            soft = torch.from_numpy(teacher_targets(teachers, xtr, tc.temperature))
            agree = float((soft.numpy().argmax(1) == ytr).mean())
            print(json.dumps({"teachers": len(tc.teachers), "teacher_train_acc": round(agree, 4)}), flush=True)
    run_dir = (state or {}).get("run_dir") or (log_dir and str(Path(log_dir) / f"{out.stem}_seed{seed}_{time.strftime('%Y%m%d-%H%M%S')}"))
    return _Job(config, data_dir, out, model_spec, tc, recipe, seed, devices, identity, state, run_dir, xtr, ytr, xva, yva,
                soft, t0, frontend, init, before)


def _run(job: _Job) -> dict:
    """Train a job in this process, or data-parallel in job.devices processes; its metrics."""
    if job.devices == 1:
        return _fit(0, job)
    import socket

    import torch.multiprocessing as mp

    if "MASTER_PORT" not in os.environ:  # a free port on this machine for the processes' rendezvous
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(sock.getsockname()[1])
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    mp.spawn(_fit, args=(job,), nprocs=job.devices, join=True)
    return torch.load(job.out, map_location="cpu", weights_only=False)["metrics"]


def optimizer_and_loss(model, tc: TrainConfig):
    """The recipe's optimizer and loss (AdamW, label-smoothed cross-entropy), in one place so
    that scripts/bench_train_step.py times the step training runs."""
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    return opt, torch.nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)


def _fit(rank: int, job: _Job) -> dict | None:
    """The training loop of process `rank` (of job.devices); returns the metrics in process 0."""
    tc, world = job.tc, job.devices
    device = training_device(rank, world)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    torch.manual_seed(job.seed)  # the same initial weights in every process
    np.random.seed(job.seed)
    torch.set_num_threads(max(1, tc.threads // world))
    model = build_model(job.model_spec, where=f"{job.config}: model")
    if job.init is not None:
        _start_from(model, job.init)
    model = training_layout(model.to(device))
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        torch.manual_seed(job.seed + 1000 * rank)  # each process its own dropout, masks and mixup draws
    opt, loss_fn = optimizer_and_loss(model, tc)
    steps = tc.epochs * int(np.ceil(len(job.xtr) / tc.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.1, anneal_strategy="cos")
    amp = autocast_dtype(device, tc.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)  # float16 needs loss scaling
    order = torch.Generator().manual_seed(job.seed)  # the batches: the same in every process
    gen = order if world == 1 else torch.Generator().manual_seed(job.seed + 7919 * (rank + 1))  # augmentation
    best, history, first = (-1.0, None, -1), [], 0
    average = WeightAverage(tc.ema) if tc.ema else None
    if job.state:
        st = job.state
        model.load_state_dict(st["model"])
        restore_calibration(model, st["calibration"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        order.set_state(st["order"])
        gen.set_state(st["rng"][rank]["generator"])
        torch.set_rng_state(st["rng"][rank]["torch"])
        if "cuda" in st["rng"][rank] and device.type == "cuda":
            torch.cuda.set_rng_state(st["rng"][rank]["cuda"], device)
        best, history, first = st["best"], st["history"], st["epoch"]
        if st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        if average and st["average"] is not None:
            average.state = {k: v.to(device) for k, v in st["average"].items()}
        if rank == 0:
            print(json.dumps({"resumed": str(resume_path(job.out)), "after_epoch": first}), flush=True)
    teachers = load_teachers(tc.teachers, LABELS, asdict(job.frontend), tc.features) if tc.teacher_inputs == "augmented" else []
    teachers = [t.to(device) for t in teachers]
    soft = job.soft.to(device) if job.soft is not None else None  # the clean teachers' targets, moved once
    board = _tensorboard(job.run_dir) if rank == 0 else None
    quantizers = ExitStack()
    compiled = use_compiled(tc.kernels, device, steps, where=f"{job.config}: train.kernels")
    if compiled:
        quantizers.enter_context(compiled_quantizers(model))
        teachers = compiled_teachers(teachers)
    if rank == 0:
        print(json.dumps({"device": str(device), "autocast": str(amp).removeprefix("torch.") if amp else "off",
                          "kernels": "compiled" if compiled else "eager"}), flush=True)
    compile_student = compiled and world == 1  # under DDP the student stays eager: not measured here
    for epoch in range(first, tc.epochs):
        model.train()
        if amp and epoch >= tc.epochs - tc.fp32_epochs:  # train.fp32_epochs: the end of the schedule in float32 (a resume too)
            amp = None
            if rank == 0:
                print(json.dumps({"autocast": "off", "from_epoch": epoch + 1}), flush=True)
        perm = torch.randperm(len(job.xtr), generator=order).numpy()
        total = 0.0
        bar = tqdm(range(0, len(perm), tc.batch_size), desc=f"epoch {epoch + 1}/{tc.epochs}", leave=False, disable=rank > 0)
        for i in bar:
            if compile_student and not collecting_statistics(model):
                net, compile_student = compiled_student(model), False
                print(json.dumps({"student": "compiled", "after_step": sched.last_epoch}), flush=True)
            idx = perm[i : i + tc.batch_size][rank::world]
            xb = augment(torch.from_numpy(job.xtr[idx].astype(np.float32))[:, None], tc, gen)
            yb = torch.from_numpy(job.ytr[idx])
            lam, partner = 1.0, None
            if tc.mixup:
                xb, partner, lam = mixup(xb, tc.mixup, gen, tc.features == "integer")
                partner = partner.to(device)
            xb, yb = xb.to(device), yb.to(device)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                logits = net(xb)
                loss = loss_fn(logits, yb)
                if partner is not None:
                    loss = lam * loss + (1 - lam) * loss_fn(logits, yb[partner])
                target = None
                if teachers:  # they see the very input the student sees
                    target = ensemble_probs(teachers, xb, tc.temperature)
                elif soft is not None:
                    target = soft[idx]
                    if partner is not None:
                        target = lam * target + (1 - lam) * target[partner]
                if target is not None:
                    loss = blended_loss(loss, logits, target, tc.distill, tc.temperature)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            if average:
                average.update(model)
            total += loss.item() * len(idx)
        rng = {"generator": gen.get_state(), "torch": torch.get_rng_state()}
        if device.type == "cuda":  # dropout draws from the GPU's generator there
            rng["cuda"] = torch.cuda.get_rng_state(device)
        if world > 1:  # process 0 saves every process's random state, and the summed loss
            rngs = [None] * world
            dist.all_gather_object(rngs, rng)
            loss_sum = torch.tensor([total], device=device)
            dist.all_reduce(loss_sum)
            total = float(loss_sum)
        else:
            rngs = [rng]
        if rank > 0:
            continue
        live = None
        if average and average.state:  # validate (and keep) the averaged weights; training goes on from the live ones
            live = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(average.state)
        val_acc = float((predict(model, job.xva).argmax(1) == job.yva).mean()) if len(job.xva) else None
        history.append({"epoch": epoch + 1, "loss": total / len(job.xtr), "val_acc": val_acc})
        if board:
            board.add_scalar("loss/train", history[-1]["loss"], epoch + 1)
            if val_acc is not None:
                board.add_scalar("accuracy/val", val_acc, epoch + 1)
            board.add_scalar("lr", sched.get_last_lr()[0], epoch + 1)
            board.flush()
        print(json.dumps(history[-1]), flush=True)
        if val_acc is None or val_acc >= best[0]:  # without val, the last epoch
            best = (val_acc, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch + 1)
        if live:
            model.load_state_dict(live)
        save_atomic({"identity": job.identity, "epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "order": order.get_state(), "rng": rngs,
                     "calibration": calibration_state(model), "best": best, "history": history,
                     "average": average.state if average else None, "scaler": scaler.state_dict(), "run_dir": job.run_dir},
                    resume_path(job.out))
    quantizers.close()  # Brevitas' own quantizers again: the checkpoint's test score and export run them
    if world > 1:
        _check_in_step(model)
        # DDP's reducer holds the process group and is freed with the GIL held; were it the
        # last holder, gloo's destructor would join a worker thread that may still need the
        # GIL to free the last collective's tensors: a deadlock (pytorch/pytorch#56297) that
        # hung a two-process run. So the reducer goes first, and the group's last reference
        # is the registry's, whose destructor releases the GIL.
        del net
        gc.collect()
        dist.destroy_process_group()
    if rank > 0:
        return None
    return _finish(job, model, best, history, board)


def _fine_tuning_start(path: Path, model_spec: dict, tc: TrainConfig, frontend: FrontendConfig, config: Path) -> dict:
    """The weights of `train.init`, refused unless they were trained for this config's model
    on the same classes and features: other layers or bit widths would load partly or not at
    all, other features would load and mean nothing."""
    _, ckpt = load_checkpoint(path)
    differ = sorted(k for k in set(ckpt["model_spec"]) | set(model_spec) if ckpt["model_spec"].get(k) != model_spec.get(k))
    if differ:
        raise MelflowError(f"{config}: train.init: {path} was trained for another model (model.{', model.'.join(differ)} differ)")
    check_same_inputs(ckpt, path, "train.init", LABELS, asdict(frontend), tc.features)
    return ckpt["state_dict"]


def _start_from(model, weights: dict) -> None:
    """Load the starting weights: a float twin's into its quantized model, or a fine-tuning
    start's (train.init) into the same model. The only keys a float twin lacks are the
    activation quantizers' scales, which then calibrate on the first training steps as in a
    run from scratch; a fine-tuning start has them, and loading them ends that calibration."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    odd = [k for k in missing if not k.endswith("scaling_impl.value")] + list(unexpected)
    if odd:
        raise MelflowError(f"the starting weights do not fit the model: {', '.join(odd)}")


def _check_in_step(model) -> None:
    """Every process must end with the same weights (DDP's promise); a difference would mean
    a layer whose gradients bypass it, so it stops the run instead of saving one process's view."""
    device = next(model.parameters()).device
    total = torch.tensor([float(sum(p.detach().double().sum() for p in model.parameters()))], dtype=torch.float64, device=device)
    sums = [torch.zeros_like(total) for _ in range(dist.get_world_size())]
    dist.all_gather(sums, total)
    if any(not torch.equal(s, sums[0]) for s in sums):
        raise MelflowError(f"data-parallel processes ended with different weights (parameter sums {[float(s) for s in sums]})")


def _finish(job: _Job, model, best: tuple, history: list, board) -> dict:
    """Keep the best epoch's weights, score them on the corpus's test split (when it has one),
    write the checkpoint and its QONNX export, and drop the resume state."""
    model.load_state_dict(best[1])
    model.cpu()  # the checkpoint, its test score and its export are float32 on the CPU
    result = {"val_acc": best[0], "best_epoch": best[2], "train_seconds": round(time.time() - job.t0, 1)}
    if job.before:
        result["float_start"] = {k: job.before[k] for k in ("val_acc", "best_epoch", "train_seconds")}
    fe = job.frontend
    test_csv = job.data_dir / "test.csv"
    if test_csv.exists():
        xte, yte, _ = manifest_features(test_csv, fe, kind=job.tc.features)
        result["test_acc"] = float((predict(model, xte).argmax(1) == yte).mean())
    if board:
        for k in ("val_acc", "test_acc"):
            if result.get(k) is not None:
                board.add_scalar(f"best/{k}", result[k], result["best_epoch"])
        board.close()
        result["tensorboard"] = job.run_dir
    ckpt = {
        "model_spec": job.model_spec,
        "state_dict": model.state_dict(),
        "labels": LABELS,
        "frontend": asdict(fe),
        "train_config": asdict(job.recipe),
        "data": str(job.data_dir),
        "metrics": result,
        "history": history,
    }
    job.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, job.out)
    cfg = model.cfg
    export_onnx(model, job.out.with_suffix(".onnx"), cfg.n_frames, cfg.n_mels)
    resume_path(job.out).unlink(missing_ok=True)
    print(json.dumps({"checkpoint": str(job.out), **result}), flush=True)
    return result


def _tensorboard(run_dir: str | None):
    """A TensorBoard writer for `run_dir` (`tensorboard --logdir build/runs` shows every run)."""
    if not run_dir:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(run_dir)
