"""Tests of personacal.evaluate: OpinionQA alignment, election errors, composition, bootstrap.

Every expected number is worked out by hand in the comments. W1 on a line is
the sum over consecutive sorted positions of |CDF_p - CDF_q| * gap; OpinionQA
divides it by max(position) - min(position).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from personacal.calibrate import Margins
from personacal.errors import (
    CategoryTypeError,
    DegenerateScaleError,
    DiagnosticsWarning,
    DistributionError,
    InputError,
    InvalidValueError,
    MismatchError,
    MissingValueError,
    UnknownCategoryError,
)
from personacal.evaluate import (
    alignment,
    bootstrap,
    composition_error,
    election_errors,
    normalized_wasserstein,
)
from personacal.evaluate._wasserstein import normalized_wasserstein_batch


# --------------------------------------------------------------------------- kernel
def test_three_options_by_hand():
    # CDF_p = (0.5, 0.8), CDF_q = (0.2, 0.5) -> |diff| = 0.3, 0.3; gaps 1, 1 -> W1 = 0.6; / (3 - 1) = 0.3
    assert normalized_wasserstein([0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [1, 2, 3]) == pytest.approx(0.3)


def test_four_options_by_hand():
    # CDF_p = (.1, .3, .6), CDF_q = (.4, .7, .9) -> |diff| = .3, .4, .3 -> W1 = 1.0; / (4 - 1) = 1/3
    assert normalized_wasserstein([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [1, 2, 3, 4]) == pytest.approx(1 / 3)


def test_fractional_unsorted_positions_by_hand():
    # OpinionQA puts "neither" at 1.5: positions (1, 2, 1.5). Sorted: 1 (p .6, q .2), 1.5 (p .2, q .4), 2 (p .2, q .4)
    # CDF_p = (.6, .8), CDF_q = (.2, .6) -> |diff| = .4, .2; gaps .5, .5 -> W1 = .3; / (2 - 1) = .3
    assert normalized_wasserstein([0.6, 0.2, 0.2], [0.2, 0.4, 0.4], [1, 2, 1.5]) == pytest.approx(0.3)


def test_uneven_gaps_by_hand():
    # positions (0, 1, 4): CDF_p = (.5, .5), CDF_q = (0, 1) -> .5 * 1 + .5 * 3 = 2; / (4 - 0) = .5
    assert normalized_wasserstein([0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0, 1, 4]) == pytest.approx(0.5)


def test_extremes_and_identity():
    assert normalized_wasserstein([1, 0, 0], [0, 0, 1], [1, 2, 3]) == pytest.approx(1.0)
    assert normalized_wasserstein([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [1, 2, 3]) == pytest.approx(0.0)


def test_batch_kernel_matches_scipy_pairwise():
    rng = np.random.default_rng(7)
    pos = np.array([1.0, 3.0, 2.0, 2.5, 5.0])
    P = rng.dirichlet(np.ones(5), size=50)
    Q = rng.dirichlet(np.ones(5), size=50)
    expected = [scipy.stats.wasserstein_distance(pos, pos, p, q) / 4.0 for p, q in zip(P, Q)]
    np.testing.assert_allclose(normalized_wasserstein_batch(P, Q, pos), expected, rtol=1e-12, atol=1e-14)


def test_kernel_errors():
    with pytest.raises(DegenerateScaleError, match=r"max\(position\) - min\(position\) = 0"):
        normalized_wasserstein([0.5, 0.5], [0.2, 0.8], [1, 1])
    with pytest.raises(DistributionError, match="`p` holds negative"):
        normalized_wasserstein([-0.1, 1.1], [0.2, 0.8], [1, 2])
    with pytest.raises(DistributionError, match="`q` holds NaN"):
        normalized_wasserstein([0.5, 0.5], [np.nan, 0.8], [1, 2])
    with pytest.raises(InputError, match="one length"):
        normalized_wasserstein([0.5, 0.5], [0.2, 0.3, 0.5], [1, 2])


# --------------------------------------------------------------------------- alignment fixtures
def _reference():
    # q1: 3 ordinal options + a refusal; q2: OpinionQA-style fractional middle option.
    return pd.DataFrame(
        {
            "question_id": ["q1"] * 4 + ["q2"] * 3,
            "option": ["a", "b", "c", "Refused", "x", "y", "z"],
            "position": [1, 2, 3, np.nan, 1, 2, 1.5],
            "is_refusal": [False, False, False, True, False, False, False],
            "share": [0.2, 0.3, 0.4, 0.1, 0.5, 0.3, 0.2],
        }
    )


def _aggregated(q1=(0.5, 0.25, 0.25, 0.0), q2=(0.2, 0.6, 0.2)):
    return pd.DataFrame(
        {
            "question_id": ["q1"] * 4 + ["q2"] * 3,
            "option": ["a", "b", "c", "Refused", "x", "y", "z"],
            "probability": [*q1, *q2],
        }
    )


# q1: reference renormalised over non-refusal = (.2, .3, .4) / .9 = (2/9, 3/9, 4/9); simulated (.5, .25, .25)
#     CDF_sim = (.5, .75), CDF_ref = (2/9, 5/9) -> |diff| = 5/18, 7/36 -> W1 = 17/36; / 2 = 17/72
# q2: sorted x(1), z(1.5), y(2): sim (.2, .2, .6), ref (.5, .2, .3); CDF_sim (.2, .4), CDF_ref (.5, .7)
#     |diff| = .3, .3; gaps .5, .5 -> W1 = .3; / 1 = .3
WD_Q1, WD_Q2 = 17 / 72, 0.3


def test_alignment_aggregated_by_hand():
    res = alignment(_aggregated(), _reference())
    pq = res.per_question.set_index("question_id")
    assert pq.loc["q1", "wd"] == pytest.approx(WD_Q1)
    assert pq.loc["q1", "w1"] == pytest.approx(17 / 36)
    assert pq.loc["q1", "position_range"] == 2.0
    assert pq.loc["q2", "wd"] == pytest.approx(WD_Q2)
    assert pq.loc["q1", "reference_refusal"] == pytest.approx(0.1)
    assert pq.loc["q1", "simulated_refusal"] == pytest.approx(0.0)
    assert pq.loc["q1", "n_options"] == 3
    # Rep = 1 - (17/72 + 0.3) / 2
    assert res.representativeness == pytest.approx(1 - (WD_Q1 + WD_Q2) / 2)
    assert res.to_frame("overall")["representativeness"].iloc[0] == pytest.approx(1 - (WD_Q1 + WD_Q2) / 2)
    assert "representativeness" in res.summary().as_text()


def test_refusal_is_excluded_and_reported_apart():
    # Simulated q1 with 20% refusal: (.4, .2, .2 | .2) renormalises to (.5, .25, .25) -> same WD as above.
    res = alignment(_aggregated(q1=(0.4, 0.2, 0.2, 0.2)), _reference())
    pq = res.per_question.set_index("question_id")
    assert pq.loc["q1", "wd"] == pytest.approx(WD_Q1)
    assert pq.loc["q1", "simulated_refusal"] == pytest.approx(0.2)


def test_positions_and_refusal_flags_may_come_from_simulated():
    ref = _reference().drop(columns=["position", "is_refusal"])
    sim = _aggregated().assign(position=_reference()["position"], is_refusal=_reference()["is_refusal"])
    assert alignment(sim, ref).representativeness == pytest.approx(1 - (WD_Q1 + WD_Q2) / 2)


def _one_question_reference(shares=(0.2, 0.6, 0.2), **extra):
    return pd.DataFrame({"question_id": "q", "option": ["lo", "mid", "hi"], "position": [1, 2, 3],
                         "share": list(shares), **extra})


def test_persona_level_weighted_mean_by_hand():
    # persona A answers "lo", B answers "mid"; weights 3 and 1 -> simulated (.75, .25, 0)
    # CDF_sim = (.75, 1), CDF_ref = (.2, .8) -> .55 + .2 = .75; / 2 = .375
    # unweighted (.5, .5, 0): CDF (.5, 1) -> .3 + .2 = .5; / 2 = .25
    sim = pd.DataFrame({"persona_id": ["A", "B"], "question_id": "q", "option": ["lo", "mid"],
                        "probability": 1.0, "w": [3.0, 1.0]})
    ref = _one_question_reference()
    assert alignment(sim, ref, weights="w").mean_wd == pytest.approx(0.375)
    assert alignment(sim, ref).mean_wd == pytest.approx(0.25)
    by_series = alignment(sim, ref, weights=pd.Series({"A": 3.0, "B": 1.0}))
    assert by_series.mean_wd == pytest.approx(0.375)
    assert by_series.n_personas == 2


def test_groups_and_partial_answers_by_hand():
    # Group D: personas d1 (lo) and d2 (hi); reference D = (.5, 0, .5) -> identical -> WD 0.
    # Group R: persona r1 answers q with "hi", r2 answers only q_other; reference R = (0, 0, 1) -> WD 0 on q.
    # q_other (positions 1, 2): R simulated = r2's (1, 0); reference R (0, 1) -> W1 = 1; / 1 = 1.
    # Group D on q_other: d1 (0, 1) -> reference (0, 1) -> 0.
    sim = pd.DataFrame(
        {
            "persona_id": ["d1", "d2", "r1", "r2", "d1"],
            "party": ["D", "D", "R", "R", "D"],
            "question_id": ["q", "q", "q", "q_other", "q_other"],
            "option": ["lo", "hi", "hi", "yes", "no"],
            "probability": 1.0,
        }
    )
    ref = pd.DataFrame(
        {
            "party": ["D"] * 3 + ["R"] * 3 + ["D", "D", "R", "R"],
            "question_id": ["q"] * 6 + ["q_other"] * 4,
            "option": ["lo", "mid", "hi"] * 2 + ["yes", "no"] * 2,
            "position": [1, 2, 3] * 2 + [1, 2] * 2,
            "share": [0.5, 0, 0.5, 0, 0, 1, 0, 1, 0, 1],
        }
    )
    res = alignment(sim, ref, group="party")
    groups = res.per_group.set_index("party")
    # D: mean(0, 0) -> Rep 1; R: mean(0, 1) -> Rep 0.5; overall 1 - mean(0, 0, 0, 1) = 0.75
    assert groups.loc["D", "representativeness"] == pytest.approx(1.0)
    assert groups.loc["R", "representativeness"] == pytest.approx(0.5)
    assert res.representativeness == pytest.approx(0.75)
    assert len(res.to_frame("question")) == 4


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (lambda s, r: (s.assign(probability=[0.5, 0.25, 0.15, 0.0, 0.2, 0.6, 0.2]), r), DistributionError,
         r"do not sum to 1.*question_id='q1' sums to 0\.9"),
        (lambda s, r: (s, r.assign(share=[0.2, 0.3, 0.4, 0.1, 0.5, 0.3, 0.3])), DistributionError,
         r"column 'share' of `reference`.*question_id='q2' sums to 1\.1"),
        (lambda s, r: (s.assign(probability=[0.75, -0.25, 0.5, 0.0, 0.2, 0.6, 0.2]), r), DistributionError,
         r"1 negative value\(s\), the first at question_id='q1', option='b'"),
        (lambda s, r: (s.assign(probability=[0.5, 0.25, 0.25, 0.0, np.nan, 0.6, 0.2]), r), DistributionError,
         r"NaN or infinite value\(s\), the first at question_id='q2', option='x'"),
        (lambda s, r: (pd.concat([s, pd.DataFrame({"question_id": ["q9"], "option": ["a"], "probability": [1.0]})]),
                       r), MismatchError, r"only in simulated: \['q9'\]"),
        (lambda s, r: (s[s.question_id == "q1"], r), MismatchError, r"only in reference: \['q2'\]"),
        (lambda s, r: (s.assign(option=["a", "b", "C", "Refused", "x", "y", "z"]), r), MismatchError,
         r"question 'q1' has different options.*only in simulated: \[\"'C'\"\]; only in reference: \[\"'c'\"\]"),
        (lambda s, r: (s, r.assign(position=[1, 1, 1, np.nan, 1, 2, 1.5])), DegenerateScaleError,
         r"question\(s\) \['q1'\].*max\(position\) - min\(position\) = 0"),
        (lambda s, r: (s.assign(position=[1, 2, 4, np.nan, 1, 2, 1.5]), r), MismatchError,
         r"disagree on 'position' of question 'q1', option 'c': 4\.0 vs 3\.0"),
        (lambda s, r: (s, r.drop(columns="position")), InputError, r"needs a 'position' column"),
        (lambda s, r: (s, r.assign(position=[1, np.nan, 3, np.nan, 1, 2, 1.5])), InputError,
         r"non-refusal option 'b' of question 'q1' has no finite 'position'"),
        (lambda s, r: (s.assign(probability=[0, 0, 0, 1.0, 0.2, 0.6, 0.2]), r), DistributionError,
         r"`simulated` of alignment puts all its mass on refusal options \(question 'q1'"),
        (lambda s, r: (s.assign(question_id=["q1", None, "q1", "q1", "q2", "q2", "q2"]), r), MissingValueError,
         r"column 'question_id' of `simulated`"),
        (lambda s, r: (s.drop(columns="probability"), r), InputError, r"lacks column\(s\) \['probability'\]"),
        (lambda s, r: (pd.concat([s, s.iloc[:1]]), r), InputError, r"same cell twice \(question_id='q1', option='a'\)"),
        (lambda s, r: (s, r.assign(is_refusal=["no", False, False, True, False, False, False])), InputError,
         r"'is_refusal' of `reference`.*must be True/False"),
    ],
)
def test_alignment_errors(mutate, error, match):
    sim, ref = mutate(_aggregated(), _reference())
    with pytest.raises(error, match=match):
        alignment(sim, ref)


def test_persona_sum_error_names_the_persona():
    sim = pd.DataFrame({"persona_id": ["p1", "p1", "p2"], "question_id": "q", "option": ["lo", "mid", "hi"],
                        "probability": [0.5, 0.4, 1.0]})
    with pytest.raises(DistributionError, match=r"persona_id='p1', question_id='q' sums to 0\.9"):
        alignment(sim, _one_question_reference())


def test_group_mismatch_and_bootstrap_needs_personas():
    sim = _aggregated().assign(party="D")
    ref = _reference().assign(party="R")
    with pytest.raises(MismatchError, match=r"groups of \['party'\] that `reference` lacks: \[\('D',\)\]"):
        alignment(sim, ref, group="party")
    with pytest.raises(InputError, match=r"need persona-level `simulated` \(a 'persona_id' column\)"):
        alignment(_aggregated(), _reference(), n_boot=10)


def test_persona_group_must_be_constant():
    sim = pd.DataFrame({"persona_id": ["p1", "p1"], "party": ["D", "R"], "question_id": ["q", "q"],
                        "option": ["lo", "mid"], "probability": [0.5, 0.5]})
    ref = pd.concat([_one_question_reference().assign(party=p) for p in ("D", "R")])
    with pytest.raises(InputError, match=r"'party' of `simulated` \(alignment\) must be constant within each "
                                         r"persona_id; persona_id='p1'"):
        alignment(sim, ref, group="party")


# --------------------------------------------------------------------------- alignment bootstrap
def _random_personas(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n):
        for q, opts in (("q1", ["a", "b", "c", "Refused"]), ("q2", ["x", "y", "z"])):
            for o, v in zip(opts, rng.dirichlet(np.ones(len(opts)))):
                rows.append((f"p{pid}", q, o, v, 1.0 + pid % 3, "north" if pid % 2 else "south"))
    return pd.DataFrame(rows, columns=["persona_id", "question_id", "option", "probability", "w", "region"])


def test_alignment_bootstrap_matches_resampling_the_table():
    # The vectorised bootstrap must equal re-running alignment() on each resampled persona table.
    sim = _random_personas(12, seed=3)
    ref = _reference()
    fast = alignment(sim, ref, weights="w", n_boot=15, random_state=11, progress=False)
    personas = pd.unique(sim["persona_id"])

    def slow(idx, _w):
        parts = [sim[sim.persona_id == personas[i]].assign(persona_id=f"draw{k}") for k, i in enumerate(idx)]
        return alignment(pd.concat(parts), ref, weights="w").representativeness

    loop = bootstrap(slow, len(personas), n_boot=15, random_state=11, progress=False)
    np.testing.assert_allclose(fast.bootstrap.distribution[:, 0], loop.distribution[:, 0], rtol=1e-10)
    low, high = fast.confidence_interval
    assert low <= fast.representativeness <= high
    assert fast.to_frame("overall")["ci_low"].iloc[0] == pytest.approx(low)


def test_alignment_bootstrap_reproducible_and_stratified():
    sim = _random_personas(30, seed=5)
    a = alignment(sim, _reference(), n_boot=200, strata="region", random_state=2, progress=False)
    b = alignment(sim, _reference(), n_boot=200, strata="region", random_state=2, progress=False)
    np.testing.assert_array_equal(a.bootstrap.distribution, b.bootstrap.distribution)
    assert a.bootstrap.stratified


# --------------------------------------------------------------------------- elections
ACTUAL = pd.DataFrame({"state": ["CA", "WY", "PA"], "dem_two_party_share": [0.65, 0.28, 0.49]})


def test_election_shares_by_hand():
    sim = pd.DataFrame({"state": ["CA", "WY", "PA"], "dem_two_party_share": [0.70, 0.35, 0.52]})
    res = election_errors(sim, ACTUAL)
    # errors = (.05, .07, .03): MAE = .05, RMSE = sqrt((.0025 + .0049 + .0009) / 3), lean = +.05 (left)
    assert res.mae == pytest.approx(0.05)
    assert res.rmse == pytest.approx(np.sqrt(0.0083 / 3))
    assert res.mean_signed_error == pytest.approx(0.05)
    # winners: CA D/D, WY R/R, PA D (0.52) vs R (0.49) -> 2 of 3
    assert res.winner_accuracy == pytest.approx(2 / 3)
    # 1 - W1 on positions D=0, R=1 is 1 - |error|; its mean is 1 - MAE
    assert res.alignment == pytest.approx(0.95)
    per = res.per_state.set_index("state")
    assert per.loc["PA", "signed_error"] == pytest.approx(0.03)
    assert not per.loc["PA", "winner_correct"]
    assert per.loc["WY", "alignment"] == pytest.approx(0.93)
    assert "mean_signed_error" in res.summary().as_text()


def test_election_state_vote_distributions_with_third_party():
    # X: D .54, R .36, other .10 -> .54 / .90 = .6; Y: D .45 R .45 -> .5, a tie, never counted as correct
    sim = pd.DataFrame({"state": ["X"] * 3 + ["Y"] * 3, "party": ["Dem", "Rep", "Green"] * 2,
                        "probability": [0.54, 0.36, 0.10, 0.45, 0.45, 0.10]})
    actual = pd.DataFrame({"state": ["X", "Y"], "dem_two_party_share": [0.55, 0.52]})
    res = election_errors(sim, actual, dem="Dem", rep="Rep")
    per = res.per_state.set_index("state")
    assert per.loc["X", "simulated"] == pytest.approx(0.6)
    assert per.loc["Y", "simulated_winner"] == "tie"
    # errors .05 and -.02 -> MAE .035, lean .015, winners 1 of 2
    assert res.mae == pytest.approx(0.035)
    assert res.mean_signed_error == pytest.approx(0.015)
    assert res.winner_accuracy == pytest.approx(0.5)


def test_election_persona_level_weighted_by_hand():
    # CA personas: a votes D, b votes R, c (D .5, R .3, other .2); weights 1, 1, 2
    # num = 1 + 0 + 2 * .5 = 2; den = 1 + 1 + 2 * .8 = 3.6 -> 5/9
    sim = pd.DataFrame({"persona_id": ["a", "b", "c", "c", "c"], "state": "CA",
                        "party": ["D", "R", "D", "R", "O"], "probability": [1, 1, 0.5, 0.3, 0.2],
                        "w": [1, 1, 2, 2, 2]})
    res = election_errors(sim, ACTUAL, weights="w")
    assert res.per_state.set_index("state").loc["CA", "simulated"] == pytest.approx(5 / 9)
    assert res.per_state["n_personas"].tolist() == [3]
    # WY and PA were not simulated: left out, and said so
    assert res.not_simulated == ("WY", "PA")
    assert "not simulated" in res.summary().as_text()
    with pytest.raises(MismatchError, match=r"state\(s\) \['WY', 'PA'\] of `actual` were not simulated"):
        election_errors(sim, ACTUAL, weights="w", missing_states="raise")


def test_election_bootstrap_keeps_state_sizes():
    # CA: 10 personas all D -> every within-state resample has share 1 exactly.
    # WY: 5 D and 15 R -> share .25; resamples vary.
    sim = pd.DataFrame({"persona_id": [f"c{i}" for i in range(10)] + [f"w{i}" for i in range(20)],
                        "state": ["CA"] * 10 + ["WY"] * 20, "party": ["D"] * 15 + ["R"] * 15, "probability": 1.0})
    res = election_errors(sim, ACTUAL, n_boot=500, random_state=4, progress=False)
    per = res.per_state.set_index("state")
    assert (per.loc["CA", "ci_low"], per.loc["CA", "ci_high"]) == (1.0, 1.0)
    assert per.loc["WY", "simulated"] == pytest.approx(0.25)
    assert per.loc["WY", "ci_low"] < 0.25 < per.loc["WY", "ci_high"]
    head = res.headline().set_index("statistic")
    for name in ("mae", "mean_signed_error", "winner_accuracy"):
        assert head.loc[name, "ci_low"] <= head.loc[name, "estimate"] <= head.loc[name, "ci_high"]
    assert res.bootstrap.stratified


@pytest.mark.parametrize(
    "sim, kwargs, error, match",
    [
        (pd.DataFrame({"state": ["TX"], "dem_two_party_share": [0.4]}), {}, MismatchError,
         r"state\(s\) \['TX'\] that `actual` lacks"),
        (pd.DataFrame({"state": ["CA"], "dem_two_party_share": [1.4]}), {}, DistributionError,
         r"'dem_two_party_share' of `simulated`.*\['CA'\] exceed 1"),
        (pd.DataFrame({"state": ["CA", "CA"], "party": ["D", "R"], "probability": [0.5, 0.4]}), {},
         DistributionError, r"state='CA' sums to 0\.9"),
        (pd.DataFrame({"state": ["CA", "CA"], "party": ["DEM", "R"], "probability": [0.5, 0.5]}), {},
         MismatchError, r"`dem` label 'D' of election_errors never appears in column 'party'"),
        (pd.DataFrame({"state": ["CA", "CA", "WY"], "party": ["D", "R", "O"], "probability": [0.5, 0.5, 1.0]}), {},
         DistributionError, r"state\(s\) \['WY'\] of `simulated`.*no probability on either major party"),
        (pd.DataFrame({"state": ["CA"], "dem_two_party_share": [0.6]}), {"n_boot": 10}, InputError,
         r"need per-persona `simulated` rows"),
        (pd.DataFrame({"persona_id": ["a", "a"], "state": ["CA", "WY"], "party": "D", "probability": 1.0}), {},
         InputError, r"persona 'a' of `simulated` \(election_errors\) appears in more than one state"),
    ],
)
def test_election_errors(sim, kwargs, error, match):
    with pytest.raises(error, match=match):
        election_errors(sim, ACTUAL, **kwargs)


def test_election_actual_duplicates():
    actual = pd.concat([ACTUAL, ACTUAL.iloc[:1]])
    with pytest.raises(InputError, match=r"`actual` of election_errors has more than one row for state\(s\) \['CA'\]"):
        election_errors(ACTUAL, actual)


# --------------------------------------------------------------------------- composition
def _margins():
    joint = pd.Series([0.15, 0.15, 0.35, 0.35], index=pd.MultiIndex.from_tuples(
        [("18-29", "F"), ("18-29", "M"), ("30+", "F"), ("30+", "M")]))
    return Margins.from_shares({"age": {"18-29": 0.3, "30+": 0.7}, "sex": {"F": 0.5, "M": 0.5},
                                ("age", "sex"): joint}, total=1000)


PERSONAS = pd.DataFrame({"age": ["18-29", "30+", "30+", "30+"], "sex": ["F", "M", "F", "M"]})


def test_composition_unweighted_by_hand():
    res = composition_error(PERSONAS, _margins())
    # age: personas (1/4, 3/4) vs (.3, .7) -> diffs (-.05, .05) -> TVD .05
    assert res.tvd("age") == pytest.approx(0.05)
    # sex: (1/2, 1/2) vs (1/2, 1/2) -> 0
    assert res.tvd("sex") == pytest.approx(0.0)
    # joint: (.25, 0, .25, .5) vs (.15, .15, .35, .35) -> |.1| + |.15| + |.1| + |.15| = .5 -> TVD .25
    assert res.tvd(("age", "sex")) == pytest.approx(0.25)
    cells = res.to_frame()
    row = cells[(cells.margin == "age:sex") & (cells.age == "18-29") & (cells.sex == "F")].iloc[0]
    assert row["relative_error"] == pytest.approx(0.1 / 0.15)
    assert res.per_margin.set_index("margin").loc["age:sex", "kind"] == "joint"
    assert "largest TVD" in res.summary().as_text()


def test_composition_weighted_by_hand():
    # weights (2, 1, 1, 1), total 5: age 18-29 = 2/5 = .4 vs .3 -> TVD .1
    # joint (.4, 0, .2, .4) vs (.15, .15, .35, .35): |.25| + |.15| + |.15| + |.05| = .6 -> TVD .3
    res = composition_error(PERSONAS.assign(w=[2.0, 1, 1, 1]), _margins(), weights="w")
    assert res.tvd("age") == pytest.approx(0.1)
    assert res.tvd("age:sex") == pytest.approx(0.3)
    assert composition_error(PERSONAS, _margins(), weights=np.array([2.0, 1, 1, 1])).tvd("age") == pytest.approx(0.1)


def test_composition_unknown_categories_raise_or_report():
    personas = pd.DataFrame({"age": ["18-29", "30+", "30+", "65+"], "sex": ["F", "M", "F", "M"]})
    margins = _margins().subset(["age"])
    with pytest.raises(UnknownCategoryError, match=r"column 'age' of `personas`.*'65\+' \(1 personas\)"):
        composition_error(personas, margins)
    res = composition_error(personas, margins, unknown="report")
    # shares (.25, .5, .25) vs targets (.3, .7, 0) -> |.05| + |.2| + |.25| = .5 -> TVD .25
    assert res.tvd("age") == pytest.approx(0.25)
    assert res.unknown["age"].tolist() == ["65+"]
    row = res.cells[res.cells.age == "65+"].iloc[0]
    assert (row["target_share"], row["in_margins"], row["relative_error"]) == (0.0, False, np.inf)


def test_composition_missing_joint_cell_and_types():
    joint = pd.Series([0.5, 0.5], index=pd.MultiIndex.from_tuples([("18-29", "F"), ("30+", "M")]))
    margins = Margins.from_shares({("age", "sex"): joint}, total=10)
    with pytest.raises(UnknownCategoryError, match=r"margin 'age:sex' does not list the persona cell\(s\) "
                                                  r"\[\('30\+', 'F'\)\]"):
        composition_error(PERSONAS, margins)
    coded = Margins.from_shares({"region": {1: 0.5, 2: 0.5}}, total=10)
    with pytest.raises(CategoryTypeError, match=r"column 'region' of `personas`.*holds '1' \(str\) where the margins "
                                               r"list 1 \(int\)"):
        composition_error(pd.DataFrame({"region": ["1", "2"]}), coded)
    with pytest.raises(MissingValueError, match=r"column 'sex' of `personas`"):
        composition_error(PERSONAS.assign(sex=["F", None, "F", "M"]), _margins())
    with pytest.raises(InvalidValueError, match=r"`weights` of composition_error must be finite, >= 0"):
        composition_error(PERSONAS, _margins(), weights=np.array([1.0, -1, 1, 1]))
    with pytest.raises(InputError, match=r"lacks column\(s\) \['sex'\]"):
        composition_error(PERSONAS.drop(columns="sex"), _margins())


def test_composition_bootstrap_interval():
    rng = np.random.default_rng(0)
    personas = pd.DataFrame({"age": rng.choice(["18-29", "30+"], size=400, p=[0.3, 0.7]),
                             "sex": rng.choice(["F", "M"], size=400)})
    res = composition_error(personas, _margins(), n_boot=300, random_state=1, progress=False)
    low, high = res.bootstrap.interval("tvd[age]")
    assert 0 <= low <= high < 0.15
    assert list(res.per_margin.columns[-2:]) == ["ci_low", "ci_high"]


# --------------------------------------------------------------------------- bootstrap kernel
def test_percentile_ci_matches_scipy_bootstrap():
    x = np.random.default_rng(123).gamma(2.0, 1.5, size=40)
    ours = bootstrap(lambda idx, w: x[idx].mean(axis=-1), x.size, n_boot=20000, random_state=1,
                     vectorized=True, progress=False)
    ref = scipy.stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile", confidence_level=0.95,
                                rng=np.random.default_rng(2))
    se = x.std() / np.sqrt(x.size)
    # Both are Monte Carlo estimates of the same quantiles; 20000 replicates -> error ~0.02 SE each.
    assert ours.ci_low[0] == pytest.approx(ref.confidence_interval.low, abs=0.1 * se)
    assert ours.ci_high[0] == pytest.approx(ref.confidence_interval.high, abs=0.1 * se)
    # Bootstrap SE of a mean is sqrt(sum (x - mean)^2) / n (population variance / n), known in closed form.
    assert ours.standard_error[0] == pytest.approx(se, rel=0.03)
    assert ours.estimate[0] == pytest.approx(x.mean())


def test_non_vectorized_equals_vectorized():
    x = np.arange(10.0)
    a = bootstrap(lambda idx, w: x[idx].mean(axis=-1), 10, n_boot=50, random_state=3, vectorized=True,
                  progress=False)
    b = bootstrap(lambda idx, w: x[idx].mean(), 10, n_boot=50, random_state=3, progress=False)
    np.testing.assert_allclose(a.distribution, b.distribution)


def test_weights_travel_with_units():
    # Weighted mean of x = (0, 10) with weights (3, 1): 10 * 1/4 = 2.5 on the full sample.
    x, w = np.array([0.0, 10.0]), np.array([3.0, 1.0])
    seen = []

    def stat(idx, rw):
        seen.append(np.array_equal(rw, w[idx]))
        return np.sum(x[idx] * rw) / np.sum(rw)

    res = bootstrap(stat, 2, weights=w, n_boot=20, random_state=0, progress=False)
    assert res.estimate[0] == pytest.approx(2.5)
    assert all(seen)
    # every resample is (0,0) -> 0, (10,10) -> 10, or one of each -> 2.5
    assert set(np.round(res.distribution[:, 0], 10)) <= {0.0, 2.5, 10.0}


def test_stratified_resampling_keeps_stratum_sizes():
    strata = np.array(["a"] * 3 + ["b"] * 7)
    res = bootstrap(lambda idx, w: np.sum(idx < 3), 10, strata=strata, n_boot=100, random_state=0, progress=False)
    # units 0..2 are stratum a: each replicate draws exactly 3 of them
    assert np.all(res.distribution == 3)


def test_percentile_coverage_sanity():
    # 200 normal samples of n = 60; a 95% percentile interval for the mean should cover 0 about 95% of the time
    # (slightly less for the percentile method at small n). Fixed seed -> deterministic count.
    rng = np.random.default_rng(2024)
    hits = 0
    for _ in range(200):
        x = rng.normal(size=60)
        res = bootstrap(lambda idx, w, x=x: x[idx].mean(axis=-1), 60, n_boot=400, random_state=rng,
                        vectorized=True, progress=False)
        hits += res.ci_low[0] <= 0.0 <= res.ci_high[0]
    assert 0.88 <= hits / 200 <= 0.99


def test_basic_method_reflects_percentiles():
    x = np.array([1.0, 2.0, 3.0, 10.0])
    p = bootstrap(lambda idx, w: x[idx].mean(axis=-1), 4, n_boot=500, random_state=5, vectorized=True, progress=False)
    b = bootstrap(lambda idx, w: x[idx].mean(axis=-1), 4, n_boot=500, random_state=5, vectorized=True,
                  method="basic", progress=False)
    # basic = (2 * estimate - high, 2 * estimate - low), estimate = 4
    assert b.ci_low[0] == pytest.approx(8 - p.ci_high[0])
    assert b.ci_high[0] == pytest.approx(8 - p.ci_low[0])


def test_nan_replicates_are_counted_and_warned():
    def stat(idx, w):
        return np.nan if idx[0] == 0 else 1.0

    with pytest.warns(DiagnosticsWarning, match=r"bootstrap replicates gave NaN for 'statistic'"):
        res = bootstrap(stat, 3, n_boot=60, random_state=0, progress=False)
    assert 0 < res.n_failed[0] < 60
    assert res.ci_low[0] == res.ci_high[0] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_boot": 1}, r"`n_boot` of bootstrap must be an int >= 2; got 1"),
        ({"method": "BCa"}, r"`method` of bootstrap must be one of 'percentile', 'basic', 'bca'; got 'BCa'"),
        ({"level": 1.5}, r"`level` of bootstrap must be a finite number in \(0, 1\); got 1\.5"),
        ({"weights": [1.0, 2.0]}, r"`weights` of bootstrap must have one entry per unit \(3\)"),
        ({"strata": ["a", None, "b"]}, r"`strata` of bootstrap holds missing labels"),
        ({"random_state": -1}, r"`random_state` of bootstrap must be a non-negative int"),
    ],
)
def test_bootstrap_argument_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        bootstrap(lambda idx, w: 0.0, 3, **{"n_boot": 10, **kwargs})


def test_bootstrap_statistic_length_must_not_change():
    with pytest.raises(InputError, match=r"returned 1 value\(s\) on the full sample but 2 on a replicate"):
        bootstrap(lambda idx, w: [1.0] if np.array_equal(idx, np.arange(3)) else [1.0, 2.0], 3, n_boot=5,
                  random_state=0, progress=False)


def test_weights_must_be_valid():
    with pytest.raises(InvalidValueError, match=r"`weights` of bootstrap must be finite, >= 0 and not all 0"):
        bootstrap(lambda idx, w: 0.0, 2, weights=[0.0, 0.0], n_boot=5)


def test_no_stray_warnings_on_clean_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alignment(_aggregated(), _reference())
        composition_error(PERSONAS, _margins())
        election_errors(ACTUAL, ACTUAL)
