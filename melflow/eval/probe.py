"""Probes: clips planned for one question (a voice, a pronunciation), rendered by the
corpus renderer so that level, placement, effects and noise are as in training, then
evaluated with the accuracy per group. The scripts `probe_accented_voices.py` and
`probe_vowel_shift.py` plan the clips; this module is what they share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from melflow.data import kws
from melflow.data.manifest import ManifestRow, write_manifest
from melflow.eval.evaluate import evaluate


def evaluate_rendered(specs: list[kws.ClipSpec], out: Path, model: str | Path, backend: str, by: str,
                      group_of: Callable[[kws.ClipSpec], str] | None = None) -> dict:
    """Render `specs` under `out`, write `out/probe.csv` and evaluate `model` on it, grouped
    `by` a manifest column; `group_of` gives the speaker column its own meaning (the
    default is the clip's speaker)."""
    out = Path(out)
    kws.render_specs(specs, out)
    manifest = out / "probe.csv"
    write_manifest(manifest, [ManifestRow(out / s.relpath, s.label, group_of(s) if group_of else s.speaker, s.split)
                              for s in specs])
    return evaluate(model, manifest, backend, by=by)
