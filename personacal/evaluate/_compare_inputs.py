"""The inputs and checks of :func:`compare`: answer tables, the kind of truth, tiers, composition, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from ..errors import InputError, MismatchError
from ._composition import CompositionResult
from ._elections import ElectionResult
from ._tidy import as_frame, require_complete

__all__ = ["FUNC", "VERSIONS", "PAPER_TIERS", "DEFAULT_TIER_COLUMN", "ALL", "PERSONA", "SHARE", "as_table",
           "detect_kind", "resolve_tiers", "split_by_tier", "as_composition", "reference_weighting", "headline_of",
           "check_same_units", "not_simulated_notes", "outside_interval_notes"]

FUNC = "compare"
VERSIONS = ("raw", "calibrated")
#: The seed paper's persona tiers (arXiv 2503.16527), from census attributes only to LLM-written text.
PAPER_TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
DEFAULT_TIER_COLUMN = "tier"
#: Label of the single group when no tier column is used.
ALL = "all"
PERSONA, SHARE = "persona_id", "dem_two_party_share"


def reference_weighting(truth: pd.DataFrame) -> bool | None:
    """Whether the reference distributions are survey-weighted: ``True``, ``False`` or ``None`` (not said).

    Read from a ``weighted`` column (every row must agree) or ``truth.attrs["weighted"]``
    (:func:`personacal.simulate.reference_distributions` sets both).
    """
    if "weighted" in truth.columns:
        values = set(truth["weighted"].dropna().astype(bool))
        if len(values) == 1:
            return values.pop()
        if len(values) > 1:
            raise InputError(f"column 'weighted' of `truth` ({FUNC}) mixes weighted and unweighted rows; "
                             "compare against one kind of reference")
    flag = truth.attrs.get("weighted")
    return None if flag is None else bool(flag)


def as_table(obj, arg: str) -> pd.DataFrame:
    """A tidy frame from a DataFrame or a ``SimulationResult``."""
    if not isinstance(obj, pd.DataFrame) and callable(getattr(obj, "to_frame", None)) and hasattr(obj, "answers"):
        from ..simulate import SimulationResult

        if isinstance(obj, SimulationResult):
            obj = obj.to_frame()
    return as_frame(obj, func=FUNC, arg=arg)


def detect_kind(truth: pd.DataFrame) -> str:
    """``"election"`` for per-state shares, ``"opinion"`` for reference answer distributions."""
    if SHARE in truth.columns:
        return "election"
    if {"question_id", "option", "share"} <= set(truth.columns):
        return "opinion"
    raise InputError(
        f"`truth` of {FUNC} must be election results (columns state, {SHARE}) or reference answer "
        f"distributions (columns question_id, option, share, position); it has {list(truth.columns)}"
    )


def resolve_tiers(frames: dict[str, pd.DataFrame], column: str | None, order: Sequence | None) -> tuple:
    """Tier labels in plot order, or ``()`` when no tier column is used."""
    if column is None:
        if order is not None:
            raise InputError(f"`tiers` of {FUNC} needs `tier_column`; got tier_column=None")
        return ()
    has = {v: column in f.columns for v, f in frames.items()}
    if not any(has.values()):
        if column != DEFAULT_TIER_COLUMN or order is not None:
            raise InputError(
                f"`tier_column` {column!r} of {FUNC} is not a column of `raw` or `calibrated`; "
                f"raw has {list(frames['raw'].columns)}. Pass the tier column's name or tier_column=None"
            )
        return ()
    if not all(has.values()):
        lacking = [v for v, ok in has.items() if not ok]
        raise MismatchError(
            f"`{lacking[0]}` of {FUNC} lacks the tier column {column!r} that the other table has; give it in "
            "both (the same personas' tiers) or pass tier_column=None"
        )
    for version, frame in frames.items():
        require_complete(frame, [column], func=FUNC, arg=version)
    seen = list(dict.fromkeys([*pd.unique(frames["raw"][column]), *pd.unique(frames["calibrated"][column])]))
    if order is None:
        if set(seen) <= set(PAPER_TIERS):
            return tuple(t for t in PAPER_TIERS if t in seen)
        return tuple(seen)
    order = list(order)
    if len(set(order)) != len(order):
        raise InputError(f"`tiers` of {FUNC} repeats a tier: {order}")
    unlisted, absent = [t for t in seen if t not in order], [t for t in order if t not in seen]
    if unlisted:
        raise MismatchError(
            f"column {column!r} of `raw`/`calibrated` ({FUNC}) has tier(s) {unlisted} that `tiers` does not "
            f"list ({order}); list every tier or filter the rows first"
        )
    if absent:
        raise MismatchError(f"`tiers` of {FUNC} lists tier(s) {absent} that neither `raw` nor `calibrated` has")
    return tuple(order)


def split_by_tier(frame: pd.DataFrame, column: str | None, tiers: tuple) -> dict:
    """``{tier: rows}`` (tiers with no rows left out); ``{ALL: frame}`` without tiers."""
    if not tiers:
        return {ALL: frame}
    return {t: part for t in tiers if len(part := frame[frame[column] == t])}


def as_composition(composition) -> dict[str, CompositionResult]:
    """``{"raw": ..., "calibrated": ...}`` from a mapping or a (raw, calibrated) pair."""
    if composition is None:
        return {}
    if isinstance(composition, Mapping):
        items = dict(composition)
    elif isinstance(composition, Sequence) and len(composition) == 2:
        items = {v: c for v, c in zip(VERSIONS, composition) if c is not None}
    else:
        raise InputError(
            f"`composition` of {FUNC} must be a mapping {{'raw': CompositionResult, 'calibrated': ...}} or a "
            f"(raw, calibrated) pair; got {type(composition).__name__}"
        )
    for key, value in items.items():
        if key not in VERSIONS:
            raise InputError(f"`composition` of {FUNC} has key {key!r}; use 'raw' and/or 'calibrated'")
        check_param(FUNC, f"composition['{key}']", value, InstanceOf(CompositionResult, name="a CompositionResult"))
    return items


def headline_of(result) -> pd.DataFrame:
    if isinstance(result, ElectionResult):
        return result.headline()
    low, high = result.confidence_interval or (np.nan, np.nan)
    return pd.DataFrame({"statistic": ["alignment", "mean_wd"],
                         "estimate": [result.representativeness, result.mean_wd],
                         "ci_low": [low, 1 - high], "ci_high": [high, 1 - low]})


def check_same_units(results: dict, kind: str) -> None:
    """Raw and calibrated must be scored on the same states (questions), or their numbers do not compare."""
    for tier in {t for t, _ in results}:
        pair = [results.get((tier, v)) for v in VERSIONS]
        if None in pair:
            continue
        if kind == "election":
            units = [set(r.per_state["state"]) for r in pair]
            what = "states"
        else:
            units = [set(r.per_question["question_id"]) for r in pair]
            what = "questions"
        if units[0] != units[1]:
            raise MismatchError(
                f"`raw` and `calibrated` of {FUNC} cover different {what}{'' if tier == ALL else f' in tier {tier!r}'}"
                f": only raw: {sorted(map(str, units[0] - units[1]))[:8]}; only calibrated: "
                f"{sorted(map(str, units[1] - units[0]))[:8]}. Simulate the same {what} or filter both tables"
            )


def outside_interval_notes(results: dict, method: str) -> list[str]:
    """Say where an interval excludes its own estimate, so nobody reads it as a plain CI."""
    where = []
    for (tier, version), r in results.items():
        head = headline_of(r)
        outside = (head["estimate"] < head["ci_low"]) | (head["estimate"] > head["ci_high"])
        for stat in head.loc[outside, "statistic"]:
            where.append(f"{stat} ({version}{'' if tier == ALL else f', {tier}'})")
    if not where:
        return []
    listed = ", ".join(where[:8]) + (" ..." if len(where) > 8 else "")
    return [(f"The estimate lies outside its {method} interval for {len(where)} number(s): {listed}. "
             "Absolute-error statistics (MAE, RMSE, alignment) of resampled personas carry their sampling noise "
             "as extra error, so their bootstrap distribution sits on the worse side of the estimate"
             + ("; read percentile intervals as the spread under resampling, or use interval_method='bca'."
                if method == "percentile" else "; the interval corrects for that bias, which can move it past "
                "the estimate."))]


def not_simulated_notes(results: dict) -> list[str]:
    missing: dict[tuple, list[str]] = {}
    for (tier, version), r in results.items():
        if isinstance(r, ElectionResult) and r.not_simulated:
            missing.setdefault(r.not_simulated, []).append(version if tier == ALL else f"{version} [{tier}]")
    return [f"{len(states)} state(s) of the truth were not simulated in {', '.join(where)} and are left out: "
            f"{list(states)[:10]}" for states, where in missing.items()]
