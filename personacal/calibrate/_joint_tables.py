"""The arrays and tables of joint reconstruction (pure numpy and pandas, no PyMC).

* Inputs of the Bayesian fit: each region's margins and the seed as arrays on one full
  cell grid (:func:`grid_categories`, :func:`encode_margins`, :func:`seed_on_grid`).
* The zero-sum log-linear design over that grid (:func:`joint_design`), which the model
  in :mod:`._joint_bayes_model` is written in.
* Outputs: posterior draws turned into every region's joint table (:func:`posterior_shares`)
  and the per-margin-cell check of a fitted table (:func:`margin_errors`), shared by every method.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.linalg import null_space
from scipy.special import softmax

from ..errors import InputError, MappingError
from ._ipf_kernels import ipf_dense
from ._margins import Margins

__all__ = [
    "EncodedMargin", "JointDesign", "joint_design", "cell_to_margin", "weighted_projection", "labels",
    "grid_categories", "encode_margins", "seed_on_grid", "grouped_seed_on_grid", "deviation_draws", "posterior_shares", "margin_errors",
    "BAYES_FUNC",
]

BAYES_FUNC = "reconstruct_joint(method='bayes')"
#: 90% margins of error (the ACS convention) to standard errors.
Z90 = 1.6448536269514722
#: Smallest SD of an observed margin share, so that empty cells keep a finite scale.
SD_FLOOR = 1e-4


@dataclass(frozen=True)
class EncodedMargin:
    """One margin key across regions.

    ``axes``: the variables (positions) it covers, ascending; ``observed`` and ``sd``:
    (regions x margin cells) shares, NaN where a region does not publish this margin.
    """

    label: str
    axes: tuple[int, ...]
    observed: np.ndarray
    sd: np.ndarray


@dataclass(frozen=True)
class JointDesign:
    """Zero-sum log-linear design over the full grid (C order); ``*_block`` names each column's term."""

    main: np.ndarray
    main_block: np.ndarray  # variable of each column
    pairs: np.ndarray
    pair_block: np.ndarray  # index into pair_axes
    pair_axes: tuple[tuple[int, ...], ...]
    higher: np.ndarray  # the cell-space directions main effects and pairs cannot express
    joint: np.ndarray  # interactions inside published multi-way margins
    joint_block: np.ndarray  # index into joint_axes
    joint_axes: tuple[tuple[int, ...], ...]
    free: np.ndarray  # bool per pair column: no published margin covers its pair
    seed_pairs: np.ndarray | None = None  # the pairs (index into pair_axes) the seed's variables form
    seed_pair_cols: np.ndarray | None = None  # each seed-grid pair column's column in ``pairs``


def one_hot(codes: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size)[codes]


