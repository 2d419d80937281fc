"""``reconstruct_joint(method="bayes")``: every region's joint in one hierarchical PyMC fit.

The model (:mod:`._joint_bayes_model`) writes each region's joint as a log-linear table in
the mixed parametrisation: its margins (partially pooled across regions, observed with
noise), the seed's two-way and higher interactions (the seed is multinomial data, so its
sampling noise is propagated), and regional two-way deviations from the seed (prior only,
scale ``interaction_scale``). Each posterior draw's joint is the seed structure times the
deviations, raked by IPF to that draw's margins; the result holds the posterior mean, an
equal-tailed credible interval per cell and the draws (``posterior.joint["share"]``).

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
    the deviations are exact prior draws either way; its intervals came out ~7% narrower
    than NUTS's and its coverage on the ANES check was close to NUTS's (0.93 vs 0.94). R-hat and ESS do
    not apply; ``diagnostics`` reports the ELBO's convergence instead. NUTS is the default
    because only it can say whether it converged.
"""

from __future__ import annotations

import logging
import os
import time
import warnings

import numpy as np
import pandas as pd
import xarray as xr
from threadpoolctl import threadpool_limits

from .._random import check_random_state, derive_seed
from ..errors import ConvergenceError, DiagnosticsWarning, InputError
from ._joint import JointResult, _check_independent
from ._joint_bayes_diagnostics import advi_diagnostics, nuts_diagnostics
from ._joint_bayes_inputs import FUNC, encode_margins, grid_categories, seed_on_grid
from ._joint_bayes_model import build_joint_model
from ._joint_bayes_tables import deviation_draws, posterior_shares
from ._margins import Margins

__all__ = ["fit_bayes_joint"]

logger = logging.getLogger(__name__)

SAMPLERS = ("nuts", "advi")


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
    chains: int = 4,
    target_accept: float = 0.95,
    advi_iterations: int = 30000,
    learning_rate: float = 0.02,
    interval: float = 0.9,
    joint_draws: int = 1000,
    noise: float = 0.02,
    moe=None,
    interaction_scale: float = 0.2,
    higher_order: bool = True,
    seed_size: float | None = None,
    max_rhat: float = 1.01,
    min_ess: float = 400,
    on_bad_diagnostics: str = "warn",
    independent_of_seed: tuple[str, ...] = (),
) -> JointResult:
    """Fit every region's joint over ``variables`` in one hierarchical model.

    Options (passed through ``reconstruct_joint``):

    ``sampler``
        "nuts" (default) or "advi". NUTS: ``draws``, ``tune``, ``chains`` (4 chains x 1,000
        draws is what the default thresholds assume), ``target_accept``. ADVI:
        ``advi_iterations``, ``learning_rate`` (Adam), then ``draws * chains`` draws.
    ``interval``
        Equal-tailed credible level of ``lower`` / ``upper`` (default 0.9).
    ``joint_draws``
        How many (evenly thinned) posterior draws are turned into joint tables (default
        1,000); the tables, means and intervals come from these.
    ``noise``, ``moe``
        Measurement error of the published margins: relative SD, and optionally
        ``{region: {margin key: Series}}`` of 90% margins of error (e.g. ``CensusMargins.moe``;
        NaN entries and regions not listed use ``noise`` alone).
    ``interaction_scale``
        HalfNormal scale of the regional two-way deviations from the seed, in log-odds-ratio
        units (default 0.2; calibrated on the ANES held-out check, where 0.1-0.4 all covered
        ~90%). The data cannot inform it: margins do not see interactions.
    ``higher_order``
        Keep the seed's three-way and higher structure (shrunk), default True.
    ``seed_size``
        The seed's effective sample size; default its total count. Give the Kish size for a
        weighted seed, or the seed's weights will count as that many respondents.
    ``independent_of_seed``
        Set by ``reconstruct_joint``: variables the seed lacks. The seed then informs only
        the structure among its own variables; interactions with these come from their
        priors and from multi-way margins (the evenly spread seed is not taken as evidence
        of independence).
    ``max_rhat``, ``min_ess``, ``on_bad_diagnostics``
        Convergence thresholds and what to do when they fail: "warn" (DiagnosticsWarning)
        or "raise" (ConvergenceError, with the result on ``.result``).
    """
    _check_options(sampler=sampler, draws=draws, tune=tune, chains=chains, advi_iterations=advi_iterations,
                   joint_draws=joint_draws, interval=interval, target_accept=target_accept, noise=noise,
                   interaction_scale=interaction_scale, learning_rate=learning_rate, min_ess=min_ess,
                   max_rhat=max_rhat, on_bad_diagnostics=on_bad_diagnostics, seed_size=seed_size)
    rng = check_random_state(random_state, func="reconstruct_joint")
    regions = tuple(str(r) for r in by_region)
    categories = grid_categories(by_region, variables)
    grid = pd.MultiIndex.from_product(categories, names=list(variables))
    levels = tuple(len(c) for c in categories)
    totals = np.array([m.total for m in by_region.values()])
    margins = encode_margins(by_region, variables, categories, totals, noise, moe)
    counts = seed_on_grid(seed_counts, grid, variables, smoothing, seed_size)

    started = time.perf_counter()
    seed_axes = tuple(i for i, v in enumerate(variables) if v not in independent_of_seed)
    model, design = build_joint_model(levels, margins, counts, higher_order=higher_order, seed_axes=seed_axes,
                                      coords={"region": list(regions), "variable": list(variables)})
    show = bool(progress) if progress is not None else len(by_region) > 5
    # One BLAS thread per process: the matrices are small, and with the chains forked on
    # every core (PyMC does not limit forked workers' BLAS threads) two threads per chain
    # made the 51-state fit ten times slower on a 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        if sampler == "nuts":
            import pymc as pm

            with model:
                idata = pm.sample(
                    draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                    random_seed=derive_seed(rng), target_accept=target_accept, progressbar=show,
                    compute_convergence_checks=False, compile_kwargs={"mode": _compile_mode()},
                )
        else:
            idata, losses = _fit_advi(model, rng, draws * chains, advi_iterations, learning_rate, show)
        logger.debug("%s: %s fit done after %.1fs", FUNC, sampler, time.perf_counter() - started)
        share, ipf_error = _add_joint_group(idata, model, design, levels, [m.axes for m in margins], grid,
                                            interaction_scale, joint_draws, rng)
    logger.debug("%s: joint tables of %d draws after %.1fs", FUNC, len(share), time.perf_counter() - started)
    if sampler == "nuts":
        diagnostics, ok, problems = nuts_diagnostics(
            idata, max_rhat=max_rhat, min_ess=min_ess, extra=idata.joint.drop_vars(["sigma_pair", "z_pair"],
                                                                                    errors="ignore"))
    else:
        diagnostics, ok, problems = advi_diagnostics(losses, advi_iterations)

    logger.debug("%s: diagnostics after %.1fs", FUNC, time.perf_counter() - started)
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
        notes.append("ADVI (mean-field): its intervals ran ~7% narrower than NUTS's in the benchmark; R-hat/ESS "
                     "do not apply; use sampler='nuts' where the intervals matter")
    if independent_of_seed:
        notes.append(f"the seed lacks {list(independent_of_seed)}: their interactions come from priors and "
                     "multi-way margins only")
    if ipf_error > 1e-5:
        notes.append(f"IPF of some posterior draws stopped at relative margin error {ipf_error:.2g}")
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


