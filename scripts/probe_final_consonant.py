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
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path
from unittest import mock

import numpy as np

from melflow.core import MelflowError, reports_errors
from melflow.data import kws, kws_render
from melflow.data.audio import load_audio
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
    rows = [r for r in csv.DictReader(open(manifest, newline="")) if r["label"] in labels]
    if not rows:
        raise MelflowError(f"{manifest}: no clips labelled {', '.join(labels)}")
    specs = corpus_specs(manifest)
    missing = [r["path"] for r in rows if r["path"] not in specs]
    if missing:
        raise MelflowError(f"{manifest}: {len(missing)} clips are not in the plan of its corpus.json, e.g. {missing[:3]}")
    snr, engine = [], []
    silent = mock.patch.object(kws_render, "_noise", lambda spec, rng, n, tmp, allow_babble: np.zeros(n))
    for r in rows:
        with silent:
            clean = kws_render.render_clip(specs[r["path"]]).astype(np.float64) / 32768
        noisy = load_audio(manifest.parent / r["path"]).astype(np.float64) / 32768
        snr.append(tail_snr_db(clean, noisy - clean, args.tail_ms, args.band_hz))
        engine.append(r["speaker"].split(":")[0])
    out.mkdir(parents=True, exist_ok=True)
    subset = out / "clips.csv"
    with open(subset, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "path": str((manifest.parent / r["path"]).resolve())} for r in rows)
    data = clips(subset)
    bins = np.digitize(snr, SNR_EDGES[1:-1])
    names = [f"{lo:g} to {hi:g} dB" for lo, hi in zip(SNR_EDGES[:-1], SNR_EDGES[1:])]
    result = {"manifest": str(manifest), "labels": labels, "tail_ms": args.tail_ms, "band_hz": args.band_hz,
              "clips": len(rows), "bands": defaultdict(dict)}
    preds = {m: np.argmax(predictions(m, data, "torch")[0], axis=1) for m in args.model}
    for eng in sorted(set(engine)):
        for b, name in enumerate(names):
            idx = [i for i in range(len(rows)) if engine[i] == eng and bins[i] == b]
            if not idx:
                continue
            cell = {"clips": len(idx)}
            for m, p in preds.items():
                cell[Path(m).stem] = round(float(np.mean(p[idx] == data.y[idx])), 4)
            result["bands"][eng][name] = cell
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
