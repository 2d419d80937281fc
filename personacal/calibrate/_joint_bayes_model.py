"""The hierarchical PyMC model behind ``reconstruct_joint(method="bayes")``.

Pure functions: numpy arrays in, an unsampled ``pm.Model`` (or numpy draws) out.

Every region's joint is a log-linear table, written in the *mixed parametrisation* of
the exponential family: its margins on the published keys on one side, its remaining
interactions on the other. The two are variation-independent and Fisher-orthogonal, so
the posterior factorises into three independent blocks that NUTS samples easily (the
plain log-linear parametrisation couples every main effect to every interaction through
the margins and drove NUTS to tree depth 10):

1. Margins. Per region ``r`` a small log-linear table with main effects ``main[r]`` and,
   for each published multi-way margin, its interaction terms ``joint[r]``. Its margins
   are the region's true margins; published margins are noisy observations of them,
   ``observed share ~ Normal(true share, sd)``. The coefficients are partially pooled
   across regions, ``Normal(mu, scale)`` with ``scale`` the between-region SD of the
   regions' own estimates (empirical Bayes: a free scale funnels NUTS whenever regions
   barely differ, e.g. on sex), so a region that lacks a margin gets the pooled
   prediction. They are sampled in whitened coordinates (``margin_white``): centred on
   the estimate read off the region's margins and scaled by the Cholesky factor of
   their Laplace covariance, which makes this block nearly standard normal.
2. Seed. The seed's counts are a multinomial draw from the national table
   ``softmax(seed_main + pairs·pair_national + higher·tau_higher·z_higher)``: its two-way
   log-odds ratios and its remaining (three-way and higher) structure, shrunk by
   ``tau_higher``. The seed's sampling noise therefore reaches every region's intervals.
3. Regional deviations. Region r's two-way structure departs from the national one by
   ``sigma_pair[pair] * z_pair[r]`` on every pair that no published margin covers. No data
   inform them (margins cannot see interactions), so their posterior is their prior,
   drawn exactly (:func:`deviation_draws`) rather than by NUTS, and ``interaction_scale``
   (the HalfNormal scale of ``sigma_pair``) is the one assumption that sets how far a
   region's interactions may stray from the seed's.

The joint of region r in each draw is the national table times the region's deviations,
raked by IPF to that draw's true margins (:func:`posterior_shares`): exactly the log-linear
table with those margins and those interactions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import softmax

from ._ipf_kernels import ipf_dense
from ._joint_bayes_design import EncodedMargin, JointDesign, cell_to_margin, joint_design, labels, weighted_projection

__all__ = ["build_joint_model", "margin_estimates", "pooling_scales", "laplace_cholesky"]

#: With fewer regions the between-region scale of the margins cannot be estimated: their
#: margin terms get fixed weakly-informative priors instead of pooled ones.
MIN_POOLED_REGIONS = 3
#: Smallest between-region SD of a margin term (log-odds units) used for pooling.
SCALE_FLOOR = 0.05


def build_joint_model(
    levels: tuple[int, ...],
    margins: list[EncodedMargin],
    seed_counts: np.ndarray,
    *,
    higher_order: bool = True,
    seed_axes: tuple[int, ...] | None = None,
    coords: dict | None = None,
) -> tuple[pm.Model, JointDesign]:
    """Blocks 1 and 2 over the full grid of ``levels`` categories (C order, last variable fastest).

    ``seed_counts`` (cells,) are the seed's (effective) counts on the same grid. ``seed_axes``:
    the variables the seed really holds (default all); only its margin over them is used,
    and the returned design's ``higher`` columns are the seed grid's, lifted to the full grid.
    ``coords`` may name the dims ``region`` and ``variable`` (labels only).
    """
    seed_axes = tuple(range(len(levels))) if seed_axes is None else tuple(sorted(seed_axes))
    full_seed = len(seed_axes) == len(levels)
    design = joint_design(levels, [m.axes for m in margins], higher_order=higher_order and full_seed)
    # The seed model lives on the grid of the seed's own variables: a seed that lacks a
    # variable says nothing about its interactions, which keep their N(0, 1) prior.
    seed_design, seed_pair_cols = design, np.arange(design.pairs.shape[1])
    if not full_seed:
        seed_design = joint_design(tuple(levels[a] for a in seed_axes), (), higher_order=higher_order)
        lift = cell_to_margin(levels, seed_axes)  # full grid -> seed grid
        seed_counts = seed_counts @ lift
        pair_index = {axes: i for i, axes in enumerate(design.pair_axes)}
        seed_pair_cols = np.concatenate([np.zeros(0, dtype=int)] + [
            np.flatnonzero(design.pair_block == pair_index[(seed_axes[i], seed_axes[j])])
            for i, j in seed_design.pair_axes])
        design = replace(design, higher=lift @ seed_design.higher)
    n_regions = margins[0].observed.shape[0]
    aggregate = np.hstack([cell_to_margin(levels, m.axes) for m in margins])
    observed = np.hstack([m.observed for m in margins])
    sd = np.hstack([m.sd for m in margins])
    seen = np.nonzero(np.isfinite(observed))
    dims = {"region": np.arange(n_regions), "variable": np.arange(len(levels)), **(coords or {})}
    variables = list(dims["variable"])
    name = lambda axes: ":".join(str(variables[a]) for a in axes)  # noqa: E731
    pair_names = [name(p) for p in design.pair_axes]
    free_pairs = sorted(set(design.pair_block[design.free]))
    dims.update(
        main_coef=labels(variables, design.main_block),
        pair=pair_names,
        pair_coef=labels(pair_names, design.pair_block),
        free_pair=[pair_names[i] for i in free_pairs],
        free_pair_coef=labels(pair_names, design.pair_block)[design.free] if design.free.any() else [],
        joint_term=[name(a) for a in design.joint_axes],
        joint_coef=labels([name(a) for a in design.joint_axes], design.joint_block),
    )
    # Shift seed_main with the pair terms so the seed's margins stay put when they move
    # (first-order orthogonalisation): removes the seed_main / pair_national correlation.
    rest = np.hstack([seed_design.pairs, seed_design.higher])
    seed_shift = weighted_projection(seed_design.main, (seed_counts + 0.5) / (seed_counts + 0.5).sum()) @ rest
    dims["seed_main_coef"] = labels([variables[a] for a in seed_axes], seed_design.main_block)

    terms = np.hstack([design.main, design.joint])
    n_main = design.main.shape[1]
    term_block = np.concatenate([design.main_block, len(levels) + design.joint_block]).astype(int)
    term_axes = [(v,) for v in range(len(levels))] + list(design.joint_axes)
    estimates = margin_estimates(levels, margins, terms, [term_axes[b] for b in term_block])
    scales = pooling_scales(estimates, term_block)
    pooled = scales is not None
    if pooled:
        scale = scales[term_block]
    else:  # weakly informative: main effects within +-6, interactions within +-2 log-odds
        scale = np.where(np.arange(terms.shape[1]) < n_main, 3.0, 1.0)
    center = np.nan_to_num(np.where(np.isnan(estimates), np.nanmean(estimates, axis=0), estimates))
    chol = laplace_cholesky(levels, margins, terms, center, scale)
    dims["margin_coef"] = [*dims["main_coef"], *dims["joint_coef"]]
    dims["margin_term"] = [*variables, *dims["joint_term"]]
    with pm.Model(coords=dims) as model:
        # Each region's margin coefficients, whitened around a direct estimate from its margins
        # with the Laplace covariance of their likelihood (+ prior): NUTS then meets a near
        # standard-normal block, and mean-field ADVI loses little. Centred pooling with fixed
        # (empirical-Bayes) scales: a free between-region scale funnels when regions barely differ.
        white = pm.Flat("margin_white", dims=("region", "margin_coef"))
        coef = center + (chol * white[:, None, :]).sum(axis=-1)
        pm.Deterministic("main", coef[:, :n_main], dims=("region", "main_coef"))
        if design.joint.shape[1]:
            pm.Deterministic("joint", coef[:, n_main:], dims=("region", "joint_coef"))
        mean = 0.0
        if pooled:
            mean = pm.Normal("mu_main", 0.0, 3.0, dims="main_coef")
            if design.joint.shape[1]:
                mean = pt.concatenate([mean, pm.Normal("mu_joint", 0.0, 1.0, dims="joint_coef")])
        pm.Potential("margin_prior", pm.logp(pm.Normal.dist(mean, scale), coef).sum())
        if pooled:
            pm.Data("margin_scale", scales, dims="margin_term")  # kept in idata.constant_data
        eta = pt.dot(coef, terms.T)
        fitted = pt.dot(pt.special.softmax(eta, axis=-1), aggregate)
        pm.Normal("margins", mu=fitted[seen], sigma=sd[seen], observed=observed[seen])

        seed_main = pm.Normal("seed_main", 0.0, 3.0, dims="seed_main_coef")
        national = pm.Normal("pair_national", 0.0, 1.0, dims="pair_coef")[seed_pair_cols]
        if design.higher.shape[1]:
            tau = pm.Gamma("tau_higher", alpha=2.0, beta=10.0)
            national = pt.concatenate([national, tau * pm.Normal("z_higher", 0.0, 1.0, shape=design.higher.shape[1])])
        seed_eta = pt.dot(seed_design.main, seed_main - pt.dot(seed_shift, national)) + pt.dot(rest, national)
        pm.Potential("seed_likelihood", pt.sum(seed_counts * pt.special.log_softmax(seed_eta)))
    return model, design




def margin_estimates(levels, margins: list[EncodedMargin], terms: np.ndarray, term_axes) -> np.ndarray:
    """(regions x coefs) margin coefficients read off each region's published margins: the
    log-linear coefficients of the max-entropy table with those margins (IPF from uniform),
    which has exactly these terms. NaN where no published margin of the region covers a
    coefficient's variables (``term_axes``)."""
    n_regions = margins[0].observed.shape[0]
    projection = np.linalg.pinv(terms)
    out = np.full((n_regions, terms.shape[1]), np.nan)
    for r in range(n_regions):
        published = [m for m in margins if np.isfinite(m.observed[r]).all()]
        if not published:
            continue
        targets = [(m.axes, m.observed[r].reshape([levels[a] for a in m.axes])) for m in published]
        fitted = ipf_dense(np.ones(levels), targets, tol=1e-8, max_iter=500)[0].ravel()
        coef = projection @ np.log(fitted / fitted.sum() + 1e-10)
        covered = [any(set(axes) <= set(m.axes) for m in published) for axes in term_axes]
        out[r] = np.where(covered, coef, np.nan)
    return out


