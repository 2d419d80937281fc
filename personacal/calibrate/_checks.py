"""Checks shared by every method's public entry point, and the non-convergence policy."""

from __future__ import annotations

import math
import warnings

import pandas as pd

from .._validation import InstanceOf, Interval, Options, check_params
from ..errors import ConvergenceError, ConvergenceWarning, InfeasibleBoundsError, InputError

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


def check_bounds(func: str, bounds) -> tuple[float, float] | None:
    """Bounds on g = w/d: a pair (L, U) with L <= 1 <= U (R survey's convention)."""
    if bounds is None:
        return None
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"`bounds` of {func} must be a pair (L, U) of numbers; got {bounds!r}") from None
    if math.isnan(lower) or math.isnan(upper) or lower < 0 or not lower <= 1 <= upper:
        raise InfeasibleBoundsError(
            f"`bounds` of {func} must satisfy 0 <= L <= 1 <= U for g = w/d; got ({lower:g}, {upper:g}). "
            "g = 1 (the design weights) must lie inside the bounds"
        )
    return lower, upper


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
