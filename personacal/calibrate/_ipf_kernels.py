"""Pure NumPy kernel for iterative proportional fitting of a dense table.

:func:`ipf_dense` fits a dense N-D table to margins over subsets of its axes. Unit-level
raking on categorical margins is exactly this on the weighted cross-tabulation of the
sample, so ``rake`` collapses rows to cells and calls it whenever the cell grid is no
larger than the sample; otherwise it rakes one weight per unit with the numba kernel of
:mod:`._rake_numba`. Both measure convergence the same way (:func:`relative_errors`): the
largest relative gap between a margin cell's fitted total and its target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["relative_errors", "ipf_dense"]


def relative_errors(achieved: np.ndarray, target: np.ndarray, total: float) -> np.ndarray:
    """|achieved − target| / |target|; for zero targets, |achieved| / total.

    |target|, not target: a numeric auxiliary can have a negative population total.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(achieved - target) / np.abs(target)
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
