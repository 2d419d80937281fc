"""Post-stratify simulated answers: calibrated persona weights, then weighted answer shares.

``poststratify_answers`` computes persona weights per region with
:mod:`personacal.calibrate` (``rake`` or ``poststratify``) or fits a multilevel model
post-stratified over the census joint (``"mrp"``, see :mod:`._mrp`), and returns the
weighted answer distribution of every question per region (and group) beside the
diagnostics of the weights.

Confidence intervals (``interval_method=``, ``ci=`` before issue 9)
--------------------------------------------------------------------
``"linearization"`` (the default)
    design-based standard errors by Taylor linearisation of the calibrated estimator, as R
    survey's ``svymean`` on a raked or post-stratified design: each persona is a PSU, the
    regions are strata, and the weighting (``rake`` / ``poststratify`` per region, through
    :class:`personacal.calibrate.SurveyDesign`) is taken out of every share's influence
    values before its variance. Normal intervals at ``level``, clipped to [0, 1].

The two bootstrap options resample personas with replacement within each region (the
region's persona count stays fixed), via :func:`personacal.evaluate.bootstrap`.

``"bootstrap"`` (``"recompute"`` before issue 10)
    the weights are re-calibrated on every replicate (a persona drawn k times enters with
    design weight k·d). The interval then carries the variance of the weighting itself;
    a replicate whose resample cannot meet the targets (a category left empty) gives NaN
    and is counted in ``bootstrap.n_failed`` (and in ``summary()``); the interval uses the
    other replicates, which over-represent resamples that kept the rare categories, so
    treat it with care when many replicates failed (collapse sparse categories).
``"fixed"``
    each persona keeps its calibrated weight; only the answers are resampled (and a
    region's weight total varies between replicates). Cheaper, but it ignores that the
    weights were estimated, which can err either way: it leaves out the variance of the
    weighting, and also the variance that calibration removes when the calibration
    variables predict the answer (so for post-stratification on predictive strata the
    fixed-weight interval is usually the WIDER one). Prefer ``"bootstrap"`` (or the
    linearisation) for reported intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._random import RandomState
from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Options, check_param, check_params, renamed_parameters
from ..calibrate import Margins, RegionalResult, SurveyDesign, poststratify, rake
from ..errors import CalibrationError, InputError
from ._answers_table import ALL, PERSONA, AnswerData, domain_table, prepare_answers
from ._bootstrap import BootstrapResult, bootstrap, weighted_counts
from ._compat import ci_as_method_or_level, renamed_fields
from ._poststratify_kernels import ShareDesign, share_design, share_influence, weighted_shares
from ._tidy import LEVEL, N_BOOT, as_column_list
from ._weights import FACTS, weight_facts

__all__ = ["poststratify_answers", "PoststratifiedAnswers"]

FUNC = "poststratify_answers"
METHODS = ("rake", "poststratify", "mrp")
#: How intervals are made (see the module docstring); "auto": linearisation, or the posterior for "mrp".
INTERVAL_METHODS = ("auto", "linearization", "bootstrap", "fixed")
#: Rows of the estimates table shown by ``summary()``.
SUMMARY_ROWS = 40
#: Diagnostics columns carried beside every estimate by ``to_frame()``.
WEIGHT_COLUMNS = FACTS[1:]
MCMC_COLUMNS = ("max_rhat", "min_ess_bulk", "divergences")
CI_TEXT = {
    "linearization": "Taylor linearisation of the calibrated estimator (design-based SE: each persona a PSU, "
                     "regions as strata, the weighting taken out as R survey does)",
    "bootstrap": "bootstrap over personas within region, weights re-calibrated on every replicate",
    "fixed": "bootstrap over personas within region, calibrated weights held fixed (ignores that the "
             "weights were estimated)",
    "posterior": "posterior credible interval of the multilevel model",
}


@renamed_fields(ci="interval_method", ci_level="level")
@dataclass(frozen=True, eq=False)
class PoststratifiedAnswers:
    """Answer distributions per region (and group), raw and post-stratified.

    ``distributions``: region, [group columns], question_id, option, [option_index,
    position, is_refusal, party], probability_raw (mean over the personas with the
    design weights), probability_weighted (calibrated weights, or the MRP posterior
    mean), n_personas (personas answering in the domain) and, with intervals,
    ci_low, ci_high (and standard_error for bootstrap intervals). ``region ==
    "(all)"`` pools every region; a group column equal to ``"(all)"`` pools the groups.

    ``diagnostics``: for weighting methods one row per region (n_personas,
    converged, iterations, max_rel_error, ess, design_effect, weight_ratio); for
    ``"mrp"`` one row per question (inference, max_rhat, min_ess_bulk, divergences ...).

    ``interval_method`` says how the intervals were made ("linearization", "bootstrap",
    "fixed", "posterior" or None) and ``level`` is their confidence level (``ci`` and
    ``ci_level`` before issue 9).
    """

    distributions: pd.DataFrame
    weights: pd.Series | None
    diagnostics: pd.DataFrame
    method: str
    by: str | None
    group: tuple[str, ...]
    interval_method: str | None
    level: float | None
    n_boot: int | None
    calibration: object | None = None
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    bootstrap: BootstrapResult | None = None
    fits: dict | None = None
    notes: tuple[str, ...] = ()

    def estimate(self, question_id: str, *, region: str | None = None) -> pd.DataFrame:
        """The rows of one question (optionally one region)."""
        frame = self.distributions[self.distributions["question_id"] == question_id]
        if frame.empty:
            have = list(pd.unique(self.distributions["question_id"]))[:10]
            raise KeyError(f"no question {question_id!r}; have {have}")
        if region is not None:
            frame = frame[frame["region"] == region]
            if frame.empty:
                raise KeyError(f"no region {region!r} for question {question_id!r}")
        return frame.reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The distributions, with the region's weight diagnostics (or the question's MCMC ones) beside each row."""
        if self.method == "mrp":
            cols = [c for c in ("question_id", *MCMC_COLUMNS) if c in self.diagnostics.columns]
            return self.distributions.merge(self.diagnostics[cols], on="question_id", how="left")
        # Region labels are compared as text: the calibration keys its per-region results by str(region).
        diag = self.diagnostics[["region", *WEIGHT_COLUMNS]].rename(columns={"region": "_region"})
        diag["_region"] = diag["_region"].astype(str)
        out = self.distributions.assign(_region=self.distributions["region"].astype(str))
        return out.merge(diag, on="_region", how="left").drop(columns="_region")

    def summary(self) -> Summary:
        d = self.distributions
        facts: dict[str, object] = {
            "method": self.method,
            "regions": int((pd.unique(d["region"]) != ALL).sum()) or 1,
            "questions": d["question_id"].nunique(),
            "groups": ", ".join(self.group) if self.group else "none",
        }
        if self.weights is not None:
            facts["personas"] = len(self.weights)
        if self.interval_method is not None:
            facts["interval"] = f"{self.level:.0%} {CI_TEXT.get(self.interval_method, self.interval_method)}"
            if self.n_boot:
                facts["bootstrap replicates"] = self.n_boot
        if self.bootstrap is not None and self.bootstrap.n_failed.any():
            facts["replicates failed (max over estimates)"] = int(self.bootstrap.n_failed.max())
        title = "Diagnostics per question (MCMC)" if self.method == "mrp" else "Diagnostics of the weights per region"
        shown = self.to_frame()
        keep = [c for c in shown.columns if c not in ("option_index", "is_refusal")]
        tables = {title: self.diagnostics, "Estimates (first rows)": shown[keep].head(SUMMARY_ROWS)}
        notes = list(self.notes)
        if self.method != "mrp" and not bool(self.diagnostics["converged"].all()):
            notes.insert(0, "NOT CONVERGED in some region: its weights miss the targets (see max_rel_error).")
        return Summary(f"personacal post-stratified answers ({self.method})", facts, tables, notes)

    def __repr__(self) -> str:
        d = self.distributions
        return one_line_repr(self, method=self.method, regions=int((pd.unique(d["region"]) != ALL).sum()) or 1,
                             questions=d["question_id"].nunique(), rows=len(d),
                             interval_method=self.interval_method, level=self.level)


