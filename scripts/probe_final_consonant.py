#!/usr/bin/env python
"""Is a word's last consonant still there to hear under the corpus's noise? For each clip of
the chosen classes ("up" and "off": told apart by /p/ against /f/), the energy above
`--band-hz` in the word's last `--tail-ms` against the noise's in the same window, and each
model's accuracy per band of that ratio.

    .venv/bin/python scripts/probe_final_consonant.py --model models/kws_cnn.pt [--model M2] \
        [--manifest data/kws-full-test/test.csv] [--labels up,off]

Why: on the full test split "up" and "off" taken for each other are the largest single error
of every model tried, all by espeak-ng's voices, whose /f/ lies about 29 dB under the vowel
(docs/kws_training.md, "Width"). Whether those clips can be told apart at all decides whether
more training can win them back. The clean word is the corpus renderer's own clip with its
noise left out (the same spec, so the same voice, effects, gain and placement); the noise is
the stored clip minus that. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from unittest import mock

import numpy as np

from melflow.core import MelflowError, reports_errors
from melflow.data import kws, kws_render
from melflow.data.audio import load_audio
from melflow.data.manifest import read_manifest, write_manifest
from melflow.eval.evaluate import clips, predictions

SNR_EDGES = (-np.inf, 0.0, 6.0, 12.0, np.inf)  # dB, band energy of the word's tail against the noise's


def corpus_specs(manifest: Path) -> dict[str, kws.ClipSpec]:
    """relpath -> spec of every clip of the corpus a manifest belongs to (its corpus.json)."""
    meta_path = manifest.parent / "corpus.json"
    if not meta_path.exists():
        raise MelflowError(f"{manifest}: no corpus.json beside it, so its clips cannot be rendered again")
    meta = json.loads(meta_path.read_text())
    specs = kws.plan_kws_corpus(meta["size"], meta["seed"], meta["random_voices"], ",".join(meta["accented_voices"]) or False,
                                meta["vowel_variants"], meta["extra_unknown"], meta.get("drawn_speakers", 0.0),
                                meta.get("neural_voices", 0.0), meta.get("unknown_vowel_variants", 0.0))
    return {s.relpath: s for s in specs}


def clean_word(spec: kws.ClipSpec) -> np.ndarray:
    """The clip `spec` renders, without its noise (float, full scale 1.0): the renderer draws the
    noise last, so every earlier draw (voice, effects, gain, placement) is the stored clip's."""
    with mock.patch.object(kws_render, "_noise", lambda spec, rng, n, tmp, allow_babble: np.zeros(n)):
        return kws_render.render_clip(spec).astype(np.float64) / 32768


def tail_snr_db(clean: np.ndarray, noise: np.ndarray, tail_ms: float, band_hz: float, sr: int = 16000) -> float:
    """Energy above `band_hz` of the clean word's last `tail_ms` (ending at its last 10 ms
    frame within 40 dB of its loudest) against the noise's in the same window, in dB."""
    hop = sr // 100
    n = len(clean) // hop
    e = np.sqrt(np.mean(clean[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-12
    last = int(np.nonzero(e > e.max() * 10 ** (-40 / 20))[0][-1])
    end = (last + 1) * hop
    start = max(0, end - int(sr * tail_ms / 1000))
    win = np.hanning(end - start)
    freqs = np.fft.rfftfreq(end - start, 1 / sr)

    def band(x):
        return float(np.sum(np.abs(np.fft.rfft(x[start:end] * win))[freqs >= band_hz] ** 2)) + 1e-20

    return 10 * np.log10(band(clean) / band(noise))


@reports_errors("probe_final_consonant")
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="checkpoint (.pt); repeat for several")
    ap.add_argument("--manifest", default="data/kws-full-test/test.csv")
    ap.add_argument("--labels", default="up,off")
    ap.add_argument("--tail-ms", type=float, default=70.0)
    ap.add_argument("--band-hz", type=float, default=3000.0)
    ap.add_argument("--out", default="build/final-consonant")
    args = ap.parse_args(argv)
    manifest, out = Path(args.manifest), Path(args.out)
    labels = args.labels.split(",")
    if "_silence_" in labels:
        raise MelflowError("--labels: _silence_ clips say no word, so they have no last consonant")
    rows = [r for r in read_manifest(manifest) if r.label in labels]
    if not rows:
        raise MelflowError(f"{manifest}: no clips labelled {', '.join(labels)}")
    specs = corpus_specs(manifest)
    base = manifest.resolve().parent
    relpaths = [r.path.relative_to(base).as_posix() for r in rows]
    missing = [p for p in relpaths if p not in specs]
    if missing:
        raise MelflowError(f"{manifest}: {len(missing)} clips are not in the plan of its corpus.json, e.g. {missing[:3]}")
    snr = []
    for r, p in zip(rows, relpaths):
        clean = clean_word(specs[p])
        snr.append(tail_snr_db(clean, load_audio(r.path).astype(np.float64) / 32768 - clean, args.tail_ms, args.band_hz))
    engine = np.array([(r.speaker or "").split(":")[0] for r in rows])
    subset = out / "clips.csv"
    write_manifest(subset, rows)
    data = clips(subset)
    bins = np.digitize(snr, SNR_EDGES[1:-1])
    names = [f"{lo:g} to {hi:g} dB" for lo, hi in zip(SNR_EDGES[:-1], SNR_EDGES[1:])]
    result = {"manifest": str(manifest), "labels": labels, "tail_ms": args.tail_ms, "band_hz": args.band_hz,
              "clips": len(rows), "bands": defaultdict(dict)}
    right = {Path(m).stem: np.argmax(predictions(m, data, "torch")[0], axis=1) == data.y for m in args.model}
    for eng in sorted(set(engine)):
        for b, name in enumerate(names):
            mask = (engine == eng) & (bins == b)
            if mask.any():
                result["bands"][eng][name] = {"clips": int(mask.sum()),
                                              **{m: round(float(ok[mask].mean()), 4) for m, ok in right.items()}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
