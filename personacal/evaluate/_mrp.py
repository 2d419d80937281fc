"""MRP: a multilevel logit of the personas' answers on their covariates, post-stratified over the census joint.

For every question a categorical logit with a varying intercept per level of each covariate
and per region (partial pooling; see :mod:`._mrp_model`) is fitted to the personas' answer
probabilities, used as fractional counts. Each posterior draw gives the answer probabilities
π_{c,k} of every census cell c, and the estimate for a domain d (region, group, or all) is

    θ_{d,k} = Σ_{c ∈ d} N_c π_{c,k} / Σ_{c ∈ d} N_c

with N_c the cell counts of the reconstructed joint (``reconstruct_joint``). The point
estimate is the posterior mean; the interval is the equal-tailed credible interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._random import RandomState, check_random_state, derive_seed
from .._validation import InstanceOf, Interval, Options, check_param, check_params, renamed_parameters
from ..calibrate import JointResult
from ..errors import InputError, MismatchError, UnknownCategoryError
from ._answers_table import AnswerData, domain_table, prepare_answers
from ._mrp_model import INFERENCE, fit_multilevel_logit, poststratify_draws, soft_counts
from ._poststratify_answers import PoststratifiedAnswers
from ._poststratify_kernels import share_design, weighted_shares
from ._tidy import LEVEL, as_column_list, plain

__all__ = ["mrp"]

FUNC = "mrp"
FAMILIES = ("categorical", "binomial")
_CONSTRAINTS = {"family": Options(FAMILIES), "inference": Options(INFERENCE), "draws": Interval("int", 10, None),
                "tune": Interval("int", 0, None), "chains": Interval("int", 1, None), "cores": Interval("int", 1, None),
                "advi_iterations": Interval("int", 100, None), "level": LEVEL}
_JOINT = InstanceOf(JointResult, pd.Series, name="a JointResult (reconstruct_joint) or a joint count Series")


def _joint_series(joint, by: str | None) -> pd.Series:
    """The joint as a count Series; its region level (if any) is renamed to ``by``."""
    check_param(FUNC, "joint", joint, _JOINT)
    if isinstance(joint, JointResult):
        table = joint.table
        if not joint.multi_region and by is not None:
            table = pd.concat([table], keys=[joint.regions[0]], names=["region"])
    else:
        table = joint
    names = list(table.index.names)
    if any(n is None for n in names):
        raise InputError(f"`joint` of {FUNC} needs named index levels (region and covariates); got {names}")
    region_level = by if by in names else ("region" if "region" in names else None)
    if by is not None and region_level is None:
        raise InputError(f"`joint` of {FUNC} has no region level ({by!r} or 'region'); its levels are {names}")
    if by is None and region_level is not None:
        if table.index.get_level_values(region_level).nunique() > 1:
            raise InputError(f"`joint` of {FUNC} holds several regions but `by` is None; pass by=<region column>")
        table = table.droplevel(region_level)
    elif region_level != by and by is not None:
        table = table.rename_axis(index={region_level: by})
    values = table.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise InputError(f"`joint` of {FUNC} must hold finite, non-negative cell counts")
    return table.astype(float)


def _encode(values: pd.Series, levels: pd.Index, name: str) -> np.ndarray:
    codes = levels.get_indexer(values.to_numpy(dtype=object))
    if (codes < 0).any():
        unknown = sorted({str(v) for v in values[codes < 0]})
        raise UnknownCategoryError(
            f"persona column {name!r} has categories that the joint does not list: {unknown[:8]}; the joint has "
            f"{[plain(v) for v in levels[:12]]}. Recode the personas or rebuild the joint with these categories"
        )
    return codes


def _combine(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """One label per row for a combination of columns (the levels of an interaction)."""
    return frame[list(columns)].astype(str).agg(" × ".join, axis=1)


def _question_categories(data: AnswerData, q: int, family: str, parties) -> np.ndarray:
    options = np.flatnonzero(data.option_question == q)
    if family == "categorical":
        return options
    party = data.options["party"].to_numpy(dtype=object)
    chosen = []
    for p in parties:
        hit = options[party[options] == p]
        if hit.size != 1:
            raise InputError(
                f"family='binomial' of {FUNC} needs exactly one option with party {p!r} in question "
                f"{plain(data.questions[q])!r}; found {hit.size}"
            )
        chosen.append(int(hit[0]))
    return np.array(chosen)


@renamed_parameters(ci_level="level")
def mrp(
    answers: pd.DataFrame,
    personas: pd.DataFrame | None,
    joint,
    *,
    by: str | None = "region",
    covariates: list[str] | None = None,
    interactions: list[tuple[str, ...]] | None = None,
    group: str | list[str] | None = None,
    total: bool = True,
    family: str = "categorical",
    parties: tuple[str, str] = ("D", "R"),
    inference: str = "nuts",
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    cores: int = 1,
    target_accept: float = 0.9,
    advi_iterations: int = 40_000,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool | None = None,
) -> PoststratifiedAnswers:
    """Multilevel regression and post-stratification of persona answers over a census joint.

    Parameters
    ----------
    answers, personas
        As for :func:`poststratify_answers`; ``personas`` carries ``by`` and the covariates.
    joint
        :class:`~personacal.calibrate.JointResult` or a count Series whose index levels are
        the region (``by`` or ``"region"``) and the covariates.
    covariates
        Persona columns modelled (default: every non-region level of the joint; the joint is
        summed over the others). ``group`` must be among them.
    interactions
        Tuples of covariates (region included by its column name) that get a varying intercept
        per combination of their levels, e.g. ``[("race", "college")]``. Main effects alone
        cannot represent a group whose answers depend on another covariate differently from
        the rest; without the interaction such a group's estimate is pulled toward the others.
    family
        ``"categorical"``: every option of the question (refusals included) is a category.
        ``"binomial"``: only the two options whose ``party`` is ``parties`` (D vs R), a
        binomial logit of P(D) against P(R); a persona's other-option mass is left out.
    inference
        ``"nuts"`` (``draws``/``tune``/``chains``; R-hat, bulk ESS and divergences are reported
        and a :class:`~personacal.errors.DiagnosticsWarning` is raised when they look bad) or
        ``"advi"`` (mean-field ADVI, ``advi_iterations`` steps, then ``draws`` draws; fast, no
        R-hat; a DiagnosticsWarning when the loss is still falling). Mean-field ADVI ignores the
        posterior correlation of the hierarchical scales and effects; it can shrink small groups
        far toward the pooled mean and its intervals are unreliable: use it for quick looks only.
    cores
        Passed to ``pm.sample``; 1 (default) runs the chains one after the other, which on a
        small machine is faster than starting a process per chain.
    level
        Confidence level of the credible intervals (``ci_level`` before issue 9).
    random_state
        Seed or Generator; every question's sampler gets a seed drawn from it.

    Returns
    -------
    PoststratifiedAnswers with ``method="mrp"``: ``probability_weighted`` is the posterior mean,
    ``ci_low``/``ci_high`` the equal-tailed ``level`` credible interval, ``probability_raw``
    the unweighted persona mean; ``diagnostics`` has one row per question; ``fits`` holds the
    ArviZ InferenceData of every question.
    """
    check_params(FUNC, _CONSTRAINTS, {"family": family, "inference": inference, "draws": draws, "tune": tune,
                                      "chains": chains, "cores": cores, "advi_iterations": advi_iterations,
                                      "level": level})
    rng = check_random_state(random_state, func=FUNC)
    groups = as_column_list(group, func=FUNC, arg="group")
    table = _joint_series(joint, by)
    joint_covariates = [n for n in table.index.names if n != by]
    covariates = joint_covariates if covariates is None else as_column_list(covariates, func=FUNC, arg="covariates")
    unknown = [c for c in covariates if c not in joint_covariates]
    if unknown:
        raise InputError(f"`covariates` {unknown} of {FUNC} are not levels of the joint ({joint_covariates})")
    outside = [g for g in groups if g not in covariates]
    if outside:
        raise InputError(
            f"`group` {outside} of {FUNC} must be covariates of the model (post-stratification needs their census "
            f"counts); covariates are {covariates}"
        )
    keep_levels = ([by] if by else []) + covariates
    table = table.groupby(level=keep_levels, sort=False).sum()
    data = prepare_answers(answers, personas, columns=keep_levels, func=FUNC)
    if family == "binomial" and "party" not in data.options.columns:
        raise InputError(f"family='binomial' of {FUNC} needs a 'party' column in `answers`")

    design = _design(table, data, by, groups, interactions, total)
    notes = list(design.notes)
    raw, answering = _raw_shares(data, design.unit_domains, len(design.labels))

    frames, diag_rows, fits = [], [], {}
    show = progress if progress is not None else len(data.questions) > 3
    for q in tqdm(range(len(data.questions)), desc="mrp", unit="question", disable=not show):
        question = data.questions[q]
        categories = _question_categories(data, q, family, parties)
        row_category = np.full(data.options.shape[0], -1)
        row_category[categories] = np.arange(categories.size)
        if categories.size < 2:
            raise InputError(f"question {plain(question)!r} has {categories.size} option(s); {FUNC} needs at least 2")
        y = soft_counts(design.unit_cell, data.row_unit, row_category[data.row_option], data.row_prob,
                        len(design.obs_cells), categories.size)
        observed = y.sum(axis=1) > 0
        fit = fit_multilevel_logit(
            y[observed], design.obs_cells[observed], design.n_levels, design.factors,
            inference=inference, draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
            advi_iterations=advi_iterations, seed=derive_seed(rng), progress=bool(progress),
            label=f"question {plain(question)!r}",
        )
        theta = poststratify_draws(fit.intercept, fit.effects, design.cell_codes, design.cell_count,
                                   design.cell_domains, len(design.labels))
        frames.append(_rows(design.labels, data, categories, theta, raw, answering, family, level))
        diag_rows.append({"question_id": plain(question), **fit.diagnostics,
                          "n_personas": int(np.unique(data.pair_unit[data.pair_question == q]).size),
                          "n_cells_observed": int(observed.sum()),
                          "n_cells_poststrat": int((design.cell_count > 0).sum())})
        fits[plain(question)] = fit.idata
    diagnostics = pd.DataFrame(diag_rows)
    order = ["question_id", "inference", "n_personas", "n_cells_observed", "n_cells_poststrat", "max_rhat",
             "min_ess_bulk", "divergences", "final_loss", "loss_decline", "seconds"]
    diagnostics = diagnostics[[c for c in order if c in diagnostics.columns]]
    notes.append(f"model: categorical logit with varying intercepts by {', '.join(design.factors) or 'nothing'}; "
                 "persona answer probabilities enter as fractional counts")
    if inference == "advi":
        notes.append("ADVI (mean-field) can over-shrink small groups and its intervals are unreliable; use "
                     "inference='nuts' for final numbers")
    if family == "binomial":
        notes.append(f"binomial: probabilities are P({parties[0]}) vs P({parties[1]}) within the two-party vote; "
                     "probability_raw is renormalised the same way")
    if len(data.failed):
        notes.append(f"{len(data.failed)} persona x question answer(s) failed (all-NaN) and were left out")
    return PoststratifiedAnswers(
        distributions=pd.concat(frames, ignore_index=True),
        weights=None,
        diagnostics=diagnostics,
        method="mrp",
        by=by,
        group=tuple(groups),
        interval_method="posterior",
        level=level,
        n_boot=None,
        failed=data.failed,
        fits=fits,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Design:
    """Census cells and personas encoded on the model's factors, and both mapped onto the output domains."""

    factors: list[str]
    n_levels: list[int]
    cell_codes: np.ndarray  # (C, J) factor level of every census cell
    cell_count: np.ndarray  # (C,) N_c
    cell_domains: np.ndarray  # (C, layers)
    obs_cells: np.ndarray  # (C_obs, J) distinct persona cells
    unit_cell: np.ndarray  # (n_units,) row of obs_cells of every persona
    unit_domains: np.ndarray  # (n_units, layers)
    labels: pd.DataFrame  # domain labels
    notes: tuple[str, ...]


