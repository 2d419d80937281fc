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

import numba
import numpy as np
import pandas as pd

from ..errors import EmptyCategoryError, InputError, MissingValueError
from ._encode import EncodedSample, check_cells, design_totals, encode_sample
from ._code_patterns import CodePatterns, variable_patterns
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
    coded = coded or (coded is None and n >= CODED_FROM_ROWS)
    totals, names, positions = [], [], []
    enc = encode_sample(sample, margins, func=func) if len(margins) else None
    for m in enc.margins if enc is not None else ():
        target = m.target.ravel()
        listed = np.flatnonzero(~np.isnan(target))
        position = np.full(target.size, -1)  # a cell's dummy among its margin's listed cells
        position[listed] = np.arange(len(listed))
        positions.append(position)
        totals.append(target[listed])
        for flat in listed:
            idx = np.unravel_index(flat, m.target.shape)
            names.append(f"{m.label} = " + " × ".join(str(enc.categories[a][i]) for a, i in zip(m.axes, idx)))
    n_dummies = sum(len(t) for t in totals)
    patterns = _unit_patterns(enc, d, positions, n_dummies, func) if coded and enc is not None else None
    if enc is not None and patterns is None:
        check_cells(enc, design_totals(enc, d), func)
    population = () if len(margins) or margins.population is None else (POPULATION,)
    numeric = tuple(margins.numeric.index)
    columns = [numeric_column(sample, c, func=func) for c in numeric]
    values = ([np.ones(n)] if population else []) + columns
    all_totals = np.concatenate(totals + ([np.array([margins.population])] if population else []) +
                                ([margins.numeric.to_numpy(dtype=float)] if numeric else []))
    names = names + list(population) + list(numeric)
    _check_numeric_carried(values, d, population + numeric, all_totals[n_dummies:])
    if coded:
        block = np.column_stack(values) if values else np.zeros((n, 0))
        block = np.ascontiguousarray(block, dtype=float)
        if patterns is not None:
            x = CodedMatrix.from_patterns(patterns, block)
        else:
            x = _codes_by_row(enc, positions, totals, block, n_dummies)
        return Auxiliaries(x, all_totals, names, enc, population + numeric)
    # one allocation, filled in place: at a million rows every copy of x costs a pass over memory
    x = np.zeros((n, n_dummies + len(values)))
    offset = 0
    rows = np.arange(n)
    for m, position, target in zip(enc.margins if enc is not None else (), positions, totals):
        cell = position[enc.margin_codes(m)]
        inside = cell >= 0  # rows in unlisted cells carry no design weight (check_cells)
        x[rows[inside], offset + cell[inside]] = 1.0
        offset += len(target)
    for j, column in enumerate(values):
        x[:, n_dummies + j] = column
    return Auxiliaries(x, all_totals, names, enc, population + numeric)


def _unit_patterns(enc, d, positions, n_dummies, func) -> CodePatterns | None:
    """The units' distinct category combinations as code patterns of the calibration matrix, with the
    cell checks done on Σd per pattern; None when the combinations are too many (then by rows).

    One pass over the per-variable codes replaces a bincount and a gather per margin and the
    (n, margins) code matrix (benchmarks/results/survey.md).
    """
    found = variable_patterns(enc.codes, enc.shape, d, n_dummies)
    if found is None:
        return None
    pattern, variable_codes, weight = found
    codes = np.empty((len(weight), len(enc.margins)), dtype=np.int64)
    cell_totals, offset = [], 0
    for j, (m, position) in enumerate(zip(enc.margins, positions)):
        cell = np.ravel_multi_index(tuple(variable_codes[:, a] for a in m.axes), m.target.shape)
        cell_totals.append(np.bincount(cell, weights=weight, minlength=m.target.size))
        listed = position[cell]
        codes[:, j] = np.where(listed >= 0, listed + offset, -1)
        offset += int((position >= 0).sum())
    check_cells(enc, cell_totals, func)
    return CodePatterns(pattern, codes, n_dummies)


def _codes_by_row(enc, positions, totals, block, n_dummies) -> CodedMatrix:
    """The coded matrix as (n, margins) global column indices (many distinct patterns)."""
    n = len(block)
    offsets = np.cumsum([0] + [len(t) for t in totals[:-1]]) if totals else []
    codes = np.empty((n, len(positions)), dtype=np.int64)  # filled in place: no list of (n,) temporaries
    for j, (m, position, off) in enumerate(zip(enc.margins if enc is not None else (), positions, offsets)):
        cell = position[enc.margin_codes(m)]
        np.add(cell, off, out=codes[:, j])
        codes[cell < 0, j] = -1
    sizes = np.array([len(t) for t in totals], dtype=np.int64)
    first = np.asarray(offsets, dtype=np.int64)
    return CodedMatrix(codes, block, n_dummies, ranges=(first, first + sizes - 1))


def _check_numeric_carried(columns: list[np.ndarray], d: np.ndarray, names, totals) -> None:
    carried = [_carried(column, d) for column in columns]
    empty = [(c, t) for c, t, ok in zip(names, totals, carried) if not ok and t != 0]
    if empty:
        raise EmptyCategoryError(
            f"numeric column(s) {[c for c, _ in empty]} are 0 on every row with a positive design weight, but "
            f"their totals are {[t for _, t in empty]}; no weighting can reach them. Drop those totals"
        )


@numba.njit(cache=True, nogil=True)
def _carried(column, d) -> bool:
    """Some row with d > 0 has a nonzero value (stops at the first: usually the first row)."""
    for i in range(column.shape[0]):
        if d[i] > 0 and column[i] != 0:
            return True
    return False

