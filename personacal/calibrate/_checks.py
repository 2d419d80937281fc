"""Checks shared by every method's public entry point, and the non-convergence policy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from .._validation import InstanceOf, Interval, Options, check_params
from ..errors import ConvergenceError, ConvergenceWarning, InputError

ON_NONCONVERGENCE = ("raise", "warn")
#: The constraints every iterative method shares.
ITERATION_OPTIONS = {
    "tol": Interval("real", 0, None, closed="neither"),
    "max_iter": Interval("int", 1, None),
    "on_nonconvergence": Options(ON_NONCONVERGENCE),
}
#: A sample table.
SAMPLE = InstanceOf(pd.DataFrame, name="a pandas DataFrame")


def check_options(func: str, *, tol: float, max_iter: int, on_nonconvergence: str) -> None:
    check_params(func, ITERATION_OPTIONS, {"tol": tol, "max_iter": max_iter, "on_nonconvergence": on_nonconvergence})


def _bound_side(func: str, bounds, value, n: int | None, sample):
    """One side of ``bounds``: a float (None -> inf), or, per unit, an array from a column / array / Series."""
    if value is None:
        return None
    if isinstance(value, str):
        if sample is None or value not in sample.columns:
            raise InputError(f"`bounds` of {func} names column {value!r}, which the sample lacks")
        value = sample[value]
    if np.ndim(value) == 0:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"`bounds` of {func} must be a pair (L, U) of numbers, columns or arrays; got {bounds!r}") \
                from None
    if n is None:
        raise InputError(f"`bounds` of {func} must be a pair of numbers (L, U); got per-unit bounds")
    if isinstance(value, pd.Series) and sample is not None and not value.index.equals(sample.index):
        value = value.reindex(sample.index)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"per-unit `bounds` of {func} must hold numbers; got {type(value).__name__} of "
                         f"{getattr(value, 'dtype', type(value).__name__)}") from None
    if arr.shape != (n,):
        raise InputError(f"per-unit `bounds` of {func} need one value per sample row ({n}); got shape {arr.shape}")
    return arr


def check_bounds(func: str, bounds, *, n: int | None = None, sample: pd.DataFrame | None = None):
    """Bounds ``(L, U)``: None, or a pair whose sides are numbers (None / ±inf: that side is open, R's
    one-sided ``c(-Inf, 2.2)``) or, given ``n`` rows, per-unit arrays or column names.

    Returns None or ``(lower, upper)`` with floats or (n,) arrays. No ``L <= 1 <= U`` requirement
    (R has none); unreachable bounds are found later, with the margins they conflict with.
    """
    if bounds is None:
        return None
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
        raise InputError(f"`bounds` of {func} must be a pair (L, U); got {bounds!r}")
    lower, upper = (_bound_side(func, bounds, side, n, sample) for side in bounds)
    lower = -math.inf if lower is None else lower
    upper = math.inf if upper is None else upper
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise InputError(f"`bounds` of {func} must not be NaN; use None or inf for an open side; got {bounds!r}")
    if (lo > hi).any():
        where = "" if lo.ndim == hi.ndim == 0 else f" at row {int(np.flatnonzero(np.broadcast_to(lo > hi, np.broadcast(lo, hi).shape))[0])}"
        raise InputError(f"`bounds` of {func} must have L <= U{where}; got {bounds!r}")
    return lower, upper


def scalar_bounds(bounds) -> bool:
    """True for no bounds or a pair of numbers (the cell-collapsed solvers need these)."""
    return bounds is None or all(side is None or (np.ndim(side) == 0 and not isinstance(side, str))
                                 for side in bounds)


def worst_cell(result) -> str:
    table = result.margin_errors
    if not len(table):
        return ""
    row = table.loc[table["rel_error"].idxmax()]
    return (
        f"; worst cell: margin '{row['margin']}', category {row['category']!r}: achieved "
        f"{row['achieved']:,.6g} vs target {row['target']:,.6g}"
    )


def finish(result, on_nonconvergence: str, *, hint: str = ""):
    """Return a converged result; otherwise raise or warn, per the caller's policy."""
    if result.converged:
        return result
    where = f" in region {result.region!r}" if getattr(result, "region", None) is not None else ""
    message = (
        f"{result.method} did not converge{where} within {result.n_iter} iterations: max relative margin "
        f"error {result.max_margin_error:.3g} > tol {result.tol:g}{worst_cell(result)}. "
        f"{hint or 'Raise max_iter, loosen tol, or check that the targets are reachable from the sample.'}"
    )
    if on_nonconvergence == "raise":
        raise ConvergenceError(message + " Pass on_nonconvergence='warn' to keep the last iterate.", result=result)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return result
