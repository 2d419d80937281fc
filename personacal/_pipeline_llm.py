"""The LLM half of the main job: tiers, the 2024 election per state, post-stratification, comparison.

Every persona of every tier answers the same question through the same
backend; the census weights of a tier come from raking that tier's surviving
personas to their state's census targets, and the tiers that carry a party
identification are also raked to the shipped party-ID targets (ANES, by
state where it has enough respondents, else national), the seed paper's
missing step. Nothing here invents an answer: failed personas are dropped and
counted in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calibrate import Margins, rake
from .errors import ConvergenceError, StructuralInfeasibilityError
from .data import coarsening, election_results, psychographic_targets
from .evaluate import compare
from .generate import generate_tier
from .simulate import election_question, simulate

__all__ = ["LLMRun", "run_llm_steps", "TIERS"]

#: The seed paper's tiers, in order of how much the LLM writes.
#: race/ethnicity label -> its group of four (Hispanic, White, Black, Other non-Hispanic).
RACE_ETH4_OF = coarsening("race_eth4")[1]
TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
_GENERATED = {"Objective Tabular": "objective", "Subjective Tabular": "subjective", "Descriptive": "descriptive"}


@dataclass(frozen=True)
class LLMRun:
    answers: pd.DataFrame  # persona-level election answers of every tier, with a census weight column
    comparison: object
    notes: tuple[str, ...]


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
    return tables, notes


#: ANES codes party ID as Democrat / Independent / Republican (pid7 1-2, 3-5, 6-7); a persona naming
#: another party is raked with the independents, the closest ANES category (reported in the notes).
PARTY_FOR_RAKING = {"Democrat": "Democrat", "Republican": "Republican", "Independent": "Independent",
                    "Other": "Independent"}


def _party_targets(states) -> dict[str, pd.Series]:
    """Party-ID shares per state: ANES state shares where shipped, else ANES national."""
    by_state = psychographic_targets("party_id", geography="state", source="ANES")
    national = psychographic_targets("party_id", geography="national", source="ANES")
    out = {}
    for state in states:
        rows = by_state[by_state["area"] == state]
        rows = rows if len(rows) else national
        out[state] = rows.set_index("category")["share"]
    return out


#: Raking targets in order of priority: with few personas per state, the last ones are dropped
#: (and the drop reported) until the rest can be met.
PRIORITY = ("party_anes", "sex", "age", "race_eth4", "education3", "employment3")


def _weights(tier_personas: pd.DataFrame, census: dict[str, Margins], party: dict | None, merge):
    """Rake one tier's personas per state to census targets (+ party ID when the tier has it)."""
    weights, notes = pd.Series(np.nan, index=tier_personas.index), []
    tier_personas = tier_personas.assign(race_eth4=tier_personas["race_eth"].map(RACE_ETH4_OF))
    for state, margins in census.items():
        rows = tier_personas[tier_personas["region"] == state]
        if rows.empty:
            continue
        targets = {m.key: m.values for m in margins}
        if party is not None:
            targets["party_anes"] = party[state] / party[state].sum() * margins.total
        merged_margins, merges = merge(rows, Margins(targets, name=state))
        notes += [f"{state}: merged {m}" for m in merges]
        keys = [k for k in PRIORITY if k in merged_margins]
        while True:
            try:
                fit = rake(rows, merged_margins.subset(keys), tol=1e-8)
                break
            except (StructuralInfeasibilityError, ConvergenceError):
                if len(keys) == 1:
                    raise
                notes.append(f"{state}: {len(rows)} personas cannot meet the '{keys[-1]}' margin with the others; "
                             "raked without it")
                keys = keys[:-1]
        weights.loc[rows.index] = fit.weights
    return weights, notes


def run_llm_steps(meta: pd.DataFrame, census: dict[str, Margins], backend, *, merge, random_state: int,
                  progress, composition, election_year: int = 2024) -> LLMRun:
    tables, notes = _tier_tables(meta, backend, random_state, progress)
    question = election_question(election_year)
    party = _party_targets(census)
    frames = []
    for label, personas in tables.items():
        sim = simulate(personas, question, backend, random_state=random_state, keep_columns=["region"],
                       progress=bool(progress))
        answers = sim.to_frame()
        has_party = "party_id" in personas.columns
        if has_party:
            personas = personas.assign(party_anes=personas["party_id"].map(PARTY_FOR_RAKING))
        weights, raking_notes = _weights(personas.reset_index(drop=True), census, party if has_party else None, merge)
        by_id = pd.Series(weights.to_numpy(), index=personas["persona_id"].to_numpy())
        answers["weight"] = answers["persona_id"].map(by_id).to_numpy()
        frames.append(answers.assign(tier=label))
        if raking_notes:
            notes.append(f"{label} raking: " + "; ".join(raking_notes))
        if has_party:
            others = int((personas["party_id"] == "Other").sum())
            notes.append(f"{label}: also raked to party-ID targets (ANES by state where shipped, else national); "
                         f"{others} persona(s) naming another party were raked with the independents")
    answers = pd.concat(frames, ignore_index=True).rename(columns={"region": "state"})
    truth = election_results(election_year)[["state", "dem_two_party_share"]]
    comparison = compare(
        answers.drop(columns="weight"), answers, truth, weights="weight", question=question.id,
        composition=composition, truth_label=f"MEDSL {election_year} results", random_state=random_state,
        progress=progress,
    )
    return LLMRun(answers, comparison, tuple(notes))
