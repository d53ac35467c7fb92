"""melflow.nn: Brevitas quantization-aware models, built by name from a YAML `model:` block."""

from __future__ import annotations

from dataclasses import fields

from melflow.core import MelflowError
from melflow.nn.kws_cnn import KwsCnn, KwsCnnConfig
from melflow.nn.kws_crnn import KwsCrnn, KwsCrnnConfig
from melflow.nn.kws_dscnn import KwsDscnn, KwsDscnnConfig
from melflow.nn.kws_finn_mlp import KwsFinnMlp, KwsFinnMlpConfig

MODELS = {
    "kws_cnn": (KwsCnn, KwsCnnConfig),
    "kws_crnn": (KwsCrnn, KwsCrnnConfig),
    "kws_dscnn": (KwsDscnn, KwsDscnnConfig),
    "kws_finn_mlp": (KwsFinnMlp, KwsFinnMlpConfig),
}
# Models whose bit widths may be None: the same layers without quantizers (melflow.nn.quant).
# The CRNN's LSTM has integer gate arithmetic and no float twin.
WITH_FLOAT_TWIN = ("kws_cnn", "kws_dscnn", "kws_finn_mlp")


def float_twin(spec: dict, where: str = "model") -> dict:
    """The spec of a model's float twin: the same layers, weights and activations unquantized."""
    if spec.get("name") not in WITH_FLOAT_TWIN:
        raise MelflowError(f"{where}.name: {spec.get('name')!r} has no float twin; models with one: {', '.join(WITH_FLOAT_TWIN)}")
    return dict(spec, weight_bits=None, act_bits=None)


def build_model(spec: dict, where: str = "model"):
    """Instantiate a model from {"name": ..., **hyper-parameters}; unknown keys are named."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in MODELS:
        raise MelflowError(f"{where}.name: unknown model {name!r}; known: {', '.join(MODELS)}")
    cls, cfg_cls = MODELS[name]
    known = {f.name for f in fields(cfg_cls)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise MelflowError(f"{where}: unknown key(s) {', '.join(unknown)} for model {name}; known: {', '.join(sorted(known))}")
    return cls(cfg_cls(**spec))
