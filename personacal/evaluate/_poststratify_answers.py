"""Post-stratify simulated answers: calibrated persona weights, then weighted answer shares.

``poststratify_answers`` computes persona weights per region with
:mod:`personacal.calibrate` (``rake`` or ``poststratify``) or fits a multilevel model
post-stratified over the census joint (``"mrp"``, see :mod:`._mrp`), and returns the
weighted answer distribution of every question per region (and group) beside the
diagnostics of the weights.

Confidence intervals (``ci=``)
------------------------------
Both resample personas with replacement within each region (the region's persona count
stays fixed), via :func:`personacal.evaluate.bootstrap`.

``"recompute"``
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
    fixed-weight interval is usually the WIDER one). Prefer ``"recompute"`` for reported
    intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .._random import RandomState
from ..calibrate._diagnostics import design_effect, kish_ess, weight_ratio
from ..calibrate._margins import Margins
from ..calibrate._poststratify import poststratify
from ..calibrate._rake import rake
from ..calibrate._results import RegionalResult
from ..errors import CalibrationError, InputError
from ._answers_input import ALL, PERSONA, AnswerData, domain_table, prepare_answers
from ._bootstrap import bootstrap, weighted_counts
from ._poststratified import PoststratifiedAnswers, distribution_frame
from ._tidy import as_column_list
from ._weighted_answers import ShareDesign, share_design, weighted_shares

__all__ = ["poststratify_answers", "PoststratifiedAnswers"]

FUNC = "poststratify_answers"
METHODS = ("rake", "poststratify", "mrp")
CI_METHODS = ("recompute", "fixed")


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
    if weights is None:
        return np.ones(len(personas))
    if isinstance(weights, str):
        if weights not in personas.columns:
            raise InputError(f"`weights` of {FUNC} names column {weights!r}, which `personas` lacks")
        w = personas[weights]
    elif isinstance(weights, pd.Series):
        missing = pd.Index(personas[PERSONA]).difference(weights.index)
        if len(missing):
            raise InputError(f"`weights` of {FUNC} has no weight for persona_id(s) {missing[:5].tolist()}")
        w = weights.reindex(personas[PERSONA])
    else:
        raise InputError(
            f"`weights` of {FUNC} must be None, a column of `personas` or a Series indexed by persona_id; "
            f"got {type(weights).__name__}"
        )
    return w.to_numpy(dtype=float)


def _calibrator(personas: pd.DataFrame, targets, *, method: str, by: str | None, options: dict) -> Callable:
    fit = rake if method == "rake" else poststratify

    def calibrate(d: np.ndarray):
        return fit(personas, targets, weights=d, by=by, progress=False, **options)

    return calibrate


def _diagnostics(calibration, weights: np.ndarray, personas: pd.DataFrame, by: str | None,
                 total: bool) -> pd.DataFrame:
    if isinstance(calibration, RegionalResult):
        table = calibration.region_table().reset_index()
    else:
        w = calibration.weights.to_numpy()
        table = pd.DataFrame([{
            "region": calibration.region or ALL, "rows": len(w), "converged": calibration.converged,
            "iterations": calibration.n_iter, "max_rel_error": calibration.max_margin_error,
            "ess": kish_ess(w), "design_effect": design_effect(w), "weight_ratio": weight_ratio(w),
        }])
        if by is None:
            table["region"] = ALL
    if total and isinstance(calibration, RegionalResult) and len(table) > 1:
        table = pd.concat([table, pd.DataFrame([{
            "region": ALL, "rows": len(weights), "converged": bool(table["converged"].all()),
            "iterations": int(table["iterations"].max()), "max_rel_error": float(table["max_rel_error"].max()),
            "ess": kish_ess(weights), "design_effect": design_effect(weights), "weight_ratio": weight_ratio(weights),
        }])], ignore_index=True)
    return table.rename(columns={"rows": "n_personas"})


def build_design(data: AnswerData, by: str | None, groups: list[str], regions, total: bool):
    labels, unit_domains = domain_table(data.personas, by, groups, regions=regions, total=total)
    design = share_design(data.row_unit, data.row_option, data.row_prob, data.option_question,
                          data.pair_unit, data.pair_question, unit_domains, len(labels))
    return labels, design


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
    ci: str | None = None,
    n_boot: int = 500,
    ci_level: float = 0.95,
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
    ci
        ``None``, ``"recompute"`` or ``"fixed"`` (bootstrap; see the module docstring). For
        ``"mrp"`` the interval is always the posterior credible interval.
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
    if method not in METHODS:
        raise InputError(f"`method` of {FUNC} must be one of {METHODS}; got {method!r}")
    groups = as_column_list(group, func=FUNC, arg="group")
    if method == "mrp":
        if weights is not None:
            raise InputError(
                f"`weights` of {FUNC} are not used by method='mrp' (the model conditions on the covariates); "
                "drop them or use method='rake'"
            )
        if ci not in (None, "posterior"):
            raise InputError(f"`ci` of {FUNC}(method='mrp') is the posterior interval; pass ci=None, got {ci!r}")
        from ._mrp import mrp

        return mrp(answers, personas, targets, by=by, group=groups or None, total=total, ci_level=ci_level,
                   random_state=random_state, progress=progress, **options)
    if ci is not None and ci not in CI_METHODS:
        raise InputError(f"`ci` of {FUNC} must be None or one of {CI_METHODS}; got {ci!r}")
    if not (isinstance(ci_level, float) and 0 < ci_level < 1):
        raise InputError(f"`ci_level` of {FUNC} must be a float strictly between 0 and 1; got {ci_level!r}")
    fit_targets, regions, variables = _target_regions(targets, by, method)
    weight_col = [weights] if isinstance(weights, str) else []
    columns = list(dict.fromkeys(([by] if by else []) + groups + variables + weight_col))
    data = prepare_answers(answers, personas, columns=columns, func=FUNC)
    d0 = _design_weights(data.personas, weights)
    calibrate = _calibrator(data.personas.drop(columns=[PERSONA]), fit_targets, method=method, by=by, options=options)
    calibration = calibrate(d0)
    w = calibration.weights.to_numpy()
    labels, design = build_design(data, by, groups, regions, total)
    estimate = weighted_shares(design, w)[0]
    distributions = distribution_frame(labels, design, data, raw=weighted_shares(design, d0)[0], weighted=estimate)
    boot = None
    if ci is not None:
        boot = _bootstrap(design, data, calibrate, d0, w, by=by, ci=ci, n_boot=n_boot, ci_level=ci_level,
                          random_state=random_state, progress=progress)
        distributions["ci_low"] = boot.ci_low
        distributions["ci_high"] = boot.ci_high
        distributions["standard_error"] = boot.standard_error
    diagnostics = _diagnostics(calibration, w, data.personas, by, total)
    notes = []
    if len(data.failed):
        notes.append(f"{len(data.failed)} persona x question answer(s) failed (all-NaN probabilities); they are "
                     "left out of those questions' bases (see .failed).")
    return PoststratifiedAnswers(
        distributions=distributions,
        weights=pd.Series(w, index=pd.Index(data.personas[PERSONA], name=PERSONA), name="weight"),
        diagnostics=diagnostics,
        method=method,
        by=by,
        group=tuple(groups),
        ci=ci,
        ci_level=ci_level if ci else None,
        n_boot=n_boot if ci else None,
        calibration=calibration,
        failed=data.failed,
        bootstrap=boot,
        notes=tuple(notes),
    )


def _bootstrap(design: ShareDesign, data: AnswerData, calibrate, d0, w, *, by, ci, n_boot, ci_level,
               random_state, progress):
    n = data.n_units
    strata = data.personas[by].to_numpy(dtype=object) if by else None
    if ci == "fixed":
        def statistic(idx, resampled):
            return weighted_shares(design, weighted_counts(idx, n, resampled))

        return bootstrap(statistic, n, weights=w, strata=strata, n_boot=n_boot, random_state=random_state,
                         ci=ci_level, vectorized=True, progress=progress)

    def statistic(idx, _):
        d = np.bincount(idx, weights=d0[idx], minlength=n)
        try:
            refit = calibrate(d).weights.to_numpy()
        except CalibrationError:
            return np.full(design.cell_option.size, np.nan)
        return weighted_shares(design, refit)[0]

    # Every replicate re-runs the calibration: show progress by default from a few hundred replicates.
    show = progress if progress is not None else n_boot >= 200
    return bootstrap(statistic, n, strata=strata, n_boot=n_boot, random_state=random_state, ci=ci_level,
                     progress=show)
