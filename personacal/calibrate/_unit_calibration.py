"""``calibrate`` on the unit-level matrix: numeric auxiliaries, per-unit or weight bounds, ``variance=``,
cluster-level calibration, ``trim=`` and survey designs.

R survey's ``calibrate(design, formula, population, bounds=, bounds.const=,
variance=, aggregate.stage=, trim=, calfun=)``, solved by
:func:`~._greg.calibrate_g` (closed-form GREG when linear and unbounded, Newton
otherwise). Categorical-only calibration with scalar bounds on a plain sample
keeps the faster cell path of ``_calibrate``; both give the same weights.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import Options, check_param
from ..errors import InfeasibleBoundsError, InputError
from ._auxiliary import calibration_matrix, numeric_column
from ._checks import check_bounds, finish
from ._design_steps import calibration_step
from ._greg import check_feasible, cluster_mean, trim_g, unit_bounds
from ._greg import calibrate_g
from ._ipf_kernels import relative_errors
from ._rake_numba import blas_on_one_thread
from ._results import MarginCheck, WeightingResult, unit_totals

__all__ = ["calibrate_units", "BOUNDS_ON"]

#: Misfit of the closed-form GREG that still counts as round-off.
CLOSED_FORM_TOL = 1e-8
#: What ``bounds`` bound: g = w/d (R's default) or the weights themselves (R's ``bounds.const=TRUE``).
BOUNDS_ON = ("g", "weights")


def _variance(variance, frame: pd.DataFrame, func: str) -> np.ndarray | None:
    """σ²ᵢ (R's ``variance=``) from a column name or one positive value per row."""
    if variance is None:
        return None
    if isinstance(variance, str):
        sigma2 = numeric_column(frame, variance, func=func, what="`variance`")
    else:
        sigma2 = np.asarray(variance, dtype=float)
        if sigma2.shape != (len(frame),):
            raise InputError(f"`variance` of {func} must be a column name or one value per row ({len(frame)}); "
                             f"got shape {sigma2.shape}")
    if not (np.isfinite(sigma2).all() and (sigma2 > 0).all()):
        raise InputError(f"`variance` of {func} must be finite and > 0 on every row (it divides x'η)")
    return sigma2


def _cluster_codes(cluster, frame: pd.DataFrame, design, func: str) -> np.ndarray | None:
    """Integer cluster codes: a column name, or True for the design's first-stage PSUs."""
    if cluster is None or cluster is False:
        return None
    if cluster is True:
        if design is None:
            raise InputError(f"`cluster=True` of {func} means the PSUs of a SurveyDesign; with a DataFrame name the "
                             "cluster column")
        return design._clusters[:, 0]
    if not isinstance(cluster, str) or cluster not in frame.columns:
        raise InputError(f"`cluster` of {func} must be a column of the sample (or True with a SurveyDesign); "
                         f"got {cluster!r}")
    if frame[cluster].isna().any():
        raise InputError(f"cluster column {cluster!r} has missing values")
    return pd.factorize(frame[cluster], sort=True)[0]


def _trim_limits(trim, func: str) -> tuple[float, float] | None:
    if trim is None:
        return None
    checked = check_bounds(func, trim)
    if checked is None or not all(np.isfinite(checked)):
        raise InputError(f"`trim` of {func} must be a pair (a, b) of finite limits on g; got {trim!r}")
    return checked


def _rescaling_hint(x, d, totals, bounds) -> str:
    """R's grake multiplies d by mean(T / X'd) when every ratio exceeds 20, and bounds g after that."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = totals / (x.T @ d)
    if bounds is None or not (np.isfinite(ratios).all() and (ratios > 20).all()):
        return ""
    return (f". Every total is over 20 times its design-weighted estimate (ratios {ratios.min():.6g} to "
            f"{ratios.max():.6g}): R's calibrate would first multiply the design weights by the mean of these ratios "
            "over its model-matrix columns and apply the bounds to g after that; to do the same, scale the design "
            "weights by that factor")


def calibrate_units(frame: pd.DataFrame, margins, d: np.ndarray, *, method: str, bounds, bounds_on: str,
                    variance, cluster, trim, tol: float, max_iter: int, on_nonconvergence: str, label: str,
                    design=None) -> WeightingResult:
    func = label.split(" (")[0]
    check_param(func, "bounds_on", bounds_on, Options(BOUNDS_ON))
    checked = check_bounds(func, bounds, n=len(frame), sample=frame)
    lower, upper = checked if checked is not None else (-np.inf, np.inf)
    limits = _trim_limits(trim, func)
    if method == "logit" and not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise InputError(f"method='logit' of {func} needs finite bounds (R: 'Logit calibration requires finite "
                         f"bounds'), e.g. bounds=(0.5, 3); got {bounds!r}")
    on_weights = bounds_on == "weights"
    # codes + numeric columns, unless x is rescaled per unit (variance=) or averaged per cluster
    aux = calibration_matrix(frame, margins, d, func=func,
                             coded=False if variance is not None or cluster not in (None, False) else None)
    sigma2 = _variance(variance, frame, func)
    codes = _cluster_codes(cluster, frame, design, func)
    lo, hi = unit_bounds(lower, upper, d, on_weights=on_weights)
    fit = calibrate_g(aux.x, d, aux.totals, calfun=method, lower=lo, upper=hi, variance=sigma2, cluster=codes,
                      tol=tol, max_iter=max_iter, names=aux.names)
    base = d if codes is None else cluster_mean(d, codes)
    if not fit.converged and (checked is not None or method != "linear"):
        x_fit = aux.x if codes is None else cluster_mean(aux.x, codes)
        # no weights within the bounds (g > 0 for raking / logit) meet the totals: say which ones conflict
        try:
            check_feasible(x_fit, base, aux.totals, np.maximum(lo, 0.0) if method != "linear" else lo, hi,
                           names=aux.names)
        except InfeasibleBoundsError as exc:
            raise InfeasibleBoundsError(str(exc) + _rescaling_hint(aux.x, d, aux.totals, checked),
                                        conflicting=exc.conflicting) from None
    # the totals of d·g as the solver measured them, or one more pass over x
    fitted = fit.achieved if fit.achieved is not None else aux.x.T @ (d * fit.g)
    converged = fit.converged
    if converged and fit.n_iter == 1 and method == "linear" and checked is None:
        # the closed form is exact up to round-off; a larger misfit means totals outside the span of x
        misfit = relative_errors(fitted, aux.totals, float(np.abs(aux.totals).max(initial=1.0)))
        converged = bool(misfit.max(initial=0.0) <= max(tol, CLOSED_FORM_TOL))
    g, projection, notes, achieved = fit.g, fit.projection, [], fitted
    if limits is not None:
        g, n_trimmed = trim_g(g, base, *limits)
        projection = replace(projection, g=g)
        notes.append(f"trim={limits}: {n_trimmed} g value(s) clipped, the excess spread over the others in proportion "
                     "to d (one pass, as R's calibrate(trim=)); the totals then hold only approximately")
        achieved = aux.x.T @ (d * g)
    w = d * g
    errors = relative_errors(achieved, aux.totals, float(np.abs(aux.totals).max(initial=1.0)))
    if len(fit.dropped):
        notes.append(f"{len(fit.dropped)} auxiliary cell(s) with total 0 and no sample unit were dropped")
    if method == "linear" and checked is None and w.min() < 0:
        notes.append("some weights are negative (unbounded linear calibration); pass bounds=(0, None) to forbid it")
    k = aux.n_categorical
    with blas_on_one_thread():
        numeric = (list(aux.numeric), aux.totals[k:], aux.numeric_block.T @ d, achieved[k:])
    result = WeightingResult(
        # no copy of a million values where the array is ours alone: d is the design's private copy
        # (weighting_input), w is shared with the calibrated design only when there is one
        weights=pd.Series(w, index=frame.index, name="weight", copy=design is not None),
        design_weights=pd.Series(d, index=frame.index, name="design_weight", copy=design is None),
        converged=converged,
        n_iter=fit.n_iter,
        history=np.array([fit.max_error]),
        max_margin_error=float(errors.max(initial=0.0)),
        method=label,
        tol=tol,
        margins=margins,
        margin_check=MarginCheck(aux.enc, (lambda: unit_totals(aux.enc, d, w)) if aux.enc is not None else [],
                                 numeric=numeric),
        bounds=None if checked is None else (lower, upper, "w") if on_weights else (lower, upper),
        region=margins.name,
        notes=tuple(notes),
    )
    if design is not None:
        step = calibration_step(label, projection, aux.x, aux.totals, calfun=method,
                                lower=lower if on_weights else lo, upper=upper if on_weights else hi,
                                on_weights=on_weights, variance=sigma2, cluster=codes, trim=limits, tol=tol,
                                max_iter=max_iter)
        result = replace(result, design=design.with_step(w, step))
    return finish(result, on_nonconvergence)
