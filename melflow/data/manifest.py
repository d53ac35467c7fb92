"""The manifest contract: every corpus is a CSV with header `path,label` and optional
columns `speaker,split,onset,offset`. Paths are relative to the manifest's folder or
absolute. `_silence_` / `_unknown_` are ordinary labels; SED manifests use one row per
event (onset/offset in seconds) and an empty label for clips without events."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melflow.core import MelflowError, replacing

__all__ = ["ManifestRow", "read_manifest", "spread_rows", "write_manifest", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS"]

REQUIRED_COLUMNS = ("path", "label")
OPTIONAL_COLUMNS = ("speaker", "split", "onset", "offset")
_MAX_LISTED = 10


@dataclass
class ManifestRow:
    path: Path  # absolute
    label: str
    speaker: str | None = None
    split: str | None = None
    onset: float | None = None
    offset: float | None = None


def _opt_float(value: str | None, csv_path: Path, line: int, column: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise MelflowError(f"{csv_path}:{line}: column '{column}' is not a number: {value!r}") from None


def read_manifest(csv_path, check_files: bool = True) -> list[ManifestRow]:
    """Read and validate a manifest. Relative paths are resolved against the manifest's
    folder. Missing `path`/`label` columns, bad numbers and (with `check_files`) audio
    files that do not exist raise one `MelflowError` naming the manifest."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise MelflowError(f"{csv_path}: manifest not found")
    base = csv_path.resolve().parent
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing_cols = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing_cols:
                raise MelflowError(
                    f"{csv_path}: manifest lacks column(s) {', '.join(missing_cols)} "
                    f"(header is {','.join(header) or '<empty>'}; expected path,label[,speaker,split,onset,offset])"
                )
            reader.fieldnames = header
            rows: list[ManifestRow] = []
            for line, rec in enumerate(reader, start=2):
                raw_path = (rec.get("path") or "").strip()
                if not raw_path:
                    raise MelflowError(f"{csv_path}:{line}: empty path")
                p = Path(raw_path)
                p = p if p.is_absolute() else base / p
                speaker = (rec.get("speaker") or "").strip() or None
                split = (rec.get("split") or "").strip() or None
                rows.append(ManifestRow(
                    path=Path(os.path.normpath(p)),
                    label=(rec.get("label") or "").strip(),
                    speaker=speaker,
                    split=split,
                    onset=_opt_float(rec.get("onset"), csv_path, line, "onset"),
                    offset=_opt_float(rec.get("offset"), csv_path, line, "offset"),
                ))
    except UnicodeDecodeError as err:
        raise MelflowError(f"{csv_path}: manifest is not UTF-8 text ({err})") from None
    except csv.Error as err:
        raise MelflowError(f"{csv_path}: malformed CSV ({err})") from None
    if check_files:
        seen: set[Path] = set()
        missing = []
        for r in rows:
            if r.path in seen:
                continue
            seen.add(r.path)
            if not r.path.is_file():
                missing.append(r.path)
        if missing:
            listed = "\n  ".join(str(m) for m in missing[:_MAX_LISTED])
            more = f"\n  ... and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
            raise MelflowError(
                f"{csv_path}: {len(missing)} audio file(s) listed in the manifest do not exist:\n  {listed}{more}"
            )
    return rows


def spread_rows(rows: list, limit: int | None) -> list:
    """`limit` rows spread evenly over `rows` (all of them without a limit): manifests are
    often sorted by label, and the first N clips of one class say nothing about the others."""
    if limit is None or limit >= len(rows):
        return rows
    return [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]


def _fmt_float(x: float | None) -> str:
    return "" if x is None else f"{x:.6g}"


def write_manifest(csv_path, rows) -> None:
    """Write rows (ManifestRow) as a manifest, paths relative to the manifest's folder
    (absolute when the file sits on another drive). Optional columns are written only when
    at least one row has a value for them. The file is replaced whole (melflow.core.replacing),
    never rewritten in place."""
    csv_path = Path(csv_path)
    base = csv_path.resolve().parent
    rows = list(rows)
    cols = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if any(getattr(r, c) is not None for r in rows)]
    with replacing(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            p = Path(r.path)
            p = p if p.is_absolute() else Path(os.path.abspath(p))
            try:
                rel = os.path.relpath(p, base)
            except ValueError:
                rel = str(p)
            rel = rel.replace(os.sep, "/")
            rec = {"path": rel, "label": r.label,
                   "speaker": r.speaker or "", "split": r.split or "",
                   "onset": _fmt_float(r.onset), "offset": _fmt_float(r.offset)}
            w.writerow([rec[c] for c in cols])