def cell_to_margin(levels: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """(cells x margin cells) 0/1 matrix summing the grid into a margin (C order)."""
    codes = np.indices(levels).reshape(len(levels), -1).T
    flat = np.ravel_multi_index(tuple(codes[:, a] for a in axes), tuple(levels[a] for a in axes))
    return one_hot(flat, int(np.prod([levels[a] for a in axes])))


def _terms(levels, axes_list, contrast) -> tuple[np.ndarray, np.ndarray]:
    blocks = []
    for axes in axes_list:
        basis = contrast[axes[0]]
        for a in axes[1:]:
            basis = np.kron(basis, contrast[a])
        blocks.append(cell_to_margin(levels, axes) @ basis)
    n_cells = int(np.prod(levels))
    design = np.hstack(blocks) if blocks else np.zeros((n_cells, 0))
    return design, np.repeat(np.arange(len(blocks)), [b.shape[1] for b in blocks]).astype(int)


def joint_design(levels: tuple[int, ...], margin_axes, *, higher_order: bool = True) -> JointDesign:
    contrast = [null_space(np.ones((1, n))) for n in levels]  # n x (n-1), orthonormal, zero-sum
    main, main_block = _terms(levels, [(v,) for v in range(len(levels))], contrast)
    pair_axes = tuple(combinations(range(len(levels)), 2))
    pairs, pair_block = _terms(levels, pair_axes, contrast)
    joint_axes = tuple(sorted({sub for axes in margin_axes if len(axes) > 1
                               for k in range(2, len(axes) + 1) for sub in combinations(axes, k)},
                              key=lambda t: (len(t), t)))
    joint, joint_block = _terms(levels, joint_axes, contrast)
    higher = np.zeros((len(main), 0))
    if higher_order:
        higher = null_space(np.hstack([np.ones((len(main), 1)), main, pairs]).T)
    free = ~np.isin(pair_block, [i for i, p in enumerate(pair_axes) if p in joint_axes])
    return JointDesign(main, main_block, pairs, pair_block, pair_axes, higher, joint, joint_block, joint_axes, free)


def weighted_projection(design: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(coefs x cells) least-squares map of a change in log cell weights onto ``design``'s
    coefficients, weighted by the multinomial information ``diag(p) - p p'`` at ``p``: the
    first-order effect of that change on the margins that ``design`` spans. Subtracting
    ``design @ weighted_projection(design, p) @ change`` from a change leaves those margins
    unchanged to first order."""
    weighted = design.T * p - np.outer(design.T @ p, p)
    return np.linalg.solve(weighted @ design, weighted)


def labels(names, block: np.ndarray) -> np.ndarray:
    """``name#k``: the k-th zero-sum coordinate of the block's variable or term."""
    names = list(names)
    firsts = {b: np.flatnonzero(block == b)[0] for b in np.unique(block)}
    return np.array([f"{names[b]}#{k - firsts[b] + 1}" for k, b in enumerate(block)])


# -- inputs: margins and seed on the full grid ------------------------------
def grid_categories(by_region, variables) -> list[pd.Index]:
    """Each variable's categories, which every region naming it must list identically."""
    out = []
    for v in variables:
        found = [(r, m.categories(v)) for r, m in by_region.items() if v in m.variables]
        if not found:
            raise InputError(f"no region's margins name variable {v!r}; {BAYES_FUNC} needs it in at least one region")
        first_region, first = found[0]
        for region, cats in found[1:]:
            if set(cats) != set(first):
                raise InputError(
                    f"regions {first_region!r} and {region!r} list different categories of {v!r}: "
                    f"{sorted(map(str, set(first) ^ set(cats)))[:5]} differ; give every region the same categories"
                )
        out.append(first)
    return out


def encode_margins(by_region, variables, categories, totals, noise, moe) -> list[EncodedMargin]:
    """Every margin key over ``variables``, as regions x cells shares (NaN where a region lacks it),
    with ``sd = sqrt((noise * share)^2 + (moe / 1.645 / total)^2 + SD_FLOOR^2)``."""
    if moe is not None:
        unknown = sorted(map(str, set(moe) - set(by_region)))
        if unknown or not all(hasattr(table, "get") for table in moe.values()):
            raise InputError(f"`moe` of {BAYES_FUNC} must map regions of the margins to {{margin key: Series}}; "
                             f"unknown regions: {unknown[:5]}")
    keys = list(dict.fromkeys(
        tuple(sorted(k.variables, key=variables.index))
        for m in by_region.values() for k in m if set(k.variables) <= set(variables)
    ))
    out = []
    for key in keys:
        axes = tuple(variables.index(v) for v in key)
        cells = pd.MultiIndex.from_product([categories[a] for a in axes], names=list(key))
        observed = np.full((len(by_region), len(cells)), np.nan)
        moe_share = np.zeros_like(observed)
        for i, (region, m) in enumerate(by_region.items()):
            margin = next((k for k in m if set(k.variables) == set(key)), None)
            if margin is None:
                continue
            observed[i] = _aligned(margin.values, key, cells) / totals[i]
            given = _region_moe(moe, region, margin)
            if given is not None:
                moe_share[i] = np.nan_to_num(_aligned(given, key, cells)) / Z90 / totals[i]
        sd = np.sqrt((noise * observed) ** 2 + moe_share**2 + SD_FLOOR**2)
        out.append(EncodedMargin(":".join(key), axes, observed, sd))
    if not out:
        raise InputError(f"no margin of {BAYES_FUNC} covers only the variables {list(variables)}")
    return out


def _aligned(values: pd.Series, key, cells: pd.MultiIndex) -> np.ndarray:
    if len(key) == 1:
        return values.reindex(cells.get_level_values(0)).to_numpy(float)
    return values.reorder_levels(list(key)).reindex(cells).to_numpy(float)


def _region_moe(moe, region, margin):
    """The 90% MOE Series of one region's margin, or None where ``moe`` gives none."""
    if moe is None or region not in moe:
        return None
    given = moe[region].get(margin.key)
    if given is not None and not isinstance(given, pd.Series):
        raise InputError(f"`moe[{region!r}][{margin.key!r}]` of {BAYES_FUNC} must be a pandas Series like the margin; "
                         f"got {type(given).__name__}")
    return given


def grouped_seed_on_grid(seed: pd.Series, grid: pd.MultiIndex, variables, smoothing: float, seed_size,
                         regions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The seed's counts per group (its first index level, e.g. state) on the grid: (groups x cells),
    each group as :func:`seed_on_grid` does a whole seed, with ``seed_size`` (when given) shared
    in proportion to the groups' counts; each group's position in ``regions`` (-1 where the group
    is not a fitted region); and the group labels."""
    keys = seed.index.get_level_values(0)
    groups = list(pd.unique(keys))
    counts = np.vstack([seed_on_grid(seed[keys == g].droplevel(0), grid, variables, smoothing, None) for g in groups])
    if seed_size is not None:
        counts *= seed_size / counts.sum()
    labels_ = [str(g) for g in groups]
    return counts, np.array([regions.index(g) if g in regions else -1 for g in labels_], dtype=int), labels_


def seed_on_grid(seed: pd.Series, grid: pd.MultiIndex, variables, smoothing: float, seed_size) -> np.ndarray:
    """The seed's counts on the grid, mixed with ``smoothing`` of its own independence table
    and rescaled to ``seed_size`` (its effective sample size) when given."""
    aligned = seed.reindex(grid, fill_value=0.0)
    outside = seed[~seed.index.isin(grid)]
    if len(outside) and outside.sum() > 0:
        cell = dict(zip(variables, outside.index[0]))
        raise MappingError(
            f"seed cell {cell} uses categories the margins do not list; pass `mapping` to reconstruct_joint "
            "to map seed categories onto the target categories"
        )
    counts = aligned.to_numpy(float)
    if counts.sum() <= 0:
        raise InputError(f"the seed of {BAYES_FUNC} has no mass on the margins' categories")
    if smoothing:
        dense = counts.reshape([len(level) for level in grid.levels])
        indep = np.ones_like(dense)
        for axis in range(dense.ndim):
            others = tuple(a for a in range(dense.ndim) if a != axis)
            indep = indep * dense.sum(axis=others, keepdims=True) / dense.sum()
        counts = (1 - smoothing) * counts + smoothing * indep.ravel() * counts.sum()
    size = counts.sum() if seed_size is None else seed_size
    return counts * (size / counts.sum())


# -- outputs: joint tables --------------------------------------------------
def deviation_draws(design: JointDesign, n_samples: int, n_regions: int, interaction_scale: float,
                    rng: np.random.Generator, *, learned: dict | None = None) -> dict[str, np.ndarray]:
    """Posterior draws of block 3 on the free pairs (those no published margin covers).

    Without ``learned`` no data touch them, so their posterior is their prior, drawn exactly:
    ``sigma_pair ~ HalfNormal(interaction_scale)`` per free pair, ``z_pair ~ Normal(0, 1)``.
    ``learned`` holds posterior draws of the grouped seed model, ``sigma_pair`` (samples x seed
    pairs), ``z_seed`` (samples x groups x seed pair columns) and ``regions`` (each group's region,
    -1 outside the fit). They replace the prior draws where the seed informs them: a region with
    its own seed rows takes its group's z, one without keeps a fresh z at the learned scale (its
    posterior predictive), and a pair the seed does not hold keeps the prior.
    """
    free_pairs = np.unique(design.pair_block[design.free])
    sigma = np.abs(rng.normal(0.0, interaction_scale, size=(n_samples, len(free_pairs))))
    z = rng.normal(size=(n_samples, n_regions, int(design.free.sum())))
    if learned is not None:
        seed_pair = {int(p): k for k, p in enumerate(design.seed_pairs)}
        for i, pair in enumerate(free_pairs):
            if int(pair) in seed_pair:
                sigma[:, i] = learned["sigma_pair"][:, seed_pair[int(pair)]]
        seed_col = {int(c): k for k, c in enumerate(design.seed_pair_cols)}
        free_cols = np.flatnonzero(design.free)
        held = np.array([int(c) in seed_col for c in free_cols], dtype=bool)
        source = np.array([seed_col[int(c)] for c in free_cols[held]], dtype=int)
        for group, region in enumerate(learned["regions"]):
            if region >= 0:
                z[:, region, held] = learned["z_seed"][:, group, source]
    return {"sigma_pair": sigma, "z_pair": z}


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


def margin_errors(table: pd.Series, margins: Margins) -> pd.DataFrame:
    """Per margin cell: target, achieved total of ``table``, abs_error, share_error and rel_error.

    rel_error = |achieved - target| / target, and for a zero target achieved / the margin's total;
    share_error = |achieved - target| / the margin's total (the share of the population in the
    wrong cell). Categories of the table that a margin does not list count as zero targets.
    """
    rows = []
    for m in margins:
        achieved = table.groupby(level=list(m.variables), sort=False).sum()
        if len(m.variables) == 1:
            achieved.index = achieved.index.get_level_values(0) if isinstance(achieved.index, pd.MultiIndex) \
                else achieved.index
        target = m.values.astype(float)
        index = target.index.append(achieved.index.difference(target.index, sort=False))
        target, achieved = target.reindex(index, fill_value=0.0), achieved.reindex(index, fill_value=0.0)
        t, a = target.to_numpy(), achieved.to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(t > 0, np.abs(a - t) / t, np.abs(a) / max(t.sum(), np.finfo(float).tiny))
        cells = [" × ".join(map(str, c if isinstance(c, tuple) else (c,))) for c in index]
        rows.append(pd.DataFrame({"margin": m.label, "category": cells, "target": t, "achieved": a,
                                  "abs_error": np.abs(a - t), "share_error": np.abs(a - t) / t.sum(),
                                  "rel_error": rel}))
    return pd.concat(rows, ignore_index=True)