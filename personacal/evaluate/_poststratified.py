"""PoststratifiedAnswers: weighted answer distributions with the diagnostics of the weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._summary import Summary
from ._answers_input import AnswerData
from ._bootstrap import BootstrapResult
from ._weighted_answers import ShareDesign

__all__ = ["PoststratifiedAnswers", "distribution_frame"]

#: Rows of the estimates table shown by ``summary()``.
SUMMARY_ROWS = 40
#: Diagnostics columns carried beside every estimate by ``to_frame()``.
WEIGHT_COLUMNS = ("ess", "design_effect", "weight_ratio")
MCMC_COLUMNS = ("max_rhat", "min_ess_bulk", "divergences")
CI_TEXT = {
    "recompute": "bootstrap over personas within region, weights re-calibrated on every replicate",
    "fixed": "bootstrap over personas within region, calibrated weights held fixed (ignores that the "
             "weights were estimated)",
    "posterior": "posterior credible interval of the multilevel model",
}


def distribution_frame(labels: pd.DataFrame, design: ShareDesign, data: AnswerData, *, raw: np.ndarray,
                       weighted: np.ndarray) -> pd.DataFrame:
    """One row per domain x question x option with the raw and weighted shares."""
    out = labels.iloc[design.cell_domain].reset_index(drop=True)
    options = data.options.iloc[design.cell_option].reset_index(drop=True)
    out = pd.concat([out, options], axis=1)
    out["probability_raw"] = raw
    out["probability_weighted"] = weighted
    out["n_personas"] = design.cell_units.astype(np.int64)
    return out


@dataclass(frozen=True, eq=False)
class PoststratifiedAnswers:
    """Answer distributions per region (and group), raw and post-stratified.

    ``distributions``: region, [group columns], question_id, option, [option_index,
    position, is_refusal, party], probability_raw (mean over the personas with the
    design weights), probability_weighted (calibrated weights, or the MRP posterior
    mean), n_personas (personas answering in the domain) and, with intervals,
    ci_low, ci_high (and standard_error for bootstrap intervals). ``region ==
    "(all)"`` pools every region; a group column equal to ``"(all)"`` pools the groups.

    ``diagnostics``: for weighting methods one row per region (n_personas,
    converged, iterations, max_rel_error, ess, design_effect, weight_ratio); for
    ``"mrp"`` one row per question (inference, max_rhat, min_ess_bulk, divergences ...).
    """

    distributions: pd.DataFrame
    weights: pd.Series | None
    diagnostics: pd.DataFrame
    method: str
    by: str | None
    group: tuple[str, ...]
    ci: str | None
    ci_level: float | None
    n_boot: int | None
    calibration: object | None = None
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    bootstrap: BootstrapResult | None = None
    fits: dict | None = None
    notes: tuple[str, ...] = ()

    def estimate(self, question_id: str, *, region: str | None = None) -> pd.DataFrame:
        """The rows of one question (optionally one region)."""
        frame = self.distributions[self.distributions["question_id"] == question_id]
        if frame.empty:
            have = list(pd.unique(self.distributions["question_id"]))[:10]
            raise KeyError(f"no question {question_id!r}; have {have}")
        if region is not None:
            frame = frame[frame["region"] == region]
            if frame.empty:
                raise KeyError(f"no region {region!r} for question {question_id!r}")
        return frame.reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """The distributions, with the region's weight diagnostics (or the question's MCMC ones) beside each row."""
        if self.method == "mrp":
            cols = [c for c in ("question_id", *MCMC_COLUMNS) if c in self.diagnostics.columns]
            return self.distributions.merge(self.diagnostics[cols], on="question_id", how="left")
        # Region labels are compared as text: the calibration keys its per-region results by str(region).
        diag = self.diagnostics[["region", *WEIGHT_COLUMNS]].rename(columns={"region": "_region"})
        diag["_region"] = diag["_region"].astype(str)
        out = self.distributions.assign(_region=self.distributions["region"].astype(str))
        return out.merge(diag, on="_region", how="left").drop(columns="_region")

    def summary(self) -> Summary:
        d = self.distributions
        facts: dict[str, object] = {
            "method": self.method,
            "regions": int((pd.unique(d["region"]) != "(all)").sum()) or 1,
            "questions": d["question_id"].nunique(),
            "groups": ", ".join(self.group) if self.group else "none",
        }
        if self.weights is not None:
            facts["personas"] = len(self.weights)
        if self.ci is not None:
            facts["interval"] = f"{self.ci_level:.0%} {CI_TEXT.get(self.ci, self.ci)}"
            if self.n_boot:
                facts["bootstrap replicates"] = self.n_boot
        if self.bootstrap is not None and self.bootstrap.n_failed.any():
            facts["replicates failed (max over estimates)"] = int(self.bootstrap.n_failed.max())
        title = "Diagnostics per question (MCMC)" if self.method == "mrp" else "Diagnostics of the weights per region"
        shown = self.to_frame()
        keep = [c for c in shown.columns if c not in ("option_index", "is_refusal")]
        tables = {title: self.diagnostics, "Estimates (first rows)": shown[keep].head(SUMMARY_ROWS)}
        notes = list(self.notes)
        if self.method != "mrp" and not bool(self.diagnostics["converged"].all()):
            notes.insert(0, "NOT CONVERGED in some region: its weights miss the targets (see max_rel_error).")
        return Summary(f"personacal post-stratified answers ({self.method})", facts, tables, notes)
