"""Reading and writing user tables (CSV, CSV.gz or Parquet): one reader for every subpackage and the CLI.

Every way a user's file can fail to read (missing, a folder, unreadable, empty,
not UTF-8, a format other than its name says, malformed) becomes one
:class:`~personacal.errors.InputError` that names the file and says what to do:
:func:`reading` does that for any reader, and :func:`read_table` uses it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from .errors import InputError, InvalidValueError

__all__ = ["read_table", "write_table", "reading", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"


def _suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gz" and path.name.lower().endswith(".csv.gz"):
        return ".csv.gz"
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{what} {str(path)!r} must be a .csv, .csv.gz or .parquet file")
    return suffix


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def reading(path, what: str = "file"):
    """Turn any failure to read ``path`` inside the block into one :class:`InputError` line.

    ``what`` names the file's role in the message ("margins file", "personas").
    """
    import pyarrow as pa

    name = f"{what} {str(path)!r}"
    try:
        yield
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{name} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a folder, not a file") from None
    except PermissionError:
        raise InputError(f"{name} cannot be read (permission denied)") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex() if isinstance(exc.object, bytes) else "?"
        raise InputError(f"{name} is not UTF-8 text (byte 0x{byte} at position {exc.start}); save it as UTF-8 "
                         "(in a spreadsheet: 'CSV UTF-8')") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{name} has no columns (it is empty or blank)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{name} is not a well-formed CSV file: {_first_line(exc)}") from None
    except (pa.ArrowException, EOFError) as exc:
        raise InputError(f"{name} is not a readable Parquet file: {_first_line(exc)}") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be read: {exc.strerror or _first_line(exc)}") from None


def _check_format(path: Path, suffix: str, what: str) -> None:
    """The file's first bytes must match its name: an empty file or a CSV named .parquet says so."""
    with open(path, "rb") as f:
        head = f.read(4)
    name = f"{what} {str(path)!r}"
    if not head:
        raise InputError(f"{name} is empty (0 bytes)")
    if suffix in (".parquet", ".pq") and head != PARQUET_MAGIC:
        looks = "gzip-compressed data" if head[:2] == GZIP_MAGIC else "text such as CSV"
        raise InputError(f"{name} is named {suffix} but is not a Parquet file (it holds {looks}); "
                         "rename it to match its format (.csv, .csv.gz)")
    if suffix.startswith(".csv") and head == PARQUET_MAGIC:
        raise InputError(f"{name} is named {suffix} but is a Parquet file; rename it to .parquet")
    if suffix == ".csv" and head[:2] == GZIP_MAGIC:
        raise InputError(f"{name} is named .csv but is gzip-compressed; rename it to .csv.gz")


def read_table(path, *, numeric: tuple[str, ...] = (), what: str = "file") -> pd.DataFrame:
    """Read a CSV or Parquet table; in CSVs every column is text except ``numeric`` ones.

    Reading categories as text keeps a category ``1`` in the sample and ``1`` in
    the margins file the same value.
    """
    path = Path(path)
    suffix = _suffix(path, what)
    with reading(path, what):
        _check_format(path, suffix, what)
        if suffix.startswith(".csv"):
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix.startswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
    except IsADirectoryError:
        raise InputError(f"output {str(path)!r} is a folder; give a file name") from None
    except OSError as exc:
        raise InputError(f"output {str(path)!r} cannot be written: {exc.strerror or _first_line(exc)}") from None
    return path
