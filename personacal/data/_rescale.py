"""Numeric kernels for moving a table from its source universe to a target universe.

Pure functions on numpy arrays: no pandas, no I/O.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidValueError

__all__ = ["scale_factors_rows"]


def scale_factors_rows(table: np.ndarray, row_totals: np.ndarray) -> np.ndarray:
    """Per-row factors that make each row of ``table`` sum to ``row_totals``.

    This is the "keep P(column | row), take the row totals from elsewhere" rule.
    """
    table = np.asarray(table, dtype=float)
    row_totals = np.asarray(row_totals, dtype=float)
    if table.ndim != 2 or row_totals.shape != (table.shape[0],):
        raise InvalidValueError(
            f"scale_factors_rows needs a 2-D table and one total per row; got shapes {table.shape} and {row_totals.shape}"
        )
    sums = table.sum(axis=1)
    if np.any(sums <= 0):
        raise InvalidValueError(f"a row of the source table sums to 0 (row sums {sums.tolist()}); it cannot be rescaled")
    return row_totals / sums
