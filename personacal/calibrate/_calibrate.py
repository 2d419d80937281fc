"""Generalised (GREG / raking / logit) calibration: categorical margins and numeric totals, as R survey's
``calibrate``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import Options, check_param
from .._ray import NEEDS_BY, as_executor
from ..errors import InputError
from ._by_region import by_region
from ._cells import collapse_cells
from ._checks import check_bounds, check_options, finish, scalar_bounds
from ._encode import MARGINS, check_cells, check_design_weights, design_totals, encode_sample
from ._feasibility import check_bounds_feasible, explain_nonconvergence
from ._margins import Margins
from ._newton_kernel import CALIBRATION_FUNCTIONS, newton_calibrate
from ._results import MarginCheck, WeightingResult, unit_totals
from ._survey_design import SurveyDesign, weighting_input
from ._unit_calibration import calibrate_units

__all__ = ["calibrate", "calibrate_impl"]


def calibrate(
    sample: pd.DataFrame | SurveyDesign,
    margins: Margins | dict,
    *,
    method: str = "linear",
    bounds=None,
    bounds_on: str = "g",
    variance=None,
    cluster=None,
    trim: tuple[float, float] | None = None,
    weights=None,
    tol: float = 1e-10,
    max_iter: int = 100,
    by: str | None = None,
    on_nonconvergence: str = "raise",
    progress: bool | None = None,
    executor=None,
) -> WeightingResult:
    """Deville–Särndal calibration: weights w = d·g closest to d that hit every margin and numeric total.

    Parameters
    ----------
    sample
        One row per unit, or a :class:`SurveyDesign` (its current weights are d,
        and ``result.design`` is the calibrated design, whose estimates carry
        the calibration in their standard errors).
    margins
        Categorical margins and numeric totals (``Margins(..., totals={"api99": T})``).
    method
        ``"linear"`` (GREG, chi-square distance; weights may go negative without
        bounds), ``"raking"`` (multiplicative, same solution as :func:`rake`
        without bounds) or ``"logit"`` (needs finite bounds ``L < 1 < U``).
    bounds
        ``(L, U)`` on g = w/d, as R survey's ``calibrate(bounds=)``. A side may be
        None or ±inf (one-sided, linear and raking only), and each side may be a
        column name or an array of per-unit bounds.
    bounds_on
        ``"g"`` (default) or ``"weights"``: the bounds are on the weights
        themselves (R's ``bounds.const=TRUE``).
    variance
        σ²ᵢ per unit, a column name or an array (R's ``variance=``): gᵢ = F(xᵢ'η/σ²ᵢ).
        ``Margins(totals={"x": T})`` with ``variance="x"`` is the ratio estimator.
    cluster
        Calibrate at cluster level (R's ``aggregate.stage`` / ``aggregate.index``):
        a column, or True for a design's first-stage PSUs. Weights are then
        constant within a cluster (g of the cluster means). To calibrate *inside*
        each cluster to its own totals (R's ``stage=1``) use :func:`calibrate_within`.
    trim
        ``(a, b)``: after calibrating, clip g to [a, b] and spread the excess over
        the other units in proportion to d (one pass, R's ``calibrate(trim=)``).
    tol
        Largest allowed relative error over all margin cells and totals.
    executor
        With ``by``: ``"ray"`` or a :class:`~personacal.calibrate.RayExecutor` fits the regions as
        Ray tasks (same result as the serial run).

    The result equals R survey's ``calibrate(design, formula, population,
    calfun=method, bounds=bounds, ...)`` on the same auxiliaries (checked in the
    tests). Unreachable bounds raise :class:`~personacal.errors.InfeasibleBoundsError`
    naming the conflicting cells or totals (R only says "Calibration failed").
    R's rescaling of d when every total exceeds its sample estimate 20-fold
    (``grake``) is not copied: with bounds, R's answer is ours on d × mean(T/X'd).
    """
    check_options("calibrate", tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence)
    executor = as_executor(executor, func="calibrate", applies=by is not None, why=NEEDS_BY)
    frame, d, design = weighting_input(sample, weights, by=by, func="calibrate")
    if by is not None:
        return by_region(
            calibrate, sample, margins, by=by, label=f"calibrate ({method})", progress=progress, executor=executor,
            weights=weights, method=method, bounds=bounds, bounds_on=bounds_on, variance=variance, cluster=cluster,
            trim=trim, tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence,
        )
    check_param("calibrate", "method", method, Options(sorted(CALIBRATION_FUNCTIONS)))
    unit_level = (design is not None or (isinstance(margins, Margins) and len(margins.numeric) > 0)
                  or not scalar_bounds(bounds) or bounds_on != "g" or variance is not None
                  or cluster not in (None, False) or trim is not None)
    if unit_level:
        check_param("calibrate", "margins", margins, MARGINS)
        if d is None:
            d = check_design_weights(weights, frame, "calibrate")
        return calibrate_units(frame, margins, d, method=method, bounds=bounds, bounds_on=bounds_on,
                               variance=variance, cluster=cluster, trim=trim, tol=tol, max_iter=max_iter,
                               on_nonconvergence=on_nonconvergence, label=f"calibrate ({method})", design=design)
    return calibrate_impl(
        frame, margins, method=method, bounds=bounds, weights=weights, tol=tol, max_iter=max_iter,
        on_nonconvergence=on_nonconvergence, label=f"calibrate ({method})",
    )


def calibrate_impl(sample, margins, *, method, bounds, weights, tol, max_iter, on_nonconvergence, label):
    """Categorical margins, scalar bounds: solved on the sample's distinct cells."""
    func = label.split(" (")[0]
    check_param(func, "method", method, Options(sorted(CALIBRATION_FUNCTIONS)))
    checked = check_bounds(func, bounds)
    lower, upper = checked if checked is not None else (-np.inf, np.inf)
    if method == "logit" and not (np.isfinite(lower) and np.isfinite(upper)):
        raise InputError(
            f"method='logit' of {func} needs finite bounds (R: 'Logit calibration requires finite bounds'), "
            f"e.g. bounds=(0.5, 3); got {bounds!r}"
        )
    if method == "logit" and not lower < 1 < upper:
        raise InputError(f"method='logit' of {func} needs bounds with L < 1 < U on g; got {bounds!r}")
    enc = encode_sample(sample, margins, func=func)
    d = check_design_weights(weights, sample, func)
    check_cells(enc, design_totals(enc, d), func)
    cells = collapse_cells(enc, d)
    if method != "linear":
        _check_zero_targets(cells, method, func)
    if checked is not None:
        check_bounds_feasible(cells, lower if method == "linear" else max(lower, 0.0), upper, func=func)
    x = cells.constraints.T.toarray()
    g_cell, n_iter, history, error, _ = newton_calibrate(
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
