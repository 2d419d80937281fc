"""The :class:`Comparison` result of :func:`personacal.evaluate.compare`: tables, summary and figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._summary import Summary
from ..errors import InputError
from ._alignment import AlignmentResult
from ._compare_inputs import ALL, VERSIONS
from ._composition import CompositionResult
from ._elections import ElectionResult

__all__ = ["FIGURES", "Comparison", "headline_of"]

#: Every figure :meth:`Comparison.plot` can draw, in report order.
FIGURES = ("states", "alignment_by_tier", "alignment", "lean", "questions", "composition", "weights")
#: How to tell whether the calibrated number is better than the raw one.
_BETTER = {"mae": "lower", "rmse": "lower", "mean_wd": "lower", "mean_signed_error": "closer to 0",
           "winner_accuracy": "higher", "alignment": "higher"}
_LEVELS = ("overall", "change", "state", "question", "group", "composition", "weights")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Accuracy of the raw and the calibrated persona population against the same truth.

    ``results[(tier, version)]`` is the :class:`ElectionResult` or
    :class:`AlignmentResult` of one tier (``"all"`` without tiers) and
    version (``"raw"``/``"calibrated"``); a tier that one version lacks has
    no entry. ``composition`` maps versions to :class:`CompositionResult`;
    ``weight_diagnostics`` has one row per (tier, region): rows, ess,
    ess_ratio (ESS / n), design_effect, weight_ratio (max/min weight).
    ``kind="composition"`` compares persona pools only (no ``results``).
    """

    kind: str
    tiers: tuple
    results: Mapping[tuple, ElectionResult | AlignmentResult]
    composition: Mapping[str, CompositionResult]
    weight_diagnostics: pd.DataFrame | None
    truth_label: str
    n_boot: int
    ci: float
    notes: tuple[str, ...]

    @property
    def groups(self) -> tuple:
        """Tier labels, or ``("all",)`` without tiers."""
        return self.tiers or (ALL,)

    def result(self, version: str, tier: str | None = None) -> ElectionResult | AlignmentResult:
        """The result of one version (and tier)."""
        if version not in VERSIONS:
            raise InputError(f"`version` of Comparison.result must be 'raw' or 'calibrated'; got {version!r}")
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
        if level == "weights":
            if self.weight_diagnostics is None:
                raise InputError("Comparison.to_frame('weights'): no weight diagnostics (pass `weights` or "
                                 "`weight_diagnostics` to compare)")
            return self.weight_diagnostics.copy()
        raise InputError(f"`level` of Comparison.to_frame must be one of {list(_LEVELS)}; got {level!r}")

    def summary(self) -> Summary:
        facts: dict[str, object] = {"comparison": _KIND_TEXT[self.kind], "truth": self.truth_label,
                                    "tiers": ", ".join(map(str, self.tiers)) if self.tiers else "none (one population)"}
        if self.kind == "composition":
            return self._composition_summary(facts)
        first = next(iter(self.results.values()))
        facts["states" if self.kind == "election" else "questions"] = (
            first.n_states if self.kind == "election" else first.n_questions)
        facts["bootstrap"] = (f"{self.n_boot} replicates, {self.ci:.0%} percentile intervals over personas"
                              if self.n_boot else "none (no intervals)")
        changes = self.changes()
        for stat, label, fmt in _SUMMARY_STATS[self.kind]:
            for _, row in changes[changes["statistic"] == stat].iterrows():
                name = label if not self.tiers else f"{label} [{row['tier']}]"
                facts[name] = " -> ".join(
                    f"{v} {fmt(row[v], row[f'{v}_ci_low'], row[f'{v}_ci_high'])}" for v in VERSIONS)
        tables = {"raw vs calibrated": changes}
        if self.composition:
            tables["composition: TVD per margin"] = self.to_frame("composition")
        if self.weight_diagnostics is not None:
            worst = self.weight_diagnostics.sort_values("design_effect", ascending=False).head(10)
            tables["weight diagnostics (10 largest design effects)"] = worst
        notes = [*_STANDARD_NOTES[self.kind], *self.notes]
        return Summary("Raw vs calibrated personas", facts, tables, notes)

    def _composition_summary(self, facts: dict) -> Summary:
        tables = {"composition: TVD per margin": self.to_frame("composition")}
        if self.weight_diagnostics is not None:
            tables["weight diagnostics (10 largest design effects)"] = (
                self.weight_diagnostics.sort_values("design_effect", ascending=False).head(10))
        return Summary("Raw vs calibrated persona pool", facts, tables, list(self.notes))

    # ------------------------------------------------------------------ figures
    def skipped_figures(self) -> dict[str, str]:
        """``{figure: why it cannot be drawn}`` for the figures this comparison lacks data for."""
        skipped = {}
        if self.kind == "composition":
            for name in ("states", "alignment_by_tier", "alignment", "lean", "questions"):
                skipped[name] = "no simulated answers: a population-only comparison (no LLM backend was used)"
        elif self.kind != "election":
            skipped["states"] = "per-state shares exist for election comparisons only"
            skipped["lean"] = ("the lean (mean signed error of the Democratic share) is defined for election "
                               "comparisons only")
        else:
            skipped["questions"] = "per-question alignment is drawn for opinion comparisons only"
        if not self.tiers:
            skipped["alignment_by_tier"] = "no persona-tier column: one persona population was compared"
        if not self.composition:
            skipped["composition"] = ("no composition results were given (pass composition=(composition_error(raw "
                                      "personas, margins), composition_error(calibrated personas, margins, weights=...)))")
        if self.weight_diagnostics is None:
            skipped["weights"] = ("no weight diagnostics: the calibrated answers carry no weights and no "
                                  "`weight_diagnostics` were given")
        return {name: skipped[name] for name in FIGURES if name in skipped}

    def plot(self, which: str | None = None):
        """Matplotlib figures: ``{name: Figure}`` of every figure available, or one Figure by name.

        Names: ``states`` (simulated vs actual share per state), ``alignment_by_tier``,
        ``alignment`` (before/after), ``lean``, ``questions`` (opinion alignment
        per question), ``composition`` (TVD per margin), ``weights`` (ESS/n,
        design effect, weight ratio per region). See :meth:`skipped_figures`
        for the ones this comparison cannot draw.
        """
        from . import _plots

        skipped = self.skipped_figures()
        if which is None:
            return {name: _plots.draw(self, name) for name in FIGURES if name not in skipped}
        if which not in FIGURES:
            raise InputError(f"`which` of Comparison.plot must be one of {list(FIGURES)} or None; got {which!r}")
        if which in skipped:
            raise InputError(f"figure {which!r} of Comparison.plot is not available: {skipped[which]}")
        return _plots.draw(self, which)

    def _repr_html_(self) -> str:
        return self.summary().as_html()


