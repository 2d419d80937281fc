"""Reading margins from CSV or Parquet files in the long format."""

from __future__ import annotations

from .._tables import read_table
from ..errors import InputError
from ._margins import Margins

__all__ = ["read_margins"]


def read_margins(path, *, region_column: str | None = None, **kwargs) -> Margins | dict[str, Margins]:
    """Read margins in the long format of :meth:`Margins.to_long`.

    Columns: ``margin`` (the variables, joined by ``:`` for a multi-way margin,
    e.g. ``age:sex``); one column per variable (empty where the variable is not
    in the row's margin); ``value`` (population total). With ``region_column``
    (e.g. ``"state"``), that column splits the file into ``{region: Margins}``.
    """
    frame = read_table(path, numeric=("value",), what="margins file")
    if region_column is not None:
        if region_column not in frame.columns:
            raise InputError(
                f"margins file {str(path)!r} has no {region_column!r} column to split regions by; "
                f"it has {list(frame.columns)}"
            )
        if frame[region_column].isna().any():
            raise InputError(f"margins file {str(path)!r} has rows with an empty {region_column!r}")
        return {
            str(region): Margins.from_long(block.drop(columns=region_column), name=str(region), **kwargs)
            for region, block in frame.groupby(region_column, sort=False)
        }
    _one_region(frame, path)
    return Margins.from_long(frame, **kwargs)


def _one_region(frame, path) -> None:
    """Cells listed more than once, told apart by a column outside every margin: a file of several regions."""
    if "margin" not in frame.columns:
        return
    named = {v for label in frame["margin"].dropna().astype(str).unique() for v in label.split(":")}
    cells = ["margin", *[c for c in frame.columns if c in named]]
    if not frame.duplicated(subset=cells).any():
        return
    for column in [c for c in frame.columns if c not in named | {"margin", "value"}]:
        values = frame[column].dropna().astype(str).unique()
        if frame[column].notna().all() and not frame.duplicated(subset=[*cells, column]).any():
            shown = ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")
            raise InputError(
                f"margins file {str(path)!r} holds several regions (column {column!r}: {shown}); name that column "
                f"with --by {column} (read_margins(..., region_column={column!r}) in Python), or keep one region's "
                "rows (calibrate ipf fits one region)"
            )
