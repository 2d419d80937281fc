"""Turn posterior draws of the Bayesian joint model into joint tables (pure numpy)."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ._ipf_kernels import ipf_dense
from ._joint_bayes_design import JointDesign, weighted_projection

__all__ = ["deviation_draws", "posterior_shares"]


def deviation_draws(design: JointDesign, n_samples: int, n_regions: int, interaction_scale: float,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Exact posterior draws of block 3: no data touch it, so its posterior is its prior
    (``sigma_pair ~ HalfNormal(interaction_scale)`` per free pair, ``z_pair ~ Normal(0, 1)``)."""
    n_pairs = len(np.unique(design.pair_block[design.free]))
    return {"sigma_pair": np.abs(rng.normal(0.0, interaction_scale, size=(n_samples, n_pairs))),
            "z_pair": rng.normal(size=(n_samples, n_regions, int(design.free.sum())))}


def posterior_shares(design: JointDesign, levels, margin_axes, draws: dict[str, np.ndarray], *,
                     tol: float = 1e-6, max_iter: int = 1000, batch: int = 2_000_000) -> tuple[np.ndarray, float]:
    """(samples x regions x cells) joint shares from flattened posterior ``draws``, and the worst IPF error.

    ``draws`` holds the model's free variables with the sample axis first (chains stacked).
    """
    main = draws["main"]
    n_samples, n_regions = main.shape[:2]
    n_cells = design.main.shape[0]
    eta = main @ design.main.T
    if "joint" in draws:
        eta = eta + draws["joint"] @ design.joint.T
    target = softmax(eta, axis=-1)
    national = draws["pair_national"] @ design.pairs.T
    if "z_higher" in draws:
        national = national + (draws["tau_higher"][:, None] * draws["z_higher"]) @ design.higher.T
    margin_design = np.hstack([design.main, design.joint])
    reference = softmax(eta.mean(axis=0) + national.mean(axis=0), axis=-1)
    projection = np.array([weighted_projection(margin_design, p) for p in reference])
    keys = {(v,) for v in range(len(levels))} | set(margin_axes)
    keys = [k for k in keys if not any(set(k) < set(other) for other in keys)]  # implied margins add nothing
    out = np.empty((n_samples, n_regions, n_cells))
    worst = 0.0
    step = max(1, batch // (n_regions * n_cells))
    for lo in range(0, n_samples, step):
        hi = min(lo + step, n_samples)
        interactions = np.repeat(national[lo:hi, None, :], n_regions, axis=1)
        if "z_pair" in draws:
            scale = draws["sigma_pair"][lo:hi][:, np.searchsorted(np.unique(design.pair_block[design.free]),
                                                                  design.pair_block[design.free])]
            interactions = interactions + (scale[:, None, :] * draws["z_pair"][lo:hi]) @ design.pairs[:, design.free].T
        # Start from the margin table plus the interactions with their first-order effect on
        # the margins projected out: IPF then only mops up second-order effects (few sweeps).
        correction = np.einsum("src,rmc->srm", interactions, projection) @ margin_design.T
        log_start = eta[lo:hi] + interactions - correction
        start = np.exp(log_start - log_start.max(axis=-1, keepdims=True)).reshape(-1, *levels)
        goal = target[lo:hi].reshape(-1, *levels)
        targets = []
        for axes in keys:
            others = tuple(1 + a for a in range(len(levels)) if a not in axes)
            targets.append(((0, *(1 + a for a in axes)), goal.sum(axis=others)))
        fitted, _, _, error = ipf_dense(start / start.sum(axis=tuple(range(1, start.ndim)), keepdims=True),
                                        targets, tol=tol, max_iter=max_iter)
        out[lo:hi] = fitted.reshape(hi - lo, n_regions, n_cells)
        worst = max(worst, error)
    return out, worst
