"""Training-time augmentation on integer log-Mel codes: speaker and rate variation, level,
time shift, SpecAugment (torchaudio's masks) and mixup. Every transform rounds back to
integer codes when the features are the integer ones, so training sees what the integer
frontend produces."""

from __future__ import annotations

import torch

from melflow.train.config import TrainConfig


def warp(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
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


def augment(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Speaker, rate and level variation, time shift and SpecAugment on integer codes;
    masked cells get the floor code (silence)."""
    import torchaudio.transforms as T

    floor = -128.0
    if tc.mel_warp or tc.time_stretch:
        x = warp(x, tc, gen)
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


def mixup(x: torch.Tensor, alpha: float, gen: torch.Generator, integer: bool) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix each clip with another of the batch (Zhang et al., mixup); the mix is rounded
    back to integer codes, as the first quantizer sees them. Returns the mixed batch, the
    partner index and the weight of the original labels."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    lam = max(lam, 1 - lam)  # the original clip dominates: its label stays the main target
    partner = torch.randperm(x.shape[0], generator=gen)
    x = lam * x + (1 - lam) * x[partner]
    return (x.round() if integer else x), partner, lam
