"""`melflow frontend check`: fidelity of the integer log-Mel against torchaudio's float one.

For every clip of a manifest (any manifest in the contract format: the labels are not
read) the golden model's int8 codes are dequantized with the spec's affine map and compared
with ``float_log_mel`` of the same int16 samples. The SNR only counts cells whose float
value lies above the int8 floor (below it the code saturates by design: digital silence);
saturation is reported separately, as the share of codes at -128 and at 127, and as the
share of cells whose float value lies below the floor or above the ceiling.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from melflow.data.audio import load_audio
from melflow.data.manifest import read_manifest, spread_rows
from melflow.frontend.config import FrontendConfig
from melflow.frontend.golden import dequantize, integer_log_mel
from melflow.frontend.reference import float_log_mel

__all__ = ["frontend_check", "frontend_check_cli"]


def _db(sig: float, err: float) -> float:
    return float("inf") if err == 0 else float(10.0 * np.log10(sig / err))


def frontend_check(manifest: str | Path, cfg: FrontendConfig = FrontendConfig(), limit: int | None = None,
                   progress: bool = False) -> dict:
    """Per-clip and overall log-domain SNR (dB) and saturation shares for a manifest."""
    manifest = Path(manifest)
    rows = spread_rows(read_manifest(manifest), limit)
    per_clip = []
    sig_all = err_all = 0.0
    cells = low = high = below = above = 0
    for row in tqdm(rows, desc="frontend check", disable=not progress):
        pcm = load_audio(row.path, cfg.sample_rate)
        codes = integer_log_mel(pcm, cfg)
        ref = float_log_mel(pcm, cfg)
        mask = ref > cfg.ln_min
        g = dequantize(codes, cfg)
        sig = float(np.sum(ref[mask] ** 2))
        err = float(np.sum((g[mask] - ref[mask]) ** 2))
        sig_all += sig
        err_all += err
        n_low, n_high = int(np.sum(codes == -128)), int(np.sum(codes == 127))
        cells += codes.size
        low += n_low
        high += n_high
        below += int(np.sum(~mask))
        above += int(np.sum(ref > cfg.ln_max))
        per_clip.append({
            "path": str(row.path),
            "snr_db": round(_db(sig, err), 2) if mask.any() else None,
            "saturated_low": round(n_low / codes.size, 4),
            "saturated_high": round(n_high / codes.size, 4),
        })
    snrs = [c["snr_db"] for c in per_clip if c["snr_db"] is not None]
    return {
        "manifest": str(manifest),
        "clips": len(per_clip),
        "snr_db": round(_db(sig_all, err_all), 2),
        "snr_db_min": min(snrs) if snrs else None,
        "snr_db_median": float(np.median(snrs)) if snrs else None,
        "saturated_low": round(low / max(cells, 1), 4),
        "saturated_high": round(high / max(cells, 1), 4),
        "float_below_floor": round(below / max(cells, 1), 4),
        "float_above_ceiling": round(above / max(cells, 1), 4),
        "per_clip": per_clip,
    }


def frontend_check_cli(args) -> None:
    result = frontend_check(args.manifest, limit=args.limit, progress=True)
    if args.summary_only:
        result.pop("per_clip")
    print(json.dumps(result))
