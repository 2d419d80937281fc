"""A persona panel skewed on purpose from real ANES 2012 respondents, with the full sample as truth.

Each respondent's real party ID (Democrat / Independent / Republican, leaners with their party)
is treated as the "simulated" answer with probability 1. The panel keeps a respondent with
probability 0.7 x race factor x education factor (White non-Hispanic and college graduates
oversampled), so the panel leans Republican. Selection depends only on race and college, so
weighting on those recovers the full sample's party shares up to sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personacal.calibrate import Margins
from personacal.data import anes_subset

OPTIONS = ("Democrat", "Independent", "Republican")
#: Race in three groups (Hispanic and other non-Hispanic pooled) so every region x race x college
#: stratum of the panel keeps a handful of respondents.
RACE3 = {"White non-Hispanic": "White non-Hispanic", "Black non-Hispanic": "Black non-Hispanic",
         "Hispanic": "Other", "Other non-Hispanic": "Other"}
RACE_KEEP = {"White non-Hispanic": 1.0, "Black non-Hispanic": 0.4, "Other": 0.5}
COLLEGE_KEEP = {"college": 1.0, "no college": 0.4}
BASE_KEEP = 0.7
SEED = 2012


@dataclass(frozen=True)
class Panel:
    full: pd.DataFrame
    personas: pd.DataFrame
    answers: pd.DataFrame
    truth: pd.Series  # (region, option) -> full-sample share; region "(all)" = national

    def rake_targets(self) -> dict:
        return {r: Margins({"race": g["race"].value_counts(), "college": g["college"].value_counts()})
                for r, g in self.full.groupby("region")}

    def strata_targets(self) -> dict:
        return {r: g.groupby(["race", "college"]).size().astype(float) for r, g in self.full.groupby("region")}

    def joint(self) -> pd.Series:
        return self.full.groupby(["region", "race", "college"]).size().astype(float)


def anes_panel() -> Panel:
    full = anes_subset()
    full = full[full["year"] == 2012].dropna(subset=["education4", "race_eth4", "party3"]).reset_index(drop=True)
    full["college"] = np.where(
        full["education4"].isin(["Bachelor's degree", "Graduate or professional degree"]), "college", "no college")
    full["race"] = full["race_eth4"].astype(str).map(RACE3)
    for column in ("region", "party3"):
        full[column] = full[column].astype(str)
    keep = BASE_KEEP * full["race"].map(RACE_KEEP) * full["college"].map(COLLEGE_KEEP)
    rng = np.random.default_rng(SEED)
    panel = full[rng.random(len(full)) < keep.to_numpy()].reset_index(drop=True)
    panel["persona_id"] = [f"p{i:05d}" for i in range(len(panel))]
    answers = pd.concat(
        [pd.DataFrame({"persona_id": panel["persona_id"], "question_id": "party_id", "option": o,
                       "probability": (panel["party3"] == o).astype(float)}) for o in OPTIONS],
        ignore_index=True,
    )
    regional = full.groupby("region")["party3"].value_counts(normalize=True)
    national = pd.concat({"(all)": full["party3"].value_counts(normalize=True)}, names=["region"])
    truth = pd.concat([regional, national]).rename("truth")
    truth.index = truth.index.set_names(["region", "option"])
    personas = panel[["persona_id", "region", "race", "college"]]
    return Panel(full=full, personas=personas, answers=answers, truth=truth)


def with_truth(distributions: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    out = distributions.merge(truth.reset_index(), on=["region", "option"], how="left")
    out["error_raw"] = (out["probability_raw"] - out["truth"]).abs()
    out["error_weighted"] = (out["probability_weighted"] - out["truth"]).abs()
    return out
