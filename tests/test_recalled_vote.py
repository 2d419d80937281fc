"""The recalled 2020 vote: the Subjective tier records it (prompt subjective-v2), calibrate_tier rakes on it
by default, and scores against unweighted references say so.

Expected shares are typed in from the sources (MEDSL 2020 returns, ACS 2023 DP05 adults; the same
figures as tests/test_data_past_vote.py), not computed by the code under test.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from personacal.data import categories
from personacal.errors import InputError
from personacal.evaluate import calibrate_tier, compare
from personacal.generate._prompts_tiers import DEFAULT_TEMPLATES, TEMPLATES, field_guide
from personacal.generate._schemas import TEMPLATE_SCHEMAS, SubjectiveTabular
from personacal.generate._tier_result import field_columns
from personacal.generate._tiers import parse_reply
from personacal.simulate import reference_distributions

WY = {"Biden": 73_491, "Trump": 193_559, "Other": 9_715}
WY_ADULTS = 454_092
CA = {"Biden": 11_110_250, "Trump": 6_006_429, "Other": 384_202}
CA_ADULTS = 30_527_864
REPLY = {"ideology": "moderate", "party_id": "Independent", "vote_2020": "Trump", "religiosity": "very religious",
         "big_five": {"openness": 3, "conscientiousness": 4, "extraversion": 2, "agreeableness": 4,
                      "neuroticism": 2},
         "core_values": ["family"], "interests": ["fishing"]}


def test_subjective_tier_records_the_recalled_2020_vote():
    assert DEFAULT_TEMPLATES["subjective"] == "subjective-v2"
    assert categories("vote_2020") == ("Biden", "Trump", "Other", "Did not vote")
    guide = field_guide(TEMPLATE_SCHEMAS["subjective-v2"])
    assert '- vote_2020: whom this person says they voted for in the 2020 presidential election' in guide
    assert '"Biden", "Trump", "Other", "Did not vote"' in guide
    assert "2020 presidential election" in TEMPLATES["subjective-v2"].task
    fields, reason = parse_reply("subjective", json.dumps(REPLY), "stop", 384, False)
    assert reason == "" and fields["vote_2020"] == "Trump"
    with pytest.raises(ValidationError):
        SubjectiveTabular.model_validate({**REPLY, "vote_2020": "Kennedy"})


def test_subjective_v1_stays_reproducible():
    # v1's schema, field guide and columns are unchanged: no vote_2020, and a v2 reply is not a v1 reply.
    assert "vote_2020" not in field_columns("subjective", "subjective-v1")
    assert "vote_2020" not in field_guide(TEMPLATE_SCHEMAS["subjective-v1"])
    assert field_columns("subjective", "subjective-v2") == ["ideology", "party_id", "vote_2020", "religiosity",
                                                             *[f"big_five_{t}" for t in ("openness",
                                                               "conscientiousness", "extraversion",
                                                               "agreeableness", "neuroticism")],
                                                             "core_values", "interests"]
    v1 = {k: v for k, v in REPLY.items() if k != "vote_2020"}
    assert parse_reply("subjective", json.dumps(v1), "stop", 384, False, version="subjective-v1")[1] == ""
    assert parse_reply("subjective", json.dumps(REPLY), "stop", 384, False, version="subjective-v1")[0] is None


def _tier(n=400, seed=3):
    """Personas that recall a vote far left of their state's result (as LLM tiers do)."""
    rng = np.random.default_rng(seed)
    frames = []
    for state in ("CA", "WY"):
        frames.append(pd.DataFrame({
            "persona_id": [f"{state}{i}" for i in range(n)], "state": state,
            "vote_2020": rng.choice(["Biden", "Trump", "Other", "Did not vote"], n, p=[0.6, 0.1, 0.05, 0.25])}))
    return pd.concat(frames, ignore_index=True)


def test_calibrate_tier_rakes_the_recalled_vote_to_the_2020_result_by_default():
    result = calibrate_tier(_tier(), by="state")
    assert result.converged and result.sources == {"vote_2020": "MEDSL 2020"}
    skew = result.skew.set_index(["region", "category"])
    for state, votes, adults in (("WY", WY, WY_ADULTS), ("CA", CA, CA_ADULTS)):
        for candidate, count in votes.items():
            assert skew.loc[(state, candidate), "target_share"] == pytest.approx(count / adults, rel=1e-12)
            assert skew.loc[(state, candidate), "weighted_share"] == pytest.approx(count / adults, rel=1e-7)
    lean = result.lean.set_index("region")
    # the tier leans left of WY's result; after raking it sits on it
    assert lean.loc["WY", "net_lean_before"] > 0.4 and abs(lean.loc["WY", "net_lean_after"]) < 1e-7


def test_calibrate_tier_default_target_needs_state_codes():
    tier = _tier().assign(state=lambda f: f["state"].map({"CA": "West", "WY": "Mountain"}))
    with pytest.raises(InputError, match="need state postal codes"):
        calibrate_tier(tier, by="state")


def test_scores_against_an_unweighted_reference_are_labelled():
    reference = reference_distributions("opinionqa-curated")
    reference = reference[reference["group_variable"] == "Overall"]
    question = reference["question_id"].iloc[0]
    ref = reference[reference["question_id"] == question]
    options = ref[["option"]].drop_duplicates()
    answers = pd.concat([options.assign(persona_id=f"p{i}", question_id=question,
                                        probability=np.eye(len(options))[i % len(options)])
                         for i in range(12)], ignore_index=True)
    c = compare(answers, answers, ref, n_boot=0)
    assert c.reference_weighted is False
    assert c.truth_label.endswith("(unweighted reference)")
    assert any(n.startswith("unweighted reference:") for n in c.notes)