def _design(table: pd.Series, data: AnswerData, by, groups, interactions, total) -> _Design:
    cells = table.reset_index(name="count")
    notes = []
    regions = None
    personas = data.personas
    if by:
        persona_regions = set(personas[by].astype(str))
        joint_regions = [str(r) for r in pd.unique(cells[by])]
        missing = sorted(persona_regions - set(joint_regions))
        if missing:
            raise MismatchError(f"personas are in region(s) {missing[:10]} that the joint does not cover")
        regions = [r for r in joint_regions if r in persona_regions]
        if len(regions) < len(joint_regions):
            notes.append(f"{len(joint_regions) - len(regions)} region(s) of the joint have no personas and were "
                         "not estimated")
        cells[by] = cells[by].astype(str)
        cells = cells[cells[by].isin(regions)].reset_index(drop=True)
        personas = personas.assign(**{by: personas[by].astype(str)})
    covariates = list(table.index.names)
    factors = [f for f in covariates if cells[f].nunique() > 1]
    for combo in interactions or []:
        combo = tuple(combo)
        if len(combo) < 2 or any(c not in covariates for c in combo):
            raise InputError(f"`interactions` of {FUNC} must be tuples of at least two of {covariates}; got {combo!r}")
        name = ":".join(combo)
        cells[name] = _combine(cells, combo)
        personas = personas.assign(**{name: _combine(personas, combo)})
        factors.append(name)
    if not factors:
        raise InputError(f"{FUNC} needs a region or covariate with at least two levels in the joint; got {covariates}")
    levels = {f: pd.Index(pd.unique(cells[f])) for f in factors}
    cell_codes = np.column_stack([_encode(cells[f], levels[f], f) for f in factors])
    unit_codes = np.column_stack([_encode(personas[f], levels[f], f) for f in factors])
    obs_cells, unit_cell = np.unique(unit_codes, axis=0, return_inverse=True)
    group_levels = list(dict.fromkeys(cells[groups].itertuples(index=False, name=None))) if groups else None
    labels, cell_domains = domain_table(cells, by, groups, regions=regions, total=total, group_levels=group_levels)
    _, unit_domains = domain_table(personas, by, groups, regions=regions, total=total, group_levels=group_levels)
    return _Design(
        factors=[str(f) for f in factors], n_levels=[len(levels[f]) for f in factors], cell_codes=cell_codes,
        cell_count=cells["count"].to_numpy(dtype=float), cell_domains=cell_domains, obs_cells=obs_cells,
        unit_cell=unit_cell.ravel(), unit_domains=unit_domains, labels=labels, notes=tuple(notes),
    )


