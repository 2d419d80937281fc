"""The LLM half of the election workflow: tiers, the election per state, calibration per tier, the paired verdict.

Every persona of every tier answers the same election question through the same backend.
Each tier's surviving personas are raked per state (:func:`calibrate_regions`): census margins
for every tier, plus the partisan margin for the tiers that carry it (the Subjective tier's
recalled 2020 vote, and the Descriptive tier, which is written on top of it and keeps the
same persons' recalled vote). ``compare`` then scores raw and calibrated answers against the
real results with the paired bootstrap, redoing each tier's raking on every replicate
(``reweight``), so the change's interval includes what estimating the weights costs. Nothing
here invents an answer: failed personas are dropped and counted in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..calibrate import Margins
from ..data import election_results
from ..evaluate import compare
from ..generate import generate_tier
from ..simulate import election_question, simulate
from ._policy import calibrate_regions
from ._targets import PARTY_FOR_RAKING, PRIORITY, RACE_ETH4_OF, partisan_column

__all__ = ["LLMRun", "run_llm_steps", "TIERS", "parse_rate_note"]

#: The seed paper's tiers, in order of how much the LLM writes.
TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
_GENERATED = {"Objective Tabular": "objective", "Subjective Tabular": "subjective", "Descriptive": "descriptive"}


@dataclass(frozen=True)
class LLMRun:
    answers: pd.DataFrame  # persona-level election answers of every tier, with a census weight column
    comparison: object
    notes: tuple[str, ...]
    calibration: pd.DataFrame  # per tier, region and margin: met / merged / dropped
    parse_rates: dict[str, float]


def _tier_tables(meta: pd.DataFrame, backend, random_state: int, progress) -> tuple[dict, list[str]]:
    tables, notes, previous = {"Meta": meta}, [], []
    for label, tier in _GENERATED.items():
        result = generate_tier(meta, tier, backend, previous=list(previous), random_state=random_state,
                               progress=bool(progress))
        frame = result.to_frame()
        failed = int((frame["status"] == "failed").sum())
        flagged = int((frame["status"] == "contradiction_flagged").sum())
        notes.append(f"{label}: {len(frame) - failed} of {len(frame)} personas written; {failed} failed schema "
                     f"validation after retries and were left out; {flagged} kept a contradiction of their census "
                     "attributes after regeneration (flagged)")
        previous.append(result)
        tables[label] = frame[frame["status"] != "failed"].copy()
    # The Descriptive tier writes a narrative on top of the Subjective one: the same persons, the same recall.
    subjective = tables["Subjective Tabular"].set_index("persona_id")
    for column in ("vote_2020", "party_id"):
        if column in subjective.columns:
            tables["Descriptive"][column] = tables["Descriptive"]["persona_id"].map(subjective[column]).to_numpy()
    return tables, notes


def _raking_frame(personas: pd.DataFrame, column: str | None) -> pd.DataFrame:
    frame = personas.reset_index(drop=True).assign(race_eth4=lambda f: f["race_eth"].map(RACE_ETH4_OF))
    if column == "party_id":
        frame["party_id"] = frame["party_id"].map(PARTY_FOR_RAKING)
    return frame


def _reweight(calibration, persona_ids: pd.Index):
    """``compare``'s ``reweight``: a replicate's draw counts per persona -> the re-raked weights."""
    def reweight(frequency: pd.Series) -> pd.Series:
        design = frequency.reindex(persona_ids).fillna(0.0).to_numpy(float)
        return pd.Series(calibration.recalibrate(design), index=persona_ids).reindex(frequency.index)

    return reweight


def run_llm_steps(meta: pd.DataFrame, census: dict[str, Margins], backend, *, partisan: str,
                  partisan_margins: dict[str, Margins], on_infeasible: str, random_state: int, progress,
                  composition, election_year: int = 2024, n_boot: int = 1000, interval_method: str = "bca",
                  level: float = 0.95) -> LLMRun:
    progress = True if progress is None else bool(progress)  # LLM steps are long: bars by default
    tables, notes = _tier_tables(meta, backend, random_state, progress)
    question = election_question(election_year)
    column = partisan_column(partisan)
    frames, records, reweights, parse_rates = [], [], {}, {}
    for label, personas in tables.items():
        sim = simulate(personas, question, backend, random_state=random_state, keep_columns=["region"],
                       progress=bool(progress))
        parse_rates[label] = sim.parse_rate
        answers = sim.to_frame()
        has_partisan = column is not None and column in personas.columns and personas[column].notna().all()
        frame = _raking_frame(personas, column if has_partisan else None)
        targets = {}
        for state, margins in census.items():
            if not (frame["region"] == state).any() and on_infeasible != "drop":
                continue  # no personas of this tier survived there: compare reports the state as not simulated
            items = {m.key: m.values for m in margins}
            if has_partisan:
                items[column] = partisan_margins[state][column]
            targets[state] = Margins(items, name=state)
        calibration = calibrate_regions(frame, targets, by="region", on_infeasible=on_infeasible,
                                        priority=PRIORITY)
        records.append(calibration.records.assign(tier=label))
        by_id = pd.Series(calibration.weights.to_numpy(), index=frame["persona_id"].to_numpy())
        answers["weight"] = answers["persona_id"].map(by_id).to_numpy()
        reweights[label] = _reweight(calibration, pd.Index(frame["persona_id"]))
        frames.append(answers.assign(tier=label))
        notes += [f"{label}: {n}" for n in calibration.notes]
        if has_partisan and column == "party_id":
            others = int((personas["party_id"] == "Other").sum())
            notes.append(f"{label}: {others} persona(s) naming another party were raked with the independents")
    answers = pd.concat(frames, ignore_index=True).rename(columns={"region": "state"})
    unweighted = answers["weight"].isna()
    if unweighted.any():
        dropped = answers.loc[unweighted, ["tier", "state"]].drop_duplicates()
        notes.append(f"{len(dropped)} (tier, state) group(s) could not be weighted and are left out of the "
                     "calibrated answers (on_infeasible='drop'): " + "; ".join(f"{t} {s}" for t, s in
                                                                               dropped.itertuples(index=False)))
    truth = election_results(election_year)[["state", "dem_two_party_share"]]
    scored = answers[~unweighted]  # the same personas on both sides, so the bootstrap can pair them
    comparison = compare(
        scored.drop(columns="weight"), scored, truth, weights="weight", question=question.id,
        composition=composition, truth_label=f"MEDSL {election_year} results", random_state=random_state,
        progress=progress, n_boot=n_boot, interval_method=interval_method, level=level,
        reweight=reweights if n_boot else None,
    )
    calibration_records = pd.concat(records, ignore_index=True)
    calibration_records = calibration_records[["tier", *[c for c in calibration_records.columns if c != "tier"]]]
    return LLMRun(answers, comparison, tuple(notes), calibration_records, parse_rates)


def parse_rate_note(parse_rates: dict[str, float]) -> str:
    return "parse rate (share of model output that became an answer): " + ", ".join(
        f"{tier} {rate:.1%}" for tier, rate in parse_rates.items())

