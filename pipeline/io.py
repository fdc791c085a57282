"""File edges: atomic writes, Excel-safe CSV (UTF-8 with BOM), and formula neutralisation."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from pipeline.errors import DiaoyanError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell that Excel/WPS would run as a formula gets a leading apostrophe-quote: shown, not run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path) for a temp file beside path, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600; outputs get the usual permissions for new files.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> Path:
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """UTF-8 with BOM (so Excel opens Chinese correctly), formulas neutralised, LF line ends."""
    data = neutralise_frame(frame).to_csv(index=False, lineterminator="\n")
    return write_bytes(path, data.encode("utf-8-sig"))


def read_text_csv(path: Path, hint: str, required: tuple[str, ...] = ("text",)) -> pd.DataFrame:
    """A UTF-8 CSV (BOM allowed) with the required columns (a `text` column by default), every cell
    as a string; clear errors otherwise."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DiaoyanError("CSV file not found", path=str(path)) from None
    except UnicodeDecodeError as err:
        raise DiaoyanError(f"CSV is not UTF-8 (byte {err.start})", path=str(path),
                           hint="re-save it as UTF-8 (Excel: 'CSV UTF-8')") from None
    except pd.errors.ParserError as err:
        raise DiaoyanError(f"malformed CSV: {err}", path=str(path)) from None
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DiaoyanError(f"CSV has no {', '.join(repr(c) for c in missing)} column "
                           f"(columns: {list(frame.columns)})", path=str(path), hint=hint)
    return frame
