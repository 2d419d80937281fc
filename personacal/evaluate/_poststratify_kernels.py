"""Kernels of :func:`poststratify_answers` (and MRP's raw shares): weighted answer shares per domain, pure arrays.

A *cell* is (domain d, option e) and a *base* is (domain d, question q). The share of
cell (d, e) under unit weights w is

    Σ_{i ∈ d} w_i p_{i,e}  /  Σ_{i ∈ d, i answered q(e)} w_i,

so a persona whose answer to a question failed drops out of that question's base only.
Both sums are linear in w, so they are two sparse matrices applied to a batch of weight
vectors at once (one row per bootstrap replicate). A share is a ratio of two weighted
totals, so its influence value (for the linearised variance) is
z_{i,c} = w_i (p_{i,e} 1[i ∈ d] − share_c 1[i ∈ base c]) / Σ_{base c} w — again two
sparse matrices (:func:`share_influence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["ShareDesign", "share_design", "weighted_shares", "share_influence"]


@dataclass(frozen=True)
class ShareDesign:
    numerator: sp.csc_matrix  # (n_units, n_cells): p_{i,e} where unit i is in the cell's domain
    denominator: sp.csc_matrix  # (n_units, n_bases): 1 where unit i is in domain d and answered q
    base_of_cell: np.ndarray  # (n_cells,) column of ``denominator`` that divides each cell
    cell_domain: np.ndarray  # (n_cells,) domain index
    cell_option: np.ndarray  # (n_cells,) option index
    cell_units: np.ndarray  # (n_cells,) number of units in the base of the cell


def share_design(
    row_unit: np.ndarray,
    row_option: np.ndarray,
    row_prob: np.ndarray,
    option_question: np.ndarray,
    pair_unit: np.ndarray,
    pair_question: np.ndarray,
    unit_domains: np.ndarray,
    n_domains: int,
) -> ShareDesign:
    """Sparse numerator / denominator matrices over the cells that have at least one answering unit.

    ``unit_domains`` is ``(n_units, n_layers)``: the domain of each unit in each layer
    (for example region x group, region, all x group, all), -1 where a layer does not apply.
    """
    n_units = unit_domains.shape[0]
    n_options = option_question.size
    n_questions = int(option_question.max()) + 1 if n_options else 0
    num_r, num_c, num_v, den_r, den_c = [], [], [], [], []
    for layer in unit_domains.T:
        dom = layer[row_unit]
        keep = dom >= 0
        num_r.append(row_unit[keep])
        num_c.append(dom[keep].astype(np.int64) * n_options + row_option[keep])
        num_v.append(row_prob[keep])
        pdom = layer[pair_unit]
        pkeep = pdom >= 0
        den_r.append(pair_unit[pkeep])
        den_c.append(pdom[pkeep].astype(np.int64) * n_questions + pair_question[pkeep])
    den_rows, den_cols = np.concatenate(den_r), np.concatenate(den_c)
    denominator = sp.csc_matrix(
        (np.ones(den_rows.size), (den_rows, den_cols)), shape=(n_units, n_domains * n_questions)
    )
    # A cell exists where its base has at least one answering unit, even if every p is 0 there.
    base_units = np.asarray(denominator.sum(axis=0)).ravel()
    all_cells = np.arange(n_domains * n_options)
    all_bases = (all_cells // n_options) * n_questions + option_question[all_cells % n_options]
    cells = all_cells[base_units[all_bases] > 0]
    numerator = sp.csc_matrix(
        (np.concatenate(num_v), (np.concatenate(num_r), np.concatenate(num_c))),
        shape=(n_units, n_domains * n_options),
    )[:, cells]
    bases, base_of_cell = np.unique(all_bases[cells], return_inverse=True)
    return ShareDesign(
        numerator=sp.csc_matrix(numerator),
        denominator=sp.csc_matrix(denominator[:, bases]),
        base_of_cell=base_of_cell,
        cell_domain=cells // n_options,
        cell_option=cells % n_options,
        cell_units=base_units[all_bases[cells]],
    )


def weighted_shares(design: ShareDesign, weights: np.ndarray) -> np.ndarray:
    """Shares of every cell for each row of ``weights`` (``(b, n_units)`` -> ``(b, n_cells)``).

    A base whose units all carry weight 0 gives NaN (no weighted answer there).
    """
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    num = (design.numerator.T @ w.T).T
    den = (design.denominator.T @ w.T).T[:, design.base_of_cell]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def share_influence(design: ShareDesign, weights: np.ndarray, shares: np.ndarray) -> sp.csr_matrix:
    """(n_units, n_cells) influence values of every share under ``weights`` (sparse, rows = units).

    A cell whose base carries no weight (NaN share) gets a zero column.
    """
    w = np.asarray(weights, dtype=float)
    base_total = (design.denominator.T @ w)[design.base_of_cell]
    ok = np.isfinite(shares) & (base_total > 0)
    share = np.where(ok, shares, 0.0)
    scale = np.where(ok, 1.0 / np.where(ok, base_total, 1.0), 0.0)
    in_base = design.denominator[:, design.base_of_cell]
    z = design.numerator - in_base @ sp.diags(share)
    return sp.csr_matrix(sp.diags(w) @ z @ sp.diags(scale))
