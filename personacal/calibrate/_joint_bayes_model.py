"""The hierarchical PyMC model behind ``reconstruct_joint(method="bayes")``: build it and sample
it (NUTS or ADVI); :mod:`._joint_bayes_diagnostics` checks its convergence. Its inputs and
outputs are arrays, prepared and turned into joint tables by :mod:`._joint_tables`.

What is pooled across regions, and what is assumed:

* pooled, with scales fixed from the data (empirical Bayes): each region's margin coefficients
  (main effects, and the interactions inside published multi-way margins), so that a region
  lacking a margin gets the pooled prediction;
* shared by every region: the seed's two-way interactions (``pair_national``) and its shrunk
  higher-order structure;
* per region, on every pair no published margin covers: a deviation ``sigma_pair * z`` from the
  national interactions. Without ``seed_by`` no data touch it: it is a prior draw, and
  ``interaction_scale`` (the HalfNormal scale of ``sigma_pair``) is an assumption. With
  ``seed_by`` it is learned: the seed's rows of each region inform that region's deviation,
  and all regions' rows (fitted or not) inform ``sigma_pair``, so a fitted region without seed
  rows draws its deviation at the learned scale. A region's seed rows inform its interactions
  only: each group has its own main effects (nuisance), and the margins come from the census.

Every region's joint is a log-linear table, written in the *mixed parametrisation* of
the exponential family: its margins on the published keys on one side, its remaining
interactions on the other. The two are variation-independent and Fisher-orthogonal, so
the posterior factorises into three independent blocks (two with ``seed_by``, where the
seed and the deviations are one) that NUTS samples easily (the
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
   ``sigma_pair[pair] * z_pair[r]`` on every pair that no published margin covers. Margins
   cannot see interactions, so with a national seed nothing informs them: their posterior is
   their prior, drawn exactly (:func:`._joint_tables.deviation_draws`) rather than by NUTS, and
   ``interaction_scale`` (the HalfNormal scale of ``sigma_pair``) is the one assumption that sets
   how far a region's interactions may stray from the seed's. With a seed grouped by region
   (``seed_by``) the block is a hierarchical model fitted by NUTS with the others: each group's
   rows are a multinomial draw from its own table (own main effects, interactions
   ``national + sigma_pair * z_group``), ``sigma_pair`` is learned, and regions without rows get
   posterior-predictive deviations at the learned scale (:func:`_grouped_seed_likelihood`).
   Groups whose rows say little are sampled non-centred, groups whose rows pin their
   interactions centred (:func:`centred_groups`).

The joint of region r in each draw is the national table times the region's deviations,
raked by IPF to that draw's true margins (:func:`._joint_tables.posterior_shares`): exactly the log-linear
table with those margins and those interactions.

Likelihood of the margins
    Each published margin share is ``Normal(true share, sd)`` with
    ``sd = sqrt((noise * share)^2 + (moe / 1.645 / total)^2 + 1e-4^2)``: a relative error
    ``noise`` (default 2%, the order of the coefficient of variation of ACS 1-year
    state-level demographic shares), plus the published 90% margin of error where ``moe``
    gives one, plus a floor so that empty cells keep a finite scale. A Gaussian on shares,
    rather than a multinomial with an invented sample size, because census margins are
    estimates with stated errors, not counts of a sample we hold. The posterior mean does
    not reproduce the margins exactly (``margin_errors`` shows by how much, up to about
    ``noise`` by design), unlike IPF, which matches them exactly.

Samplers, measured on the 50 states + DC x 432 cells (benchmarks/results/joint.md)
    ``"nuts"`` (default): PyMC NUTS, 4 chains x 1,000 draws on the 2 cores, about 1.5-2
    minutes in all on an idle 2-core machine (compile ~15 s, sampling ~55 s, joint tables
    and diagnostics ~30 s). R-hat, bulk/tail ESS and divergences are checked against
    ``max_rhat`` / ``min_ess`` (thresholds meant for 4 chains).
    ``"advi"``: mean-field ADVI, 30,000 Adam steps, about 30 s. The margins block is
    sampled in whitened coordinates, so the mean-field posterior loses little there, and
    without ``seed_by`` the deviations are exact prior draws either way; its intervals came out ~7% narrower
    than NUTS's and its coverage on the ANES check was close to NUTS's (0.93 vs 0.94). R-hat and ESS do
    not apply; ``diagnostics`` reports the ELBO's convergence instead. NUTS is the default
    because only it can say whether it converged.

How PyTensor compiles it (benchmarks/results/joint_modes.md)
    The C backend, linked to the OpenBLAS in SciPy's wheel where PyTensor finds no BLAS of its
    own (:func:`link_blas`; before, every fit warned that it could not link one). PyTensor's
    NUMBA backend evaluates the gradient 27% faster, but cannot cache its compiled code, so each
    process pays 30-45 s of compile: about what it saves on the 51-region fit, and a loss on
    every smaller one.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy.special import softmax

from .._random import derive_seed
from ._ipf_kernels import ipf_dense
from ._joint_bayes_diagnostics import ELBO_TOL, advi_diagnostics, nuts_diagnostics
from ._joint_tables import (
    EncodedMargin,
    JointDesign,
    cell_to_margin,
    deviation_draws,
    joint_design,
    labels,
    posterior_shares,
    weighted_projection,
)

__all__ = ["build_joint_model", "sample_nuts", "fit_advi", "add_joint_group", "nuts_diagnostics",
           "advi_diagnostics", "link_blas", "ELBO_TOL"]

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
    grouped: bool = False,
    interaction_scale: float = 0.2,
) -> tuple[pm.Model, JointDesign]:
    """Blocks 1 and 2 (and with ``grouped`` block 3) over the full grid of ``levels`` categories
    (C order, last variable fastest).

    ``seed_counts`` (cells,) are the seed's (effective) counts on the same grid; with ``grouped``,
    (groups x cells), one row per seed group (the seed rows of one region), and every group's
    two-way interactions depart from the national ones by ``sigma_pair * z_seed[group]`` with
    ``sigma_pair ~ HalfNormal(interaction_scale)`` learned. ``seed_axes``: the variables the seed
    really holds (default all); only its margin over them is used, and the returned design's
    ``higher`` columns are the seed grid's, lifted to the full grid. ``coords`` may name the dims
    ``region``, ``variable`` and ``seed_group`` (labels only).
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
    seed_pairs = np.array([design.pair_axes.index(tuple(seed_axes[a] for a in axes)) for axes in seed_design.pair_axes],
                          dtype=int)
    design = replace(design, seed_pairs=seed_pairs, seed_pair_cols=seed_pair_cols)
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
    if not grouped:
        seed_shift = weighted_projection(seed_design.main, (seed_counts + 0.5) / (seed_counts + 0.5).sum()) @ rest
    dims["seed_main_coef"] = labels([variables[a] for a in seed_axes], seed_design.main_block)
    if grouped:
        dims.setdefault("seed_group", np.arange(seed_counts.shape[0]))
        dims["seed_pair"] = [pair_names[p] for p in seed_pairs]
        dims["seed_pair_coef"] = labels(dims["seed_pair"], seed_design.pair_block)

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

        national = pm.Normal("pair_national", 0.0, 1.0, dims="pair_coef")[seed_pair_cols]
        if design.higher.shape[1]:
            tau = pm.Gamma("tau_higher", alpha=2.0, beta=10.0)
            national = pt.concatenate([national, tau * pm.Normal("z_higher", 0.0, 1.0, shape=design.higher.shape[1])])
        if grouped:
            _grouped_seed_likelihood(model, seed_design, rest, national, seed_counts, interaction_scale)
        else:
            seed_main = pm.Normal("seed_main", 0.0, 3.0, dims="seed_main_coef")
            seed_eta = pt.dot(seed_design.main, seed_main - pt.dot(seed_shift, national)) + pt.dot(rest, national)
            pm.Potential("seed_likelihood", pt.sum(seed_counts * pt.special.log_softmax(seed_eta)))
    return model, design