def _distribution_frame(labels: pd.DataFrame, design: ShareDesign, data: AnswerData, *, raw: np.ndarray,
                       weighted: np.ndarray) -> pd.DataFrame:
    """One row per domain x question x option with the raw and weighted shares."""
    out = labels.iloc[design.cell_domain].reset_index(drop=True)
    options = data.options.iloc[design.cell_option].reset_index(drop=True)
    out = pd.concat([out, options], axis=1)
    out["probability_raw"] = raw
    out["probability_weighted"] = weighted
    out["n_personas"] = design.cell_units.astype(np.int64)
    return out


def _strata_columns(table) -> list[str]:
    if isinstance(table, Margins):
        return list(table.variables)
    if isinstance(table, pd.Series):
        return [n for n in table.index.names if n is not None]
    raise InputError(
        f"targets of {FUNC}(method='poststratify') must be a Series of stratum counts or a one-margin Margins; "
        f"got {type(table).__name__}"
    )


def _target_regions(targets, by: str | None, method: str) -> tuple[dict | object, list | None, list[str]]:
    """Targets in the form the calibration function takes, the region order, and the variables they use."""
    if by is None:
        if isinstance(targets, Mapping) and not isinstance(targets, Margins):
            raise InputError(
                f"`targets` of {FUNC} is a mapping of regions but `by` is None; pass by=<region column> "
                "or give one Margins"
            )
        columns = _strata_columns(targets) if method == "poststratify" else _margins_columns(targets)
        return targets, None, columns
    if not isinstance(targets, Mapping) or isinstance(targets, Margins) or not targets:
        raise InputError(
            f"with `by`, `targets` of {FUNC} must be a non-empty mapping {{region: Margins}}; "
            f"got {type(targets).__name__}"
        )
    columns: list[str] = []
    for region, t in targets.items():
        cols = _strata_columns(t) if method == "poststratify" else _margins_columns(t, region)
        columns += [c for c in cols if c not in columns]
    return dict(targets), list(targets), columns


