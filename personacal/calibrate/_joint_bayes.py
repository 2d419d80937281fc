"""``reconstruct_joint(method="bayes")``: every region's joint in one hierarchical PyMC fit.

The model (see :mod:`._joint_bayes_model`) is a log-linear table per region: regional
main effects pinned by the regional margins, the seed's two-way and higher structure
(with the seed treated as multinomial data, so its sampling noise is propagated), and
regional two-way deviations from it, partially pooled across regions.

Likelihood of the margins
    Each published margin share is ``Normal(model share, sd)`` with
    ``sd = sqrt((noise * share)^2 + (moe / 1.645 / total)^2 + 1e-4^2)``: a relative error
    ``noise`` (default 2%, the order of ACS 1-year state-level coefficients of variation
    for demographic shares), plus the published 90% margin of error where ``moe`` gives
    one, plus a floor so empty cells keep a finite scale. A Gaussian on shares is chosen
    over a multinomial with an "effective sample size" because census margins are
    estimates with stated errors, not counts of a sample we hold. The posterior mean
    therefore does not reproduce the margins exactly: ``margin_errors`` shows how far it
    departs (about ``noise`` at most, by design), unlike IPF which matches them exactly.

Samplers (measured on the 50 states + DC, 5 attributes; see benchmarks/results/joint.md)
    ``"nuts"`` (default): PyMC's NUTS, 2 chains on the 2 cores. Gives R-hat, bulk/tail ESS
    and divergences, checked against ``max_rhat`` / ``min_ess``.
    ``"advi"``: mean-field ADVI, several times faster. Its intervals are too narrow here:
    a region's main effects and two-way deviations are strongly correlated a posteriori
    (the margins fix their combination) and a mean-field posterior cannot represent that,
    so it shrinks the deviations. R-hat and ESS do not apply; ``diagnostics`` reports the
    ELBO's convergence instead. Use it for point estimates, NUTS for intervals.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd

from .._random import check_random_state, derive_seed
from ..errors import ConvergenceError, DiagnosticsWarning, InputError, MappingError
from ._joint import JointResult, _check_independent
from ._joint_bayes_diagnostics import advi_diagnostics, nuts_diagnostics
from ._joint_bayes_model import EncodedMargin, build_joint_model
from ._margins import Margins

__all__ = ["fit_bayes_joint"]

logger = logging.getLogger(__name__)

SAMPLERS = ("nuts", "advi")
FUNC = "reconstruct_joint(method='bayes')"
#: 90% margins of error (the ACS convention) to standard errors.
Z90 = 1.6448536269514722
SD_FLOOR = 1e-4


def fit_bayes_joint(
    by_region: dict[str, Margins],
    seed_counts: pd.Series,
    *,
    variables: tuple[str, ...],
    smoothing: float,
    single: bool,
    progress,
    random_state,
    sampler: str = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    target_accept: float = 0.9,
    advi_iterations: int = 30000,
    learning_rate: float = 0.02,
    interval: float = 0.9,
    noise: float = 0.02,
    moe=None,
    interaction_scale: float = 0.3,
    higher_order: bool = True,
    seed_size: float | None = None,
    max_rhat: float = 1.01,
    min_ess: float = 400,
    on_bad_diagnostics: str = "warn",
) -> JointResult:
    """Fit every region's joint over ``variables`` in one hierarchical model.

    Options (passed through ``reconstruct_joint``): ``sampler`` "nuts" | "advi";
    ``draws``, ``tune``, ``chains``, ``target_accept`` (NUTS); ``advi_iterations``,
    ``learning_rate`` (ADVI, Adam; ``draws * chains`` draws from the fitted
    approximation); ``interval`` (equal-tailed credible level); ``noise`` (relative SD of
    the published margins); ``moe`` (``{region: {margin key: Series}}`` of 90% margins of
    error, e.g. ``CensusMargins.moe``); ``interaction_scale`` (prior scale of the regional
    two-way deviations, log-odds-ratio units); ``higher_order`` (keep the seed's three-way
    and higher structure); ``seed_size`` (the seed's effective sample size; default its
    total count; give the Kish size for a weighted seed); ``max_rhat``, ``min_ess``,
    ``on_bad_diagnostics`` "warn" | "raise".
    """
    _check_options(sampler, draws, tune, chains, interval, noise, interaction_scale, max_rhat, min_ess,
                   on_bad_diagnostics, advi_iterations, seed_size)
    rng = check_random_state(random_state, func="reconstruct_joint")
    regions = tuple(str(r) for r in by_region)
    categories = _categories(by_region, variables)
    grid = pd.MultiIndex.from_product(categories, names=list(variables))
    codes = np.stack([c.astype(np.int64) for c in grid.codes], axis=1)
    levels = tuple(len(c) for c in categories)
    totals = np.array([m.total for m in by_region.values()])
    margins = _encode_margins(by_region, variables, categories, totals, noise, moe)
    counts = _seed_on_grid(seed_counts, grid, variables, smoothing, seed_size)

    model = build_joint_model(levels, margins, counts, interaction_scale=interaction_scale,
                              higher_order=higher_order, names=variables)
    show = bool(progress) if progress is not None else len(by_region) > 5
    if sampler == "nuts":
        import pymc as pm

        with model:
            idata = pm.sample(
                draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                random_seed=[derive_seed(rng) for _ in range(chains)], target_accept=target_accept,
                progressbar=show, compute_convergence_checks=False,
            )
        diagnostics, ok, problems = nuts_diagnostics(idata, max_rhat=max_rhat, min_ess=min_ess)
    else:
        idata, diagnostics, ok, problems = _fit_advi(model, rng, draws * chains, advi_iterations, learning_rate, show)

    share = idata.posterior["share"].to_numpy().reshape(-1, len(regions), len(grid))
    alpha = (1 - interval) / 2
    mean = share.mean(axis=0) * totals[:, None]
    lower, upper = np.quantile(share, [alpha, 1 - alpha], axis=0) * totals[:, None]
    index = grid if single else pd.MultiIndex.from_tuples(
        [(r, *cell) for r in regions for cell in grid], names=["region", *variables])
    table = pd.Series(mean.ravel(), index=index, name="count")
    errors = []
    for i, (region, m) in enumerate(by_region.items()):
        relevant = [k for k in m if set(k.variables) <= set(variables)]
        check = _check_independent(pd.Series(mean[i], index=grid), Margins({k.key: k.values for k in relevant}))
        errors.append(check.assign(region=str(region)))
    margin_errors = pd.concat(errors, ignore_index=True)
    if single:
        margin_errors = margin_errors.drop(columns="region")

    notes = [
        f"bayes ({sampler}): posterior mean counts with {interval:.0%} equal-tailed credible intervals; margins are "
        f"treated as noisy (relative SD {noise:g}{' plus the given MOEs' if moe is not None else ''}), so the "
        "posterior mean departs from them by up to about that much (IPF matches them exactly)",
        f"seed used as multinomial data of effective size {counts.sum():,.0f}; regional two-way deviations "
        f"have prior scale HalfNormal({interaction_scale:g}) where no multi-way margin informs them",
    ]
    if sampler == "advi":
        notes.append("ADVI (mean-field): intervals are too narrow (it ignores posterior correlations); "
                     "R-hat/ESS do not apply; use sampler='nuts' for intervals")
    if smoothing:
        notes.append(f"seed mixed with {smoothing:.2%} of its own independence table before fitting")
    result = JointResult(
        table=table, method="bayes", regions=regions, variables=tuple(variables), converged=ok,
        max_margin_error=float(margin_errors["rel_error"].max()), margin_errors=margin_errors,
        lower=pd.Series(lower.ravel(), index=index, name="lower"),
        upper=pd.Series(upper.ravel(), index=index, name="upper"),
        interval=interval, diagnostics=diagnostics, notes=tuple(notes), posterior=idata,
    )
    if not ok:
        message = (f"{FUNC} ({sampler}): poor convergence diagnostics: {'; '.join(problems)}. "
                   + ("Raise draws and tune (e.g. draws=2000, tune=2000) or target_accept."
                      if sampler == "nuts" else "Raise advi_iterations or lower learning_rate."))
        if on_bad_diagnostics == "raise":
            raise ConvergenceError(message + " Pass on_bad_diagnostics='warn' to keep the result.", result=result)
        warnings.warn(message, DiagnosticsWarning, stacklevel=3)
    return result


def _fit_advi(model, rng, n_draws: int, iterations: int, learning_rate: float, show: bool):
    import pymc as pm

    convergence = pm.callbacks.CheckParametersConvergence(every=500, tolerance=1e-3, diff="relative")
    with model:
        approx = pm.fit(
            n=iterations, method="advi", random_seed=derive_seed(rng), progressbar=show,
            obj_optimizer=pm.adam(learning_rate=learning_rate), callbacks=[convergence],
        )
        idata = approx.sample(n_draws, random_seed=derive_seed(rng))
    diagnostics, ok, problems = advi_diagnostics(np.asarray(approx.hist), iterations)
    return idata, diagnostics, ok, problems


def _categories(by_region, variables) -> list[pd.Index]:
    """Each variable's categories, which every region naming it must list identically."""
    out = []
    for v in variables:
        found = [(r, m.categories(v)) for r, m in by_region.items() if v in m.variables]
        if not found:
            raise InputError(f"no region's margins name variable {v!r}; {FUNC} needs it in at least one region")
        first_region, first = found[0]
        for region, cats in found[1:]:
            if set(cats) != set(first):
                raise InputError(
                    f"regions {first_region!r} and {region!r} list different categories of {v!r}: "
                    f"{sorted(map(str, set(first) ^ set(cats)))[:5]} differ; give every region the same categories"
                )
        out.append(first)
    return out


