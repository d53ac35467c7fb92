"""The speaker augmentations on log-Mel codes: the band warp keeps the mel axis in order and
its ends in place, the timbre curve stays within its bound and is the same in every frame,
and both leave integer codes; off, they change nothing."""

from __future__ import annotations

import dataclasses

import torch

from melflow.train.augment import augment, band_warp, timbre, warp
from melflow.train.config import TrainConfig


def test_band_warp_is_monotone_with_fixed_ends_and_bends_the_middle():
    u = torch.linspace(-1, 1, 81).repeat(64, 1)
    w = band_warp(u, 0.45, torch.Generator().manual_seed(0))
    assert (w[:, 1:] > w[:, :-1]).all()  # no two bands swap or fold
    assert torch.equal(w[:, 0], u[:, 0]) and torch.allclose(w[:, -1], u[:, -1])
    moved = (w - u).abs().amax(dim=1)
    assert (moved > 0.01).all() and (moved <= 0.45 * 0.5 + 1e-6).all()  # knots 0.5 apart
    torch.testing.assert_close(band_warp(u, 0.0, torch.Generator().manual_seed(0)), u)


def test_warp_without_band_warp_is_the_plain_stretch():
    """Turning the band warp on adds one draw; off, a run's augmentation is what it was."""
    x = torch.randint(-128, 128, (6, 1, 98, 40)).float()
    tc = TrainConfig()
    plain = warp(x, tc, torch.Generator().manual_seed(3))
    bent = warp(x, dataclasses.replace(tc, band_warp=0.3), torch.Generator().manual_seed(3))
    again = warp(x, dataclasses.replace(tc, band_warp=0.0), torch.Generator().manual_seed(3))
    assert torch.equal(plain, again) and not torch.equal(plain, bent)
    assert torch.equal(bent, bent.round()) and bent.min() >= -128 and bent.max() <= 127


def test_timbre_is_one_bounded_curve_per_clip_over_the_bands():
    x = torch.zeros(16, 1, 98, 40)
    t = timbre(x, 16, torch.Generator().manual_seed(1))
    assert t.abs().max() <= 16 and t.abs().max() > 8
    assert torch.equal(t, t[:, :, :1].expand_as(t))  # a filter: the same in every frame
    assert not torch.equal(t[0], t[1])  # drawn per clip
    assert torch.equal(t, t.round())
    loud = timbre(torch.full((4, 1, 98, 40), 120.0), 16, torch.Generator().manual_seed(1))
    assert loud.max() <= 127  # codes stay int8


def test_augment_with_speaker_transforms_keeps_shape_and_codes():
    x = torch.randint(-128, 128, (8, 1, 98, 40)).float()
    tc = dataclasses.replace(TrainConfig(), band_warp=0.3, timbre_codes=16)
    y = augment(x, tc, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(y, y.round()) and y.min() >= -128 and y.max() <= 127
