"""Rebuild a region's joint attribute distribution from its marginals.

Three methods share one entry point and one result type:

* ``"independent"``: the product of the 1-D marginals (the seed paper's Meta
  personas: every attribute drawn independently). Kept as the baseline.
* ``"ipf"``: a seed joint carrying real interaction structure (national
  microdata, or another region) scaled by IPF to the region's 1-D and
  multi-way margins: the minimum-information update of the seed.
* ``"bayes"``: a hierarchical PyMC model pooling all regions in one fit
  (see :mod:`personacal.calibrate._joint_bayes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._ray import as_executor
from .._summary import Summary
from ..errors import InputError, InvalidValueError, MappingError, StructuralInfeasibilityError
from ._ipf import ipf
from ._margins import Margins

__all__ = ["reconstruct_joint", "JointResult", "seed_table"]

METHODS = ("independent", "ipf", "bayes")


@dataclass(frozen=True)
class JointResult:
    """A reconstructed joint distribution (population counts), one block per region.

    ``table`` has one MultiIndex level per attribute, preceded by a ``region``
    level when several regions were fitted. Bayesian fits add ``lower`` and
    ``upper`` (credible interval per cell) and ``diagnostics``.
    """

    table: pd.Series
    method: str
    regions: tuple[str, ...]
    variables: tuple[str, ...]
    converged: bool
    max_margin_error: float
    margin_errors: pd.DataFrame
    lower: pd.Series | None = None
    upper: pd.Series | None = None
    interval: float | None = None
    diagnostics: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())
    #: ``"bayes"`` only: the ArviZ InferenceData (``share`` holds the cell-share draws).
    posterior: object | None = field(default=None, repr=False, compare=False)

    @property
    def multi_region(self) -> bool:
        return self.table.index.names[0] == "region"

    def for_region(self, region: str) -> pd.Series:
        """The joint of one region (without the region level)."""
        if not self.multi_region:
            if region not in self.regions:
                raise InputError(f"this joint holds region(s) {list(self.regions)}, not {region!r}")
            return self.table
        if region not in self.regions:
            raise InputError(f"this joint holds regions {list(self.regions)[:10]}..., not {region!r}")
        return self.table.xs(region, level="region")

    def shares(self) -> pd.Series:
        """Cell shares within each region."""
        if self.multi_region:
            return self.table / self.table.groupby(level="region").transform("sum")
        return self.table / self.table.sum()

    def to_frame(self) -> pd.DataFrame:
        frame = self.table.rename("count").to_frame()
        if self.lower is not None:
            frame["lower"] = self.lower.to_numpy()
            frame["upper"] = self.upper.to_numpy()
        return frame.reset_index()

    def summary(self) -> Summary:
        facts = {
            "method": self.method,
            "regions": len(self.regions),
            "variables": ", ".join(self.variables),
            "cells per region": int(len(self.table) / max(len(self.regions), 1)),
            "converged": self.converged,
            "max margin error (relative)": self.max_margin_error,
        }
        if self.interval is not None:
            facts["credible interval"] = f"{self.interval:.0%}"
        tables = {}
        if self.diagnostics is not None and len(self.diagnostics):
            tables["Convergence diagnostics"] = self.diagnostics
        if len(self.margin_errors):
            group = ["region", "margin"] if "region" in self.margin_errors else ["margin"]
            per = self.margin_errors.groupby(group, sort=False)["rel_error"].max().unstack("margin") if len(group) > 1 \
                else self.margin_errors.groupby("margin", sort=False)["rel_error"].max().to_frame()
            tables["Max relative margin error"] = per.head(60)
        return Summary(f"personacal joint reconstruction ({self.method})", facts, tables, list(self.notes))


def seed_table(seed, variables: tuple[str, ...], *, weights: str | None = None, mapping=None) -> pd.Series:
    """A joint count table over ``variables`` from a seed Series or microdata DataFrame.

    ``mapping`` is ``{variable: {seed_category: target_category}}``; every seed
    category of a mapped variable must be listed (several may map to one
    target category). Unlisted categories raise :class:`MappingError`.
    """
    if isinstance(seed, pd.Series):
        frame = seed.rename("_count").reset_index()
        count_col = "_count"
    elif isinstance(seed, pd.DataFrame):
        frame = seed
        count_col = weights
    else:
        raise InputError(f"`seed` must be a joint Series or a microdata DataFrame; got {type(seed).__name__}")
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
    bayes_options
        For ``method="bayes"`` only (sampler, draws, interval, noise, moe,
        interaction_scale, ...): see
        :func:`personacal.calibrate._joint_bayes.fit_bayes_joint`. With "bayes" a region
        may lack some variables' margins; it borrows them from the other regions.
    independent_of_seed
        Variables the seed lacks. They are spread evenly over the seed's cells, so
        they relate to the seed's variables only through the multi-way margins
        that name them (e.g. a (race, Hispanic origin) cross-tab); a seed lacking
        any other variable is an error.
    executor
        ``"ray"`` or a :class:`~personacal.calibrate.RayExecutor`: fit the regions as Ray tasks
        (methods "independent" and "ipf"; same result as the serial run).
    """
    if method not in METHODS:
        raise InputError(f"`method` of reconstruct_joint must be one of {METHODS}; got {method!r}")
    if not 0 <= smoothing < 1:
        raise InputError(f"`smoothing` of reconstruct_joint must be in [0, 1); got {smoothing}")
    executor = as_executor(executor, func="reconstruct_joint", applies=method != "bayes",
                           why="fits regions one by one in parallel, while method='bayes' pools them in one model; "
                               "use method 'ipf' or 'independent', or executor=None")
    single = isinstance(margins, Margins)
    by_region = {margins.name or "region": margins} if single else dict(margins)
    if not by_region or not all(isinstance(m, Margins) for m in by_region.values()):
        raise InputError("`margins` of reconstruct_joint must be a Margins or a non-empty {region: Margins}")
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
    seed_counts = None
    if seed is not None:
        seed_counts = seed_table(seed, seed_variables, weights=seed_weights, mapping=mapping)
        if independent_of_seed:
            seed_counts = _spread(seed_counts, first, variables, independent_of_seed)

    if method == "bayes":
        from ._joint_bayes import fit_bayes_joint

        return fit_bayes_joint(
            by_region, seed_counts, variables=variables, smoothing=smoothing, single=single,
            progress=progress, random_state=random_state, independent_of_seed=tuple(independent_of_seed),
            **bayes_options,
        )

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
            check = _check_independent(table, relevant)
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
        converged &= fit.converged
        tables.append(fit.table.rename("count"))
        errors.append(fit.margin_errors.assign(region=str(region)))
    if method == "independent":
        notes.append("independent: the product of the 1-D marginals; multi-way margins are not matched by design")
    if smoothing:
        notes.append(f"seed mixed with {smoothing:.2%} of the independence table before IPF")
    regions = tuple(str(r) for r in by_region)
    if single:
        table = tables[0]
    else:
        table = pd.concat(tables, keys=list(regions), names=["region"])
    margin_errors = pd.concat(errors, ignore_index=True)
    if single:
        margin_errors = margin_errors.drop(columns="region")
    return JointResult(
        table=table.rename("count"),
        method=method,
        regions=regions,
        variables=variables,
        converged=converged,
        max_margin_error=float(margin_errors["rel_error"].max()),
        margin_errors=margin_errors,
        notes=tuple(notes),
    )


def _check_independent(table: pd.Series, margins: Margins) -> pd.DataFrame:
    """Per-margin-cell error of the independence table (multi-way margins are generally missed)."""
    rows = []
    for m in margins:
        achieved = table.groupby(level=list(m.variables), sort=False).sum()
        target = m.values
        achieved = achieved.reindex(target.index).fillna(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(target > 0, np.abs(achieved - target) / target, 0.0)
        labels = [" × ".join(map(str, c if isinstance(c, tuple) else (c,))) for c in target.index]
        rows.append(pd.DataFrame({"margin": m.label, "category": labels, "target": target.to_numpy(),
                                  "achieved": achieved.to_numpy(), "rel_error": rel}))
    return pd.concat(rows, ignore_index=True)
