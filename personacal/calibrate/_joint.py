"""Rebuild a region's joint attribute distribution from its marginals.

Three methods share one entry point and one result type (:class:`JointResult`):

* ``"independent"``: the product of the 1-D marginals (the seed paper's Meta
  personas: every attribute drawn independently). Kept as the baseline.
* ``"ipf"``: a seed joint carrying real interaction structure (national
  microdata, or another region) scaled by IPF to the region's 1-D and
  multi-way margins: the minimum-information update of the seed.
* ``"bayes"``: one PyMC model for all regions. It pools the regions' margin coefficients
  (fixed empirical-Bayes scales); each region's two-way interactions are the seed's plus
  deviations drawn from their prior (``interaction_scale``), or, with ``seed_by``, learned
  from the regions' own seed rows with a learned between-region scale. The model
  and its samplers are in :mod:`._joint_bayes_model`, the arrays it reads and the
  tables it returns in :mod:`._joint_tables`; this module checks the options, runs
  the steps and assembles the result.

Every method reports how far its table is from every margin it was given (``margin_errors``,
``max_margin_error``), measured as every calibrate method measures it: |achieved - target| /
target, and for a zero target the cell's mass over the margin's total (mass where the target
says nobody lives is an error, not "0 % off"). ``converged`` is True only when every margin
is met: to ``tol`` for "independent" and "ipf" (the product of the 1-D marginals misses any
multi-way margin with association, and says so), and for "bayes" when the sampler's
diagnostics pass and every margin cell's posterior mean lies within 3 standard deviations of
the margin's assumed measurement error (``noise``, ``moe``).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .._random import check_random_state
from .._validation import InstanceOf, Interval, Options, check_param, check_params, renamed_parameters
from ..errors import ConvergenceError, ConvergenceWarning, DiagnosticsWarning, InputError, InvalidValueError
from ..errors import MappingError
from ..errors import StructuralInfeasibilityError
from .._ray import as_executor
from ._ipf import ipf
from ._joint_bayes_checks import BAYES_MARGIN_SDS, bayes_missed_margins, bayes_notes
from ._joint_tables import BAYES_FUNC, encode_margins, grid_categories, grouped_seed_on_grid, margin_errors, seed_on_grid
from ._margins import Margins
from ._results import JointResult

__all__ = ["reconstruct_joint", "seed_table"]

logger = logging.getLogger(__name__)

METHODS = ("independent", "ipf", "bayes")
#: ``method="bayes"`` meets a margin cell when its posterior mean lies within this many of the
#: margin's assumed measurement-error standard deviations (``noise``, ``moe``).
_POSITIVE = Interval("real", 0, None, closed="neither")
_SHARE = Interval("real", 0, 1, closed="neither")
#: What each ``method="bayes"`` option may be (checked before anything is fitted).
BAYES_OPTIONS = {
    "sampler": Options(("nuts", "advi")),
    "draws": Interval("int", 1, None),
    "tune": Interval("int", 0, None),
    "chains": Interval("int", 1, None),
    "target_accept": _SHARE,
    "advi_iterations": Interval("int", 1, None),
    "learning_rate": _POSITIVE,
    "level": _SHARE,
    "joint_draws": Interval("int", 1, None),
    "noise": _POSITIVE,
    "moe": [InstanceOf(Mapping, name="a mapping {region: {margin key: Series}}"), None],
    "interaction_scale": _POSITIVE,
    "seed_by": [InstanceOf(str, name="a column name"), None],
    "higher_order": InstanceOf(bool, np.bool_, name="True or False"),
    "seed_size": [_POSITIVE, None],
    "max_rhat": Interval("real", 1, None),
    "min_ess": _POSITIVE,
    "on_bad_diagnostics": Options(("warn", "raise")),
}
#: The defaults of the ``method="bayes"`` options (see :func:`reconstruct_joint`).
BAYES_DEFAULTS = {
    "sampler": "nuts", "draws": 1000, "tune": 1000, "chains": 4, "target_accept": 0.95,
    "advi_iterations": 30000, "learning_rate": 0.02, "level": 0.95, "joint_draws": 1000, "noise": 0.02,
    "moe": None, "interaction_scale": 0.2, "seed_by": None, "higher_order": True, "seed_size": None, "max_rhat": 1.01,
    "min_ess": 400, "on_bad_diagnostics": "warn",
}


def seed_table(seed, variables: tuple[str, ...], *, weights: str | None = None, mapping=None) -> pd.Series:
    """A joint count table over ``variables`` from a seed Series or microdata DataFrame.

    ``mapping`` is ``{variable: {seed_category: target_category}}``; every seed
    category of a mapped variable must be listed (several may map to one
    target category). Unlisted categories raise :class:`MappingError`.
    """
    if isinstance(seed, pd.Series):
        frame = seed.rename("_count").reset_index()
        count_col = "_count"
    else:
        frame = seed
        count_col = weights
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise InputError(f"the seed lacks variable(s) {absent}; it has {list(frame.columns)}. Rename or derive them")
    columns = {}
    for v in variables:
        column = frame[v]
        if column.isna().any():
            raise InputError(
                f"seed column {v!r} has {int(column.isna().sum())} missing value(s); drop those rows or map them"
            )
        if mapping and v in mapping:
            table = mapping[v]
            unmapped = sorted({str(c) for c in pd.unique(column) if c not in table})
            if unmapped:
                raise MappingError(
                    f"seed column {v!r} has categories with no entry in mapping[{v!r}]: {unmapped[:10]}; "
                    "map each of them to a target category explicitly"
                )
            column = column.map(table)
        columns[v] = column.to_numpy()
    if count_col is None:
        counts = np.ones(len(frame))
    else:
        if count_col not in frame.columns:
            raise InputError(f"seed weight column {count_col!r} not found; seed has {list(frame.columns)}")
        counts = frame[count_col].to_numpy(dtype=float)
        if not np.all(np.isfinite(counts)) or (counts < 0).any():
            raise InvalidValueError(f"seed weights {count_col!r} must be finite and >= 0")
    grouped = pd.Series(counts, index=pd.MultiIndex.from_arrays(list(columns.values()), names=list(variables)))
    return grouped.groupby(level=list(variables), sort=False).sum()


def _spread(seed: pd.Series, margins: Margins, variables, extra) -> pd.Series:
    """Cross the seed with every category of the variables it lacks, splitting each cell evenly."""
    levels = [margins.categories(v) for v in extra]
    grid = pd.MultiIndex.from_product(levels, names=list(extra))
    cells = len(grid)
    frame = seed.rename("count").reset_index().merge(grid.to_frame(index=False), how="cross")
    frame["count"] /= cells
    return frame.set_index(list(variables))["count"]


def _independent(margins: Margins, variables: tuple[str, ...]) -> pd.Series:
    total = margins.total
    shares = []
    for v in variables:
        for m in margins:
            if v in m.variables:
                shares.append(m.collapse((v,)) / m.total)
                break
    index = pd.MultiIndex.from_product([s.index for s in shares], names=list(variables))
    grid = np.ones(len(index))
    for level, s in enumerate(shares):
        grid *= s.reindex(index.get_level_values(level)).to_numpy()
    return pd.Series(grid * total, index=index, name="count")


def _smoothed_seed(seed: pd.Series, margins: Margins, variables, smoothing: float) -> pd.Series:
    """Seed on the full grid of target categories, mixed with the independence table."""
    grid = _independent(margins, variables)
    aligned = seed.reindex(grid.index, fill_value=0.0)
    dropped = seed[~seed.index.isin(grid.index)]
    if len(dropped) and dropped.sum() > 0:
        cell = dropped.index[0]
        raise MappingError(
            f"seed cell {dict(zip(variables, cell))} uses categories the targets do not list; "
            "pass `mapping` to map seed categories onto the target categories"
        )
    if smoothing == 0:
        return aligned
    return (1 - smoothing) * aligned / aligned.sum() + smoothing * grid / grid.sum()


@renamed_parameters(interval="level")
def reconstruct_joint(
    margins: Margins | Mapping[str, Margins],
    *,
    seed=None,
    method: str = "ipf",
    variables: tuple[str, ...] | None = None,
    seed_weights: str | None = None,
    mapping: Mapping | None = None,
    smoothing: float = 0.0,
    independent_of_seed: tuple[str, ...] = (),
    tol: float = 1e-8,
    max_iter: int = 2000,
    progress: bool | None = None,
    random_state=None,
    executor=None,
    **bayes_options,
) -> JointResult:
    """Reconstruct the joint distribution of ``variables`` for one or many regions.

    Parameters
    ----------
    margins
        One region's :class:`Margins`, or ``{region: Margins}``.
    seed
        For ``"ipf"`` and ``"bayes"``: a joint count Series (one MultiIndex level
        per variable) or a microdata DataFrame (``seed_weights`` names its weight
        column; unweighted rows count 1).
    variables
        The joint's attributes; default every variable named by the margins.
    mapping
        ``{variable: {seed_category: target_category}}`` for seeds coded
        differently from the targets; an unmapped seed category is an error.
    smoothing
        Share of the independence table mixed into the seed before fitting
        (0 = pure seed). Seed cells that are zero stay zero under IPF, so a sparse
        seed can make targets unreachable; a small smoothing (e.g. 0.01) gives
        every cell a little mass, at the cost of a little of the seed's structure.
    independent_of_seed
        Variables the seed lacks. They are spread evenly over the seed's cells, so
        they relate to the seed's variables only through the multi-way margins
        that name them (e.g. a (race, Hispanic origin) cross-tab); a seed lacking
        any other variable is an error.
    bayes_options
        For ``method="bayes"`` only, as keywords (``sampler="advi"``) or as one dict
        (``bayes_options={"sampler": "advi"}``). With "bayes" a region may lack some
        variables' margins; it borrows them from the other regions.

        ``sampler``
            "nuts" (default) or "advi". NUTS: ``draws``, ``tune``, ``chains`` (4 chains x 1,000
            draws is what the default thresholds assume), ``target_accept``. ADVI:
            ``advi_iterations``, ``learning_rate`` (Adam), then ``draws * chains`` draws.
        ``level``
            Equal-tailed credible level of ``lower`` / ``upper`` (default 0.95; it was called
            ``interval``, default 0.9, before).
        ``joint_draws``
            How many (evenly thinned) posterior draws are turned into joint tables (default
            1,000); the tables, means and intervals come from these.
        ``noise``, ``moe``
            Measurement error of the published margins: relative SD (default 0.02), and optionally
            ``{region: {margin key: Series}}`` of 90% margins of error (e.g. ``CensusMargins.moe``;
            NaN entries and regions not listed use ``noise`` alone).
        ``interaction_scale``
            HalfNormal scale of ``sigma_pair``, the between-region SD of each two-way interaction
            not covered by a published multi-way margin, in log-odds-ratio units (default 0.2,
            chosen on ANES states outside the held-out check). Margins do not see interactions:
            without ``seed_by`` nothing informs the regional deviations, and this prior is what
            sets their spread.
        ``seed_by``
            The seed's column (or count Series index level) naming each row's region. The seed
            rows of each region then form a group whose two-way interactions depart from the
            national ones by ``sigma_pair * z`` with ``sigma_pair`` learned from all groups (a
            hierarchical model of the interactions): a fitted region with its own seed rows gets
            its own interactions, shrunk towards the national ones; one without gets deviations
            drawn at the learned scale; groups that are not fitted regions inform the scale and the
            national interactions. Rows must all name a region.
        ``higher_order``
            Keep the seed's three-way and higher structure (shrunk), default True.
        ``seed_size``
            The seed's effective sample size; default its total count. Give the Kish size for a
            weighted seed, or the seed's weights will count as that many respondents.
        ``max_rhat``, ``min_ess``, ``on_bad_diagnostics``
            Convergence thresholds (1.01, 400) and what to do when they fail: "warn" (default,
            DiagnosticsWarning) or "raise" (ConvergenceError, with the result on ``.result``).

        The model, its likelihood and the samplers' measured trade-offs are described in
        :mod:`personacal.calibrate._joint_bayes_model`.
    executor
        ``"ray"`` or a :class:`~personacal.calibrate.RayExecutor`: fit the regions as Ray tasks
        (methods "independent" and "ipf"; same result as the serial run).
    """
    func = "reconstruct_joint"
    if "bayes_options" in bayes_options:  # the documented dict form
        nested = bayes_options.pop("bayes_options")
        check_param(func, "bayes_options", nested, InstanceOf(Mapping, name="a dict of options"))
        both = sorted(set(nested) & set(bayes_options))
        if both:
            raise InputError(f"`bayes_options` of {func} repeats option(s) {both} also given as keywords")
        bayes_options = {**nested, **bayes_options}
    check_params(func, {"method": Options(METHODS), "smoothing": Interval("real", 0, 1, closed="left")},
                 {"method": method, "smoothing": smoothing})
    executor = as_executor(executor, func=func, applies=method != "bayes",
                           why="fits regions one by one in parallel, while method='bayes' pools them in one model; "
                               "use method 'ipf' or 'independent', or executor=None")
    single = isinstance(margins, Margins)
    by_region = {margins.name or "region": margins} if single else dict(margins) if isinstance(margins, Mapping) else {}
    if not by_region or not all(isinstance(m, Margins) for m in by_region.values()):
        check_param(func, "margins", margins, InstanceOf(Margins, name="a Margins or a non-empty {region: Margins}"))
    first = next(iter(by_region.values()))
    variables = tuple(variables or first.variables)
    # The hierarchical model fills a region's missing margins from the other regions.
    for region, m in by_region.items() if method != "bayes" else ():
        missing = [v for v in variables if v not in m.variables]
        if missing:
            raise InputError(f"margins of region {region!r} lack variable(s) {missing}")
    if method != "independent" and seed is None:
        raise InputError(f"method={method!r} of reconstruct_joint needs a `seed` (joint Series or microdata)")
    if method != "independent" and bayes_options and method != "bayes":
        raise InputError(f"options {sorted(bayes_options)} are only for method='bayes'")
    unknown_extra = [v for v in independent_of_seed if v not in variables]
    if unknown_extra:
        raise InputError(f"`independent_of_seed` names {unknown_extra}, which are not among the variables {list(variables)}")
    seed_variables = tuple(v for v in variables if v not in independent_of_seed)
    seed_by = bayes_options.get("seed_by") if method == "bayes" else None
    if seed_by is not None:  # checked here: it decides how the seed is read
        check_param(BAYES_FUNC, "seed_by", seed_by, BAYES_OPTIONS["seed_by"])
    group = () if seed_by is None else (seed_by,)
    seed_counts = None
    if seed is not None:
        check_param(func, "seed", seed, InstanceOf(pd.Series, pd.DataFrame, name="a joint Series or a microdata DataFrame"))
        seed_counts = seed_table(seed, group + seed_variables, weights=seed_weights, mapping=mapping)
        if independent_of_seed:
            seed_counts = _spread(seed_counts, first, group + variables, independent_of_seed)

    if method == "bayes":
        unknown = sorted(set(bayes_options) - set(BAYES_OPTIONS))
        if unknown:
            raise InputError(f"`bayes_options` of {func} has unknown option(s) {unknown}; the options are "
                             f"{sorted(BAYES_OPTIONS)}")
        options = {**BAYES_DEFAULTS, **bayes_options}
        check_params(BAYES_FUNC, BAYES_OPTIONS, options)
        return _fit_bayes(by_region, seed_counts, variables=variables, smoothing=smoothing, single=single,
                          progress=progress, random_state=random_state,
                          independent_of_seed=tuple(independent_of_seed), **options)

    tables, errors, converged, notes = [], [], True, []
    show = progress if progress is not None else len(by_region) > 5
    if executor is not None:
        from ._ray_regions import joint_on_ray

        return joint_on_ray(by_region, seed_counts, executor=executor, method=method, variables=variables,
                            smoothing=smoothing, tol=tol, max_iter=max_iter, show=show, single=single)
    for region, m in tqdm(by_region.items(), desc=f"joint ({method})", disable=not show, unit="region"):
        relevant = Margins({k.key: k.values for k in m if set(k.variables) <= set(variables)}, name=str(region))
        if method == "independent":
            table = _independent(relevant, variables)
            check = margin_errors(table, relevant)
            converged &= bool(check["rel_error"].max() <= tol)
            tables.append(table)
            errors.append(check.assign(region=str(region)))
            continue
        start = _smoothed_seed(seed_counts, relevant, variables, smoothing)
        try:
            fit = ipf(start, relevant, tol=tol, max_iter=max_iter)
        except StructuralInfeasibilityError as exc:
            raise StructuralInfeasibilityError(
                f"region {region!r}: {exc}. With a sparse seed, pass smoothing=0.01 (or similar) to "
                "reconstruct_joint to give empty seed cells a little mass"
            ) from exc
        check = margin_errors(fit.table, relevant)
        converged &= fit.converged and bool(check["rel_error"].max() <= tol)
        tables.append(fit.table.rename("count"))
        errors.append(check.assign(region=str(region)))
    if method == "independent":
        notes.append("independent: the product of the 1-D marginals; multi-way margins are not matched by design")
    if smoothing:
        notes.append(f"seed mixed with {smoothing:.2%} of the independence table before IPF")
    regions = tuple(str(r) for r in by_region)
    if single:
        table = tables[0]
    else:
        table = pd.concat(tables, keys=list(regions), names=["region"])
    checks = _margin_checks(errors, single)
    result = JointResult(
        table=table.rename("count"),
        method=method,
        regions=regions,
        variables=variables,
        converged=converged,
        max_margin_error=float(checks["rel_error"].max()),
        margin_errors=checks,
        notes=tuple(notes),
    )
    if not converged:
        warnings.warn(f"reconstruct_joint(method={method!r}) misses its margins: {_worst(checks)}"
                      + (". The product of the marginals cannot carry a multi-way margin's association; use "
                         "method='ipf' with a seed to meet it" if method == "independent" else ""),
                      ConvergenceWarning, stacklevel=3)
    return result



def _worst(checks: pd.DataFrame) -> str:
    row = checks.loc[checks["rel_error"].idxmax()]
    where = f"region {row['region']!r}, " if "region" in checks.columns else ""
    return (f"max relative error {row['rel_error']:.3g} ({where}margin '{row['margin']}', {row['category']}: "
            f"{row['achieved']:,.6g} vs target {row['target']:,.6g})")


def _margin_checks(per_region: list[pd.DataFrame], single: bool) -> pd.DataFrame:
    checks = pd.concat(per_region, ignore_index=True)
    return checks.drop(columns="region") if single else checks


def _fit_bayes(by_region: dict[str, Margins], seed_counts: pd.Series, *, variables: tuple[str, ...], smoothing: float,
               single: bool, progress, random_state, independent_of_seed: tuple[str, ...], sampler: str, draws: int,
               tune: int, chains: int, target_accept: float, advi_iterations: int, learning_rate: float, level: float,
               joint_draws: int, noise: float, moe, interaction_scale: float, seed_by, higher_order: bool, seed_size,
               max_rhat: float, min_ess: float, on_bad_diagnostics: str) -> JointResult:
    """Every region's joint over ``variables`` in one hierarchical fit (options checked by the caller)."""
    from . import _joint_bayes_model as model_module  # PyMC loads only when a Bayesian fit is asked for

    rng = check_random_state(random_state, func="reconstruct_joint")
    regions = tuple(str(r) for r in by_region)
    categories = grid_categories(by_region, variables)
    grid = pd.MultiIndex.from_product(categories, names=list(variables))
    levels = tuple(len(c) for c in categories)
    totals = np.array([m.total for m in by_region.values()])
    margins = encode_margins(by_region, variables, categories, totals, noise, moe)
    coords = {"region": list(regions), "variable": list(variables)}
    seed_regions = None
    if seed_by is None:
        counts = seed_on_grid(seed_counts, grid, variables, smoothing, seed_size)
    else:
        counts, seed_regions, coords["seed_group"] = grouped_seed_on_grid(seed_counts, grid, variables, smoothing,
                                                                          seed_size, regions)

    started = time.perf_counter()
    seed_axes = tuple(i for i, v in enumerate(variables) if v not in independent_of_seed)
    model, design = model_module.build_joint_model(
        levels, margins, counts, higher_order=higher_order, seed_axes=seed_axes, coords=coords,
        grouped=seed_by is not None, interaction_scale=interaction_scale)
    show = bool(progress) if progress is not None else len(by_region) > 5
    # One BLAS thread per process: the matrices are small, and with the chains forked on
    # every core (PyMC does not limit forked workers' BLAS threads) two threads per chain
    # made the 51-state fit ten times slower on a 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        if sampler == "nuts":
            idata = model_module.sample_nuts(model, rng, draws=draws, tune=tune, chains=chains,
                                             target_accept=target_accept, show=show)
        else:
            idata, losses = model_module.fit_advi(model, rng, draws * chains, advi_iterations, learning_rate, show)
        logger.debug("%s: %s fit done after %.1fs", BAYES_FUNC, sampler, time.perf_counter() - started)
        share, ipf_error = model_module.add_joint_group(idata, model, design, levels, [m.axes for m in margins],
                                                        grid, interaction_scale, joint_draws, rng,
                                                        seed_regions=seed_regions)
    logger.debug("%s: joint tables of %d draws after %.1fs", BAYES_FUNC, len(share), time.perf_counter() - started)
    if sampler == "nuts":
        derived = idata.joint.drop_vars(["sigma_pair", "z_pair"], errors="ignore")
        diagnostics, ok, problems = model_module.nuts_diagnostics(idata, max_rhat=max_rhat, min_ess=min_ess,
                                                                  extra=derived)
    else:
        diagnostics, ok, problems = model_module.advi_diagnostics(losses, advi_iterations)
    logger.debug("%s: diagnostics after %.1fs", BAYES_FUNC, time.perf_counter() - started)

    alpha = (1 - level) / 2
    mean = share.mean(axis=0) * totals[:, None]
    lower, upper = np.quantile(share, [alpha, 1 - alpha], axis=0) * totals[:, None]
    index = grid if single else pd.MultiIndex.from_tuples(
        [(r, *cell) for r in regions for cell in grid], names=["region", *variables])
    errors = []
    for i, (region, m) in enumerate(by_region.items()):
        relevant = Margins({k.key: k.values for k in m if set(k.variables) <= set(variables)})
        errors.append(margin_errors(pd.Series(mean[i], index=grid), relevant).assign(region=str(region)))
    checks = _margin_checks(errors, single)
    missed = bayes_missed_margins(share.mean(axis=0), margins, levels, regions)
    if missed:
        problems = [*problems, f"posterior mean outside {BAYES_MARGIN_SDS:g} SD of the margins' measurement "
                    f"error in {len(missed)} cell(s), e.g. {missed[0]}"]
        ok = False
    notes = bayes_notes(sampler=sampler, level=level, noise=noise, moe=moe, seed_size=counts.sum(),
                         interaction_scale=interaction_scale, independent_of_seed=independent_of_seed,
                         ipf_error=ipf_error, smoothing=smoothing,
                         learned=None if seed_by is None else (seed_by, seed_regions, idata.posterior["sigma_pair"]))
    result = JointResult(
        table=pd.Series(mean.ravel(), index=index, name="count"), method="bayes", regions=regions,
        variables=tuple(variables), converged=ok, max_margin_error=float(checks["rel_error"].max()),
        margin_errors=checks, lower=pd.Series(lower.ravel(), index=index, name="lower"),
        upper=pd.Series(upper.ravel(), index=index, name="upper"), level=level, diagnostics=diagnostics,
        notes=notes, posterior=idata,
    )
    if not ok:
        message = (f"{BAYES_FUNC} ({sampler}): poor convergence diagnostics: {'; '.join(problems)}. "
                   + ("Raise draws and tune (e.g. draws=2000, tune=2000) or target_accept"
                      if sampler == "nuts" else "Raise advi_iterations or lower learning_rate")
                   + (", or check that the margins agree with each other (missed margins)." if missed else "."))
        if on_bad_diagnostics == "raise":
            raise ConvergenceError(message + " Pass on_bad_diagnostics='warn' to keep the result.", result=result)
        warnings.warn(message, DiagnosticsWarning, stacklevel=4)
    return result
