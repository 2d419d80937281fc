"""Raw vs calibrated: the same accuracy metrics on both persona populations, tier by tier.

``raw`` and ``calibrated`` are the simulated answers of the raw and of the calibrated
persona pool (or the same answers, with ``weights`` naming the calibrated side's
weights). A persona-tier column (``tier_column``; the seed paper's tiers are Meta,
Objective Tabular, Subjective Tabular, Descriptive) splits every metric by tier.

Elections (``truth``: ``state``, ``dem_two_party_share``, e.g.
``personacal.data.election_results(2024)``): the answers take any format of
:func:`election_errors` (``simulate`` output works with ``state_col="region"``, and
``question=`` when it holds several questions); ``state_col`` names the state column
of all three tables. Opinions (``truth``: ``question_id``, ``option``, ``share``,
``position``): any format of :func:`alignment`. Only persona-level tables get
bootstrap intervals (``n_boot``); the other side's numbers are reported without
one, and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Options, check_param, check_params, renamed_parameters
from ..errors import InputError, MismatchError, PersonacalError
from ._alignment import AlignmentResult, alignment
from ._compat import renamed_fields
from ._composition import CompositionResult
from ._elections import ElectionResult, election_errors, one_election_question
from ._tidy import LEVEL, N_BOOT, as_frame, require_complete
from ._weights import diagnostics_table, unit_weight_table

__all__ = ["Comparison", "compare"]

FUNC = "compare"
VERSIONS = ("raw", "calibrated")
#: The seed paper's persona tiers (arXiv 2503.16527), from census attributes only to LLM-written text.
PAPER_TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
DEFAULT_TIER_COLUMN = "tier"
#: Label of the single group when no tier column is used.
ALL = "all"
PERSONA, SHARE = "persona_id", "dem_two_party_share"
#: How to tell whether the calibrated number is better than the raw one.
_BETTER = {"mae": "lower", "rmse": "lower", "mean_wd": "lower", "mean_signed_error": "closer to 0",
           "winner_accuracy": "higher", "alignment": "higher"}
_LEVELS = ("overall", "change", "state", "question", "group", "composition", "weights")


@renamed_fields(ci="level")
@dataclass(frozen=True, eq=False)
class Comparison:
    """Accuracy of the raw and the calibrated persona population against the same truth.

    ``results[(tier, version)]`` is the :class:`ElectionResult` or
    :class:`AlignmentResult` of one tier (``"all"`` without tiers) and
    version (``"raw"``/``"calibrated"``); a tier that one version lacks has
    no entry. ``composition`` maps versions to :class:`CompositionResult`;
    ``weight_diagnostics`` has one row per (tier, region): rows, ess,
    ess_ratio (ESS per unit with weight ≠ 0, = 1 / design_effect), design_effect, weight_ratio (max/min weight).
    ``kind="composition"`` compares persona pools only (no ``results``).
    ``level`` is the confidence level of the bootstrap intervals (``n_boot``
    replicates; 0: none).
    """

    kind: str
    tiers: tuple
    results: Mapping[tuple, ElectionResult | AlignmentResult]
    composition: Mapping[str, CompositionResult]
    weight_diagnostics: pd.DataFrame | None
    truth_label: str
    n_boot: int
    level: float = 0.95
    notes: tuple[str, ...] = ()

    @property
    def groups(self) -> tuple:
        """Tier labels, or ``("all",)`` without tiers."""
        return self.tiers or (ALL,)

    def result(self, version: str, tier: str | None = None) -> ElectionResult | AlignmentResult:
        """The result of one version (and tier)."""
        check_param("Comparison.result", "version", version, Options(VERSIONS))
        key = (ALL if tier is None and not self.tiers else tier, version)
        if key not in self.results:
            raise InputError(f"Comparison.result has no {version} result for tier {tier!r}; tiers: {list(self.groups)}")
        return self.results[key]

    # ------------------------------------------------------------------ tables
    def headline(self) -> pd.DataFrame:
        """Long table: tier, version, statistic, estimate, ci_low, ci_high."""
        frames = []
        for (tier, version), r in self.results.items():
            frames.append(headline_of(r).assign(tier=tier, version=version))
        out = pd.concat(frames, ignore_index=True)[["tier", "version", "statistic", "estimate", "ci_low", "ci_high"]]
        order = {t: i for i, t in enumerate(self.groups)}
        out["_t"], out["_v"] = out["tier"].map(order), out["version"].map(VERSIONS.index)
        return out.sort_values(["_t", "_v"], kind="stable").drop(columns=["_t", "_v"]).reset_index(drop=True)

    def changes(self) -> pd.DataFrame:
        """Wide table per (tier, statistic): raw and calibrated with intervals, change, improved."""
        head = self.headline()
        rows = []
        for tier in self.groups:
            for stat in pd.unique(head["statistic"]):
                row = {"tier": tier, "statistic": stat}
                for version in VERSIONS:
                    hit = head[(head["tier"] == tier) & (head["version"] == version) & (head["statistic"] == stat)]
                    vals = hit.iloc[0] if len(hit) else pd.Series({"estimate": np.nan, "ci_low": np.nan,
                                                                    "ci_high": np.nan})
                    row |= {version: vals["estimate"], f"{version}_ci_low": vals["ci_low"],
                            f"{version}_ci_high": vals["ci_high"]}
                row["change"] = row["calibrated"] - row["raw"]
                row["better_if"] = _BETTER.get(stat, "")
                row["improved"] = _improved(stat, row["raw"], row["calibrated"])
                rows.append(row)
        out = pd.DataFrame(rows)
        out["improved"] = out["improved"].astype("boolean")
        return out

    def to_frame(self, level: str = "overall") -> pd.DataFrame:
        """Tidy results.

        ``"overall"``: :meth:`headline`; ``"change"``: :meth:`changes`;
        ``"state"`` (elections) / ``"question"`` and ``"group"`` (opinions):
        the per-state / per-question / per-group tables of every tier and
        version; ``"composition"``: TVD per margin and version;
        ``"weights"``: the weight diagnostics.
        """
        check_param("Comparison.to_frame", "level", level, Options(_LEVELS))
        if level == "overall":
            return self.headline()
        if level == "change":
            return self.changes()
        if level in ("state", "question", "group"):
            need = "election" if level == "state" else "opinion"
            if self.kind != need:
                raise InputError(f"`level` {level!r} of Comparison.to_frame needs an {need} comparison; "
                                 f"this one is {self.kind}")
            frames = [_detail(r, level).assign(tier=t, version=v) for (t, v), r in self.results.items()]
            out = pd.concat(frames, ignore_index=True)
            return out[["tier", "version", *[c for c in out.columns if c not in ("tier", "version")]]]
        if level == "composition":
            if not self.composition:
                raise InputError("Comparison.to_frame('composition'): no composition results were given to compare")
            return pd.concat([c.per_margin.assign(version=v) for v, c in self.composition.items()],
                             ignore_index=True).pipe(lambda f: f[["version", *f.columns[:-1]]])
        if self.weight_diagnostics is None:  # level == "weights"
            raise InputError("Comparison.to_frame('weights'): no weight diagnostics (pass `weights` or "
                             "`weight_diagnostics` to compare)")
        return self.weight_diagnostics.copy()

    def summary(self) -> Summary:
        """Headline numbers raw -> calibrated, the change table, composition and weight diagnostics."""
        from ._report import comparison_summary

        return comparison_summary(self)

    # ------------------------------------------------------------------ figures
    def skipped_figures(self) -> dict[str, str]:
        """``{figure: why it cannot be drawn}`` for the figures this comparison lacks data for."""
        from ._plots import skipped_figures

        return skipped_figures(self)

    def plot(self, which: str | None = None):
        """Matplotlib figures: ``{name: Figure}`` of every figure available, or one Figure by name.

        Names: ``states`` (simulated vs actual share per state), ``alignment_by_tier``,
        ``alignment`` (before/after), ``lean``, ``questions`` (opinion alignment
        per question), ``composition`` (TVD per margin), ``weights`` (ESS/n,
        design effect, weight ratio per region). See :meth:`skipped_figures`
        for the ones this comparison cannot draw.
        """
        from ._plots import plot

        return plot(self, which)

    def __repr__(self) -> str:
        return one_line_repr(self, kind=self.kind, tiers=len(self.tiers), results=len(self.results),
                             composition=len(self.composition), n_boot=self.n_boot, level=self.level)

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def headline_of(result) -> pd.DataFrame:
    if isinstance(result, ElectionResult):
        return result.headline()
    low, high = result.confidence_interval or (np.nan, np.nan)
    return pd.DataFrame({"statistic": ["alignment", "mean_wd"],
                         "estimate": [result.representativeness, result.mean_wd],
                         "ci_low": [low, 1 - high], "ci_high": [high, 1 - low]})


def _detail(result, level: str) -> pd.DataFrame:
    if level == "state":
        return result.per_state.copy()
    return result.to_frame(level)


def _improved(stat: str, raw: float, calibrated: float):
    if not (np.isfinite(raw) and np.isfinite(calibrated)):
        return pd.NA
    rule = _BETTER.get(stat)
    if rule == "lower":
        return calibrated < raw
    if rule == "higher":
        return calibrated > raw
    if rule == "closer to 0":
        return abs(calibrated) < abs(raw)
    return pd.NA


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


@renamed_parameters(by="group", ci="level")
def compare(
    raw,
    calibrated,
    truth: pd.DataFrame,
    *,
    tier_column: str | None = DEFAULT_TIER_COLUMN,
    tiers: Sequence | None = None,
    state_col: str = "state",
    question: str | None = None,
    group: str | list[str] | None = None,
    weights: str | pd.Series | None = None,
    raw_weights: str | pd.Series | None = None,
    dem: str = "D",
    rep: str = "R",
    missing_states: str = "report",
    n_boot: int = 0,
    level: float = 0.95,
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
    group, strata
        Opinions: group columns present in answers and reference (``by``
        before issue 9), and the bootstrap strata column (see :func:`alignment`).
    weights, raw_weights
        Persona weights of ``calibrated`` / ``raw`` (column name or Series by
        ``persona_id``). Calibrated weights also give per-region weight
        diagnostics when ``weight_diagnostics`` is not passed.
    n_boot, level, random_state, progress
        Persona bootstrap of every persona-level table at confidence ``level``
        (``ci`` before issue 9; see :func:`bootstrap`).
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
    frames = {"raw": _as_table(raw, "raw"), "calibrated": _as_table(calibrated, "calibrated")}
    truth = _as_table(truth, "truth")
    kind = _detect_kind(truth)
    check_params(FUNC, {"n_boot": N_BOOT, "level": LEVEL}, {"n_boot": n_boot, "level": level})
    persona_level = {v: PERSONA in f.columns for v, f in frames.items()}
    if n_boot and not any(persona_level.values()):
        raise InputError(
            f"`n_boot` of {FUNC} needs persona-level answers (a '{PERSONA}' column) in `raw` or `calibrated`; "
            "aggregated shares cannot be resampled"
        )
    if kind == "opinion" and question is not None:
        raise InputError(f"`question` of {FUNC} selects an election question; this truth is an opinion reference")
    if kind == "election" and (group is not None or strata is not None):
        raise InputError(f"`group` and `strata` of {FUNC} apply to opinion comparisons; this truth is election results")

    own_notes: list[str] = []
    if kind == "election":
        for version in VERSIONS:
            frames[version], labelled = one_election_question(frames[version], question, func=FUNC, arg=version)
            if labelled:
                own_notes.append(f"{version}: options without a party (e.g. 'Would not vote') count as neither "
                                 "D nor R; they only enter the sum-to-1 check.")
    tier_labels = _resolve_tiers(frames, tier_column, tiers)
    parts = {v: _split_by_tier(frames[v], tier_column, tier_labels) for v in VERSIONS}
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
            common = {"weights": version_weights[version], "n_boot": boot, "level": level, "progress": progress,
                      "random_state": derive_seed(rng) if boot else None}
            try:
                if kind == "election":
                    results[(tier, version)] = election_errors(part, truth, state_col=state_col, dem=dem, rep=rep,
                                                               missing_states=missing_states, **common)
                else:
                    results[(tier, version)] = alignment(part, truth, group=group, strata=strata, **common)
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
    own_notes += _not_simulated_notes(results) + _outside_interval_notes(results)

    diagnostics = None
    if weight_diagnostics is not None:
        diagnostics = diagnostics_table(weight_diagnostics, state_col, pooled=ALL, func=FUNC)
    elif weights is not None and persona_level["calibrated"]:
        region = state_col if state_col in frames["calibrated"].columns else None
        diagnostics = pd.concat(
            [unit_weight_table(part, weights, unit=PERSONA, region=region, pooled=ALL, func=FUNC,
                               arg="calibrated").assign(tier=tier) for tier, part in parts["calibrated"].items()],
            ignore_index=True)
        diagnostics = diagnostics[["tier", *diagnostics.columns[:-1]]]
    return Comparison(
        kind=kind,
        tiers=tier_labels,
        results=results,
        composition=_as_composition(composition),
        weight_diagnostics=diagnostics,
        truth_label=truth_label or ("actual Democratic two-party share per state" if kind == "election"
                                    else "reference answer distributions"),
        n_boot=int(n_boot),
        level=float(level),
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


def _as_table(obj, arg: str) -> pd.DataFrame:
    """A tidy frame from a DataFrame or a ``SimulationResult``."""
    if not isinstance(obj, pd.DataFrame) and callable(getattr(obj, "to_frame", None)) and hasattr(obj, "answers"):
        from ..simulate import SimulationResult

        if isinstance(obj, SimulationResult):
            obj = obj.to_frame()
    return as_frame(obj, func=FUNC, arg=arg)


def _detect_kind(truth: pd.DataFrame) -> str:
    """``"election"`` for per-state shares, ``"opinion"`` for reference answer distributions."""
    if SHARE in truth.columns:
        return "election"
    if {"question_id", "option", "share"} <= set(truth.columns):
        return "opinion"
    raise InputError(
        f"`truth` of {FUNC} must be election results (columns state, {SHARE}) or reference answer "
        f"distributions (columns question_id, option, share, position); it has {list(truth.columns)}"
    )


def _resolve_tiers(frames: dict[str, pd.DataFrame], column: str | None, order: Sequence | None) -> tuple:
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


def _split_by_tier(frame: pd.DataFrame, column: str | None, tiers: tuple) -> dict:
    """``{tier: rows}`` (tiers with no rows left out); ``{ALL: frame}`` without tiers."""
    if not tiers:
        return {ALL: frame}
    return {t: part for t in tiers if len(part := frame[frame[column] == t])}


def _as_composition(composition) -> dict[str, CompositionResult]:
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
