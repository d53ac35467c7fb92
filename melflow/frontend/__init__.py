"""melflow.frontend: the integer log-Mel frontend (golden model) and its float reference.

The golden model (:func:`integer_log_mel`) is integer-only and defines the hardware
frontend bit for bit; the specification is docs/frontend.md.  ``float_log_mel`` and
``snr_db`` (torchaudio) live in :mod:`melflow.frontend.reference` and import torch lazily.
"""

from melflow.frontend.config import FrontendConfig
from melflow.frontend.golden import (
    FrontendTables,
    bounds,
    dequantize,
    features_for_clips,
    fft_error_bound,
    integer_fft,
    integer_log_mel,
    integer_log_mel_stages,
    tables,
    widths,
)
from melflow.frontend.reference import float_log_mel, snr_db

__all__ = [
    "FrontendConfig",
    "FrontendTables",
    "bounds",
    "dequantize",
    "features_for_clips",
    "fft_error_bound",
    "float_log_mel",
    "integer_fft",
    "integer_log_mel",
    "integer_log_mel_stages",
    "snr_db",
    "tables",
    "widths",
]
