"""Raw vs calibrated: the same accuracy metrics on both persona populations, tier by tier.

Tidy input formats
------------------
``raw`` and ``calibrated`` are the simulated answers of the raw persona pool
and of the calibrated one (or the same answers, with ``weights`` naming the
calibration weights of the calibrated side). Either may carry a persona-tier
column (``tier_column``, default ``"tier"``; the seed paper's tiers are Meta,
Objective Tabular, Subjective Tabular, Descriptive), which splits every
metric by tier.

Elections (``truth`` has ``state`` and ``dem_two_party_share``, e.g.
``personacal.data.election_results(2024)``): ``raw``/``calibrated`` in any
format of :func:`election_errors` -- per-state shares (``state``,
``dem_two_party_share``), per-state vote distributions (``state``,
``party``, ``probability``) or per-persona vote distributions
(``persona_id``, ``state``, ``party``, ``probability``; ``simulate`` output
with its ``region`` column works with ``state_col="region"`` and
``question=`` when it holds several questions). ``state_col`` names the
state column of all three tables.

Opinions (``truth`` has ``question_id``, ``option``, ``share``, ``position``:
reference distributions): ``raw``/``calibrated`` in any format of
:func:`alignment`.

Only persona-level tables get bootstrap intervals (``n_boot``); the other
side's numbers are then reported without an interval and a note says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from ..errors import InputError, MismatchError, PersonacalError
from ._alignment import alignment
from ._compare_inputs import (
    ALL,
    DEFAULT_TIER_COLUMN,
    FUNC,
    PERSONA,
    VERSIONS,
    as_composition,
    as_table,
    as_weight_diagnostics,
    detect_kind,
    diagnostics_from_weights,
    label_partyless_options,
    resolve_tiers,
    select_question,
    split_by_tier,
)
from ._comparison import FIGURES, Comparison, headline_of
from ._elections import ElectionResult, election_errors

__all__ = ["FIGURES", "Comparison", "compare"]


def _check_n_boot(n_boot) -> int:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise InputError(f"`n_boot` of {FUNC} must be an int >= 0; got {n_boot!r}")
    return int(n_boot)


def _check_same_units(results: dict, kind: str) -> None:
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


def compare(
    raw,
    calibrated,
    truth: pd.DataFrame,
    *,
    tier_column: str | None = DEFAULT_TIER_COLUMN,
    tiers: Sequence | None = None,
    state_col: str = "state",
    question: str | None = None,
    by: str | list[str] | None = None,
    weights: str | pd.Series | None = None,
    raw_weights: str | pd.Series | None = None,
    dem: str = "D",
    rep: str = "R",
    missing_states: str = "report",
    n_boot: int = 0,
    ci: float = 0.95,
    strata: str | None = None,
    random_state: RandomState = None,
    composition=None,
    weight_diagnostics=None,
    truth_label: str | None = None,
    notes: Sequence[str] = (),
    progress: bool | None = None,
) -> Comparison:
    """Score raw and calibrated simulated answers against the same truth, per persona tier.

    Parameters
    ----------
    raw, calibrated
        Tidy answer tables (or ``SimulationResult``); see the module docstring.
    truth
        Actual election results (``state_col``, ``dem_two_party_share``) or
        reference answer distributions (``question_id``, ``option``,
        ``share``, ``position``); which of the two decides the comparison.
    tier_column, tiers
        Persona-tier column of ``raw`` and ``calibrated`` (the default
        ``"tier"`` is used only when present; any other name must exist), and
        optionally the tier order (default: the seed paper's order for its
        tier names, else order of appearance).
    state_col, question, dem, rep, missing_states
        Elections: state column of all three tables, the ``question_id`` to
        keep when the answers hold several, the major-party labels, and what
        to do with states of ``truth`` that were not simulated (see
        :func:`election_errors`). Options without a party (``simulate``'s
        "Would not vote") count as neither party.
    by, strata
        Opinions: group columns present in answers and reference, and the
        bootstrap strata column (see :func:`alignment`).
    weights, raw_weights
        Persona weights of ``calibrated`` / ``raw`` (column name or Series by
        ``persona_id``). Calibrated weights also give per-region weight
        diagnostics when ``weight_diagnostics`` is not passed.
    n_boot, ci, random_state, progress
        Persona bootstrap of every persona-level table (see :func:`bootstrap`).
    composition
        Persona-pool composition: ``(raw, calibrated)`` or a mapping of
        :class:`CompositionResult` (from :func:`composition_error`).
    weight_diagnostics
        ``RegionalResult``, ``WeightingResult`` or a DataFrame (region,
        design_effect, weight_ratio, ess_ratio or ess and rows; optional tier).
    truth_label, notes
        How the report names the truth, and extra notes to carry (e.g. which
        steps were skipped and why).
    """
    frames = {"raw": as_table(raw, "raw"), "calibrated": as_table(calibrated, "calibrated")}
    truth = as_table(truth, "truth")
    kind = detect_kind(truth)
    n_boot = _check_n_boot(n_boot)
    if not (isinstance(ci, float | int) and 0 < ci < 1):
        raise InputError(f"`ci` of {FUNC} must be a confidence level strictly between 0 and 1; got {ci!r}")
    persona_level = {v: PERSONA in f.columns for v, f in frames.items()}
    if n_boot and not any(persona_level.values()):
        raise InputError(
            f"`n_boot` of {FUNC} needs persona-level answers (a '{PERSONA}' column) in `raw` or `calibrated`; "
            "aggregated shares cannot be resampled"
        )
    if kind == "opinion" and question is not None:
        raise InputError(f"`question` of {FUNC} selects an election question; this truth is an opinion reference")
    if kind == "election" and (by is not None or strata is not None):
        raise InputError(f"`by` and `strata` of {FUNC} apply to opinion comparisons; this truth is election results")

    own_notes: list[str] = []
    if kind == "election":
        for version in VERSIONS:
            frame = select_question(frames[version], question, version)
            labelled = label_partyless_options(frame)
            if labelled is not frame:
                own_notes.append(f"{version}: options without a party (e.g. 'Would not vote') count as neither "
                                 "D nor R; they only enter the sum-to-1 check.")
            frames[version] = labelled
    tier_labels = resolve_tiers(frames, tier_column, tiers)
    parts = {v: split_by_tier(frames[v], tier_column, tier_labels) for v in VERSIONS}
    rng = check_random_state(random_state, func=FUNC) if n_boot else None

    results: dict[tuple, object] = {}
    version_weights = {"raw": raw_weights, "calibrated": weights}
    for tier in tier_labels or (ALL,):
        for version in VERSIONS:
            part = parts[version].get(tier)
            if part is None:
                own_notes.append(f"tier {tier!r} has no {version} rows, so it has no {version} numbers.")
                continue
            boot = n_boot if persona_level[version] else 0
            common = {"weights": version_weights[version], "n_boot": boot, "ci": ci, "progress": progress,
                      "random_state": derive_seed(rng) if boot else None}
            try:
                if kind == "election":
                    results[(tier, version)] = election_errors(part, truth, state_col=state_col, dem=dem, rep=rep,
                                                               missing_states=missing_states, **common)
                else:
                    results[(tier, version)] = alignment(part, truth, by=by, strata=strata, **common)
            except PersonacalError as exc:
                # Keep the error's type and code; say which table (and tier) it came from.
                where = f"`{version}`" + ("" if tier == ALL else f" (tier {tier!r})")
                exc.args = (f"{where} of {FUNC}: {exc.args[0] if exc.args else exc}", *exc.args[1:])
                raise
    for version in VERSIONS:
        if n_boot and not persona_level[version]:
            own_notes.append(f"{version}: aggregated answers were given (no '{PERSONA}' column), so its numbers "
                             "have no bootstrap intervals.")
    _check_same_units(results, kind)
    own_notes += _not_simulated_notes(results)
    own_notes += _outside_interval_notes(results)

    diagnostics = None
    if weight_diagnostics is not None:
        diagnostics = as_weight_diagnostics(weight_diagnostics, state_col)
    elif weights is not None and persona_level["calibrated"]:
        region = state_col if state_col in frames["calibrated"].columns else None
        diagnostics = pd.concat(
            [diagnostics_from_weights(part, weights, region=region, tier=tier)
             for tier, part in parts["calibrated"].items()], ignore_index=True)
    return Comparison(
        kind=kind,
        tiers=tier_labels,
        results=results,
        composition=as_composition(composition),
        weight_diagnostics=diagnostics,
        truth_label=truth_label or ("actual Democratic two-party share per state" if kind == "election"
                                    else "reference answer distributions"),
        n_boot=n_boot,
        ci=float(ci),
        notes=(*own_notes, *map(str, notes)),
    )


def _outside_interval_notes(results: dict) -> list[str]:
    """Say where a percentile interval excludes its own estimate, so nobody reads it as a plain CI."""
    where = []
    for (tier, version), r in results.items():
        head = headline_of(r)
        outside = (head["estimate"] < head["ci_low"]) | (head["estimate"] > head["ci_high"])
        for stat in head.loc[outside, "statistic"]:
            where.append(f"{stat} ({version}{'' if tier == ALL else f', {tier}'})")
    if not where:
        return []
    listed = ", ".join(where[:8]) + (" ..." if len(where) > 8 else "")
    return [(f"The estimate lies outside its percentile interval for {len(where)} number(s): {listed}. "
             "Absolute-error statistics (MAE, RMSE, alignment) of resampled personas carry their sampling noise "
             "as extra error, so their bootstrap distribution sits on the worse side of the estimate; read such "
             "intervals as the spread of the statistic under resampling.")]


def _not_simulated_notes(results: dict) -> list[str]:
    missing: dict[tuple, list[str]] = {}
    for (tier, version), r in results.items():
        if isinstance(r, ElectionResult) and r.not_simulated:
            missing.setdefault(r.not_simulated, []).append(version if tier == ALL else f"{version} [{tier}]")
    return [f"{len(states)} state(s) of the truth were not simulated in {', '.join(where)} and are left out: "
            f"{list(states)[:10]}" for states, where in missing.items()]
