"""TextDiagnosticsResult: per-tier text scores and the paired differences between tiers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .._summary import Summary, one_line_repr
from ..errors import InputError

__all__ = ["TextDiagnosticsResult"]

#: Metrics a reader needs first; the rest stay in to_frame().
_HEADLINE = ("vader_sentence_mean", "vader_compound", "textblob_polarity", "textblob_subjectivity",
             "positive_per_1k_words", "negative_per_1k_words", "term_balance", "n_words")


@dataclass(frozen=True, eq=False)
class TextDiagnosticsResult:
    """Sentiment, subjectivity and life-experience terms of persona texts, per tier.

    ``scores``: one row per persona x tier (persona_id, tier, one column per metric).
    ``tiers``: one row per region x tier x metric (region ``"(all)"`` pools every text; the
    regions of ``by`` follow): n, mean, ci_low, ci_high (t interval of the mean)
    and, for every tier but the baseline, n_pairs, diff (mean of tier - baseline over the
    personas both tiers describe), diff_ci_low, diff_ci_high (paired t interval), p_value.
    """

    scores: pd.DataFrame
    tiers: pd.DataFrame
    baseline: str
    level: float
    versions: dict[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy region x tier x metric table (see the class docstring)."""
        return self.tiers.copy()

    def difference(self, tier: str, metric: str, region: str = "(all)") -> pd.Series:
        """One tier's paired difference from the baseline on one metric (diff, interval, n_pairs, p_value)."""
        t = self.tiers
        row = t[(t["tier"] == tier) & (t["metric"] == metric) & (t["region"] == region)]
        if row.empty or tier == self.baseline:
            others = [name for name in t["tier"].unique() if name != self.baseline]
            raise InputError(f"no paired difference for tier {tier!r}, metric {metric!r}, region {region!r}; tiers "
                             f"compared with {self.baseline!r}: {others}; metrics: {list(t['metric'].unique())}; "
                             f"regions: {list(t['region'].unique())}")
        return row.iloc[0][["n_pairs", "diff", "diff_ci_low", "diff_ci_high", "p_value"]]

    def summary(self) -> Summary:
        shown = self.tiers[self.tiers["metric"].isin(_HEADLINE) & (self.tiers["region"] == "(all)")]
        means = shown.pivot(index="metric", columns="tier", values="mean").reindex(list(_HEADLINE))
        means = means[list(dict.fromkeys(self.tiers["tier"]))]
        diffs = shown[shown["tier"] != self.baseline][
            ["tier", "metric", "n_pairs", "diff", "diff_ci_low", "diff_ci_high", "p_value"]
        ].set_index(["tier", "metric"])
        facts = {
            "tiers": ", ".join(dict.fromkeys(self.tiers["tier"])),
            "texts per tier": ", ".join(f"{t}: {n}" for t, n in self.scores.groupby("tier", sort=False).size().items()),
            "baseline tier": self.baseline,
            "confidence level": self.level,
            "scorers": ", ".join(f"{k} {v}" for k, v in self.versions.items()),
        }
        notes = [
            "diff = mean over personas of (tier - baseline), personas described by both tiers; paired t interval.",
            "vader_compound scores the whole text and saturates towards +-1 on long texts; vader_sentence_mean "
            "averages sentence scores and is comparable across lengths.",
            "Life-experience terms: personacal's lists (personacal.evaluate._text_terms), domains after Holmes & Rahe "
            "(1967) for negative and Seligman's PERMA (2011) for positive; term_balance = (pos - neg) / (pos + neg), "
            "undefined for texts with neither.",
        ]
        tables = {"Mean per tier": means, f"Paired difference from {self.baseline!r}": diffs}
        regional = self.tiers[(self.tiers["region"] != "(all)") & (self.tiers["tier"] != self.baseline)
                              & self.tiers["metric"].isin(_HEADLINE[:3])]
        if len(regional):
            tables["Paired difference per region"] = regional[
                ["region", "tier", "metric", "n_pairs", "diff", "diff_ci_low", "diff_ci_high"]].set_index(
                ["region", "tier", "metric"])
        return Summary("personacal text diagnostics per tier", facts, tables, notes)

    def __repr__(self) -> str:
        return one_line_repr(self, tiers=self.tiers["tier"].nunique(), texts=len(self.scores), baseline=self.baseline)
