"""Question: validation messages, derived views, round trips."""

import math

import pytest

from personacal.errors import InputError
from personacal.simulate import Question


def make(**kw):
    base = dict(
        id="Q1",
        text="Compared to 50 years ago, do you think",
        options=["Safer", "More dangerous", "Neither", "Refused"],
        positions=[1.0, 2.0, 1.5, None],
        refusal_options=["Refused"],
    )
    base.update(kw)
    return Question(**base)


def test_valid_question_and_views():
    q = make(topic="crime", wave="W26")
    assert q.options == ("Safer", "More dangerous", "Neither", "Refused")
    assert q.is_refusal == (False, False, False, True)
    assert q.is_ordinal
    assert q.position("Neither") == 1.5 and q.position("Refused") is None
    assert q.n_options == 4


def test_to_frame_rows():
    frame = make().to_frame()
    assert frame["option"].tolist() == ["Safer", "More dangerous", "Neither", "Refused"]
    assert frame["position"].tolist()[:3] == [1.0, 2.0, 1.5] and math.isnan(frame["position"].iloc[3])
    assert frame["is_refusal"].tolist() == [False, False, False, True]
    assert frame["party"].isna().all()


def test_round_trip_through_dict():
    q = make(option_parties=["D", "R", "other", None], metadata={"year": 2024})
    assert Question.from_dict(q.to_dict()) == q


def test_without_refusals():
    q = make().without_refusals()
    assert q.options == ("Safer", "More dangerous", "Neither")
    assert q.positions == (1.0, 2.0, 1.5) and q.refusal_options == ()


def test_nominal_question_is_not_ordinal():
    assert not make(positions=None).is_ordinal
    # OpinionQA's marker for nominal questions: every option at 1.0
    assert not make(positions=[1.0, 1.0, 1.0, None]).is_ordinal


def test_party_option():
    q = make(option_parties=["D", "R", None, None])
    assert q.party_option("D") == "Safer" and q.party_option("R") == "More dangerous"
    with pytest.raises(InputError, match=r"`party` 'other' names no option of Question 'Q1'"):
        q.party_option("other")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(id=""), r"`id` of Question must be a non-empty string"),
        (dict(text="  "), r"`text` of Question 'Q1' must be a non-empty string"),
        (dict(options="Yes/No", positions=None, refusal_options=[]), r"`options` of Question 'Q1' must be a list"),
        (dict(options=["Yes", ""], positions=None, refusal_options=[]), r"must contain non-empty strings only"),
        (dict(options=["Yes", "yes", "No"], positions=None, refusal_options=[]),
         r"`options` of Question 'Q1' must be unique \(ignoring case\); duplicated: \['yes'\]"),
        (dict(options=["Yes", "Refused"], positions=None),
         r"Question 'Q1' must have at least 2 non-refusal options; got 1"),
        (dict(refusal_options=["Don't know"]), r"`refusal_options` of Question 'Q1' must be among its options"),
        (dict(positions=[1.0, 2.0, 3.0]), r"`positions` of Question 'Q1' must have one entry per option \(4\); got 3"),
        (dict(positions=[1.0, 2.0, 1.5, 4.0]), r"`positions` of Question 'Q1' must be None for refusal option 'Refused'"),
        (dict(positions=[1.0, float("inf"), 1.5, None]), r"must be finite numbers or None; got inf"),
        (dict(positions=[1.0, "2", 1.5, None]), r"must be finite numbers or None; got '2'"),
        (dict(option_parties=["D", "D", None, None]), r"must name party 'D' at most once"),
        (dict(option_parties=["D"]), r"`option_parties` of Question 'Q1' must have one entry per option"),
        (dict(options=[f"o{i}" for i in range(27)], positions=None, refusal_options=[]), r"at most 26 entries"),
    ],
)
def test_validation_messages(kw, message):
    with pytest.raises(InputError, match=message):
        make(**kw)


def test_unknown_option_and_unknown_keys():
    with pytest.raises(InputError, match=r"^`option` of Question 'Q1' must be one of 'Safer', 'More dangerous', 'Neither', 'Refused'; got 'Maybe'$"):
        make().position("Maybe")
    with pytest.raises(InputError, match=r"got unknown keys \['answer'\]"):
        Question.from_dict({**make().to_dict(), "answer": "A"})