def _encode_margins(by_region, variables, categories, totals, noise, moe) -> list[EncodedMargin]:
    """Every margin key over ``variables``, as regions x cells shares (NaN where a region lacks it)."""
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
        raise InputError(f"no margin of {FUNC} covers only the variables {list(variables)}")
    return out


def _aligned(values: pd.Series, key, cells: pd.MultiIndex) -> np.ndarray:
    if len(key) == 1:
        return values.reindex(cells.get_level_values(0)).to_numpy(float)
    return values.reorder_levels(list(key)).reindex(cells).to_numpy(float)


def _region_moe(moe, region, margin):
    if moe is None or region not in moe:
        return None
    table = moe[region]
    return table.get(margin.key) if hasattr(table, "get") else None


def _seed_on_grid(seed: pd.Series, grid: pd.MultiIndex, variables, smoothing: float, seed_size) -> np.ndarray:
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
        raise InputError(f"the seed of {FUNC} has no mass on the margins' categories")
    if smoothing:
        dense = counts.reshape([len(level) for level in grid.levels])
        indep = np.ones_like(dense)
        for axis in range(dense.ndim):
            others = tuple(a for a in range(dense.ndim) if a != axis)
            indep = indep * dense.sum(axis=others, keepdims=True) / dense.sum()
        counts = (1 - smoothing) * counts + smoothing * indep.ravel() * counts.sum()
    size = counts.sum() if seed_size is None else seed_size
    return counts * (size / counts.sum())


def _check_options(sampler, draws, tune, chains, interval, noise, interaction_scale, max_rhat, min_ess,
                   on_bad_diagnostics, advi_iterations, seed_size) -> None:
    def bad(name, rule, value):
        raise InputError(f"`{name}` of {FUNC} must be {rule}; got {value!r}")

    if sampler not in SAMPLERS:
        bad("sampler", f"one of {SAMPLERS}", sampler)
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1),
                             ("advi_iterations", advi_iterations, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            bad(name, f"an int >= {low}", value)
    if not 0 < interval < 1:
        bad("interval", "in (0, 1)", interval)
    for name, value in (("noise", noise), ("interaction_scale", interaction_scale), ("min_ess", min_ess)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            bad(name, "a positive finite number", value)
    if not (isinstance(max_rhat, (int, float)) and max_rhat >= 1):
        bad("max_rhat", "a number >= 1", max_rhat)
    if on_bad_diagnostics not in ("warn", "raise"):
        bad("on_bad_diagnostics", "'warn' or 'raise'", on_bad_diagnostics)
    if seed_size is not None and not (np.isfinite(seed_size) and seed_size > 0):
        bad("seed_size", "None or a positive number", seed_size)