def _grouped_seed_likelihood(model, seed_design: JointDesign, rest: np.ndarray, national, counts: np.ndarray,
                             interaction_scale: float) -> None:
    """Block 3, learned: seed group g's rows are a multinomial draw from a table with its own main
    effects (nuisance: the census margins are the evidence on those) and the two-way interactions
    ``national + sigma_pair[pair] * z_seed[g]`` on every pair, plus the shared higher-order terms.

    ``sigma_pair ~ HalfNormal(interaction_scale)``, the between-region SD of each pair's
    interactions, is learned from the groups. Partially non-centred (:func:`centred_groups`): a
    group whose rows say little next to the spread between groups is sampled as ``z ~ Normal(0, 1)``
    (``z_group``; centring it would funnel), one whose rows pin its interactions as its own
    interactions ``pair_group ~ Normal(national, sigma_pair)`` (non-centring it would tie ``z``,
    ``sigma_pair`` and the national terms into a ridge); ``z_seed`` is reported for every group. Each group's
    main effects are shifted with its interactions (first-order orthogonalisation, as the
    national seed's are) so that the two do not move together.
    """
    n_groups, n_pair_cols = counts.shape[0], seed_design.pairs.shape[1]
    sigma = pm.HalfNormal("sigma_pair", interaction_scale, dims="seed_pair")[seed_design.pair_block]
    rich = centred_groups(seed_design.pairs, counts)
    deviation = pt.zeros((n_groups, n_pair_cols))
    groups = np.asarray(model.coords["seed_group"])
    if (~rich).any():
        model.add_coord("seed_group_few", groups[~rich])
        z = pm.Normal("z_group", 0.0, 1.0, dims=("seed_group_few", "seed_pair_coef"))
        deviation = pt.set_subtensor(deviation[np.flatnonzero(~rich)], sigma * z)
    if rich.any():
        model.add_coord("seed_group_many", groups[rich])
        own = pm.Normal("pair_group", national[None, :n_pair_cols], sigma, dims=("seed_group_many", "seed_pair_coef"))
        deviation = pt.set_subtensor(deviation[np.flatnonzero(rich)], own - national[None, :n_pair_cols])
    pm.Deterministic("z_seed", deviation / sigma, dims=("seed_group", "seed_pair_coef"))
    interactions = national[None, :] + pt.concatenate(
        [deviation, pt.zeros((n_groups, rest.shape[1] - n_pair_cols))], axis=1)
    shares = (counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True)
    shift = np.stack([weighted_projection(seed_design.main, p) @ rest for p in shares])  # groups x main x rest
    main = pm.Normal("seed_main", 0.0, 3.0, dims=("seed_group", "seed_main_coef"))
    main = main - (shift * interactions[:, None, :]).sum(axis=-1)
    eta = pt.dot(main, seed_design.main.T) + pt.dot(interactions, rest.T)
    pm.Potential("seed_likelihood", pt.sum(counts * pt.special.log_softmax(eta, axis=-1)))