def _margins_columns(margins, region=None) -> list[str]:
    if not isinstance(margins, Margins):
        where = f" for region {region!r}" if region is not None else ""
        raise InputError(
            f"`targets` of {FUNC}(method='rake') must be Margins{where}; got {type(margins).__name__}"
        )
    return list(margins.variables)


def _design_weights(personas: pd.DataFrame, weights) -> np.ndarray:
    check_param(FUNC, "weights", weights, [None, _WEIGHTS])
    if weights is None:
        return np.ones(len(personas))
    if isinstance(weights, str):
        if weights not in personas.columns:
            raise InputError(f"`weights` of {FUNC} names column {weights!r}, which `personas` lacks")
        w = personas[weights]
    else:
        missing = pd.Index(personas[PERSONA]).difference(weights.index)
        if len(missing):
            raise InputError(f"`weights` of {FUNC} has no weight for persona_id(s) {missing[:5].tolist()}")
        w = weights.reindex(personas[PERSONA])
    return w.to_numpy(dtype=float)


def _calibrator(personas: pd.DataFrame, targets, *, method: str, by: str | None, options: dict) -> Callable:
    fit = rake if method == "rake" else poststratify

    def calibrate(d: np.ndarray):
        return fit(personas, targets, weights=d, by=by, progress=False, **options)

    return calibrate


def _fit_row(region, converged: bool, iterations: int, max_rel_error: float, weights: np.ndarray) -> dict:
    facts = weight_facts(weights)
    return {"region": region, "rows": facts.pop("rows"), "converged": converged, "iterations": iterations,
            "max_rel_error": max_rel_error, **facts}


def _diagnostics(calibration, weights: np.ndarray, by: str | None, total: bool) -> pd.DataFrame:
    """Per region (and pooled): n_personas, converged, iterations, max_rel_error, ess, design_effect, weight_ratio."""
    if isinstance(calibration, RegionalResult):
        table = calibration.region_table().reset_index()
    else:
        region = ALL if by is None else (calibration.region or ALL)
        table = pd.DataFrame([_fit_row(region, calibration.converged, calibration.n_iter,
                                       calibration.max_margin_error, calibration.weights.to_numpy())])
    if total and isinstance(calibration, RegionalResult) and len(table) > 1:
        pooled = _fit_row(ALL, bool(table["converged"].all()), int(table["iterations"].max()),
                          float(table["max_rel_error"].max()), weights)
        table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    return table.rename(columns={"rows": "n_personas"})


def _share_design(data: AnswerData, by: str | None, groups: list[str], regions, total: bool):
    labels, unit_domains = domain_table(data.personas, by, groups, regions=regions, total=total)
    design = share_design(data.row_unit, data.row_option, data.row_prob, data.option_question,
                          data.pair_unit, data.pair_question, unit_domains, len(labels))
    return labels, design


_CONSTRAINTS = {"method": Options(METHODS), "n_boot": N_BOOT, "level": LEVEL}
_WEIGHTS = InstanceOf(str, pd.Series, name="a column of `personas` or a Series indexed by persona_id")