def _add_joint_group(idata, model, design, levels, margin_axes, grid, interaction_scale, joint_draws, rng):
    """Group ``joint`` of ``idata``: for ``joint_draws`` evenly thinned posterior draws, the regional
    deviations (exact prior draws) and every region's joint shares (``share``)."""
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
        deviations = deviation_draws(design, n_samples, n_regions, interaction_scale, rng)
        draws.update(deviations)
        group["sigma_pair"] = (("chain", "draw", "free_pair"), deviations["sigma_pair"].reshape(n_chains, n_draws, -1))
        group["z_pair"] = (("chain", "draw", "region", "free_pair_coef"),
                           deviations["z_pair"].reshape(n_chains, n_draws, n_regions, -1))
        group = group.assign_coords(free_pair=list(coords["free_pair"]), free_pair_coef=list(coords["free_pair_coef"]))
    share, error = posterior_shares(design, levels, margin_axes, draws)
    group["share"] = (("chain", "draw", "region", "cell"), share.reshape(n_chains, n_draws, *share.shape[1:]))
    idata.add_groups({"joint": group})
    return share, error


def _fit_advi(model, rng, n_draws: int, iterations: int, learning_rate: float, show: bool):
    import pymc as pm

    with model:
        approx = pm.fit(
            n=iterations, method="advi", random_seed=derive_seed(rng), progressbar=show,
            obj_optimizer=pm.adam(learning_rate=learning_rate),
            compile_kwargs={"mode": _compile_mode()},
        )
        idata = approx.sample(n_draws, random_seed=derive_seed(rng))
    return idata, np.asarray(approx.hist)


def _compile_mode():
    """PyTensor's own C GEMM (used when it finds no BLAS to link, as with pip-installed NumPy)
    is several times slower here than NumPy's dot, so keep the plain dot ops in that case."""
    import pytensor
    from pytensor.compile.mode import get_mode

    mode = get_mode(None)
    return mode if pytensor.config.blas__ldflags else mode.excluding("BlasOpt")


def _check_options(**options) -> None:
    def bad(name, rule):
        raise InputError(f"`{name}` of {FUNC} must be {rule}; got {options[name]!r}")

    if options["sampler"] not in SAMPLERS:
        bad("sampler", f"one of {SAMPLERS}")
    for name, low in (("draws", 1), ("tune", 0), ("chains", 1), ("advi_iterations", 1), ("joint_draws", 1)):
        value = options[name]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            bad(name, f"an int >= {low}")
    for name in ("interval", "target_accept"):
        if not (isinstance(options[name], (int, float)) and 0 < options[name] < 1):
            bad(name, "in (0, 1)")
    for name in ("noise", "interaction_scale", "learning_rate", "min_ess"):
        value = options[name]
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0):
            bad(name, "a positive finite number")
    if not (isinstance(options["max_rhat"], (int, float)) and options["max_rhat"] >= 1):
        bad("max_rhat", "a number >= 1")
    if options["on_bad_diagnostics"] not in ("warn", "raise"):
        bad("on_bad_diagnostics", "'warn' or 'raise'")
    seed_size = options["seed_size"]
    if seed_size is not None and not (isinstance(seed_size, (int, float)) and np.isfinite(seed_size) and seed_size > 0):
        bad("seed_size", "None or a positive number")
