"""Unit-level raking compiled with numba: one fused pass per margin.

Used when nearly every unit is its own cell, so collapsing to cells cannot
help and the sweep is bound by passes over the rows. NumPy needs two passes
per margin (``bincount`` for the totals, then a gather-multiply); here the
rescale by margin m and the totals of margin m + 1 share one pass. Results are
identical (to rounding) to :func:`personacal.calibrate._ipf_kernels.rake_units`,
which stays as the reference implementation the tests compare against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from ._ipf_kernels import _max_error_units, relative_errors

__all__ = ["rake_units_fused"]


@numba.njit(cache=True, nogil=True)
def _totals(w, codes, size):
    out = np.zeros(size)
    for i in range(w.shape[0]):
        out[codes[i]] += w[i]
    return out


@numba.njit(cache=True, nogil=True)
def _scale_and_total(w, codes, factor, next_codes, next_size):
    out = np.zeros(next_size)
    for i in range(w.shape[0]):
        wi = w[i] * factor[codes[i]]
        w[i] = wi
        out[next_codes[i]] += wi
    return out


def rake_units_fused(
    weights: np.ndarray,
    cell_of_unit: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    *,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, np.ndarray, float]:
    """Same contract as :func:`~personacal.calibrate._ipf_kernels.rake_units`."""
    w = np.array(weights, dtype=float, copy=True)
    codes = [np.ascontiguousarray(c) for c in cell_of_unit]
    sizes = [t.size for t in targets]
    total = float(targets[0].sum()) or 1.0
    m_count = len(codes)
    achieved = _totals(w, codes[0], sizes[0])
    history: list[float] = []
    n_iter = 0
    max_error = _max_error_units(w, codes, targets, total)
    while max_error > tol and n_iter < max_iter:
        n_iter += 1
        sweep_error = 0.0
        for m in range(m_count):
            target = targets[m]
            sweep_error = max(sweep_error, float(np.max(relative_errors(achieved, target, total), initial=0.0)))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(achieved > 0, target / achieved, 0.0)
            following = (m + 1) % m_count
            achieved = _scale_and_total(w, codes[m], factor, codes[following], sizes[following])
        history.append(sweep_error)
        if sweep_error <= tol or n_iter == max_iter:
            max_error = _max_error_units(w, codes, targets, total)
    return w, n_iter, np.asarray(history), max_error
