"""The unit-level calibration matrix: one dummy per listed margin cell, one column per numeric total.

Categorical-only calibration with scalar bounds collapses units to cells
(``_cells``); everything else — numeric auxiliaries, per-unit bounds, bounds on
the weights, ``variance=``, cluster-level calibration, survey designs — works
on this matrix, one row per unit, as R survey's model matrix. Full dummy sets
are fine (the solvers use pseudo-inverses); there is no implicit intercept:
the categorical margins already span it, and with numeric totals only there is
none (R's ``~enroll - 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import EmptyCategoryError, InputError, MissingValueError
from ._encode import EncodedSample, check_cells, design_totals, encode_sample
from ._coded_matrix import CODED_FROM_ROWS, CodedMatrix
from ._margins import POPULATION, Margins

__all__ = ["Auxiliaries", "calibration_matrix", "numeric_column"]


@dataclass(frozen=True)
class Auxiliaries:
    """x (n, p), the population totals (p,), a name per column, and the encoded categorical margins."""

    x: np.ndarray
    totals: np.ndarray
    names: list[str]
    enc: EncodedSample | None
    numeric: tuple[str, ...]  # the columns after the categorical dummies: "(population)" and numeric totals

    @property
    def n_categorical(self) -> int:
        return len(self.names) - len(self.numeric)

    @property
    def numeric_block(self) -> np.ndarray:
        """The (n, len(numeric)) columns after the dummies."""
        return self.x.numeric if isinstance(self.x, CodedMatrix) else self.x[:, self.n_categorical:]


def numeric_column(sample: pd.DataFrame, column: str, *, func: str, what: str = "a numeric total") -> np.ndarray:
    """A numeric column as floats, naming the column when it is absent, not numeric or has missing values."""
    if column not in sample.columns:
        raise InputError(f"margins give {what} for column {column!r}, which the sample lacks")
    values = sample[column]
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        raise InputError(
            f"column {column!r} has {what} but holds {values.dtype} values; {func} needs numbers there "
            "(for a categorical variable give a categorical margin instead)"
        )
    arr = values.to_numpy(dtype=float)
    missing = ~np.isfinite(arr)
    if missing.any():
        raise MissingValueError(
            f"column {column!r} has {int(missing.sum())} missing or infinite value(s); {func} needs a number on every "
            "row. Drop those rows or impute them"
        )
    return arr


def calibration_matrix(sample: pd.DataFrame, margins: Margins, d: np.ndarray, *, func: str,
                       coded: bool | None = None) -> Auxiliaries:
    """The calibration matrix of ``margins`` on ``sample`` (design weights ``d`` for the cell checks).

    ``coded``: keep it as category codes + numeric columns (a :class:`CodedMatrix`); None: from
    ``CODED_FROM_ROWS`` rows on.
    """
    n = len(sample)
    totals, names, dummies = [], [], []
    enc = None
    if len(margins):
        enc = encode_sample(sample, margins, func=func)
        check_cells(enc, design_totals(enc, d), func)
        for m in enc.margins:
            target = m.target.ravel()
            listed = np.flatnonzero(~np.isnan(target))
            position = np.full(target.size, -1)
            position[listed] = np.arange(len(listed))
            dummies.append(position[enc.margin_codes(m)])
            totals.append(target[listed])
            for flat in listed:
                idx = np.unravel_index(flat, m.target.shape)
                names.append(f"{m.label} = " + " × ".join(str(enc.categories[a][i]) for a, i in zip(m.axes, idx)))
    population = () if len(margins) or margins.population is None else (POPULATION,)
    numeric = tuple(margins.numeric.index)
    columns = [numeric_column(sample, c, func=func) for c in numeric]
    n_dummies = sum(len(t) for t in totals)
    if coded or (coded is None and n >= CODED_FROM_ROWS):
        return _coded(margins, d, enc, dummies, totals, names, population, numeric, columns, n_dummies)
    # one allocation, filled in place: at a million rows every copy of x costs a pass over memory
    x = np.zeros((n, n_dummies + len(population) + len(numeric)))
    offset = 0
    rows = np.arange(n)
    for cell, target in zip(dummies, totals):
        inside = cell >= 0  # rows in unlisted cells carry no design weight (check_cells)
        x[rows[inside], offset + cell[inside]] = 1.0
        offset += len(target)
    if population:
        # the intercept of a numeric-only calibration: the weights sum to the population
        x[:, offset] = 1.0
        totals.append(np.array([margins.population]))
        names.append(POPULATION)
        offset += 1
    if numeric:
        for j, values in enumerate(columns):
            x[:, offset + j] = values
        totals.append(margins.numeric.to_numpy(dtype=float))
        names += list(numeric)
    _check_numeric_carried(x[:, n_dummies:], d, population + numeric, np.concatenate(totals)[n_dummies:])
    return Auxiliaries(x, np.concatenate(totals), names, enc, population + numeric)


def _coded(margins, d, enc, dummies, totals, names, population, numeric, columns, n_dummies) -> Auxiliaries:
    """The same matrix as category codes (one column per margin, global column index) + numeric columns."""
    n = len(d)
    offsets = np.cumsum([0] + [len(t) for t in totals[:-1]]) if totals else []
    codes = np.empty((n, len(dummies)), dtype=np.int64)  # filled in place: no list of (n,) temporaries
    for j, (cell, off) in enumerate(zip(dummies, offsets)):
        np.add(cell, off, out=codes[:, j])
        codes[cell < 0, j] = -1
    values = ([np.ones(n)] if population else []) + columns
    block = np.column_stack(values) if values else np.zeros((n, 0))
    all_totals = list(totals) + ([np.array([margins.population])] if population else []) + \
        ([margins.numeric.to_numpy(dtype=float)] if numeric else [])
    names = names + list(population) + list(numeric)
    target = np.concatenate(all_totals)
    _check_numeric_carried(block, d, population + numeric, target[n_dummies:])
    sizes = np.array([len(t) for t in totals[:len(dummies)]], dtype=np.int64)
    first = np.asarray(offsets[:len(dummies)], dtype=np.int64)
    x = CodedMatrix(codes, np.ascontiguousarray(block, dtype=float), n_dummies, ranges=(first, first + sizes - 1))
    return Auxiliaries(x, target, names, enc, population + numeric)


def _check_numeric_carried(block: np.ndarray, d: np.ndarray, names, totals) -> None:
    carried = np.abs(block).T @ (d > 0) > 0  # a nonzero value on some row with d > 0 (no row subset copied)
    empty = [(c, t) for c, t, ok in zip(names, totals, carried) if not ok and t != 0]
    if empty:
        raise EmptyCategoryError(
            f"numeric column(s) {[c for c, _ in empty]} are 0 on every row with a positive design weight, but "
            f"their totals are {[t for _, t in empty]}; no weighting can reach them. Drop those totals"
        )
