"""The `train:` block of a model config (models/<name>.yaml) and its checks: a bad key or
value stops before any training, with the key named."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from melflow.core import MelflowError
from melflow.train.kernels import KERNELS


PRECISIONS = ("auto", "fp32", "bf16")
FIT_ON = ("train", "train+val")


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
    band_warp: float = 0.0  # mel axis bent: inner knots moved by up to this share of their spacing (formants apart)
    time_stretch: float = 0.15  # time axis stretched by 1 +- this (a different speaking rate)
    gain_codes: int = 12  # random level change in int8 codes (0.38 dB each)
    timbre_codes: int = 0  # random smooth curve over the bands, up to +- this many codes (a different timbre)
    label_smoothing: float = 0.05
    mixup: float = 0.0  # Beta(a, a) parameter of mixup; 0 turns it off
    ema: float = 0.0  # decay of an exponential moving average of the weights; 0 turns it off
    features: str = "integer"  # "float": torchaudio's log-Mel on the same scale (fidelity twin)
    threads: int = 2
    precision: str = "auto"  # "auto": float16 mixed precision on CUDA, float32 on the CPU; "fp32"; "bf16" on either
    # The last `fp32_epochs` epochs train without autocast: under bfloat16 a 4-bit activation
    # quantizer reads its input with 8 bits of mantissa, so codes near a rounding edge differ from
    # the float32 ones the export and the accelerator compute, and so do the teachers' targets;
    # the low-learning-rate end of the schedule settles the weights on the exact arithmetic.
    fp32_epochs: int = 0
    # "compiled": in the train loop, Brevitas' integer quantizers as torch.compile'd kernels (same
    # values), the augmented-input teachers compiled, and the student's step once its statistics
    # are in: the shipped kws_cnn recipe's CPU step 7.9 -> 14.5 steps/s (melflow.train.kernels);
    # "eager": Brevitas' own, plain teachers, eager student; "auto": compiled on the CPU for runs
    # of 1,000 steps or more.
    kernels: str = "auto"
    teachers: list = field(default_factory=list)  # checkpoints to distill from (melflow.train.distill); relative to the config's folder
    # Fine-tuning: a checkpoint of this very model (same `model:` block) whose weights, activation
    # scales included, start the run instead of a random draw; relative to the config's folder.
    # Only the weights come from it: the optimizer and schedule start afresh (--resume is for
    # an interrupted run).
    init: str = ""
    distill: float = 0.5  # weight of the distillation loss against the hard-label loss
    temperature: float = 2.0  # softmax temperature of the distillation targets
    teacher_inputs: str = "clean"  # "augmented": teachers see each augmented batch (melflow.train.distill)
    # "train+val": the final fit, once the recipe has been settled on val. Val's speakers join
    # training, so no epoch is chosen by them: the last epoch's weights are kept and no val
    # accuracy is reported. `melflow cv` always fits on its folds' train part.
    fit_on: str = "train"
    # Float start: the first `float_epochs` of `epochs` train the model's float twin (no
    # quantizers), whose step costs half a W4A4 step on the CPU; its weights then start the
    # quantized model, which trains the remaining epochs at `qat_lr` (default: `lr`) with the
    # float twin as one more teacher (melflow.train.trainer.train_from_config).
    float_epochs: int = 0
    qat_lr: float | None = None


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
    def beside_config(p):  # the config's own checkpoint paths are relative to its folder
        return str(p if Path(p).is_absolute() else path.parent / p)

    if isinstance(train.get("teachers"), list):
        train["teachers"] = [beside_config(t) for t in train["teachers"]]
    if isinstance(train.get("init"), str) and train["init"]:
        train["init"] = beside_config(train["init"])
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
    if tc.qat_lr is not None and tc.qat_lr <= 0:
        raise MelflowError(f"{path}: train.qat_lr must be positive, got {tc.qat_lr}")
    if not 0 <= tc.float_epochs < tc.epochs:
        raise MelflowError(f"{path}: train.float_epochs must be at least 0 and below train.epochs ({tc.epochs}), got {tc.float_epochs}")
    if not 0 <= tc.band_warp < 0.5:
        raise MelflowError(f"{path}: train.band_warp must be in [0, 0.5) (0.5 would fold bands onto each other), got {tc.band_warp}")
    if not 0 <= tc.timbre_codes <= 64:
        raise MelflowError(f"{path}: train.timbre_codes must be in [0, 64] codes (24 dB), got {tc.timbre_codes}")
    if not 0 <= tc.ema < 1:
        raise MelflowError(f"{path}: train.ema must be in [0, 1), got {tc.ema}")
    if not 0 <= tc.distill <= 1:
        raise MelflowError(f"{path}: train.distill must be in [0, 1], got {tc.distill}")
    if tc.temperature <= 0:
        raise MelflowError(f"{path}: train.temperature must be positive, got {tc.temperature}")
    missing = [t for t in tc.teachers if not Path(t).exists()]
    if missing:
        raise MelflowError(f"{path}: train.teachers: checkpoint(s) {', '.join(map(str, missing))} do not exist")
    if tc.init and not Path(tc.init).exists():
        raise MelflowError(f"{path}: train.init: checkpoint {tc.init} does not exist")
    if tc.init and tc.float_epochs:
        raise MelflowError(f"{path}: train.init and train.float_epochs both choose the starting weights; set one")
    if tc.teacher_inputs not in ("clean", "augmented"):
        raise MelflowError(f"{path}: train.teacher_inputs must be clean or augmented, got {tc.teacher_inputs!r}")
    if tc.precision not in PRECISIONS:
        raise MelflowError(f"{path}: train.precision must be one of {', '.join(PRECISIONS)}, got {tc.precision!r}")
    if not 0 <= tc.fp32_epochs <= tc.epochs - tc.float_epochs:
        raise MelflowError(f"{path}: train.fp32_epochs must be at least 0 and at most the quantized epochs "
                           f"({tc.epochs - tc.float_epochs}), got {tc.fp32_epochs}")
    if tc.fp32_epochs and tc.precision == "fp32":
        raise MelflowError(f"{path}: train.fp32_epochs needs a lower precision to leave (train.precision bf16, or auto on CUDA)")
    if tc.kernels not in KERNELS:
        raise MelflowError(f"{path}: train.kernels must be one of {', '.join(KERNELS)}, got {tc.kernels!r}")
    if tc.fit_on not in FIT_ON:
        raise MelflowError(f"{path}: train.fit_on must be one of {', '.join(FIT_ON)}, got {tc.fit_on!r}")
    if tc.features not in ("integer", "float"):
        raise MelflowError(f"{path}: train.features must be integer or float, got {tc.features!r}")
    return cfg["model"], tc