def centred_groups(pairs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Which seed groups to sample centred (the model is the same either way; only NUTS's geometry
    changes): those whose own estimates of the pair coefficients vary less, by their sampling
    variance, than the groups' estimates vary between them (method of moments; centre where the
    data dominate the hierarchical prior, Papaspiliopoulos, Roberts and Sköld 2007).

    Estimates: the pair coefficients of each group's log shares (counts + 1/2), with the delta-
    method variance sum_c proj^2 / (count + 1/2).
    """
    projection = np.linalg.pinv(pairs)  # pair coefficients x cells
    smoothed = counts + 0.5
    estimates = np.log(smoothed / smoothed.sum(axis=1, keepdims=True)) @ projection.T
    sampling = (1.0 / smoothed) @ (projection**2).T
    if len(counts) < 2:
        return np.zeros(len(counts), dtype=bool)
    between = np.maximum(np.var(estimates, axis=0, ddof=1) - sampling.mean(axis=0), 0.0)
    return sampling.mean(axis=1) < between.mean()


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


# -- sampling ------------------------------------------------------------
def sample_nuts(model, rng, *, draws: int, tune: int, chains: int, target_accept: float, show: bool):
    """PyMC's NUTS, chains forked on every core."""
    with model:
        return pm.sample(
            draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
            random_seed=derive_seed(rng), target_accept=target_accept, progressbar=show,
            compute_convergence_checks=False, compile_kwargs={"mode": _compile_mode()},
        )


