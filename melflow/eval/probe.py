"""Probes: clips planned for one question (a voice, a pronunciation), rendered by the
corpus renderer so that level, placement, effects and noise are as in training, then
evaluated with the accuracy per group. The scripts `probe_accented_voices.py`,
`probe_neural_voices.py` and `probe_vowel_shift.py` plan the clips; this module is what they
share (the two voice probes also share their plan and command line)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

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


def keyword_probe_specs(voices: Sequence[str], chosen: Sequence[str], speaker_of: Callable[[str, int], str],
                        per_voice: int, seed: int, stream: int) -> list[kws.ClipSpec]:
    """`per_voice` keyword clips for each of `chosen` (some of `voices`), the keywords in
    turn, said by a new variant every ten (`speaker_of(voice, k)` for the k-th); a voice's
    clips are the same whichever other voices are probed with it, since its seed holds its
    place in the full list `voices`. `stream` keeps one probe's clips apart from another's."""
    babble = tuple(kws.split_speakers()["val"][:2])
    specs = []
    for vi, voice in enumerate(voices):
        if voice not in chosen:
            continue
        for n in range(per_voice):
            word = kws.KEYWORDS[n % len(kws.KEYWORDS)]
            specs.append(kws.ClipSpec(f"probe/{word}/{voice}_{n:03d}.wav", word, word,
                                      speaker_of(voice, n // len(kws.KEYWORDS)), "probe", (seed, stream, vi, n), babble))
    return specs


def voice_probe_main(argv, description: str, default_out: str, plan: Callable[[int, int, str], list[kws.ClipSpec]],
                     voices_help: str) -> int:
    """The command line the voice probes share: plan the clips (`plan(per_voice, seed,
    voices)`), render them, and print the accuracy per voice, with its range, as one JSON line."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", required=True, help="a checkpoint (.pt) or a build folder")
    ap.add_argument("--out", type=Path, default=Path(default_out))
    ap.add_argument("--per-voice", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voices", default=None, help=voices_help)
    ap.add_argument("--backend", choices=["torch", "golden"], default="golden")
    args = ap.parse_args(argv)
    result = evaluate_rendered(plan(args.per_voice, args.seed, args.voices), args.out, args.model, args.backend, "voice")
    accuracies = [g["accuracy"] for g in result["groups"]]
    result["voices_accuracy_range"] = [float(np.min(accuracies)), float(np.max(accuracies))]
    print(json.dumps(result))
    return 0
