"""`melflow train`: quantization-aware training of a model from its YAML config.

The config has a `model:` block (see melflow.nn) and a `train:` block (TrainConfig). The
checkpoint keeps everything later stages need: the model spec, the weights, the label
order, the frontend configuration and the measured accuracy; its QONNX export is written
beside it, since the compiler starts from that.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from melflow.core import MelflowError
from melflow.data.kws import LABELS
from melflow.frontend import FrontendConfig
from melflow.nn import build_model
from melflow.train.distill import distillation_loss, teacher_targets
from melflow.train.features import manifest_features


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    freq_masks: int = 2  # SpecAugment (torchaudio FrequencyMasking / TimeMasking)
    freq_mask_width: int = 5
    time_masks: int = 2
    time_mask_width: int = 10
    max_shift: int = 10  # random time shift in frames
    mel_warp: float = 0.15  # mel axis stretched by 1 +- this (a different vocal tract)
    time_stretch: float = 0.15  # time axis stretched by 1 +- this (a different speaking rate)
    gain_codes: int = 12  # random level change in int8 codes (0.38 dB each)
    label_smoothing: float = 0.05
    mixup: float = 0.0  # Beta(a, a) parameter of mixup; 0 turns it off
    ema: float = 0.0  # decay of an exponential moving average of the weights; 0 turns it off
    features: str = "integer"  # "float": torchaudio's log-Mel on the same scale (fidelity twin)
    threads: int = 2
    teachers: list = field(default_factory=list)  # checkpoints to distill from (melflow.train.distill); relative to the config's folder
    distill: float = 0.5  # weight of the distillation loss against the hard-label loss
    temperature: float = 2.0  # softmax temperature of the distillation targets


def load_config(path: str | Path, overrides: dict | None = None) -> tuple[dict, TrainConfig]:
    """(model spec, TrainConfig) of a YAML config; `overrides` replace keys of its `train:`
    block and are checked like them."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise MelflowError(f"cannot read config {path}: {err}") from None
    unknown = sorted(set(cfg) - {"model", "train"})
    if unknown:
        raise MelflowError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected model, train")
    if "model" not in cfg:
        raise MelflowError(f"{path}: missing `model:` block")
    train = dict(cfg.get("train") or {})
    if isinstance(train.get("teachers"), list):  # the config's own paths are relative to its folder
        train["teachers"] = [str(t if Path(t).is_absolute() else path.parent / t) for t in train["teachers"]]
    train.update(overrides or {})
    known = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(train) - known)
    if bad:
        raise MelflowError(f"{path}: unknown key(s) train.{', train.'.join(bad)}; known: {', '.join(sorted(known))}")
    tc = TrainConfig(**train)
    for k in ("epochs", "batch_size"):
        if getattr(tc, k) < 1:
            raise MelflowError(f"{path}: train.{k} must be at least 1, got {getattr(tc, k)}")
    if tc.lr <= 0:
        raise MelflowError(f"{path}: train.lr must be positive, got {tc.lr}")
    if not 0 <= tc.ema < 1:
        raise MelflowError(f"{path}: train.ema must be in [0, 1), got {tc.ema}")
    if not 0 <= tc.distill <= 1:
        raise MelflowError(f"{path}: train.distill must be in [0, 1], got {tc.distill}")
    if tc.temperature <= 0:
        raise MelflowError(f"{path}: train.temperature must be positive, got {tc.temperature}")
    missing = [t for t in tc.teachers if not Path(t).exists()]
    if missing:
        raise MelflowError(f"{path}: train.teachers: checkpoint(s) {', '.join(map(str, missing))} do not exist")
    if tc.features not in ("integer", "float"):
        raise MelflowError(f"{path}: train.features must be integer or float, got {tc.features!r}")
    return cfg["model"], tc


