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
    return Margins.from_long(frame, **kwargs)
