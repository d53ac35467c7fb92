"""Random espeak-ng voice variants: more voices in training than espeak-ng ships.

The keyword models fail mostly on test voices that are *variants* they never heard
(robotic, child-like, low-formant ones), not on words. espeak-ng ships about a hundred
variant files, and the corpus splits them between train, val and test, so train hears
about seventy. A variant file is only a handful of numbers (formant frequency, height and
width scales, pitch range, voicing, breath, flutter, roughness, tone, the Klatt
synthesiser), so this module draws new ones from the ranges the shipped files span:
train then hears as many voices as it asks for, and the test variants stay unseen.

espeak-ng reads variants only from `<data>/voices/!v/`, so the drawn files go into a
private data folder: symlinks to the installed languages and dictionaries plus the drawn
files, and `espeak-ng --path` points at it. No library writes espeak-ng voice files, hence by hand.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np

from melflow.core import MelflowError

__all__ = ["RANDOM_VARIANT_PREFIX", "MAX_RANDOM_VARIANTS", "random_variant_names", "random_variant_text", "espeak_path_for"]

RANDOM_VARIANT_PREFIX = "random"  # no variant shipped with espeak-ng 1.51 starts with it
MAX_RANDOM_VARIANTS = 200  # espeak-ng lists at most 349 voice files; its languages take 131

_state: dict = {}  # the private data folder of this process; forked workers inherit the parent's


def random_variant_names(n: int) -> list[str]:
    if not 0 <= int(n) <= MAX_RANDOM_VARIANTS:
        raise MelflowError(f"--random-voices must be in [0, {MAX_RANDOM_VARIANTS}], got {n}")
    return [f"{RANDOM_VARIANT_PREFIX}{k:02d}" for k in range(int(n))]


def random_variant_text(name: str) -> str:
    """The variant file of `name`: a pure function of the name (independent of the corpus
    seed, like every speaker's fixed parameters)."""
    r = np.random.default_rng(zlib.crc32(f"espeak-variant:{name}".encode()))
    # vocal tract: one scale for all formants (0.8: a deep adult voice, 1.45: a child's, as
    # espeak-ng's "zac"), jittered per formant, and now and then one formant far off (as "kaukovalta")
    tract = float(np.exp(r.uniform(np.log(0.8), np.log(1.45))))
    pitch = float(np.exp(r.uniform(np.log(60), np.log(300)))) * (tract if r.random() < 0.5 else 1.0)
    lines = ["language variant", f"name {name}", f"pitch {pitch:.0f} {pitch + r.uniform(10, 150):.0f}"]
    for k in range(9):
        freq = 100 * tract * r.uniform(0.9, 1.1)
        if 1 <= k <= 3 and r.random() < 0.08:
            freq = 100 * r.uniform(0.5, 1.5)
        lines.append(f"formant {k} {freq:.0f} {r.uniform(60, 140):.0f} {r.uniform(70, 160):.0f}")
    if r.random() < 0.3:
        lines.append(f"flutter {r.uniform(0, 25):.0f}")
    if r.random() < 0.3:
        lines.append(f"roughness {r.integers(1, 6)}")
    if r.random() < 0.3:
        lines.append(f"consonants {r.uniform(60, 120):.0f}")
    if r.random() < 0.2:
        lines.append("tone " + " ".join(f"{f} {r.uniform(50, 255):.0f}" for f in (600, 1200, 2000)))
    if r.random() < 0.15:
        lines.append(f"echo {r.uniform(50, 200):.0f} {r.uniform(5, 30):.0f}")
    if r.random() < 0.1:  # breathy to whispered
        lines.append(f"voicing {r.uniform(15, 60):.0f}")
        lines.append("breath " + " ".join(f"{v:.0f}" for v in np.sort(r.uniform(10, 80, 6))[::-1]))
    elif r.random() < 0.2:
        lines.append(f"voicing {r.uniform(60, 110):.0f}")
    if r.random() < 0.25:
        lines.append(f"klatt {r.integers(1, 5)}")
    return "\n".join(lines) + "\n"


def _installed_data() -> Path:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=30).stdout
    except FileNotFoundError:
        raise MelflowError("espeak-ng: program not found (apt-get install espeak-ng)") from None
    m = re.search(r"Data at:\s*(\S+)", out)
    if not m or not Path(m.group(1), "voices", "!v").is_dir():
        raise MelflowError(f"espeak-ng --version names no data folder with voices/!v: {out.strip()!r}")
    return Path(m.group(1))


def espeak_path_for(variant: str) -> str | None:
    """The `--path` espeak-ng needs for `variant`: None for a shipped variant, else a
    private data folder (made once per process and removed at its exit) holding the drawn
    variant's file. Call it in the parent before forking workers: they then share the
    folder, and a forked worker runs no exit handlers that would leave a copy behind."""
    if not variant.startswith(RANDOM_VARIANT_PREFIX):
        return None
    root = _state.get("root")
    if root is None or not root.is_dir():
        src = _installed_data()
        root = Path(tempfile.mkdtemp(prefix="melflow-espeak-"))
        atexit.register(shutil.rmtree, root, True)
        data = root / "espeak-ng-data"
        (data / "voices" / "!v").mkdir(parents=True)
        for p in src.iterdir():
            if p.name != "voices":
                (data / p.name).symlink_to(p)
        # no shipped variants and no mbrola voices: espeak-ng lists every voice file it
        # finds and stops at 349, past which it loses languages ("voice does not exist")
        _state["root"] = root
    f = root / "espeak-ng-data" / "voices" / "!v" / variant
    if not f.exists():
        tmp = f.with_name(f".{variant}.{os.getpid()}.tmp")
        tmp.write_text(random_variant_text(variant))
        tmp.replace(f)  # atomic: a worker never reads a half-written file
    return str(root)
