"""The hierarchical log-linear PyMC model behind ``reconstruct_joint(method="bayes")``.

Pure builder: numpy arrays in, an unsampled ``pm.Model`` out (no pandas, no I/O).

Cells are the full grid of the variables' categories. For region ``r``::

    log p_r = log_softmax( main_r + national_pairs + higher_order + deviation_r )

* ``main_r``: per-variable level effects of region r, partially pooled across regions
  (``mu_v + sigma_main_v * z``); the regional 1-D margins pin them down.
* ``national_pairs`` / ``higher_order``: the seed's two-way log-odds ratios and its
  remaining (three-way and higher) structure. The seed is *data* here: its counts are a
  multinomial draw from the national table ``log_softmax(seed_main + national_pairs +
  higher_order)``, so the seed's sampling noise flows into every region's intervals.
  ``higher_order`` lives in the orthogonal complement of the main + pairwise design and is
  shrunk by its own scale ``tau_higher``.
* ``deviation_r``: region r's departure from the national two-way structure,
  ``sigma_pair * z`` per variable pair. A region's multi-way margin identifies its
  deviations; with 1-D margins only they stay at their prior, so ``interaction_scale``
  (the prior scale of ``sigma_pair``) sets how far a region's interactions may stray
  from the seed's. Pairs that some region observes learn ``sigma_pair`` from the data.

Observed margins enter as shares: ``observed ~ Normal(model share, sd)`` with a per-cell
``sd`` (measurement error of the published margin). Every zero-sum term uses
``ZeroSumNormal`` so no direction of the softmax is unidentified, and every scale is
non-centred (``sigma * z``) so NUTS sees no funnels.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.linalg import null_space

__all__ = ["EncodedMargin", "build_joint_model"]


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


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size)[codes]


def cell_to_margin(codes: np.ndarray, levels: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """(cells x margin cells) 0/1 matrix summing joint cells into a margin's cells."""
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in axes), tuple(levels[a] for a in axes))
    return one_hot(flat, int(np.prod([levels[a] for a in axes])))


def pair_design(codes: np.ndarray, levels: tuple[int, ...]) -> list[tuple[tuple[int, int], np.ndarray]]:
    return [((v, w), cell_to_margin(codes, levels, (v, w))) for v, w in combinations(range(len(levels)), 2)]


def higher_order_basis(codes: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    """Orthonormal basis of the cell-space directions that main effects and pairs cannot express."""
    blocks = [np.ones((len(codes), 1))] + [one_hot(codes[:, v], n) for v, n in enumerate(levels)]
    blocks += [x for _, x in pair_design(codes, levels)]
    return null_space(np.hstack(blocks).T)


def build_joint_model(
    codes: np.ndarray,
    levels: tuple[int, ...],
    margins: list[EncodedMargin],
    seed_counts: np.ndarray,
    *,
    interaction_scale: float,
    higher_order: bool = True,
    names: tuple[str, ...] | None = None,
) -> pm.Model:
    """The joint model for ``codes`` (cells x variables level codes, the full grid).

    ``seed_counts`` (cells,) are the seed's (effective) counts on the same grid;
    ``names`` label the variables in parameter names (default their positions).
    """
    names = tuple(names) if names is not None else tuple(map(str, range(len(levels))))
    n_regions = margins[0].observed.shape[0]
    pairs = pair_design(codes, levels)
    with pm.Model() as model:
        seed_main, region_main = 0.0, 0.0
        for v, n in enumerate(levels):
            x = one_hot(codes[:, v], n).T
            seed_main = seed_main + pm.ZeroSumNormal(f"seed_main_{names[v]}", sigma=3.0, shape=n) @ x
            mu = pm.ZeroSumNormal(f"mu_main_{names[v]}", sigma=3.0, shape=n)
            sigma = pm.HalfNormal(f"sigma_main_{names[v]}", sigma=1.0)
            z = pm.ZeroSumNormal(f"z_main_{names[v]}", sigma=1.0, shape=(n_regions, n))
            region_main = region_main + (mu + sigma * z) @ x

        national, deviation = 0.0, 0.0
        for (v, w), x in pairs:
            shape = (levels[v], levels[w])
            beta = pm.ZeroSumNormal(f"pair_{names[v]}_x_{names[w]}", sigma=1.0, shape=shape, n_zerosum_axes=2)
            national = national + beta.reshape((-1,)) @ x.T
            sigma = pm.HalfNormal(f"sigma_pair_{names[v]}_x_{names[w]}", sigma=interaction_scale)
            z = pm.ZeroSumNormal(f"z_pair_{names[v]}_x_{names[w]}", sigma=1.0, shape=(n_regions, *shape), n_zerosum_axes=2)
            deviation = deviation + (sigma * z).reshape((n_regions, -1)) @ x.T

        if higher_order:
            basis = higher_order_basis(codes, levels)
            if basis.shape[1]:
                tau = pm.HalfNormal("tau_higher", sigma=0.5)
                z = pm.Normal("z_higher", 0.0, 1.0, shape=basis.shape[1])
                national = national + tau * (basis @ z)

        log_seed = pt.special.log_softmax(seed_main + national, axis=-1)
        pm.Potential("seed_likelihood", pt.sum(seed_counts * log_seed))

        share = pm.Deterministic("share", pt.special.softmax(region_main + national + deviation, axis=-1))
        for m in margins:
            seen = np.nonzero(np.isfinite(m.observed))
            fitted = share @ cell_to_margin(codes, levels, m.axes)
            pm.Normal(f"margin_{m.label}", mu=fitted[seen], sigma=m.sd[seen], observed=m.observed[seen])
    return model
