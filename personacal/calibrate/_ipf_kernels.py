"""Pure NumPy kernels for iterative proportional fitting.

Two shapes of the same algorithm:

* :func:`ipf_dense` fits a dense N-D table to margins over subsets of its axes.
  Unit-level raking on categorical margins is exactly this on the weighted
  cross-tabulation of the sample, so ``rake`` collapses rows to cells and calls
  it whenever the cell grid is no larger than the sample.
* :func:`rake_units` adjusts one weight per unit with ``np.bincount``; used when
  nearly every unit is its own cell and collapsing would not pay.

Both measure convergence the same way (:func:`relative_errors`): the largest
relative gap between a margin cell's fitted total and its target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["relative_errors", "ipf_dense", "rake_units"]


def relative_errors(achieved: np.ndarray, target: np.ndarray, total: float) -> np.ndarray:
    """|achieved − target| / target; for zero targets, achieved / total."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(achieved - target) / target
    zero = target == 0
    if zero.any():
        rel = np.where(zero, np.abs(achieved) / total, rel)
    return rel


def _margin_view(target: np.ndarray, axes: tuple[int, ...], ndim: int):
    """Target reordered to ascending axes, plus the shape that broadcasts it over the table."""
    order = np.argsort(axes)
    sorted_axes = tuple(int(axes[i]) for i in order)
    sorted_target = np.transpose(target, order)
    others = tuple(a for a in range(ndim) if a not in sorted_axes)
    return sorted_target, others


def ipf_dense(
    seed: np.ndarray,
    margins: Sequence[tuple[tuple[int, ...], np.ndarray]],
    *,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, np.ndarray, float]:
    """Fit ``seed`` to ``margins`` by cyclic proportional scaling.

    Parameters
    ----------
    seed
        Non-negative N-D array; zero cells stay zero.
    margins
        ``(axes, target)`` pairs; ``target`` has the shape of ``seed`` over
        ``axes`` (in that order) and must be finite and non-negative.

    Returns
    -------
    fitted, n_iter, history, max_error
        ``history[k]`` is the largest relative margin error met during sweep
        ``k + 1`` (measured just before each margin is rescaled);
        ``max_error`` is measured on the returned table (also when ``max_iter``
        stops the fit early).
    """
    fitted = np.array(seed, dtype=float, copy=True)
    total = float(sum(t.sum() for _, t in margins[:1])) or 1.0
    views = [_margin_view(t, tuple(a), fitted.ndim) for a, t in margins]
    bshapes = [tuple(1 if a in others else fitted.shape[a] for a in range(fitted.ndim)) for _, others in views]
    history: list[float] = []
    n_iter = 0
    max_error = _max_error_dense(fitted, views, total)
    while max_error > tol and n_iter < max_iter:
        n_iter += 1
        sweep_error = 0.0
        for (target, others), bshape in zip(views, bshapes):
            achieved = fitted.sum(axis=others) if others else fitted
            sweep_error = max(sweep_error, float(np.nanmax(relative_errors(achieved, target, total), initial=0.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(achieved > 0, target / achieved, 0.0)
            fitted *= ratio.reshape(bshape)
        history.append(sweep_error)
        if sweep_error <= tol or n_iter == max_iter:
            max_error = _max_error_dense(fitted, views, total)
    return fitted, n_iter, np.asarray(history), max_error


def _max_error_dense(fitted: np.ndarray, views, total: float) -> float:
    worst = 0.0
    for target, others in views:
        achieved = fitted.sum(axis=others) if others else fitted
        worst = max(worst, float(np.nanmax(relative_errors(achieved, target, total), initial=0.0)))
    return worst


def rake_units(
    weights: np.ndarray,
    cell_of_unit: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    *,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, np.ndarray, float]:
    """Rake unit weights: ``cell_of_unit[m][i]`` is unit i's cell in flat target ``targets[m]``."""
    w = np.array(weights, dtype=float, copy=True)
    total = float(targets[0].sum()) or 1.0
    history: list[float] = []
    n_iter = 0
    max_error = _max_error_units(w, cell_of_unit, targets, total)
    while max_error > tol and n_iter < max_iter:
        n_iter += 1
        sweep_error = 0.0
        for cells, target in zip(cell_of_unit, targets):
            achieved = np.bincount(cells, weights=w, minlength=target.size)
            sweep_error = max(sweep_error, float(np.max(relative_errors(achieved, target, total), initial=0.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(achieved > 0, target / achieved, 0.0)
            np.multiply(w, ratio[cells], out=w)
        history.append(sweep_error)
        if sweep_error <= tol or n_iter == max_iter:
            max_error = _max_error_units(w, cell_of_unit, targets, total)
    return w, n_iter, np.asarray(history), max_error


def _max_error_units(w, cell_of_unit, targets, total) -> float:
    worst = 0.0
    for cells, target in zip(cell_of_unit, targets):
        achieved = np.bincount(cells, weights=w, minlength=target.size)
        worst = max(worst, float(np.max(relative_errors(achieved, target, total), initial=0.0)))
    return worst
