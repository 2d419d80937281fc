"""The hierarchical log-linear PyMC model behind ``reconstruct_joint(method="bayes")``.

Pure builder: numpy arrays in, an unsampled ``pm.Model`` out (no pandas, no I/O).

Cells are the full grid of the variables' categories. For region ``r``::

    log p_r = log_softmax( main_r + national_pairs + higher_order + deviation_r )

* ``main_r``: per-variable level effects of region r, partially pooled across regions
  (``mu_main + sigma_main[v] * z_main``); the regional 1-D margins pin them down.
* ``national_pairs`` / ``higher_order``: the seed's two-way log-odds ratios and its
  remaining (three-way and higher) structure. The seed is *data*: its counts are a
  multinomial draw from the national table ``log_softmax(seed_main + national_pairs +
  higher_order)``, so the seed's sampling noise flows into every region's intervals.
  ``higher_order`` lives in the orthogonal complement of the main + pairwise design and
  is shrunk by its own scale ``tau_higher``.
* ``deviation_r``: region r's departure from the national two-way structure,
  ``sigma_pair[pair] * z_pair``. A region's multi-way margin identifies its deviations on
  that pair; with 1-D margins only they stay at their prior, so ``interaction_scale``
  (the prior scale of ``sigma_pair``) sets how far a region's interactions may stray from
  the seed's. Pairs that some region observes learn ``sigma_pair`` from the data.

Every effect is written in orthonormal zero-sum coordinates (``iid Normal`` coordinates
times a fixed contrast basis, the same prior as ``pm.ZeroSumNormal``), so no direction of
the softmax is unidentified; scales are non-centred (``sigma * z``) so NUTS meets no
funnels; and the whole table is one matrix product, which keeps the compiled graph
small (per-op overhead, not arithmetic, dominates PyTensor's cost at this size).

Observed margins enter as shares: ``observed ~ Normal(model share, sd)`` with a per-cell
``sd`` (measurement error of the published margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.linalg import null_space

__all__ = ["EncodedMargin", "JointDesign", "joint_design", "build_joint_model"]


@dataclass(frozen=True)
class EncodedMargin:
    """One margin key across regions.

    ``axes``: the variables (positions) it covers; ``observed`` and ``sd``: (regions x
    margin cells) shares, NaN where a region does not publish this margin.
    """

    label: str
    axes: tuple[int, ...]
    observed: np.ndarray
    sd: np.ndarray


@dataclass(frozen=True)
class JointDesign:
    """Design matrices of the log-linear table over the full grid (C order)."""

    main: np.ndarray  # cells x sum(L_v - 1)
    pairs: np.ndarray  # cells x sum((L_v - 1)(L_w - 1))
    higher: np.ndarray  # cells x the rest of the cell space
    main_block: np.ndarray  # variable of each main column
    pair_block: np.ndarray  # pair of each pair column
    pair_axes: tuple[tuple[int, int], ...]


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size)[codes]


def grid_codes(levels: tuple[int, ...]) -> np.ndarray:
    """(cells x variables) level codes of the full grid, last variable fastest."""
    return np.indices(levels).reshape(len(levels), -1).T


def cell_to_margin(levels: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """(cells x margin cells) 0/1 matrix summing the grid into a margin (C order)."""
    codes = grid_codes(levels)
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in axes), tuple(levels[a] for a in axes))
    return one_hot(flat, int(np.prod([levels[a] for a in axes])))


def joint_design(levels: tuple[int, ...], *, higher_order: bool = True) -> JointDesign:
    codes = grid_codes(levels)
    contrast = [null_space(np.ones((1, n))) for n in levels]  # n x (n-1), orthonormal, zero-sum
    main = [one_hot(codes[:, v], n) @ contrast[v] for v, n in enumerate(levels)]
    pair_axes = tuple(combinations(range(len(levels)), 2))
    pairs = [cell_to_margin(levels, (v, w)) @ np.kron(contrast[v], contrast[w]) for v, w in pair_axes]
    empty = np.zeros((len(codes), 0))
    higher = empty
    if higher_order:
        higher = null_space(np.hstack([np.ones((len(codes), 1)), *main, *pairs]).T)
    return JointDesign(
        main=np.hstack(main) if main else empty,
        pairs=np.hstack(pairs) if pairs else empty,
        higher=higher,
        main_block=np.repeat(np.arange(len(levels)), [m.shape[1] for m in main]),
        pair_block=np.repeat(np.arange(len(pair_axes)), [p.shape[1] for p in pairs]),
        pair_axes=pair_axes,
    )


def build_joint_model(
    levels: tuple[int, ...],
    margins: list[EncodedMargin],
    seed_counts: np.ndarray,
    *,
    interaction_scale: float,
    higher_order: bool = True,
    coords: dict | None = None,
) -> pm.Model:
    """The joint model over the full grid of ``levels`` categories (C order, last variable fastest).

    ``seed_counts`` (cells,) are the seed's (effective) counts on the same grid. ``coords``
    may name the dims ``region``, ``variable``, ``pair`` and ``cell``.
    """
    design = joint_design(levels, higher_order=higher_order)
    n_regions = margins[0].observed.shape[0]
    n_main, n_pair = design.main.shape[1], design.pairs.shape[1]
    aggregate = np.hstack([cell_to_margin(levels, m.axes) for m in margins])
    observed = np.hstack([m.observed for m in margins])
    sd = np.hstack([m.sd for m in margins])
    seen = np.nonzero(np.isfinite(observed))
    dims = dict(coords or {})
    dims.setdefault("region", np.arange(n_regions))
    dims.setdefault("variable", np.arange(len(levels)))
    dims.setdefault("pair", np.arange(len(design.pair_axes)))
    dims.setdefault("cell", np.arange(int(np.prod(levels))))
    dims["main_coef"], dims["pair_coef"] = np.arange(n_main), np.arange(n_pair)

    with pm.Model(coords=dims) as model:
        seed_main = pm.Normal("seed_main", 0.0, 3.0, dims="main_coef")
        mu_main = pm.Normal("mu_main", 0.0, 3.0, dims="main_coef")
        sigma_main = pm.HalfNormal("sigma_main", 1.0, dims="variable")
        z_main = pm.Normal("z_main", 0.0, 1.0, dims=("region", "main_coef"))
        pair = pm.Normal("pair", 0.0, 1.0, dims="pair_coef")
        sigma_pair = pm.HalfNormal("sigma_pair", interaction_scale, dims="pair")
        z_pair = pm.Normal("z_pair", 0.0, 1.0, dims=("region", "pair_coef"))

        national = pt.dot(design.pairs, pair)
        if design.higher.shape[1]:
            tau = pm.HalfNormal("tau_higher", 0.5)
            z_higher = pm.Normal("z_higher", 0.0, 1.0, shape=design.higher.shape[1])
            national = national + tau * pt.dot(design.higher, z_higher)
        log_seed = pt.special.log_softmax(pt.dot(design.main, seed_main) + national)
        pm.Potential("seed_likelihood", pt.sum(seed_counts * log_seed))

        region_main = mu_main + sigma_main[design.main_block] * z_main
        deviation = sigma_pair[design.pair_block] * z_pair
        eta = pt.dot(region_main, design.main.T) + pt.dot(deviation, design.pairs.T) + national
        share = pm.Deterministic("share", pt.special.softmax(eta, axis=-1), dims=("region", "cell"))
        fitted = pt.dot(share, aggregate)
        pm.Normal("margins", mu=fitted[seen], sigma=sd[seen], observed=observed[seen])
    return model
