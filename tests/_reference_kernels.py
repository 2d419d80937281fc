"""Reference kernels that only the tests use: plain NumPy versions of what personacal runs compiled.

``rake_units`` is unit-level raking with ``np.bincount`` (two passes over the rows per margin).
The package rakes units with the fused numba kernel (``personacal.calibrate._rake_numba``);
the tests check it against this one, weight for weight and sweep for sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from personacal.calibrate._ipf_kernels import relative_errors

__all__ = ["rake_units"]


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