def _warp(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Stretch the mel axis (anchored at the lowest band, like vocal tract length
    perturbation) and the time axis (around the centre) per clip, then round back to
    integer codes so training still sees what the integer frontend produces."""
    import torch.nn.functional as F

    n = x.shape[0]
    alpha = 1 + (torch.rand(n, generator=gen) * 2 - 1) * tc.mel_warp
    beta = 1 + (torch.rand(n, generator=gen) * 2 - 1) * tc.time_stretch
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1 / alpha  # grid x: the mel axis (last dim)
    theta[:, 0, 2] = 1 / alpha - 1
    theta[:, 1, 1] = 1 / beta  # grid y: the time axis
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x.round() if tc.features == "integer" else x


def _augment(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Speaker, rate and level variation, time shift and SpecAugment on integer codes;
    masked cells get the floor code (silence)."""
    import torchaudio.transforms as T

    floor = -128.0
    if tc.mel_warp or tc.time_stretch:
        x = _warp(x, tc, gen)
    if tc.gain_codes:
        gain = torch.randint(-tc.gain_codes, tc.gain_codes + 1, (x.shape[0], 1, 1, 1), generator=gen).float()
        x = torch.clamp(x + gain, -128, 127)
    if tc.max_shift:
        shift = int(torch.randint(-tc.max_shift, tc.max_shift + 1, (1,), generator=gen))
        x = torch.roll(x, shifts=shift, dims=2)
        if shift > 0:
            x[:, :, :shift] = floor
        elif shift < 0:
            x[:, :, shift:] = floor
    # torchaudio masks the last two dims as (freq, time): features are (frames, mels)
    spec = x.transpose(2, 3)
    for _ in range(tc.freq_masks):
        spec = T.FrequencyMasking(tc.freq_mask_width, iid_masks=True)(spec, mask_value=floor)
    for _ in range(tc.time_masks):
        spec = T.TimeMasking(tc.time_mask_width, iid_masks=True)(spec, mask_value=floor)
    return spec.transpose(2, 3)


def _mixup(x: torch.Tensor, alpha: float, gen: torch.Generator, integer: bool) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix each clip with another of the batch (Zhang et al., mixup); the mix is rounded
    back to integer codes, as the first quantizer sees them. Returns the mixed batch, the
    partner index and the weight of the original labels."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    lam = max(lam, 1 - lam)  # the original clip dominates: its label stays the main target
    partner = torch.randperm(x.shape[0], generator=gen)
    x = lam * x + (1 - lam) * x[partner]
    return (x.round() if integer else x), partner, lam


class WeightAverage:
    """Exponential moving average of a model's weights (Polyak averaging), the state that is
    validated and shipped when `train.ema` is set: it smooths out the last epochs' noise, which
    between seeds moves test accuracy by points. Written here rather than with torch's
    AveragedModel because that cannot average integer buffers (BatchNorm's batch counter):
    floating tensors (weights, Brevitas scales, BatchNorm statistics) are averaged, the
    others copied."""

    def __init__(self, decay: float):
        self.decay = decay
        self.state: dict | None = None

    def update(self, model: torch.nn.Module) -> None:
        """Average in the current weights; starts once Brevitas's activation quantizers have
        finished collecting their initial scale statistics, since before that their scale is
        not a weight yet (and loading a state would end the collection early)."""
        if self.state is None:
            if any(getattr(m, "counter", 0) <= getattr(m, "collect_stats_steps", -1) for m in model.modules()):
                return
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.is_floating_point():
                    self.state[k].lerp_(v, 1 - self.decay)
                else:
                    self.state[k].copy_(v)


def predict(model, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits of the Brevitas model for int8 features (clips, frames, mels)."""
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i : i + batch].astype(np.float32))[:, None]
            outs.append(model(xb).numpy())
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


def resume_path(out: Path) -> Path:
    """Where a run writing the checkpoint `out` keeps its state after every epoch."""
    return out.with_name(out.stem + ".resume.pt")


def _calibration_state(model: torch.nn.Module) -> dict:
    """Brevitas' activation scales that are still collecting statistics (the first
    `collect_stats_steps` training steps): their step counter, running statistics and raw
    parameter. state_dict() folds these into one value, and loading it ends the collection,
    so a run resumed in that phase needs them apart to go on exactly as before."""
    return {name: {"counter": m.counter, "buffer": m.buffer.detach().clone(), "value": m.value.detach().clone()}
            for name, m in model.named_modules(remove_duplicate=False)
            if hasattr(m, "collect_stats_steps") and hasattr(m, "buffer") and m.counter <= m.collect_stats_steps}


def _restore_calibration(model: torch.nn.Module, state: dict) -> None:
    modules = dict(model.named_modules(remove_duplicate=False))
    with torch.no_grad():
        for name, s in state.items():
            if name in modules:  # a lazily built wrapper (QuantLSTM's fast cell) may not exist yet
                m = modules[name]
                m.counter = s["counter"]
                m.buffer.copy_(s["buffer"])
                m.value.copy_(s["value"])


def _run_identity(model_spec: dict, tc: TrainConfig, seed: int, data_dir: Path) -> dict:
    return {"model_spec": model_spec, "train_config": asdict(tc), "seed": seed, "data": str(data_dir.resolve())}


def _load_resume_state(path: Path, identity: dict) -> dict:
    """The saved state of an interrupted run, refused (with the keys that differ) when the
    run it came from had another model, recipe, seed or corpus."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    differ = [k for k in identity if k != "train_config" and state["identity"].get(k) != identity[k]]
    old_tc = state["identity"].get("train_config", {})
    differ += [f"train.{k}" for k, v in identity["train_config"].items() if old_tc.get(k) != v]
    if differ:
        raise MelflowError(f"cannot resume from {path}: it was written by a run with another {', '.join(differ)} "
                           "(delete it, or train without --resume to start over)")
    return state


def train_from_config(config: str | Path, data_dir: str | Path, out: str | Path | None = None, epochs: int | None = None,
                      seed: int = 0, overrides: dict | None = None, resume: bool = False,
                      log_dir: str | Path | None = "build/runs") -> dict:
    """Train the model of a YAML config; `overrides` replace keys of its `train:` block.
    After every epoch the run's whole state (weights, optimizer, schedule, random
    generators, best epoch so far) is saved beside the checkpoint (`resume_path`), so that
    `resume` continues an interrupted run where it stopped, with the same result as an
    uninterrupted one; the file is deleted once the checkpoint is written. TensorBoard
    scalars (training loss, validation accuracy, learning rate per epoch) go to a run folder
    under `log_dir` (None: no logs), the same folder again when a run is resumed."""
    config, data_dir = Path(config), Path(data_dir)
    model_spec, tc = load_config(config, overrides)
    if epochs is not None:
        tc.epochs = epochs
    out = Path(out) if out else config.with_suffix(".pt")
    identity = _run_identity(model_spec, tc, seed, data_dir)
    state = None
    if resume:
        if not resume_path(out).exists():
            raise MelflowError(f"--resume: no interrupted run to resume ({resume_path(out)} does not exist)")
        state = _load_resume_state(resume_path(out), identity)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(tc.threads)
    fe = FrontendConfig()
    t0 = time.time()
    xtr, ytr, _ = manifest_features(data_dir / "train.csv", fe, progress=True, kind=tc.features)
    xva, yva, _ = manifest_features(data_dir / "val.csv", fe, progress=True, kind=tc.features)
    soft = None
    if tc.teachers:
        soft = torch.from_numpy(teacher_targets(tc.teachers, xtr, LABELS, asdict(fe), tc.temperature))
        agree = float((soft.numpy().argmax(1) == ytr).mean())
        print(json.dumps({"teachers": len(tc.teachers), "teacher_train_acc": round(agree, 4)}), flush=True)
    model = build_model(model_spec, where=f"{config}: model")
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps = tc.epochs * int(np.ceil(len(xtr) / tc.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.1, anneal_strategy="cos")
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=tc.label_smoothing)
    gen = torch.Generator().manual_seed(seed)
    best = (-1.0, None, -1)
    history = []
    average = WeightAverage(tc.ema) if tc.ema else None
    first = 0
    if state:
        model.load_state_dict(state["model"])
        _restore_calibration(model, state["calibration"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        best, history, first = state["best"], state["history"], state["epoch"]
        if average:
            average.state = state["average"]
        print(json.dumps({"resumed": str(resume_path(out)), "after_epoch": first}), flush=True)
    run_dir = (state or {}).get("run_dir") or (log_dir and str(Path(log_dir) / f"{out.stem}_seed{seed}_{time.strftime('%Y%m%d-%H%M%S')}"))
    board = _tensorboard(run_dir)
    for epoch in range(first, tc.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen).numpy()
        total = 0.0
        bar = tqdm(range(0, len(perm), tc.batch_size), desc=f"epoch {epoch + 1}/{tc.epochs}", leave=False)
        for i in bar:
            idx = perm[i : i + tc.batch_size]
            xb = _augment(torch.from_numpy(xtr[idx].astype(np.float32))[:, None], tc, gen)
            yb = torch.from_numpy(ytr[idx])
            lam, partner = 1.0, None
            if tc.mixup:
                xb, partner, lam = _mixup(xb, tc.mixup, gen, tc.features == "integer")
            logits = model(xb)
            loss = loss_fn(logits, yb)
            if partner is not None:
                loss = lam * loss + (1 - lam) * loss_fn(logits, yb[partner])
            if soft is not None:
                target = soft[idx]
                if partner is not None:
                    target = lam * target + (1 - lam) * target[partner]
                loss = (1 - tc.distill) * loss + tc.distill * distillation_loss(logits, target, tc.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if average:
                average.update(model)
            total += loss.item() * len(idx)
        live = None
        if average and average.state:  # validate (and keep) the averaged weights; training goes on from the live ones
            live = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(average.state)
        val_acc = float((predict(model, xva).argmax(1) == yva).mean())
        history.append({"epoch": epoch + 1, "loss": total / len(xtr), "val_acc": val_acc})
        if board:
            board.add_scalar("loss/train", history[-1]["loss"], epoch + 1)
            board.add_scalar("accuracy/val", val_acc, epoch + 1)
            board.add_scalar("lr", sched.get_last_lr()[0], epoch + 1)
            board.flush()
        print(json.dumps(history[-1]), flush=True)
        if val_acc >= best[0]:
            best = (val_acc, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch + 1)
        if live:
            model.load_state_dict(live)
        _save_atomic({"identity": identity, "epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                      "scheduler": sched.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                      "calibration": _calibration_state(model),
                      "best": best, "history": history, "average": average.state if average else None, "run_dir": run_dir},
                     resume_path(out))
    model.load_state_dict(best[1])
    result = {"val_acc": best[0], "best_epoch": best[2], "train_seconds": round(time.time() - t0, 1)}
    test_csv = data_dir / "test.csv"
    if test_csv.exists():
        xte, yte, _ = manifest_features(test_csv, fe, kind=tc.features)
        result["test_acc"] = float((predict(model, xte).argmax(1) == yte).mean())
    if board:
        for k in ("val_acc", "test_acc"):
            if k in result:
                board.add_scalar(f"best/{k}", result[k], result["best_epoch"])
        board.close()
        result["tensorboard"] = run_dir
    ckpt = {
        "model_spec": model_spec,
        "state_dict": model.state_dict(),
        "labels": LABELS,
        "frontend": asdict(fe),
        "train_config": asdict(tc),
        "data": str(data_dir),
        "metrics": result,
        "history": history,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    cfg = model.cfg
    export_onnx(model, out.with_suffix(".onnx"), cfg.n_frames, cfg.n_mels)
    resume_path(out).unlink(missing_ok=True)
    print(json.dumps({"checkpoint": str(out), **result}), flush=True)
    return result


def _tensorboard(run_dir: str | None):
    """A TensorBoard writer for `run_dir` (`tensorboard --logdir build/runs` shows every run)."""
    if not run_dir:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(run_dir)


def _save_atomic(obj, path: Path) -> None:
    """torch.save through a temporary file, so an interruption mid-write leaves the last
    complete state in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
