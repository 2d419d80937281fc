"""Reading and writing user tables (CSV, CSV.gz or Parquet): one reader for every subpackage and the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InputError, InvalidValueError

__all__ = ["read_table", "write_table", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gz" and path.name.lower().endswith(".csv.gz"):
        return ".csv"
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{what} {str(path)!r} must be a .csv, .csv.gz or .parquet file")
    return suffix


def read_table(path, *, numeric: tuple[str, ...] = (), what: str = "file") -> pd.DataFrame:
    """Read a CSV or Parquet table; in CSVs every column is text except ``numeric`` ones.

    Reading categories as text keeps a category ``1`` in the sample and ``1`` in
    the margins file the same value.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} {str(path)!r} does not exist")
    if _suffix(path, what) == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    else:
        frame = pd.read_parquet(path)
    for col in numeric:
        if col not in frame.columns:
            raise InputError(f"{what} {str(path)!r} has no column {col!r}; it has {list(frame.columns)}")
        converted = pd.to_numeric(frame[col], errors="coerce")
        bad = converted.isna() & frame[col].notna()
        if bad.any():
            raise InvalidValueError(
                f"column {col!r} of {what} {str(path)!r} has non-numeric value(s) such as {frame[col][bad].iloc[0]!r}"
            )
        frame[col] = converted
    return frame


def write_table(frame: pd.DataFrame, path) -> Path:
    path = Path(path)
    suffix = _suffix(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
