"""Post-stratification of multilevel-logit posterior draws over census cells: pure kernels on arrays."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax

__all__ = ["cell_probabilities", "poststratify_draws", "soft_counts"]

#: Largest draws x cells x categories block held in memory at once.
_BLOCK = 4_000_000


def soft_counts(unit_cell: np.ndarray, row_unit: np.ndarray, row_category: np.ndarray, row_prob: np.ndarray,
                n_cells: int, n_categories: int) -> np.ndarray:
    """Fractional counts ``y[c, k] = Σ_{i in cell c} p_{i,k}`` (soft labels summed per cell)."""
    cell = unit_cell[row_unit]
    keep = (cell >= 0) & (row_category >= 0)
    flat = cell[keep].astype(np.int64) * n_categories + row_category[keep]
    return np.bincount(flat, weights=row_prob[keep], minlength=n_cells * n_categories).reshape(n_cells, n_categories)


def cell_probabilities(intercept: np.ndarray, effects: list[np.ndarray], cell_levels: np.ndarray) -> np.ndarray:
    """Category probabilities ``(S, C, K)`` of each cell under each draw.

    ``intercept`` is ``(S, K-1)``, ``effects[j]`` is ``(S, L_j, K-1)`` (the varying intercepts
    of factor j), ``cell_levels[:, j]`` the level of factor j in each cell. Category 0 is the
    baseline (linear predictor 0).
    """
    eta = np.broadcast_to(intercept[:, None, :], (intercept.shape[0], cell_levels.shape[0], intercept.shape[1])).copy()
    for j, effect in enumerate(effects):
        eta += effect[:, cell_levels[:, j], :]
    zeros = np.zeros(eta.shape[:2] + (1,))
    return softmax(np.concatenate([zeros, eta], axis=2), axis=2)


def poststratify_draws(intercept: np.ndarray, effects: list[np.ndarray], cell_levels: np.ndarray,
                       cell_count: np.ndarray, cell_domains: np.ndarray, n_domains: int) -> np.ndarray:
    """``θ[s, d, k] = Σ_{c ∈ d} N_c π[s, c, k] / Σ_{c ∈ d} N_c`` for every draw s and domain d.

    ``cell_domains`` is ``(C, n_layers)`` (-1 where a layer does not apply); domains whose
    cells all have N = 0 give NaN.
    """
    n_draws, n_cells = intercept.shape[0], cell_levels.shape[0]
    n_cat = intercept.shape[1] + 1
    rows, cols, vals = [], [], []
    for layer in cell_domains.T:
        keep = layer >= 0
        rows.append(layer[keep])
        cols.append(np.flatnonzero(keep))
        vals.append(cell_count[keep])
    weight = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n_domains, n_cells))
    totals = np.asarray(weight.sum(axis=1)).ravel()
    out = np.empty((n_draws, n_domains, n_cat))
    step = max(1, _BLOCK // max(1, n_cells * n_cat))
    for start in range(0, n_draws, step):
        stop = min(n_draws, start + step)
        pi = cell_probabilities(intercept[start:stop], [e[start:stop] for e in effects], cell_levels)
        flat = pi.transpose(1, 0, 2).reshape(n_cells, -1)  # (C, s*K)
        summed = np.asarray(weight @ flat).reshape(n_domains, stop - start, n_cat)
        out[start:stop] = summed.transpose(1, 0, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals[None, :, None] > 0, out / totals[None, :, None], np.nan)