@ci_as_method_or_level
@renamed_parameters(ci_level="level")
def poststratify_answers(
    answers: pd.DataFrame,
    personas: pd.DataFrame | None,
    targets,
    *,
    method: str = "rake",
    by: str | None = "region",
    group: str | list[str] | None = None,
    weights=None,
    total: bool = True,
    interval_method: str | None = "auto",
    n_boot: int = 500,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool | None = None,
    **options,
) -> PoststratifiedAnswers:
    """Weighted answer distributions per region (and group), with the diagnostics of the weights.

    Parameters
    ----------
    answers
        Tidy persona answers (``SimulationResult.to_frame()``): persona_id, question_id,
        option, probability [, option_index, position, is_refusal, party].
    personas
        One row per persona_id with the ``by`` column, the ``group`` columns and the target
        variables; ``None`` reads them from ``answers``.
    targets
        ``method="rake"``: ``{region: Margins}`` (one ``Margins`` with ``by=None``).
        ``"poststratify"``: ``{region: Series of stratum counts}`` (or one-margin Margins).
        ``"mrp"``: a :class:`~personacal.calibrate.JointResult` or joint count Series with a
        ``region`` level (see :func:`personacal.evaluate.mrp`).
    by
        Persona column naming each persona's region (``None``: one pool).
    group
        Persona column(s) whose groups get their own distributions within each region.
    weights
        Design weights (column of ``personas`` or Series by persona_id); the calibration
        starts from them and ``probability_raw`` uses them. Not allowed with ``"mrp"``.
    total
        Also report the pool of all regions (``region = "(all)"``) when there are several.
    interval_method, n_boot, level
        ``"auto"`` (default: ``"linearization"``, design-based SEs of the calibrated
        estimator; for ``"mrp"`` the posterior credible interval), ``"linearization"``,
        ``"bootstrap"`` or ``"fixed"`` (bootstraps with ``n_boot`` replicates; see the module
        docstring), or ``None`` (no intervals); and the confidence level. (``ci`` and
        ``ci_level`` before issue 9, ``"recompute"`` for ``"bootstrap"`` before issue 10; the
        old names work for one release, and ``ci=<number>`` is read as the level.)
    options
        Passed to :func:`~personacal.calibrate.rake` (``bounds``, ``tol``, ``max_iter``,
        ``on_nonconvergence``) or :func:`personacal.evaluate.mrp` (``inference``, ``draws`` ...).

    Returns
    -------
    PoststratifiedAnswers
        ``distributions``: region, [group columns], question_id, option, [option_index,
        position, is_refusal, party], probability_raw, probability_weighted, n_personas
        [, ci_low, ci_high, standard_error]; ``weights``: persona weights; ``diagnostics``:
        per region n_personas, converged, iterations, max_rel_error, ess, design_effect,
        weight_ratio.
    """
    check_params(FUNC, _CONSTRAINTS, {"method": method, "n_boot": n_boot, "level": level})
    groups = as_column_list(group, func=FUNC, arg="group")
    if method == "mrp":
        if weights is not None:
            raise InputError(
                f"`weights` of {FUNC} are not used by method='mrp' (the model conditions on the covariates); "
                "drop them or use method='rake'"
            )
        if interval_method not in (None, "auto", "posterior"):
            raise InputError(f"`interval_method` of {FUNC}(method='mrp') is the posterior interval; pass "
                             f"interval_method='auto' or None, got {interval_method!r}")
        from ._mrp import mrp

        return mrp(answers, personas, targets, by=by, group=groups or None, total=total, level=level,
                   random_state=random_state, progress=progress, **options)
    if interval_method == "recompute":
        warnings.warn(f"interval_method='recompute' of {FUNC} is now called 'bootstrap'; the old name will be "
                      "removed in the next release", DeprecationWarning, stacklevel=3)
        interval_method = "bootstrap"
    check_params(FUNC, {"interval_method": [Options(INTERVAL_METHODS), None]}, {"interval_method": interval_method})
    if interval_method == "auto":
        interval_method = "linearization"
    fit_targets, regions, variables = _target_regions(targets, by, method)
    weight_col = [weights] if isinstance(weights, str) else []
    columns = list(dict.fromkeys(([by] if by else []) + groups + variables + weight_col))
    data = prepare_answers(answers, personas, columns=columns, func=FUNC)
    d0 = _design_weights(data.personas, weights)
    calibrate = _calibrator(data.personas.drop(columns=[PERSONA]), fit_targets, method=method, by=by, options=options)
    calibration = calibrate(d0)
    w = calibration.weights.to_numpy()
    labels, design = _share_design(data, by, groups, regions, total)
    estimate = weighted_shares(design, w)[0]
    distributions = _distribution_frame(labels, design, data, raw=weighted_shares(design, d0)[0], weighted=estimate)
    boot = None
    if interval_method == "linearization":
        se = _linearized_se(data, design, fit_targets, d0, w, estimate, method=method, by=by, options=options)
        _add_intervals(distributions, estimate, se, level)
    elif interval_method is not None:
        boot = _bootstrap(design, data, calibrate, d0, w, by=by, interval_method=interval_method, n_boot=n_boot,
                          level=level, random_state=random_state, progress=progress)
        distributions["ci_low"] = boot.ci_low
        distributions["ci_high"] = boot.ci_high
        distributions["standard_error"] = boot.standard_error
    notes = []
    if len(data.failed):
        notes.append(f"{len(data.failed)} persona x question answer(s) failed (all-NaN probabilities); they are "
                     "left out of those questions' bases (see .failed).")
    return PoststratifiedAnswers(
        distributions=distributions,
        weights=pd.Series(w, index=pd.Index(data.personas[PERSONA], name=PERSONA), name="weight"),
        diagnostics=_diagnostics(calibration, w, by, total),
        method=method,
        by=by,
        group=tuple(groups),
        interval_method=interval_method,
        level=level if interval_method else None,
        n_boot=n_boot if interval_method in ("bootstrap", "fixed") else None,
        calibration=calibration,
        failed=data.failed,
        bootstrap=boot,
        notes=tuple(notes),
    )


