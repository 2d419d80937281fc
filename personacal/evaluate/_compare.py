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
``position``): any format of :func:`alignment`.

The verdict is paired: raw and calibrated persona-level answers are resampled with the
SAME persona indices (:mod:`._paired`), so every headline statistic's change
(calibrated - raw) gets its own interval, and ``improved`` is ``True`` only when that
interval excludes 0 on the better side (:mod:`._verdict`). Aggregated tables cannot be
resampled: their numbers carry no interval and nothing is called improved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._summary import Summary, one_line_repr
from .._validation import Interval, Options, check_param, check_params, renamed_parameters
from ..errors import InputError, PersonacalError
from ._alignment import AlignmentResult, alignment
from ._bootstrap import METHODS as INTERVAL_METHODS
from ._compare_inputs import (
    ALL,
    DEFAULT_TIER_COLUMN,
    FUNC,
    PAPER_TIERS,
    PERSONA,
    VERSIONS,
    as_composition,
    as_table,
    check_same_units,
    detect_kind,
    headline_of,
    not_simulated_notes,
    outside_interval_notes,
    reference_weighting,
    resolve_tiers,
    split_by_tier,
)
from ._compat import renamed_fields
from ._composition import CompositionResult
from ._elections import ElectionResult, election_errors, one_election_question
from ._paired import (
    PAIRINGS,
    PairedBootstrap,
    attach,
    change_frame,
    paired_bootstrap,
    recalibration,
    single_bootstrap,
    unit_statistic,
)
from ._tidy import LEVEL
from ._verdict import BETTER, CLOSER_TO_ZERO, decide, improved_value
from ._weights import diagnostics_table, unit_weight_table

__all__ = ["Comparison", "compare", "DEFAULT_N_BOOT", "DEFAULT_INTERVAL_METHOD", "PAPER_TIERS", "ALL", "VERSIONS"]

