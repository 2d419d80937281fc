"""Generalised (GREG / raking / logit) calibration to categorical margins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import Options, check_param
from .._ray import NEEDS_BY, as_executor
from ..errors import InputError
from ._cells import collapse_cells
from ._checks import check_bounds, check_options, finish
from ._encode import check_cells, check_design_weights, design_totals, encode_sample
from ._feasibility import check_bounds_feasible, explain_nonconvergence
from ._margins import Margins
from ._newton_kernel import CALIBRATION_FUNCTIONS, newton_calibrate
from ._by_region import by_region
from ._results import MarginCheck, WeightingResult, unit_totals

__all__ = ["calibrate", "calibrate_impl"]


def calibrate(
    sample: pd.DataFrame,
    margins: Margins | dict,
    *,
    method: str = "linear",
    bounds: tuple[float, float] | None = None,
    weights=None,
    tol: float = 1e-10,
    max_iter: int = 100,
    by: str | None = None,
    on_nonconvergence: str = "raise",
    progress: bool | None = None,
    executor=None,
) -> WeightingResult:
    """Deville–Särndal calibration: weights w = d·g closest to d that hit every margin.

    Parameters
    ----------
    method
        ``"linear"`` (GREG, chi-square distance; weights may go negative without
        bounds), ``"raking"`` (multiplicative, same solution as :func:`rake`
        without bounds) or ``"logit"`` (needs finite bounds ``L < 1 < U``).
    bounds
        ``(L, U)`` on g = w/d, as R survey's ``calibrate(bounds=)``.
    tol
        Largest allowed relative error over all margin cells.
    executor
        With ``by``: ``"ray"`` or a :class:`~personacal.calibrate.RayExecutor` fits the regions as
        Ray tasks (same result as the serial run).

    The result equals R survey's ``calibrate(design, formula, population,
    calfun=method, bounds=bounds)`` on the same margins (checked in the tests).
    """
    check_options("calibrate", tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence)
    executor = as_executor(executor, func="calibrate", applies=by is not None, why=NEEDS_BY)
    if by is not None:
        return by_region(
            calibrate, sample, margins, by=by, label=f"calibrate ({method})", progress=progress, executor=executor,
            weights=weights, method=method, bounds=bounds, tol=tol, max_iter=max_iter,
            on_nonconvergence=on_nonconvergence,
        )
    return calibrate_impl(
        sample, margins, method=method, bounds=bounds, weights=weights, tol=tol, max_iter=max_iter,
        on_nonconvergence=on_nonconvergence, label=f"calibrate ({method})",
    )


def calibrate_impl(sample, margins, *, method, bounds, weights, tol, max_iter, on_nonconvergence, label):
    func = label.split(" (")[0]
    check_param(func, "method", method, Options(sorted(CALIBRATION_FUNCTIONS)))
    checked = check_bounds(func, bounds)
    lower, upper = checked if checked is not None else (-np.inf, np.inf)
    if method == "logit" and not (np.isfinite(lower) and np.isfinite(upper) and lower < 1 < upper):
        raise InputError(
            f"method='logit' of {func} needs finite bounds with L < 1 < U, e.g. bounds=(0.5, 3); got {bounds!r}"
        )
    enc = encode_sample(sample, margins, func=func)
    d = check_design_weights(weights, sample, func)
    check_cells(enc, design_totals(enc, d), func)
    cells = collapse_cells(enc, d)
    if method != "linear":
        _check_zero_targets(cells, method, func)
    if checked is not None:
        check_bounds_feasible(cells, max(lower, 0.0), upper, func=func)
    x = cells.constraints.T.toarray()
    g_cell, n_iter, history, error = newton_calibrate(
        x, cells.design, cells.targets, CALIBRATION_FUNCTIONS[method], lower, upper,
        population=margins.total, tol=tol, max_iter=max_iter,
    )
    w = d * g_cell[cells.unit_cell]
    result = WeightingResult(
        weights=pd.Series(w, index=sample.index, name="weight"),
        design_weights=pd.Series(d, index=sample.index, name="design_weight"),
        converged=bool(error <= tol),
        n_iter=n_iter,
        history=history,
        max_margin_error=error,
        method=label,
        tol=tol,
        margins=margins,
        margin_check=MarginCheck(enc, unit_totals(enc, d, w)),
        bounds=checked,
        region=margins.name,
        notes=(() if method != "linear" or checked is not None or w.min() >= 0
               else ("some weights are negative (unbounded linear calibration); pass bounds=(0, U) to forbid it",)),
    )
    hint = ""
    if not result.converged and checked is None:
        hint = explain_nonconvergence(enc, d, func=func, on_nonconvergence=on_nonconvergence)
    return finish(result, on_nonconvergence, hint=hint)


def _check_zero_targets(cells, method: str, func: str) -> None:
    occupied = cells.constraints @ (cells.design > 0).astype(float)
    bad = np.flatnonzero((cells.targets == 0) & (occupied > 0))
    if len(bad):
        shown = [f"{cells.labels[i][0]} = {cells.labels[i][1]!r}" for i in bad[:5]]
        raise InputError(
            f"{func}(method={method!r}) cannot give weight 0 to sample rows, but targets are 0 for {shown}; "
            "drop those rows, or use rake() / method='linear'"
        )