def _linearized_se(data: AnswerData, design: ShareDesign, targets, d0, w, shares, *, method, by, options) -> np.ndarray:
    """Design-based SE of every share: each region's personas a one-stratum design (a persona = a PSU),
    weighted again through the public survey API so that its weighting step can be taken out of the
    shares' influence values; regions are independent strata, so their variances add."""
    fit = rake if method == "rake" else poststratify
    personas = data.personas.drop(columns=[PERSONA])
    z = share_influence(design, w, shares)
    variance = np.zeros(z.shape[1])
    regions = {None: np.arange(len(personas))} if by is None else personas.groupby(by, sort=False).indices
    for region, rows in regions.items():
        block = z[rows]
        cells = np.unique(block.indices)
        if not len(cells):
            continue
        survey = SurveyDesign(personas.iloc[rows], weights=d0[rows], lonely_psu="adjust")
        weighted = fit(survey, targets if by is None else targets[region], **options).design
        variance[cells] += weighted.linearized_vcov(block[:, cells].toarray(), diagonal=True)
    return np.where(np.isfinite(shares), np.sqrt(variance), np.nan)


def _add_intervals(distributions: pd.DataFrame, estimate: np.ndarray, se: np.ndarray, level: float) -> None:
    half = stats.norm.ppf(0.5 + level / 2) * se
    distributions["ci_low"] = np.clip(estimate - half, 0.0, 1.0)
    distributions["ci_high"] = np.clip(estimate + half, 0.0, 1.0)
    distributions["standard_error"] = se


def _bootstrap(design: ShareDesign, data: AnswerData, calibrate, d0, w, *, by, interval_method, n_boot, level,
               random_state, progress):
    n = data.n_units
    strata = data.personas[by].to_numpy(dtype=object) if by else None
    if interval_method == "fixed":
        def statistic(idx, resampled):
            return weighted_shares(design, weighted_counts(idx, n, resampled))

        return bootstrap(statistic, n, weights=w, strata=strata, n_boot=n_boot, random_state=random_state,
                         level=level, vectorized=True, progress=progress)

    def statistic(idx, _):
        d = np.bincount(idx, weights=d0[idx], minlength=n)
        try:
            refit = calibrate(d).weights.to_numpy()
        except CalibrationError:
            return np.full(design.cell_option.size, np.nan)
        return weighted_shares(design, refit)[0]

    # Every replicate re-runs the calibration: show progress by default from a few hundred replicates.
    show = progress if progress is not None else n_boot >= 200
    return bootstrap(statistic, n, strata=strata, n_boot=n_boot, random_state=random_state, level=level,
                     progress=show)
