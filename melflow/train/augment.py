"""Training-time augmentation on integer log-Mel codes: speaker and rate variation, level,
timbre, time shift, SpecAugment (torchaudio's masks) and mixup. Every transform rounds back
to integer codes when the features are the integer ones, so training sees what the integer
frontend produces.

The speaker transforms (mel warp, band warp, timbre) are written here by hand: torchaudio
warps only the time axis (TimeStretch on complex spectra) and has no random filter on
log-Mel features."""

from __future__ import annotations

import torch

from melflow.train.config import TrainConfig


SHAPE_KNOTS = 5  # points, ends included, that shape the band warp and the timbre curve over the mel axis


def warp(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Stretch the mel axis (anchored at the lowest band, like vocal tract length
    perturbation) and the time axis (around the centre) per clip, and with `band_warp` bend
    the mel axis too, then round back to integer codes so training still sees what the
    integer frontend produces. One resampling does all of it."""
    import torch.nn.functional as F

    n = x.shape[0]
    alpha = 1 + (torch.rand(n, generator=gen) * 2 - 1) * tc.mel_warp
    beta = 1 + (torch.rand(n, generator=gen) * 2 - 1) * tc.time_stretch
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1 / alpha  # grid x: the mel axis (last dim)
    theta[:, 0, 2] = 1 / alpha - 1
    theta[:, 1, 1] = 1 / beta  # grid y: the time axis
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if tc.band_warp:  # a band's mel coordinate is the same in every frame: bend one row per clip
        grid[..., 0] = band_warp(grid[:, :1, :, 0], tc.band_warp, gen)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x.round() if tc.features == "integer" else x


def band_warp(u: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """A random monotone piecewise-linear map of mel coordinates `u` (in [-1, 1], one
    clip per first index) with fixed ends: each interior knot moves by up to `strength`
    times the knots' spacing. Why: a global stretch moves every formant by the same factor,
    but voices differ formant by formant (espeak-ng variants scale each formant on its own,
    one of them the first formant to 40 %), so the model should hear the vowels' formants
    move apart and together as well. Below 0.5 the map stays strictly increasing."""
    n = u.shape[0]
    knots = torch.linspace(-1, 1, SHAPE_KNOTS)
    spacing = float(knots[1] - knots[0])
    moved = knots.repeat(n, 1)
    moved[:, 1:-1] += (torch.rand(n, SHAPE_KNOTS - 2, generator=gen) * 2 - 1) * strength * spacing
    flat = u.reshape(n, -1).clamp(-1, 1)
    piece = torch.bucketize(flat, knots[1:-1])  # 0 .. SHAPE_KNOTS - 2
    lo, hi = knots[piece], knots[piece + 1]
    t = (flat - lo) / (hi - lo)
    out = torch.gather(moved, 1, piece) * (1 - t) + torch.gather(moved, 1, piece + 1) * t
    return out.reshape(u.shape)


def timbre(x: torch.Tensor, max_codes: int, gen: torch.Generator) -> torch.Tensor:
    """Add a random smooth curve over the mel bands to each clip (a filter is a sum in the
    log domain): a voice's source tilt, a synthesiser's `tone` setting, a microphone's
    response. The curve joins SHAPE_KNOTS values drawn in [-max_codes, max_codes]
    (codes of 0.38 dB) linearly across the bands."""
    import torch.nn.functional as F

    n, mels = x.shape[0], x.shape[-1]
    levels = torch.randint(-max_codes, max_codes + 1, (n, 1, SHAPE_KNOTS), generator=gen).float()
    curve = F.interpolate(levels, size=mels, mode="linear", align_corners=True).round()
    return torch.clamp(x + curve.reshape(n, 1, 1, mels), -128, 127)


def augment(x: torch.Tensor, tc: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Speaker, rate and level variation, time shift and SpecAugment on integer codes;
    masked cells get the floor code (silence)."""
    import torchaudio.transforms as T

    floor = -128.0
    if tc.mel_warp or tc.time_stretch or tc.band_warp:
        x = warp(x, tc, gen)
    if tc.timbre_codes:
        x = timbre(x, tc.timbre_codes, gen)
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
