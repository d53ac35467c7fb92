"""Float reference of the log-Mel frontend (torchaudio, float64) and the fidelity metric.

``float_log_mel`` is ``torchaudio.transforms.MelSpectrogram`` on the raw int16 sample
values (as float64, *not* divided by 32768: ln(mel) then stays positive for any signal
above the int16 noise floor, which keeps the log-domain SNR meaningful) with the
golden model's framing: torch.stft centres a ``win_length`` window inside each ``n_fft``
frame, so the clip is padded with ``(n_fft - win_length) // 2`` zeros on the left (and
the rest on the right); frame ``t`` then windows exactly samples
``[t*hop, t*hop + win_length)`` like the golden model (the placement of the zero padding
inside the FFT buffer only changes the phase, not |X|).
"""

from __future__ import annotations

import numpy as np

from melflow.frontend.config import FrontendConfig

__all__ = ["float_log_mel", "snr_db", "LOG_FLOOR"]

#: floor added before the natural log (far below the int8 range: ln = -23)
LOG_FLOOR = 1e-10


def float_log_mel(pcm, cfg: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """Natural-log mel energies (float64) of the int16 values, shape ``(..., n_frames, n_mels)``.

    For the ``pcm / 32768`` convention subtract ``30 * ln(2)``.
    """
    import torch
    import torchaudio

    x = np.asarray(pcm, dtype=np.float64)
    lead, n = x.shape[:-1], x.shape[-1]
    x = x.reshape(-1, n)
    if n < cfg.win_length:
        x = np.pad(x, ((0, 0), (0, cfg.win_length - n)))
        n = cfg.win_length
    left = (cfg.n_fft - cfg.win_length) // 2
    right = cfg.n_fft - cfg.win_length - left
    x = np.pad(x, ((0, 0), (left, right)))
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=cfg.sample_rate,
        n_fft=cfg.n_fft,
        win_length=cfg.win_length,
        hop_length=cfg.hop_length,
        f_min=cfg.f_min,
        f_max=cfg.f_max,
        n_mels=cfg.n_mels,
        window_fn=torch.hann_window,
        power=2.0,
        center=False,
        mel_scale="htk",
        norm=None,
    ).to(torch.float64)
    with torch.no_grad():
        m = mel(torch.from_numpy(x)).numpy()  # (clips, n_mels, frames)
    m = np.swapaxes(m, -1, -2)
    assert m.shape[-2] == cfg.n_frames(n), (m.shape, cfg.n_frames(n))
    return np.log(m + LOG_FLOOR).reshape(lead + m.shape[-2:])


def snr_db(golden_dequantized, float_ref, floor: float | None = None) -> float:
    """Log-domain SNR ``10 log10(sum ref^2 / sum (golden - ref)^2)`` in dB.

    Only elements whose reference lies above ``floor`` (default: the natural log of
    int8 code -128 of the default config, i.e. where the int8 map does not clip from
    below) count; elements clipped at the top are kept and count as error.
    """
    g = np.asarray(golden_dequantized, dtype=np.float64)
    r = np.asarray(float_ref, dtype=np.float64)
    if floor is None:
        floor = FrontendConfig().ln_min
    mask = r > floor
    if not mask.any():
        raise ValueError("no reference values above the floor")
    err = np.sum((g[mask] - r[mask]) ** 2)
    sig = np.sum(r[mask] ** 2)
    return float("inf") if err == 0 else float(10.0 * np.log10(sig / err))