def _raw_shares(data: AnswerData, unit_domains: np.ndarray, n_domains: int) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted persona mean per (domain, option) and the number of answering personas (0: none)."""
    design = share_design(data.row_unit, data.row_option, data.row_prob, data.option_question,
                          data.pair_unit, data.pair_question, unit_domains, n_domains)
    n_options = data.options.shape[0]
    raw = np.full((n_domains, n_options), np.nan)
    answering = np.zeros((n_domains, n_options), dtype=np.int64)
    raw[design.cell_domain, design.cell_option] = weighted_shares(design, np.ones(data.n_units))[0]
    answering[design.cell_domain, design.cell_option] = design.cell_units
    return raw, answering


def _rows(labels, data: AnswerData, categories, theta, raw, answering, family, level) -> pd.DataFrame:
    n_domains, k = theta.shape[1], categories.size
    alpha = (1 - level) / 2
    low, high = np.nanquantile(theta, [alpha, 1 - alpha], axis=0)
    raw_q = raw[:, categories]
    if family == "binomial":
        with np.errstate(divide="ignore", invalid="ignore"):
            raw_q = raw_q / raw_q.sum(axis=1, keepdims=True)
    out = labels.iloc[np.repeat(np.arange(n_domains), k)].reset_index(drop=True)
    options = data.options.iloc[np.tile(categories, n_domains)].reset_index(drop=True)
    out = pd.concat([out, options], axis=1)
    out["probability_raw"] = raw_q.ravel()
    out["probability_weighted"] = theta.mean(axis=0).ravel()
    out["n_personas"] = answering[:, categories].ravel()
    out["ci_low"] = low.ravel()
    out["ci_high"] = high.ravel()
    return out

