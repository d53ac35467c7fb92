"""FINN stream packing (DESIGN.md): the innermost folded dimension packs element 0 in the
least significant bits, two's complement, beats padded to a multiple of 8 bits."""

from __future__ import annotations

import numpy as np


def pack_beats(values: np.ndarray, bits: int, per_beat: int) -> list[int]:
    """Flat integer values -> AXI-Stream beats of `per_beat` elements of `bits` bits each."""
    v = np.asarray(values, dtype=np.int64).reshape(-1, per_beat)
    mask = (1 << bits) - 1
    beats = []
    for row in v:
        word = 0
        for i, x in enumerate(row.tolist()):
            word |= (int(x) & mask) << (i * bits)
        beats.append(word)
    return beats


def unpack_beats(beats: list[int], bits: int, per_beat: int, signed: bool) -> np.ndarray:
    """AXI-Stream beats -> flat integer values (inverse of pack_beats)."""
    mask = (1 << bits) - 1
    out = []
    for word in beats:
        for i in range(per_beat):
            x = (int(word) >> (i * bits)) & mask
            if signed and x >> (bits - 1):
                x -= 1 << bits
            out.append(x)
    return np.array(out, dtype=np.int64)