def add_joint_group(idata, model, design, levels, margin_axes, grid, interaction_scale, joint_draws, rng,
                    seed_regions=None):
    """Group ``joint`` of ``idata``: for ``joint_draws`` evenly thinned posterior draws, the regional
    deviations and every region's joint shares (``share``).

    ``seed_regions``: for a grouped seed, each group's region index (-1: outside the fit). The
    deviations are then the posterior draws of block 3 where a region has its own seed rows, and
    draws at the learned ``sigma_pair`` elsewhere; without it, exact prior draws."""
    posterior, coords = idata.posterior, model.coords
    n_chains, n_regions = posterior.sizes["chain"], posterior.sizes["region"]
    per_chain = min(posterior.sizes["draw"], -(-joint_draws // n_chains))
    kept = posterior.isel(draw=np.unique(np.linspace(0, posterior.sizes["draw"] - 1, per_chain).round().astype(int)))
    n_draws = kept.sizes["draw"]
    n_samples = n_chains * n_draws
    draws = {name: kept[name].to_numpy().reshape(n_samples, *kept[name].shape[2:]) for name in kept.data_vars}
    group = xr.Dataset(coords={"chain": kept["chain"], "draw": kept["draw"], "region": kept["region"],
                               "cell": [" | ".join(map(str, cell)) for cell in grid]})
    if design.free.any():
        learned = None if seed_regions is None else {
            "sigma_pair": draws["sigma_pair"], "z_seed": draws["z_seed"], "regions": seed_regions}
        deviations = deviation_draws(design, n_samples, n_regions, interaction_scale, rng, learned=learned)
        draws.update(deviations)
        group["sigma_pair"] = (("chain", "draw", "free_pair"), deviations["sigma_pair"].reshape(n_chains, n_draws, -1))
        group["z_pair"] = (("chain", "draw", "region", "free_pair_coef"),
                           deviations["z_pair"].reshape(n_chains, n_draws, n_regions, -1))
        group = group.assign_coords(free_pair=list(coords["free_pair"]), free_pair_coef=list(coords["free_pair_coef"]))
    share, error = posterior_shares(design, levels, margin_axes, draws)
    group["share"] = (("chain", "draw", "region", "cell"), share.reshape(n_chains, n_draws, *share.shape[1:]))
    idata.add_groups({"joint": group})
    return share, error


def fit_advi(model, rng, n_draws: int, iterations: int, learning_rate: float, show: bool):
    """Mean-field ADVI (Adam), then ``n_draws`` draws from the fitted approximation."""
    with model:
        approx = pm.fit(
            n=iterations, method="advi", random_seed=derive_seed(rng), progressbar=show,
            obj_optimizer=pm.adam(learning_rate=learning_rate),
            compile_kwargs={"mode": _compile_mode()},
        )
        idata = approx.sample(n_draws, random_seed=derive_seed(rng))
    return idata, np.asarray(approx.hist)


def _compile_mode():
    """PyTensor's default mode, without its BLAS rewrites when no BLAS is linked: its fallback C GEMM
    is several times slower here than NumPy's dot, which the plain dot ops then call."""
    from pytensor.compile.mode import get_mode

    mode = get_mode(None)
    return mode if pytensor.config.blas__ldflags else mode.excluding("BlasOpt")


# -- linking PyTensor to a BLAS ------------------------------------------------
#: The BLAS routines PyTensor's C code calls. SciPy's wheels bundle an OpenBLAS that exports
#: them with a ``scipy_`` prefix, so the C code is compiled with each name mapped to that one.
_BLAS_ROUTINES = ("sgemm_", "dgemm_", "sgemv_", "dgemv_", "sger_", "dger_", "sdot_", "ddot_")


def _bundled_openblas_ldflags() -> str:
    """``blas__ldflags`` for the 32-bit-integer OpenBLAS in SciPy's wheel (``scipy.libs``), or ""."""
    import scipy

    folder = Path(scipy.__file__).resolve().parent.parent / "scipy.libs"
    found = sorted(folder.glob("libscipy_openblas-*.so")) if folder.is_dir() else []
    if not found:  # not a Linux wheel of SciPy (conda, macOS and Windows builds link their own BLAS)
        return ""
    renames = " ".join(f"-D{name}=scipy_{name}" for name in _BLAS_ROUTINES)
    # -l:<file> because the file name carries a hash; -Wl,-L so that PyTensor does not scan the folder.
    return f"-Wl,-L{folder} -l:{found[0].name} -Wl,-rpath,{folder} {renames}"


def link_blas() -> None:
    """Give PyTensor a BLAS where it found none, once, when this module is first imported.

    pip-installed PyTensor finds no BLAS to link (NumPy and SciPy wheels keep theirs private)
    and warns that "operations ... will be severely degraded" on every Bayesian fit. This
    links the OpenBLAS that SciPy's wheel ships instead. A BLAS named in ``PYTENSOR_FLAGS`` or
    ``.pytensorrc``, set in code before this import, or found by PyTensor itself is kept;
    where none of them and no bundled OpenBLAS is there, the model runs on NumPy's dot as
    before (see :func:`_compile_mode`), without the warning. ``import personacal`` does not
    touch PyTensor's configuration; only a Bayesian fit does.
    """
    try:
        pytensor.config.fetch_val_for_key("blas__ldflags")
        return  # the user's own setting
    except KeyError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTensor's "could not link to a BLAS": handled below
        if pytensor.config.blas__ldflags:
            return
    flags = _bundled_openblas_ldflags()
    if flags:
        from pytensor.link.c.cmodule import try_blas_flag

        if try_blas_flag(flags.split()):
            pytensor.config.blas__ldflags = flags


link_blas()
