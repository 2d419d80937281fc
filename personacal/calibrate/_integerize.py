"""Whole persons from fractional weights or table counts: truncate, replicate, sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .._random import check_random_state
from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Interval, check_param, check_params
from ..errors import ConvergenceError, InputError, InvalidValueError

__all__ = ["integerize", "IntegerizeResult", "trs_round", "largest_remainder", "controlled_round"]


def trs_round(values: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Truncate, then add one to ``total − Σ floor`` entries drawn without replacement ∝ their remainders.

    (Lovelace & Ballas 2013, "'Truncate, replicate, sample': a method for creating
    integer weights for spatial microsimulation".) Every entry ends at floor or
    ceil of its value, and the sum is exactly ``total``.
    """
    floors = np.floor(values)
    remainder = values - floors
    missing = int(total - floors.sum())
    out = floors.astype(np.int64)
    if missing > 0:
        p = remainder / remainder.sum()
        chosen = rng.choice(len(values), size=missing, replace=False, p=p)
        out[chosen] += 1
    return out


def largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Hamilton rounding: floors, plus one for the largest remainders until the sum is ``total``."""
    floors = np.floor(values).astype(np.int64)
    missing = int(total - floors.sum())
    if missing > 0:
        floors[np.argsort(-(values - floors), kind="stable")[:missing]] += 1
    return floors


def controlled_round(expected, groups, *, random_state=None, time_limit: float = 20.0) -> np.ndarray:
    """Round cell counts to floor or ceil so that each grouping's totals are rounded as well.

    ``expected`` holds the cells' fractional counts (finite, >= 0) and ``groups[j][c]`` is
    cell c's category code (0, 1, ...) in grouping j (e.g. its age group). Each grouping's
    integer targets come from largest-remainder rounding of its expected totals; a small
    mixed-integer programme (SciPy's HiGHS) picks which cells to round up so every grouping
    hits its targets, or misses by the fewest persons when integers cannot hit them all.
    Among those, it keeps as many round-ups of an unbiased truncate-replicate-sample draw
    (from ``random_state``) as it can, so the result is still a random sample, not a fixed
    rounding. :func:`personacal.generate.sample_meta_personas` draws whole persons with it.

    Returns the integer counts (int64), summing to ``round(expected.sum())``; raises
    :class:`~personacal.errors.ConvergenceError` when HiGHS finds no solution within
    ``time_limit`` seconds.
    """
    func = "controlled_round"
    rng = check_random_state(random_state, func=func)
    check_param(func, "time_limit", time_limit, Interval("real", 0, None, closed="neither"))
    expected = np.asarray(expected, dtype=float)
    if expected.ndim != 1 or not np.all(np.isfinite(expected)) or (expected < 0).any():
        raise InvalidValueError(f"`expected` of {func} must be a 1-D array of finite counts >= 0")
    groups = [np.asarray(g) for g in groups]
    for j, codes in enumerate(groups):
        if codes.shape != expected.shape or codes.dtype.kind not in "iu" or (codes < 0).any():
            raise InputError(f"`groups[{j}]` of {func} must hold one category code (an int >= 0) per cell "
                             f"({len(expected)}); got shape {codes.shape} of {codes.dtype}")
    floors = np.floor(expected)
    total = int(round(expected.sum()))
    free = np.flatnonzero(expected > floors)  # only fractional cells can round up
    frac = (expected - floors)[free]
    n_cells = len(free)
    members, targets, slacks = [], [], []
    for all_codes in groups:
        k = int(all_codes.max()) + 1
        codes = all_codes[free]
        target_k = largest_remainder(np.bincount(all_codes, weights=expected, minlength=k), total)
        members.append(sp.csr_matrix((np.ones(n_cells), (codes, np.arange(n_cells))), shape=(k, n_cells)))
        targets.append(target_k - np.bincount(all_codes, weights=floors, minlength=k))
        eye = sp.identity(k, format="csr")
        slacks.append(sp.hstack([eye, -eye]))  # over- and under-shoot of each category
    a = sp.hstack([sp.vstack(members), sp.block_diag(slacks)], format="csr")
    n_slack = a.shape[1] - n_cells
    sum_row = sp.hstack([sp.csr_matrix(np.ones((1, n_cells))), sp.csr_matrix((1, n_slack))], format="csr")
    needed = total - floors.sum()
    constraints = [
        LinearConstraint(a, np.concatenate(targets), np.concatenate(targets)),
        LinearConstraint(sum_row, needed, needed),
    ]
    # Start from an unbiased truncate-replicate-sample draw and change as few of its
    # round-ups as the margins need; a person of slack costs more than every change.
    drawn = trs_round(frac, int(round(needed)), rng) > 0
    cost = np.concatenate([np.where(drawn, -1.0, 1.0), np.full(n_slack, 2.0 * n_cells + 1.0)])
    upper = np.concatenate([np.ones(n_cells), np.full(n_slack, np.inf)])
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.concatenate([np.ones(n_cells), np.zeros(n_slack)]),
        bounds=Bounds(np.zeros(n_cells + n_slack), upper),
        options={"time_limit": time_limit, "presolve": True},
    )
    if result.x is None:
        raise ConvergenceError(
            f"controlled rounding found no solution ({result.message}); raise `time_limit` (in "
            "sample_meta_personas: use draw='multinomial')"
        )
    counts = floors.astype(np.int64)
    counts[free] += np.round(result.x[:n_cells]).astype(np.int64)
    return counts


@dataclass(frozen=True)
class IntegerizeResult:
    """Whole-person counts from :func:`integerize`, beside the fractional values they round."""

    counts: pd.Series
    fractional: pd.Series

    @property
    def max_abs_rounding(self) -> float:
        return float(np.abs(self.counts - self.fractional).max())

    def __repr__(self) -> str:
        return one_line_repr(self, entries=len(self.counts), total=int(self.counts.sum()),
                             max_abs_rounding=self.max_abs_rounding)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"fractional": self.fractional, "count": self.counts})

    def summary(self) -> Summary:
        return Summary(
            "personacal integerize (truncate, replicate, sample)",
            {
                "entries": len(self.counts),
                "fractional total": float(self.fractional.sum()),
                "integer total": int(self.counts.sum()),
                "max |count − fractional|": self.max_abs_rounding,
                "entries with count 0": int((self.counts == 0).sum()),
            },
        )


def integerize(values, *, total: int | None = None, random_state=None) -> IntegerizeResult:
    """Integer counts (whole persons) from fractional weights or a fitted table.

    ``values`` is a Series (weights or table cells). The integer total is
    ``total`` when given, else ``round(values.sum())``. Each count is the floor
    or the ceiling of its value, so the integerised margins are as close to the
    fractional ones as integers allow.
    """
    rng = check_random_state(random_state, func="integerize")
    check_params("integerize", {"values": InstanceOf(pd.Series, np.ndarray, name="a pandas Series or ndarray"),
                                "total": [Interval("int", 0, None), None]}, {"values": values, "total": total})
    if isinstance(values, np.ndarray):
        values = pd.Series(values)
    arr = values.to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise InvalidValueError(f"`values` of integerize has {int(bad.sum())} NaN, negative or infinite entries")
    target = int(round(arr.sum())) if total is None else int(total)
    scaled = arr * (target / arr.sum()) if arr.sum() > 0 else arr
    counts = trs_round(scaled, target, rng)
    return IntegerizeResult(pd.Series(counts, index=values.index, name="count"), values.astype(float))
