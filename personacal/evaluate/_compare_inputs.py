"""Validate the inputs of :func:`personacal.evaluate.compare` and split them by persona tier.

Every check that concerns the comparison as a whole (which kind of truth,
which tiers, which versions can be bootstrapped, which weight diagnostics)
lives here; the per-version checks stay with ``election_errors`` and
``alignment``, which raise their own typed errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..calibrate._diagnostics import design_effect, kish_ess, weight_ratio
from ..errors import InputError, InvalidValueError, MismatchError
from ._composition import CompositionResult
from ._tidy import as_frame, per_unit_values, require_columns, require_complete, resolve_unit_weights

FUNC = "compare"
VERSIONS = ("raw", "calibrated")
#: The seed paper's persona tiers (arXiv 2503.16527), from census attributes only to LLM-written text.
PAPER_TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
DEFAULT_TIER_COLUMN = "tier"
#: Label of the single group when no tier column is used.
ALL = "all"
PERSONA, PARTY, SHARE = "persona_id", "party", "dem_two_party_share"
#: Party label given to options without a party (e.g. "Would not vote" of the simulate banks).
NO_PARTY = "none"
DIAGNOSTIC_COLUMNS = ("rows", "ess", "ess_ratio", "design_effect", "weight_ratio")


def as_table(obj, arg: str) -> pd.DataFrame:
    """A tidy frame from a DataFrame or a ``SimulationResult``."""
    if not isinstance(obj, pd.DataFrame) and callable(getattr(obj, "to_frame", None)) and hasattr(obj, "answers"):
        from ..simulate._result import SimulationResult

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
    unlisted = [t for t in seen if t not in order]
    if unlisted:
        raise MismatchError(
            f"column {column!r} of `raw`/`calibrated` ({FUNC}) has tier(s) {unlisted} that `tiers` does not "
            f"list ({order}); list every tier or filter the rows first"
        )
    absent = [t for t in order if t not in seen]
    if absent:
        raise MismatchError(f"`tiers` of {FUNC} lists tier(s) {absent} that neither `raw` nor `calibrated` has")
    return tuple(order)


def split_by_tier(frame: pd.DataFrame, column: str | None, tiers: tuple) -> dict:
    """``{tier: rows}`` (tiers with no rows left out); ``{ALL: frame}`` without tiers."""
    if not tiers:
        return {ALL: frame}
    return {t: part for t in tiers if len(part := frame[frame[column] == t])}


def select_question(frame: pd.DataFrame, question: str | None, arg: str) -> pd.DataFrame:
    """Keep one election question of persona answers that hold several (simulate output)."""
    if "question_id" not in frame.columns:
        if question is not None:
            raise InputError(f"`question` of {FUNC} needs a 'question_id' column in `{arg}`; it has none")
        return frame
    present = list(pd.unique(frame["question_id"]))
    if question is None:
        if len(present) > 1:
            raise InputError(
                f"`{arg}` of {FUNC} holds answers to {len(present)} questions {present[:6]}; pass "
                "question=<the election question_id> (e.g. 'election-2024')"
            )
        return frame
    if question not in present:
        raise MismatchError(f"`question` {question!r} of {FUNC} is not in column 'question_id' of `{arg}` ({present[:6]})")
    return frame[frame["question_id"] == question]


def label_partyless_options(frame: pd.DataFrame) -> pd.DataFrame:
    """Give options without a party (simulate's "Would not vote") the label ``NO_PARTY``.

    ``election_errors`` counts labels other than D/R only for the sum-to-1
    check, which is what such options are; an empty ``party`` on a row that
    is not a listed option (no ``option`` column) is left for it to reject.
    """
    if PARTY not in frame.columns or "option" not in frame.columns:
        return frame
    missing = frame[PARTY].isna() & frame["option"].notna()
    if not missing.any():
        return frame
    out = frame.copy()
    out[PARTY] = out[PARTY].astype(object).where(~missing, NO_PARTY)
    return out


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
        if not isinstance(value, CompositionResult):
            raise InputError(
                f"`composition['{key}']` of {FUNC} must be a CompositionResult (from composition_error); "
                f"got {type(value).__name__}"
            )
    return items


def _diagnostics_row(weights: np.ndarray) -> dict[str, float]:
    ess = kish_ess(weights)
    return {"rows": len(weights), "ess": ess, "ess_ratio": ess / len(weights),
            "design_effect": design_effect(weights), "weight_ratio": weight_ratio(weights)}


def diagnostics_from_weights(frame: pd.DataFrame, weights, *, region: str | None, tier: str) -> pd.DataFrame:
    """Per-region Kish diagnostics of the calibrated personas' weights (one row per persona)."""
    personas = pd.Index(pd.unique(frame[PERSONA]), name=PERSONA)
    w = resolve_unit_weights(frame, PERSONA, personas, weights, func=FUNC, arg="calibrated")
    regions = (np.full(len(personas), ALL, dtype=object) if region is None
               else per_unit_values(frame, PERSONA, region, personas, func=FUNC, arg="calibrated"))
    rows = []
    for r in pd.unique(regions):
        rows.append({"tier": tier, "region": r, **_diagnostics_row(w[regions == r])})
    return pd.DataFrame(rows)


def as_weight_diagnostics(obj, region_column: str) -> pd.DataFrame:
    """A diagnostics table (tier, region, rows, ess, ess_ratio, design_effect, weight_ratio).

    Accepts a ``RegionalResult`` or ``WeightingResult`` (from ``rake``,
    ``calibrate``, ``poststratify`` ...) or a DataFrame with a ``region`` (or
    ``region_column``) column, ``design_effect``, ``weight_ratio`` and either
    ``ess_ratio`` or ``ess`` and ``rows``; an optional ``tier`` column.
    """
    from ..calibrate._results import RegionalResult, WeightingResult

    if isinstance(obj, RegionalResult):
        table = obj.region_table().reset_index()
    elif isinstance(obj, WeightingResult):
        table = pd.DataFrame([{"region": obj.region or ALL, **_diagnostics_row(obj.weights.to_numpy(float))}])
    elif isinstance(obj, pd.DataFrame):
        table = as_frame(obj, func=FUNC, arg="weight_diagnostics").copy()
        if "region" not in table.columns and region_column in table.columns:
            table = table.rename(columns={region_column: "region"})
    else:
        raise InputError(
            f"`weight_diagnostics` of {FUNC} must be a RegionalResult, a WeightingResult or a DataFrame; "
            f"got {type(obj).__name__}"
        )
    if "ess_ratio" not in table.columns and {"ess", "rows"} <= set(table.columns):
        table["ess_ratio"] = table["ess"] / table["rows"]
    fmt = "region, design_effect, weight_ratio and ess_ratio (or ess and rows); optional tier"
    require_columns(table, ["region", "design_effect", "weight_ratio", "ess_ratio"], func=FUNC,
                    arg="weight_diagnostics", fmt=fmt)
    require_complete(table, ["region"], func=FUNC, arg="weight_diagnostics")
    if "tier" not in table.columns:
        table.insert(0, "tier", ALL)
    for column in DIAGNOSTIC_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
        try:
            table[column] = pd.to_numeric(table[column], errors="raise").astype(float)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"column '{column}' of `weight_diagnostics` ({FUNC}) must be numeric ({exc})") from exc
    return table[["tier", "region", *DIAGNOSTIC_COLUMNS]].reset_index(drop=True)
