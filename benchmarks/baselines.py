"""Plain-numpy raking baselines (no personacal): what a careful user writes by hand.

Both take one small-int code array and one target-total array per margin and
return per-row weights. Convergence means the benchmark's own criterion:
max over margins and categories of |weighted total - target| / target <= tol.
"""

from __future__ import annotations

import numpy as np


def _max_rel_error(weights, codes, targets) -> float:
    worst = 0.0
    for c, t in zip(codes, targets):
        tot = np.bincount(c, weights=weights, minlength=len(t))
        worst = max(worst, float(np.max(np.abs(tot - t) / t)))
    return worst


def rake_units(codes, targets, tol=1e-6, max_iter=1000, start=None):
    """Unit-level IPF: one ``np.bincount`` and one gather-multiply per margin per sweep.

    Returns ``(weights, sweeps, converged)``. The error of each margin just before
    its own update is free (the update needs those totals); only when all of them
    are within ``tol`` is the exact check over the final weights paid for.
    """
    weights = (
        np.ones(codes[0].shape[0])
        if start is None
        else np.array(start, dtype=np.float64)
    )
    for sweep in range(1, max_iter + 1):
        worst = 0.0
        for c, t in zip(codes, targets):
            tot = np.bincount(c, weights=weights, minlength=len(t))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(tot > 0, t / tot, 1.0)
                err = np.where(t > 0, np.abs(tot - t) / t, 0.0)
            worst = max(worst, float(np.max(err)))
            weights *= factor[c]
        if worst <= tol and _max_rel_error(weights, codes, targets) <= tol:
            return weights, sweep, True
    return weights, max_iter, False


def collapse(codes, levels):
    """Distinct cells of the cross-classification: (cell_codes, counts, row_to_cell)."""
    flat = np.ravel_multi_index(tuple(c.astype(np.intp) for c in codes), levels)
    size = int(np.prod(levels, dtype=np.int64))
    if size <= 4 * flat.size:
        counts = np.bincount(flat, minlength=size)
        present = counts > 0
        cells = np.flatnonzero(present)
        row_to_cell = (np.cumsum(present) - 1)[flat]
        counts = counts[cells]
    else:  # too many possible cells for a dense table: sort instead
        cells, row_to_cell, counts = np.unique(
            flat, return_inverse=True, return_counts=True
        )
    cell_codes = [c.astype(np.intp) for c in np.unravel_index(cells, levels)]
    return cell_codes, counts.astype(np.float64), row_to_cell


def rake_cells(codes, targets, tol=1e-6, max_iter=1000):
    """Collapse rows to distinct cells, rake the cell table, expand back to rows.

    With unit starting weights all rows of a cell end with the same weight, so
    this is exactly unit-level raking on fewer rows.
    """
    levels = tuple(len(t) for t in targets)
    cell_codes, counts, row_to_cell = collapse(codes, levels)
    cell_weights, sweeps, converged = rake_units(
        cell_codes, targets, tol, max_iter, start=counts
    )
    return (cell_weights / counts)[row_to_cell], sweeps, converged
