"""The answer-level steps without an LLM: the demographic respondent model answers, the verdict is paired.

With no LLM backend, ``personacal demo`` still runs raw vs calibrated at the answer level.
The respondent is :class:`personacal.simulate.DemographicModel` -- a multinomial logit of
ANES 2012 party identification (VCF0301) on age, race/ethnicity and Census region, fitted on
the shipped ANES extract -- not an LLM. Meta personas and the paper-style pool answer through
it; each pool is raked to its states' census margins; ``compare`` scores both, raw and
calibrated, against each state's party identification as the ANES provides it (the MRP
estimates of ``personacal.data.psychographic_targets("party_id", geography="state")``:
ANES 2008+2012 respondents post-stratified to ACS 2023), with the paired bootstrap redoing
the raking on every replicate. The 7-point answers are folded into the targets' three
categories (Democrat = 1-2, Independent = 3-5 with leaners, Republican = 6-7).

What this shows: whether calibration moves a pool's answers toward the population's where the
answers depend on demographics the raking fixes. It says nothing about LLM answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data import psychographic_targets
from ..evaluate import compare
from ..simulate import DemographicModel, simulate
from ._llm import _reweight
from ._policy import calibrate_regions
from ._targets import CENSUS_KEYS, RACE_ETH4_OF

__all__ = ["OfflineRun", "run_offline_steps", "RESPONDENT", "QUESTION", "PARTY3_OF"]

#: How the report names the respondent (issue 11: name it plainly).
RESPONDENT = "demographic model (multinomial logit on ANES 2012: age, race/ethnicity, Census region), not an LLM"
#: The folded question the verdict scores.
QUESTION = "party-id-3"
#: ANES 7-point party ID -> the MRP targets' three categories (their ``source_codes``: pid7 1-2, 3-5, 6-7).
PARTY3_OF = {"Strong Democrat": "Democrat", "Weak Democrat": "Democrat", "Independent, lean Democrat": "Independent",
             "Independent": "Independent", "Independent, lean Republican": "Independent",
             "Weak Republican": "Republican", "Strong Republican": "Republican"}
_POSITION = {"Democrat": 1.0, "Independent": 2.0, "Republican": 3.0}


@dataclass(frozen=True)
class OfflineRun:
    answers: pd.DataFrame  # persona-level party-ID distributions of every pool, with a census weight column
    comparison: object
    notes: tuple[str, ...]
    calibration: pd.DataFrame  # per pool, region and margin: met / merged / dropped
    model: DemographicModel


def party_id_truth(codes) -> pd.DataFrame:
    """Each state's party identification (ANES MRP), as ``compare``'s opinion reference."""
    t = psychographic_targets("party_id", geography="state", area=list(codes))
    truth = pd.DataFrame({"question_id": QUESTION, "state": t["area"].to_numpy(), "option": t["category"].to_numpy(),
                          "share": t["share"].to_numpy(), "position": t["category"].map(_POSITION).to_numpy()})
    # A model estimate for the population (post-stratified to ACS 2023), not respondent counts.
    truth.attrs.update(weighted=True, weighting="ANES 2008+2012 respondents post-stratified to ACS 2023 by an MRP "
                                                "model (personacal.data.psychographic_targets)")
    return truth


def folded_answers(result) -> pd.DataFrame:
    """A respondent simulation's 7-point party-ID probabilities summed into the three target categories."""
    frame = result.to_frame()
    frame = frame.assign(option=frame["option"].map(PARTY3_OF))
    if frame["option"].isna().any():
        raise AssertionError("an ANES party-ID option has no three-category fold")  # PARTY3_OF covers the question
    folded = frame.groupby(["persona_id", "region", "option"], sort=False, as_index=False)["probability"].sum()
    return folded.assign(question_id=QUESTION, position=folded["option"].map(_POSITION))


def run_offline_steps(pools: dict[str, pd.DataFrame], census: dict, *, on_infeasible: str, random_state: int,
                      progress, composition, calibrated: dict | None = None, n_boot: int = 1000,
                      interval_method: str = "bca", level: float = 0.95,
                      recompute_weights: bool = False) -> OfflineRun:
    """Answer, rake and judge every pool; ``calibrated[label]`` reuses a pool's existing raking.

    ``recompute_weights=False`` (default) resamples the calibrated weights with their personas:
    the verdict is about the change for these personas. True redoes every region's raking on
    every replicate (the change a fresh persona draw would show), which costs about 40 ms per
    region and replicate on a 2-core machine: 50 states x 1,000 replicates is over half an hour,
    past the demo's budget.
    """
    model = DemographicModel(["anes-pid7"], random_state=random_state, progress=bool(progress))
    question = model.questions[0]
    calibrated = dict(calibrated or {})
    frames, records, reweights, notes = [], [], {}, []
    for label, personas in pools.items():
        personas = personas.reset_index(drop=True)
        if "race_eth4" not in personas.columns:
            personas = personas.assign(race_eth4=personas["race_eth"].map(RACE_ETH4_OF))
        raking = calibrated.get(label)
        if raking is None:  # (a raking passed in is recorded by whoever made it)
            raking = calibrate_regions(personas, census, by="region", on_infeasible=on_infeasible,
                                       priority=CENSUS_KEYS)
            records.append(raking.records.assign(tier=label))
            notes += [f"{label}: {n}" for n in raking.notes]
        answers = folded_answers(simulate(personas, question, model, keep_columns=["region"], progress=False))
        ids = pd.Index(personas["persona_id"])
        by_id = pd.Series(raking.weights.to_numpy(), index=ids)
        frames.append(answers.assign(weight=answers["persona_id"].map(by_id).to_numpy(), tier=label))
        reweights[label] = _reweight(raking, ids)
    answers = pd.concat(frames, ignore_index=True).rename(columns={"region": "state"})
    truth = party_id_truth(sorted(census))
    scored = answers[answers["weight"].notna()]
    if len(scored) < len(answers):
        notes.append(f"{answers.loc[answers['weight'].isna(), 'persona_id'].nunique()} persona(s) of regions that "
                     "could not be weighted are left out of the scores (on_infeasible='drop')")
    comparison = compare(
        scored.drop(columns="weight"), scored, truth, weights="weight", group="state", strata="state",
        composition=composition, truth_label="ANES party identification per state (MRP on ANES 2008+2012, "
                                             "post-stratified to ACS 2023)",
        random_state=random_state, progress=progress, n_boot=n_boot, interval_method=interval_method, level=level,
        reweight=reweights if n_boot and recompute_weights else None, notes=(f"respondent: {RESPONDENT}",),
    )
    if n_boot and not recompute_weights:
        notes.append("the bootstrap resamples the calibrated weights with their personas (fixed weights): the "
                     "intervals describe the change for these personas, and are narrower than the change a fresh "
                     "draw would show (benchmarks/results/paired_verdict.md); recompute_weights=True redoes the "
                     "raking on every replicate")
    calibration = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=["tier"])
    return OfflineRun(answers, comparison, tuple(notes), calibration, model)
