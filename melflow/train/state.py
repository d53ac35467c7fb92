"""What a training run keeps besides its weights: a moving average of them, and the state
saved after every epoch that lets an interrupted run resume exactly where it stopped."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
import torch

from melflow.core import MelflowError
from melflow.nn.quant import collecting_statistics
from melflow.train.config import TrainConfig


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
            if collecting_statistics(model):
                return
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.is_floating_point():
                    self.state[k].lerp_(v, 1 - self.decay)
                else:
                    self.state[k].copy_(v)


def resume_path(out: Path) -> Path:
    """Where a run writing the checkpoint `out` keeps its state after every epoch."""
    return out.with_name(out.stem + ".resume.pt")


def calibration_state(model: torch.nn.Module) -> dict:
    """Brevitas' activation scales that are still collecting statistics (the first
    `collect_stats_steps` training steps): their step counter, running statistics and raw
    parameter. state_dict() folds these into one value, and loading it ends the collection,
    so a run resumed in that phase needs them apart to go on exactly as before."""
    return {name: {"counter": m.counter, "buffer": m.buffer.detach().clone(), "value": m.value.detach().clone()}
            for name, m in model.named_modules(remove_duplicate=False)
            if hasattr(m, "collect_stats_steps") and hasattr(m, "buffer") and m.counter <= m.collect_stats_steps}


def restore_calibration(model: torch.nn.Module, state: dict) -> None:
    modules = dict(model.named_modules(remove_duplicate=False))
    with torch.no_grad():
        for name, s in state.items():
            if name in modules:  # a lazily built wrapper (QuantLSTM's fast cell) may not exist yet
                m = modules[name]
                m.counter = s["counter"]
                m.buffer.copy_(s["buffer"])
                m.value.copy_(s["value"])


# train keys that are no part of a run's identity: how many CPU threads do the work is the
# machine's business, not the recipe's (a run started on a busy machine can finish on an idle one)
_MACHINE_KEYS = {"threads"}


def run_identity(model_spec: dict, tc: TrainConfig, seed: int, data_dir: Path) -> dict:
    """What a resumed run must share with the run that saved the state."""
    recipe = {k: v for k, v in asdict(tc).items() if k not in _MACHINE_KEYS}
    return {"model_spec": model_spec, "train_config": recipe, "seed": seed, "data": str(data_dir.resolve())}


def load_resume_state(path: Path, identity: dict) -> dict:
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


def save_atomic(obj, path: Path) -> None:
    """torch.save through a temporary file, so an interruption mid-write leaves the last
    complete state in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