#: Replicates of the paired bootstrap when ``n_boot`` is not given and the answers are persona level.
DEFAULT_N_BOOT = 1000
#: Chosen by the coverage simulation in benchmarks/paired_verdict.py (results: benchmarks/results/paired_verdict.md).
DEFAULT_INTERVAL_METHOD = "bca"
_LEVELS = ("overall", "change", "state", "question", "group", "composition", "weights")
_CHANGE_COLUMNS = ["change", "change_ci_low", "change_ci_high", "abs_change", "abs_change_ci_low",
                   "abs_change_ci_high"]


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
    replicates; 0: none) and ``interval_method`` how they are read off the
    replicates ("percentile", "basic" or "bca"). ``paired[tier]`` is the
    :class:`PairedBootstrap` of a tier whose raw and calibrated answers were both
    persona level: it gives the change its interval. ``reference_weighted`` says
    whether the truth is survey-weighted (``None``: not said; election results are counts).
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
    interval_method: str = DEFAULT_INTERVAL_METHOD
    paired: Mapping[str, PairedBootstrap] = field(default_factory=dict)
    reference_weighted: bool | None = None

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
        """Wide table per (tier, statistic): raw and calibrated, the change, and the verdict.

        Columns: tier, statistic, raw, raw_ci_low, raw_ci_high, calibrated (and its
        interval), change (calibrated - raw) with change_ci_low / change_ci_high from the
        paired bootstrap, abs_change (|calibrated| - |raw|, for statistics better closer to
        0) with its interval, better_if, improved (``True`` / ``False`` / ``"no detectable
        change"``: see :mod:`personacal.evaluate._verdict`) and verdict (the same in words).
        """
        head = self.headline()
        rows = []
        for tier in self.groups:
            paired = self.paired.get(tier)
            extra = change_frame(paired).set_index("statistic") if paired is not None else None
            for stat in pd.unique(head["statistic"]):
                row = {"tier": tier, "statistic": stat}
                for version in VERSIONS:
                    hit = head[(head["tier"] == tier) & (head["version"] == version) & (head["statistic"] == stat)]
                    vals = hit.iloc[0] if len(hit) else pd.Series({"estimate": np.nan, "ci_low": np.nan,
                                                                    "ci_high": np.nan})
                    row |= {version: vals["estimate"], f"{version}_ci_low": vals["ci_low"],
                            f"{version}_ci_high": vals["ci_high"]}
                row |= dict.fromkeys(_CHANGE_COLUMNS, np.nan)
                row["change"] = row["calibrated"] - row["raw"]
                if stat in CLOSER_TO_ZERO:
                    row["abs_change"] = abs(row["calibrated"]) - abs(row["raw"])
                if extra is not None and stat in extra.index:
                    row |= {k: v for k, v in extra.loc[stat].items() if k in _CHANGE_COLUMNS and pd.notna(v)}
                rule = BETTER.get(stat, "")
                tested = "abs_change" if stat in CLOSER_TO_ZERO else "change"
                verdict = decide(rule, row[f"{tested}_ci_low"], row[f"{tested}_ci_high"])
                row |= {"better_if": rule, "improved": improved_value(verdict), "verdict": verdict.value}
                rows.append(row)
        out = pd.DataFrame(rows)
        out["improved"] = out["improved"].astype(object)
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

    def verdicts(self) -> pd.DataFrame:
        """Per (tier, statistic): the verdict and the interval of the change it rests on."""
        ch = self.changes()
        return ch[["tier", "statistic", "raw", "calibrated", "change", "change_ci_low", "change_ci_high",
                   "abs_change", "abs_change_ci_low", "abs_change_ci_high", "better_if", "improved", "verdict"]]

    def __repr__(self) -> str:
        improved = 0
        if self.kind != "composition":
            improved = int(sum(v is True for v in self.changes()["improved"]))
        return one_line_repr(self, kind=self.kind, tiers=len(self.tiers), results=len(self.results),
                             composition=len(self.composition), n_boot=self.n_boot, level=self.level,
                             interval_method=self.interval_method, improved=improved)

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _detail(result, level: str) -> pd.DataFrame:
    if level == "state":
        return result.per_state.copy()
    return result.to_frame(level)


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
    n_boot: int | None = None,
    level: float = 0.95,
    interval_method: str = DEFAULT_INTERVAL_METHOD,
    strata: str | None = None,
    random_state: RandomState = None,
    composition=None,
    weight_diagnostics=None,
    truth_label: str | None = None,
    notes: Sequence[str] = (),
    progress: bool | None = None,
    reweight=None,
) -> Comparison:
    """Score raw and calibrated simulated answers against the same truth, per persona tier, with a paired verdict.

    Parameters
    ----------
    raw, calibrated
        Tidy answer tables (or ``SimulationResult``); see the module docstring.
    truth
        Actual election results (``state_col``, ``dem_two_party_share``) or
        reference answer distributions (``question_id``, ``option``,
        ``share``, ``position``); which of the two decides the comparison. A
        ``weighted`` column (or ``truth.attrs["weighted"]``) says whether the
        reference is survey-weighted; unweighted references are labelled so.
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
    n_boot, level, interval_method, random_state, progress
        Persona bootstrap at confidence ``level`` (``ci`` before issue 9). ``n_boot``
        defaults to 1,000 replicates when the answers are persona level (0 otherwise;
        0 turns it off, and then nothing is called improved). Raw and calibrated of a
        tier are resampled with the same persona indices (within states for
        elections), so each headline statistic's change has its own interval.
        ``interval_method``: "bca" (default; chosen by the coverage simulation in
        ``benchmarks/paired_verdict.py``), "basic" or "percentile" (biased for absolute
        errors such as MAE, whose resampled values sit above the estimate).
    reweight
        How the calibrated weights were made, to redo it on every replicate:
        ``reweight(frequency) -> weights``, both Series by ``persona_id`` (the calibrated
        personas of one tier; ``frequency`` = how often each was drawn, 1 for all on the
        original sample), or ``{tier: callable}``. Without it (default) the weights are
        resampled with their personas as they are (fixed weights, the naive survey
        bootstrap): the intervals then describe the change for these personas and their
        weights, and are too narrow for the change a fresh persona draw would show when the
        weights were estimated from the same personas (benchmarks/results/paired_verdict.md).
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
    check_params(FUNC, {"n_boot": [Interval("int", 0, None), None], "level": LEVEL,
                        "interval_method": Options(INTERVAL_METHODS)},
                 {"n_boot": n_boot, "level": level, "interval_method": interval_method})
    persona_level = {v: PERSONA in f.columns for v, f in frames.items()}
    if n_boot is None:
        n_boot = DEFAULT_N_BOOT if any(persona_level.values()) else 0
    elif n_boot and not any(persona_level.values()):
        raise InputError(
            f"`n_boot` of {FUNC} needs persona-level answers (a '{PERSONA}' column) in `raw` or `calibrated`; "
            "aggregated shares cannot be resampled"
        )
    if n_boot == 1:
        raise InputError(f"`n_boot` of {FUNC} must be 0 (no bootstrap) or at least 2; got 1")
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
    tier_labels = resolve_tiers(frames, tier_column, tiers)
    parts = {v: split_by_tier(frames[v], tier_column, tier_labels) for v in VERSIONS}
    rng = check_random_state(random_state, func=FUNC) if n_boot else None
    version_weights = {"raw": raw_weights, "calibrated": weights}
    settings = {"kind": kind, "truth": truth, "state_col": state_col, "dem": dem, "rep": rep, "group": group,
                "strata": strata}

    results: dict[tuple, object] = {}
    paired: dict[str, PairedBootstrap] = {}
    for tier in tier_labels or (ALL,):
        for version in VERSIONS:
            part = parts[version].get(tier)
            if part is None:
                own_notes.append(f"tier {tier!r} has no {version} rows, so it has no {version} numbers.")
                continue
            with _where(version, tier):
                if kind == "election":
                    results[(tier, version)] = election_errors(part, truth, state_col=state_col, dem=dem, rep=rep,
                                                               weights=version_weights[version],
                                                               missing_states=missing_states)
                else:
                    results[(tier, version)] = alignment(part, truth, group=group, strata=strata,
                                                         weights=version_weights[version])
        if not n_boot:
            continue
        stats = {}
        for version in VERSIONS:
            if (tier, version) in results and persona_level[version]:
                with _where(version, tier):
                    stats[version] = unit_statistic(results[(tier, version)], parts[version][tier],
                                                     version_weights[version], settings)
        common = {"n_boot": n_boot, "level": level, "method": interval_method, "progress": progress,
                  "random_state": derive_seed(rng)}
        if len(stats) == 2:
            redo = recalibration(reweight, tier, stats["calibrated"])
            paired[tier] = paired_bootstrap(stats["raw"], stats["calibrated"], closer_to_zero=CLOSER_TO_ZERO,
                                            recalibrate=redo, **common)
            for version in VERSIONS:
                results[(tier, version)] = attach(results[(tier, version)], paired[tier].version(version))
        for version, stat in stats.items() if len(stats) == 1 else ():
            results[(tier, version)] = attach(results[(tier, version)], single_bootstrap(stat, **common))
    for version in VERSIONS:
        if n_boot and not persona_level[version]:
            own_notes.append(f"{version}: aggregated answers were given (no '{PERSONA}' column), so its numbers "
                             "have no bootstrap intervals and the change has none: nothing is called improved.")
    if not n_boot:
        own_notes.append("no bootstrap (n_boot=0): the changes carry no interval, so nothing is called improved "
                         "or worse.")
    check_same_units(results, kind)
    own_notes += [f"tier {t!r}: {PAIRINGS[p.pairing]}" if t != ALL else PAIRINGS[p.pairing]
                  for t, p in paired.items() if p.pairing != "paired"]
    own_notes += [f"{'' if t == ALL else f'tier {t!r}: '}{int(p.bootstrap.n_failed.max())} of {p.bootstrap.n_boot} "
                  "replicates could not be re-weighted (a resampled region could not be calibrated) and were left "
                  "out of the intervals" for t, p in paired.items() if p.bootstrap.n_failed.max()]
    own_notes += not_simulated_notes(results) + outside_interval_notes(results, interval_method)

    weighted_reference = reference_weighting(truth) if kind == "opinion" else None
    label = truth_label or ("actual Democratic two-party share per state" if kind == "election"
                            else "reference answer distributions")
    if weighted_reference is False and "unweighted" not in label:
        label += " (unweighted reference)"
        own_notes.append("unweighted reference: the reference distributions are unweighted respondent counts, "
                         "not survey-weighted population estimates; read every score as agreement with the "
                         "respondents, not with the population.")

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
        composition=as_composition(composition),
        weight_diagnostics=diagnostics,
        truth_label=label,
        n_boot=int(n_boot),
        level=float(level),
        notes=(*own_notes, *map(str, notes)),
        interval_method=interval_method,
        paired=paired,
        reference_weighted=weighted_reference,
    )


class _where:
    """Re-raise a personacal error with the table (and tier) it came from in front of its message."""

    def __init__(self, version: str, tier):
        self.prefix = f"`{version}`" + ("" if tier == ALL else f" (tier {tier!r})")

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, PersonacalError):
            # Keep the error's type and code; say which table (and tier) it came from.
            exc.args = (f"{self.prefix} of {FUNC}: {exc.args[0] if exc.args else exc}", *exc.args[1:])
        return False
