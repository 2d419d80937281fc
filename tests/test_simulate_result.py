"""SimulationResult on a hand-made answers table: aggregation, prompt rebuilding, summary."""

import numpy as np
import pandas as pd
import pytest

from personacal.errors import InputError
from personacal.simulate import SimulationResult, election_question

Q = election_question(2016, variant="paper")  # options: Donald Trump (R), Hillary Clinton (D)


def make_result() -> SimulationResult:
    answers = pd.DataFrame(
        {
            "persona_id": ["p1", "p1", "p2", "p2", "p3", "p3"],
            "region": ["CA", "CA", "CA", "CA", "WY", "WY"],
            "question_id": Q.id,
            "option_index": [0, 1] * 3,
            "option": list(Q.options) * 3,
            "letter": ["B", "A", "A", "B", "A", "B"],
            "position": [1.0, 0.0] * 3,
            "is_refusal": False,
            "party": ["R", "D"] * 3,
            "probability": [0.2, 0.8, 0.6, 0.4, 0.9, 0.1],
            "logprob": np.log([0.2, 0.8, 0.6, 0.4, 0.9, 0.1]),
            "letter_missing": False,
            "option_mass": 1.0,
            "method": "logprobs",
            "prompt_version": "survey-v1",
            "model": "hand-made",
        }
    )
    return SimulationResult(
        answers=answers,
        failures=pd.DataFrame(columns=["persona_id", "question_id", "reason"]),
        method="logprobs",
        model="hand-made",
        prompt_version="survey-v1",
        prompt_format="text",
        settings={"run_seed": 1, "shuffle_options": True, "missing_option": "opinionqa"},
        questions=(Q,),
        persona_blocks={"p1": "- Age: 30", "p2": "- Age: 50", "p3": "- Age: 70"},
    )


def test_aggregate_unweighted_and_by_region():
    r = make_result()
    overall = r.aggregate().set_index("option")["share"]
    # Trump: (0.2 + 0.6 + 0.9) / 3; Clinton: (0.8 + 0.4 + 0.1) / 3
    assert overall["Donald Trump"] == pytest.approx(1.7 / 3)
    assert overall["Hillary Clinton"] == pytest.approx(1.3 / 3)
    by = r.aggregate(group="region").set_index(["region", "option"])
    assert by.loc[("CA", "Donald Trump"), "share"] == pytest.approx(0.4)
    assert by.loc[("WY", "Hillary Clinton"), "share"] == pytest.approx(0.1)
    assert by.loc[("CA", "Donald Trump"), "n_personas"] == 2
    with pytest.warns(DeprecationWarning, match=r"`by` of aggregate is deprecated.*use `group`"):
        old = r.aggregate(by="region").set_index(["region", "option"])
    pd.testing.assert_frame_equal(old, by)


def test_aggregate_weighted():
    w = pd.Series({"p1": 1.0, "p2": 3.0, "p3": 0.0})
    share = make_result().aggregate(weights=w).set_index("option")["share"]
    # Trump: (1 * 0.2 + 3 * 0.6) / 4 = 0.5
    assert share["Donald Trump"] == pytest.approx(0.5)
    assert share["Hillary Clinton"] == pytest.approx(0.5)


def test_aggregate_errors():
    r = make_result()
    with pytest.raises(InputError, match=r"`group` of aggregate names columns the answers do not have: \['state'\]"):
        r.aggregate(group="state")
    with pytest.raises(InputError, match=r"`weights` of aggregate has no weight for persona_id \['p3'\]"):
        r.aggregate(weights=pd.Series({"p1": 1.0, "p2": 1.0}))
    with pytest.raises(InputError, match=r"`weights` of aggregate must be finite and non-negative"):
        r.aggregate(weights=pd.Series({"p1": 1.0, "p2": -1.0, "p3": 1.0}))


def test_prompt_is_rebuilt_with_the_letters_shown():
    prompt = make_result().prompt("p1", Q.id)
    # p1 saw Clinton as A and Trump as B
    assert "- Age: 30" in prompt
    assert "A. Hillary Clinton\nB. Donald Trump" in prompt
    with pytest.raises(InputError, match=r"`persona_id` 'p9' is not in this SimulationResult"):
        make_result().prompt("p9", Q.id)
    with pytest.raises(InputError, match=r"`question_id` 'q9' is not in this SimulationResult"):
        make_result().prompt("p1", "q9")


def test_summary_reports_the_run():
    s = make_result().summary()
    assert s.facts["method"] == "logprobs" and s.facts["personas"] == 3 and s.facts["failures"] == 0
    table = s.tables["Per question (unweighted over personas)"]
    assert table.loc[Q.id, "modal option"] == "Donald Trump"
    assert "Persona survey simulation" in s.as_text()
