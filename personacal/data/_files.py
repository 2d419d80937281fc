"""Read the tables shipped in this folder (found with importlib.resources, so zipped installs work)."""

from __future__ import annotations

import functools
from importlib import resources

import pandas as pd

from ..errors import DataError

__all__ = ["read_table"]


@functools.cache
def _read(name: str, dtypes: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    resource = resources.files(__package__).joinpath(name)
    if not resource.is_file():
        raise DataError(
            f"shipped data file '{name}' is missing from personacal/data; reinstall personacal "
            "or regenerate the tables with scripts/curate_data.py"
        )
    with resource.open("rb") as handle:
        return pd.read_csv(handle, compression="gzip" if name.endswith(".gz") else None, dtype=dict(dtypes),
                           low_memory=False)


def read_table(name: str, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """A fresh copy of a shipped table (the parsed file is cached)."""
    return _read(name, tuple(sorted((dtypes or {}).items()))).copy()
