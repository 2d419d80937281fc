"""TierCalibrationResult: what raking an LLM tier toward survey targets changed, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .._summary import Summary

__all__ = ["TierCalibrationResult"]


@dataclass(frozen=True, eq=False)
class TierCalibrationResult:
    """Weights that rake a tier's personas on census and LLM-generated attributes jointly.

    ``skew``: one row per (region,) variable x category: target_share, tier_share (the
    tier as generated, design weights), census_share (after census-only raking, when
    census margins were given), weighted_share (after the joint raking), skew_before =
    tier - target, skew_after = weighted - target, personas (count), weight_multiplier
    (weighted_share / tier_share: how much each persona of the category was scaled up)
    and status ("ok", or "dropped: N persona(s)" for a category left out of the targets with
    ``empty="drop"``: it keeps its share in the tier and its target_share is the survey's).

    ``lean``: per (region,) variable with a left/right reading (ideology: very liberal +
    liberal vs conservative + very conservative; party_id: Democrat vs Republican): the
    left and right shares before, in the target and after, and net_lean_before /
    net_lean_after = (left - right) - (left - right)_target (> 0: leans left of the target).

    ``cost``: per region (and ``"(all)"``) n_personas, ess, design_effect, weight_ratio of
    the joint weights, and ess_census / design_effect_census of census-only weights.

    ``findings``: target categories the tier cannot represent (fewer than
    ``min_personas`` personas): region, variable, category, personas, target_share, action.
    """

    weights: pd.Series
    skew: pd.DataFrame
    lean: pd.DataFrame
    cost: pd.DataFrame
    findings: pd.DataFrame
    sources: dict[str, str]
    calibration: object
    census_only: object | None = None
    mapping: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        return bool(self.calibration.converged)

    @property
    def ess(self) -> float:
        return float(self.cost.loc[self.cost["region"] == "(all)", "ess"].iloc[0])

    @property
    def design_effect(self) -> float:
        return float(self.cost.loc[self.cost["region"] == "(all)", "design_effect"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """The per-category skew table (before, target, after)."""
        return self.skew.copy()

    def summary(self) -> Summary:
        overall = self.cost[self.cost["region"] == "(all)"].iloc[0]
        facts = {
            "personas": int(overall["n_personas"]),
            "psychographic variables": ", ".join(self.sources),
            "targets": "; ".join(f"{v}: {s}" for v, s in self.sources.items()),
            "converged": self.converged,
            "max margin error (relative)": float(self.calibration.max_margin_error),
            "Kish effective sample size": float(overall["ess"]),
            "design effect (1 + CV²)": float(overall["design_effect"]),
            "max/min weight ratio": float(overall["weight_ratio"]),
        }
        if "ess_census" in self.cost.columns:
            facts["ESS with census margins only"] = float(overall["ess_census"])
        tables = {}
        if len(self.lean):
            tables["Lean before / target / after"] = self.lean
        tables["Skew per category"] = self.skew
        tables["What the weights cost"] = self.cost
        if len(self.findings):
            tables["Findings about the generator"] = self.findings
        notes = list(self.notes)
        for row in self.findings.itertuples(index=False):
            where = f" in {row.region}" if row.region != "(all)" else ""
            notes.append(
                f"GENERATOR FINDING: the tier has {row.personas} persona(s) with {row.variable} = {row.category!r}"
                f"{where} against a target share of {row.target_share:.1%}; {row.action}."
            )
        return Summary("personacal tier calibration", facts, tables, notes)
