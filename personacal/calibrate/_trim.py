"""Trim extreme weights: R's ``trimWeights`` rules, or cap-and-re-calibrate until caps and margins both hold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import InstanceOf, Interval, Options, check_param, check_params
from ..errors import ConvergenceError, InfeasibleBoundsError, InputError
from ._calibrate import calibrate_impl
from ._cells import collapse_cells
from ._checks import check_bounds
from ._design_steps import trimming_step
from ._encode import check_cells, check_design_weights, design_totals, encode_sample
from ._feasibility import conflicting_constraints
from ._greg import trim_weights
from ._margins import Margins
from ._rake import rake
from ._results import MarginCheck, WeightingResult
from ._survey_design import SurveyDesign, weighting_input

__all__ = ["trim"]

RULES = ("recalibrate", "additive")


def trim(
    sample: pd.DataFrame | SurveyDesign,
    margins: Margins | None = None,
    *,
    rule: str = "recalibrate",
    lower: float | None = None,
    upper: float | None = None,
    strict: bool = False,
    max_ratio: float | None = None,
    max_weight: float | None = None,
    min_weight: float = 0.0,
    weights=None,
    method: str = "raking",
    tol: float = 1e-8,
    max_rounds: int = 200,
) -> WeightingResult:
    """Trim extreme weights by one of two rules.

    ``rule="additive"`` is R survey's ``trimWeights(design, lower=, upper=, strict=)``:
    weights outside [``lower``, ``upper``] are clipped and the amount trimmed is
    shared out *equally* (additively) over the units that were inside; one pass
    (some of those may end outside the limits), or with ``strict=True`` repeated
    until every weight is inside. The weighted total is kept; margins are not
    re-met (no ``margins``). On a :class:`SurveyDesign` the design keeps its
    calibration records for the standard errors, as R's does.

    ``rule="recalibrate"`` (default, for backward compatibility): calibrate to
    ``margins``, cap the weights at ``max_weight`` (absolute) or ``max_ratio`` ×
    the mean calibrated weight (and ``min_weight``), re-calibrate from the capped
    weights, and repeat until every weight is within the caps (to ``tol``
    relative) *and* every margin is met to ``tol``; otherwise
    :class:`ConvergenceError` after ``max_rounds``. Caps that no weights can meet
    are found first by a linear programme (:class:`InfeasibleBoundsError` naming
    the conflicting cells). For a survey design use instead
    ``calibrate(design, margins, bounds=(0, cap), bounds_on="weights")``, which
    enforces the cap exactly in one calibration.
    """
    check_param("trim", "rule", rule, Options(RULES))
    if rule == "additive":
        return _trim_additive(sample, margins, lower=lower, upper=upper, strict=strict, weights=weights,
                              extra={"max_ratio": max_ratio, "max_weight": max_weight})
    if isinstance(sample, SurveyDesign):
        raise InputError("rule='recalibrate' of trim does not record a design step; on a SurveyDesign use "
                         "trim(design, rule='additive', upper=...) (R's trimWeights) or calibrate(design, margins, "
                         "bounds=(0, cap), bounds_on='weights')")
    if lower is not None or upper is not None or strict:
        raise InputError("`lower`, `upper` and `strict` of trim belong to rule='additive'; rule='recalibrate' "
                         "takes max_ratio / max_weight / min_weight")
    if margins is None:
        raise InputError("rule='recalibrate' of trim needs `margins` to re-calibrate to")
    func = "trim"
    if (max_ratio is None) == (max_weight is None):
        raise InputError(f"{func} needs exactly one of `max_ratio` or `max_weight`")
    positive = Interval("real", 0, None, closed="neither")
    check_params(func, {"method": Options(("raking", "linear")),
                        "max_ratio": [Interval("real", 1, None, closed="neither"), None],  # a cap above the mean
                        "max_weight": [positive, None], "min_weight": Interval("real", 0, None),
                        "tol": positive, "max_rounds": Interval("int", 1, None)},
                 {"method": method, "max_ratio": max_ratio, "max_weight": max_weight, "min_weight": min_weight,
                  "tol": tol, "max_rounds": max_rounds})
    enc = encode_sample(sample, margins, func=func)
    d = check_design_weights(weights, sample, func)
    check_cells(enc, design_totals(enc, d), func)
    cap = max_ratio * margins.total / len(sample) if max_ratio is not None else float(max_weight)
    if not min_weight < cap:  # a bound that depends on the other parameters
        raise InputError(f"`min_weight` of {func} must be below the cap {cap:g}; got {min_weight}")
    cells = collapse_cells(enc, d)
    n_units = np.bincount(cells.unit_cell, minlength=len(cells.design)).astype(float)
    conflicts = conflicting_constraints(cells, n_units * min_weight, n_units * cap)
    if conflicts:
        shown = "; ".join(f"'{m}' = {c!r} (off by {s:.2%})" for m, c, s in conflicts[:8])
        raise InfeasibleBoundsError(
            f"{func}: no weights in [{min_weight:g}, {cap:g}] meet every target. Conflicting margin cells: "
            f"{shown}. Raise the cap or collapse those categories",
            conflicting=[(m, c) for m, c, _ in conflicts],
        )
    current = d
    history = []
    for round_ in range(1, max_rounds + 1):
        fit = (
            rake(sample, margins, weights=current, tol=tol, on_nonconvergence="warn")
            if method == "raking"
            else calibrate_impl(sample, margins, method="linear", bounds=None, weights=current, tol=tol,
                                max_iter=100, on_nonconvergence="warn", label="calibrate (linear)")
        )
        w = fit.weights.to_numpy()
        excess = max(float(w.max()) / cap - 1.0, (min_weight - float(w.min())) / cap if min_weight > 0 else 0.0)
        history.append(max(excess, fit.max_margin_error))
        if excess <= tol and fit.max_margin_error <= tol:
            return WeightingResult(
                weights=fit.weights,
                design_weights=pd.Series(d, index=sample.index, name="design_weight"),
                converged=True,
                n_iter=round_,
                history=np.asarray(history),
                max_margin_error=fit.max_margin_error,
                method=f"trim ({method}, cap {cap:.6g})",
                tol=tol,
                margins=margins,
                margin_check=fit.margin_check,
                region=margins.name,
            )
        current = np.clip(w, min_weight, cap)
    raise ConvergenceError(
        f"{func} did not satisfy both the cap {cap:g} and the margins within {max_rounds} rounds: weights exceed "
        f"the cap by {excess:.3g} (relative), max margin error {fit.max_margin_error:.3g}. Raise `max_rounds` or "
        "the cap, or use calibrate(..., bounds=) which enforces bounds on g exactly",
        result=fit,
    )


def _trim_additive(sample, margins, *, lower, upper, strict, weights, extra) -> WeightingResult:
    func = "trim"
    given = [name for name, value in extra.items() if value is not None]
    if margins is not None or given:
        raise InputError(f"rule='additive' of {func} trims the weights themselves (R's trimWeights) without "
                         f"re-calibrating; drop {(['margins'] if margins is not None else []) + given}")
    check_param(func, "strict", strict, InstanceOf(bool, name="True or False"))
    limits = check_bounds(func, (lower, upper))
    if np.isinf(limits).all():
        raise InputError(f"rule='additive' of {func} needs `lower` and/or `upper`")
    frame, d_design, design = weighting_input(sample, weights, by=None, func=func)
    d = check_design_weights(weights, frame, func) if design is None else d_design
    w, rounds = trim_weights(d, *limits, strict=strict)
    inside = (d >= limits[0]) & (d <= limits[1])
    label = f"trim (additive, {'strict' if strict else 'one pass'})"
    result = WeightingResult(
        weights=pd.Series(w, index=frame.index, name="weight"),
        design_weights=pd.Series(d, index=frame.index, name="design_weight"),
        converged=True,
        n_iter=rounds,
        history=np.array([0.0]),
        max_margin_error=0.0,
        method=label,
        tol=0.0,
        margins=None,
        margin_check=MarginCheck(None, []),
        bounds=(*limits, "w"),
        notes=(f"{int((~inside).sum())} weight(s) outside [{limits[0]:g}, {limits[1]:g}] were trimmed and the "
               f"excess shared equally by the others in {rounds} pass(es); "
               f"{int(((w < limits[0]) | (w > limits[1])).sum())} weight(s) remain outside",),
    )
    if design is not None:
        result = replace(result, design=design.with_step(w, trimming_step(label, *limits, strict=strict)))
    return result
