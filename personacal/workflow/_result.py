"""WorkflowResult: what a ``personacal demo`` / ``personacal run`` produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._summary import Summary, one_line_repr
from ..evaluate import Comparison

__all__ = ["WorkflowResult"]


@dataclass(frozen=True, eq=False)
class WorkflowResult:
    """The personas, their calibration per region, the paired verdict and the report of one workflow run.

    ``calibration`` has one row per (tier,) region and margin: status ("met", "merged",
    "dropped"), detail and the final weights' largest relative error (see
    :func:`calibrate_regions`). ``targets`` lists every target and truth with its source,
    years, method and weighting. ``comparison`` holds the paired verdict
    (``comparison.changes()``); ``verdict`` the same in sentences. ``parse_rates``: per tier,
    the share of the model's output that became an answer.
    """

    report: Path
    meta_personas: pd.DataFrame
    paper_pool: pd.DataFrame
    weights: pd.Series
    composition: pd.DataFrame
    timings: dict[str, float]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    answers: pd.DataFrame | None = None
    comparison: Comparison | None = None
    title: str = "personacal demo"
    calibration: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    parse_rates: dict[str, float] = field(default_factory=dict)
    on_infeasible: str = "raise"

    @property
    def verdict(self) -> list[str]:
        """The verdict in words (the report's first section)."""
        from ..evaluate import verdict_sentences

        return verdict_sentences(self.comparison) if self.comparison is not None else []

    def __repr__(self) -> str:
        return one_line_repr(self, title=self.title, regions=int(self.meta_personas["region"].nunique()),
                             personas=len(self.meta_personas), report=str(self.report), skipped=len(self.skipped))

    def to_frame(self) -> pd.DataFrame:
        """Composition error (TVD) per region, margin and pool."""
        return self.composition.copy()

    def summary(self) -> Summary:
        pivot = self.composition.pivot_table(index="margin", columns="pool", values="tvd", aggfunc="mean")
        facts: dict[str, object] = {"regions": self.meta_personas["region"].nunique()}
        if self.title == "personacal demo":
            facts |= {"Meta personas": len(self.meta_personas), "paper-style pool": len(self.paper_pool)}
        else:
            facts["personas"] = len(self.meta_personas)
        if self.answers is not None:
            facts["simulated answer rows"] = len(self.answers)
        facts |= {f"parse rate [{tier}]": f"{rate:.1%}" for tier, rate in self.parse_rates.items()}
        facts["calibration policy (on_infeasible)"] = self.on_infeasible
        if self.calibration is not None and len(self.calibration):
            counts = self.calibration["status"].value_counts()
            facts["margins met / merged / dropped"] = " / ".join(str(int(counts.get(s, 0)))
                                                                 for s in ("met", "merged", "dropped"))
        facts["report"] = str(self.report)
        facts |= {f"time: {k}": f"{v:.1f} s" for k, v in self.timings.items()}
        notes = [*(f"VERDICT: {s}" for s in self.verdict), *self.notes, *(f"skipped: {s}" for s in self.skipped)]
        tables = {"Mean TVD from the census across regions (0 = exact)": pivot}
        if self.comparison is not None and self.comparison.kind != "composition":
            tables["Raw vs calibrated (paired verdict)"] = self.comparison.verdicts()
        if self.calibration is not None and (self.calibration["status"] != "met").any():
            tables["Margins merged or dropped"] = self.calibration[self.calibration["status"] != "met"]
        return Summary(self.title, facts, tables, notes)
