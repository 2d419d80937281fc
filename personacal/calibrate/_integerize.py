"""Whole persons from fractional weights or table counts: truncate, replicate, sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._random import check_random_state
from .._summary import Summary
from ..errors import InputError, InvalidValueError

__all__ = ["integerize", "IntegerizeResult", "trs_round"]


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


@dataclass(frozen=True)
class IntegerizeResult:
    counts: pd.Series
    fractional: pd.Series

    @property
    def max_abs_rounding(self) -> float:
        return float(np.abs(self.counts - self.fractional).max())

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
    if isinstance(values, np.ndarray):
        values = pd.Series(values)
    if not isinstance(values, pd.Series):
        raise InputError(f"`values` of integerize must be a pandas Series or ndarray; got {type(values).__name__}")
    arr = values.to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise InvalidValueError(f"`values` of integerize has {int(bad.sum())} NaN, negative or infinite entries")
    target = int(round(arr.sum())) if total is None else int(total)
    if total is not None and total < 0:
        raise InputError(f"`total` of integerize must be >= 0; got {total}")
    scaled = arr * (target / arr.sum()) if arr.sum() > 0 else arr
    counts = trs_round(scaled, target, rng)
    return IntegerizeResult(pd.Series(counts, index=values.index, name="count"), values.astype(float))
