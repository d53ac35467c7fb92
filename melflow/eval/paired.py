"""Is model A better than model B on these clips, or is it noise? (`melflow eval --against`)

Two models scored on the same clips differ by a few clips one way or the other, and on a
test split of a few dozen speakers a point is a handful of clips. Two measures of that noise,
both on the same predictions:

* McNemar's exact test on the clips only one of the two gets right (scipy's binomial test):
  how often a split this lopsided appears when neither model is better, clip by clip.
* A bootstrap confidence interval of the difference that resamples whole speakers, not
  clips. A speaker's clips fail together (one vocal tract, one accent), so resampling clips
  would understate the spread on unseen speakers, which is the spread that matters here.
  Not whole voices (an accent across its variants): a test split has only a few of them
  (three in melflow's), too few to resample; most draws would miss one entirely.

Written by hand because no library we use resamples by cluster for a paired difference
(torchmetrics' BootStrapper resamples items); it is a few lines of numpy.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest


def paired_difference(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, clusters: np.ndarray,
                      n_boot: int = 2000, seed: int = 0) -> dict:
    """Accuracy of A minus accuracy of B in points, its 95 % interval over speakers
    (`clusters`: one key per clip), and McNemar's exact p-value."""
    a, b = pred_a == y, pred_b == y
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    keys, inv = np.unique(clusters, return_inverse=True)
    diff_per_key = np.bincount(inv, weights=a.astype(float) - b, minlength=len(keys))
    clips_per_key = np.bincount(inv, minlength=len(keys))
    draws = np.random.default_rng(seed).integers(0, len(keys), (n_boot, len(keys)))
    boot = diff_per_key[draws].sum(1) / clips_per_key[draws].sum(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "points": round(100 * float(a.mean() - b.mean()), 2),
        "points_ci95": [round(100 * float(lo), 2), round(100 * float(hi), 2)],
        "only_model_right": only_a,
        "only_against_right": only_b,
        "mcnemar_p": round(float(p), 4),
        "speakers": int(len(keys)),
    }