_KIND_TEXT = {
    "composition": "population only: persona-pool composition vs census margins (no simulated answers)",
    "election": "election: simulated vs actual Democratic two-party share per state",
    "opinion": "opinion: simulated vs reference answer distributions (OpinionQA representativeness)",
}


def _fmt_plain(est, low, high) -> str:
    text = f"{est:.4f}"
    return text + (f" [{low:.4f}, {high:.4f}]" if np.isfinite(low) else "")


def _fmt_pp(est, low, high) -> str:
    text = f"{100 * est:+.2f} pp"
    return text + (f" [{100 * low:+.2f}, {100 * high:+.2f}]" if np.isfinite(low) else "")


def _fmt_pp_abs(est, low, high) -> str:
    text = f"{100 * est:.2f} pp"
    return text + (f" [{100 * low:.2f}, {100 * high:.2f}]" if np.isfinite(low) else "")


_SUMMARY_STATS = {
    "election": (("alignment", "alignment (1 - W1)", _fmt_plain), ("mean_signed_error", "lean", _fmt_pp),
                 ("mae", "MAE", _fmt_pp_abs), ("winner_accuracy", "winner accuracy", _fmt_plain)),
    "opinion": (("alignment", "alignment (representativeness)", _fmt_plain),),
}

_STANDARD_NOTES = {
    "election": [("signed error = simulated - actual Democratic two-party share; lean = mean signed error, "
                  "> 0 leans Democratic (left); pp = percentage points."),
                 "alignment = 1 - W1 between the simulated and actual two-option distributions = 1 - MAE."],
    "opinion": [("alignment = 1 - mean over questions of W1(simulated, reference) / (max - min position), "
                 "refusals excluded (OpinionQA representativeness, Santurkar et al. 2023).")],
}
_CHANGE_NOTE = ("change = calibrated - raw. Intervals are per version; the change carries none because raw and "
                "calibrated usually share personas, so their errors are not independent.")
for _notes in _STANDARD_NOTES.values():
    _notes.append(_CHANGE_NOTE)


def headline_of(result) -> pd.DataFrame:
    if isinstance(result, ElectionResult):
        return result.headline()
    low, high = result.ci if result.ci is not None else (np.nan, np.nan)
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
