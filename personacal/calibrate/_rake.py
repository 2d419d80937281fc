"""Unit-level raking to 1-D and multi-way margins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._ray import NEEDS_BY, as_executor
from ._calibrate import calibrate_impl
from ._checks import check_bounds, check_options, finish
from ._encode import EncodedSample, cell_index, check_cells, check_design_weights, encode_sample
from ._feasibility import explain_nonconvergence
from ._ipf_kernels import ipf_dense
from ._rake_numba import rake_units_with_totals, unit_totals
from ._margins import Margins
from ._by_region import by_region
from ._results import MarginCheck, WeightingResult

__all__ = ["rake"]


def rake(
    sample: pd.DataFrame,
    margins: Margins | dict,
    *,
    weights=None,
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
    by: str | None = None,
    on_nonconvergence: str = "raise",
    progress: bool | None = None,
    executor=None,
) -> WeightingResult:
    """Rake unit weights so that weighted totals hit every margin.

    Parameters
    ----------
    sample
        One row per unit; the margins' variables are categorical columns.
    margins
        A :class:`Margins`, or with ``by`` a mapping ``{region: Margins}``.
    weights
        Design weights d: None (all 1), a column name, a Series or an array.
    bounds
        ``(L, U)`` caps on g = w/d. Bounded raking is solved as R survey's
        ``calibrate(..., calfun="raking", bounds=)`` (Newton on the multipliers).
    tol
        Largest allowed relative error |achieved − target| / target over all margin cells.
    by
        Column naming each row's region; margins must then be ``{region: Margins}``.
    on_nonconvergence
        ``"raise"`` (default) raises :class:`~personacal.errors.ConvergenceError`
        carrying the last iterate; ``"warn"`` returns it with ``converged=False``.
    executor
        With ``by``: ``"ray"`` or a :class:`~personacal.calibrate.RayExecutor` fits the regions as
        Ray tasks (same result as the serial run); ``None`` (default) fits them one by one.

    Returns
    -------
    WeightingResult (or RegionalResult with ``by``).
    """
    check_options("rake", tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence)
    executor = as_executor(executor, func="rake", applies=by is not None, why=NEEDS_BY)
    if by is not None:
        return by_region(
            rake, sample, margins, by=by, label="rake", progress=progress, executor=executor,
            weights=weights, bounds=bounds, tol=tol, max_iter=max_iter, on_nonconvergence=on_nonconvergence,
        )
    if check_bounds("rake", bounds) is not None:
        return calibrate_impl(
            sample, margins, method="raking", bounds=bounds, weights=weights, tol=tol,
            max_iter=max_iter, on_nonconvergence=on_nonconvergence, label="rake (bounded)",
        )
    enc = encode_sample(sample, margins, func="rake")
    d = check_design_weights(weights, sample, "rake")
    w, n_iter, history, error, totals = _rake_arrays(enc, d, tol=tol, max_iter=max_iter)
    result = WeightingResult(
        # w (and d when none was given) are fresh arrays owned here: no defensive copy of 8 B/row;
        # user-given design weights may share the caller's memory, so they are copied
        weights=pd.Series(w, index=sample.index, name="weight", copy=False),
        design_weights=pd.Series(d, index=sample.index, name="design_weight", copy=weights is not None),
        converged=bool(error <= tol),
        n_iter=n_iter,
        history=history,
        max_margin_error=error,
        method="rake",
        tol=tol,
        margins=margins,
        margin_check=MarginCheck(enc, totals),
        region=margins.name,
    )
    hint = "" if result.converged else explain_nonconvergence(enc, d, func="rake", on_nonconvergence=on_nonconvergence)
    return finish(result, on_nonconvergence, hint=hint)


def _rake_arrays(enc: EncodedSample, d: np.ndarray, *, tol: float, max_iter: int):
    """Raked weights, collapsing units to cells when the cell grid is no larger than the sample."""
    shape = enc.shape
    margins = [(m.axes, np.nan_to_num(m.target)) for m in enc.margins]
    if math.prod(shape) <= len(d):
        cell = cell_index(enc.codes, shape)
        seed = np.bincount(cell, weights=d, minlength=math.prod(shape)).reshape(shape)
        check_cells(enc, [_dense_margin(seed, m.axes) for m in enc.margins], "rake")
        fitted, n_iter, history, error = ipf_dense(seed, margins, tol=tol, max_iter=max_iter)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(seed > 0, fitted / seed, 1.0).ravel()
        w = d * g[cell]
        totals = [(_dense_margin(seed, m.axes), _dense_margin(fitted, m.axes)) for m in enc.margins]
    else:
        cell_of_unit = [enc.margin_codes(m) for m in enc.margins]
        sizes = [m.target.size for m in enc.margins]
        initial = unit_totals(d, cell_of_unit, sizes)
        check_cells(enc, initial, "rake")
        targets = [t.ravel() for _, t in margins]
        w, n_iter, history, error, final = rake_units_with_totals(
            d, cell_of_unit, targets, tol=tol, max_iter=max_iter, initial=initial
        )
        totals = list(zip(initial, final))
    return w, n_iter, history, error, totals


def _dense_margin(table: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Flat totals of ``table`` over ``axes``, in the margin's own axis order."""
    others = tuple(a for a in range(table.ndim) if a not in axes)
    summed = table.sum(axis=others) if others else table
    return np.transpose(summed, np.argsort(np.argsort(axes))).ravel()