def pooling_scales(estimates: np.ndarray, term_block: np.ndarray) -> np.ndarray | None:
    """Between-region SD of each margin term (variable or interaction), from the regions'
    own estimates (empirical Bayes): the root mean across-region variance of its
    coefficients, floored at ``SCALE_FLOOR``. ``None`` with fewer than
    ``MIN_POOLED_REGIONS`` regions, where it cannot be estimated."""
    if estimates.shape[0] < MIN_POOLED_REGIONS:
        return None
    scales = []
    for term in range(term_block.max() + 1):
        block = estimates[:, term_block == term]
        block = block[np.isfinite(block).all(axis=1)]
        sd = np.sqrt(np.mean(np.var(block, axis=0, ddof=1))) if len(block) >= 2 else 1.0
        scales.append(max(sd, SCALE_FLOOR))
    return np.array(scales)


def laplace_cholesky(levels, margins: list[EncodedMargin], terms: np.ndarray, center: np.ndarray,
                     scale: np.ndarray) -> np.ndarray:
    """(regions x coefs x coefs) Cholesky factors of the Laplace covariance of each region's
    margin coefficients at ``center``: the inverse of the published margins' Fisher
    information plus the prior precision ``1 / scale**2``."""
    chol = np.empty((center.shape[0], terms.shape[1], terms.shape[1]))
    for r in range(center.shape[0]):
        p = softmax(terms @ center[r])
        info = np.diag(1.0 / scale**2)
        for m in margins:
            if np.isfinite(m.observed[r]).all():
                aggregate = cell_to_margin(levels, m.axes)
                jac = aggregate.T @ (p[:, None] * terms) - np.outer(aggregate.T @ p, p @ terms)
                info += jac.T @ (jac / m.sd[r][:, None] ** 2)
        chol[r] = np.linalg.cholesky(np.linalg.inv(info))
    return chol
