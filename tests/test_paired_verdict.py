"""The paired verdict of compare: same resampled personas on both sides, a tri-state verdict per statistic.

Simulated elections with a known truth come from tests/_verdict_sim.py (the model is in its
docstring). The full-size figures (coverage, false improvements, power) are in
benchmarks/results/paired_verdict.md; these tests run the same checks smaller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import _verdict_sim as sim
from personacal.errors import InputError
from personacal.evaluate import bootstrap, compare
from personacal.evaluate._verdict import NO_DETECTABLE_CHANGE, Verdict, decide


def _compare(answers, pop, **kwargs):
    return compare(answers.drop(columns="weight"), answers, pop.truth, weights="weight", progress=False, **kwargs)


def test_pure_noise_is_rarely_called_improved():
    # Same answers both sides; the calibrated side carries log-normal weights independent of the answers.
    # Before the paired verdict, 37 of 100 such comparisons were called improved (point estimates).
    pop = sim.population(5, lean=0.05, seed=2)
    called = 0
    for rep in range(30):
        answers = sim.sample(pop, 80, np.random.default_rng(100 + rep), weights="noise")
        changes = _compare(answers, pop, n_boot=200, random_state=rep).changes()
        called += any(v is True for v in changes["improved"])
    assert called <= 3  # at most 10% of the 30 comparisons, on any of the five statistics


def test_a_real_five_point_lean_correction_is_detected():
    # 300 personas in each of 10 states; the raw pool leans 5 points left, post-stratification removes it.
    pop = sim.population(10, lean=0.05, seed=2)
    detected = 0
    for rep in range(10):
        answers = sim.sample(pop, 300, np.random.default_rng(200 + rep))
        changes = _compare(answers, pop, n_boot=200, random_state=rep).changes().set_index("statistic")
        detected += changes.loc["mean_signed_error", "improved"] is True
    assert detected >= 8  # at least 80%


def test_recomputed_weights_judge_a_fresh_draw():
    # A representative raw pool, post-stratified: fixed weights call the removal of this sample's chance
    # imbalance an improvement; recomputing the weights on every replicate widens the change's interval to
    # what a fresh draw would show. The interval of the lean change must then hold the true change (0).
    pop = sim.population(5, lean=0.0, seed=3)
    answers = sim.sample(pop, 150, np.random.default_rng(7))
    fixed = _compare(answers, pop, n_boot=300, random_state=1).changes().set_index("statistic")
    redone = _compare(answers, pop, n_boot=300, random_state=1,
                      reweight=sim.poststratifier(pop, answers)).changes().set_index("statistic")
    width = {name: frame.loc["mean_signed_error", "change_ci_high"] - frame.loc["mean_signed_error", "change_ci_low"]
             for name, frame in (("fixed", fixed), ("redone", redone))}
    assert width["redone"] > 2 * width["fixed"]
    assert redone.loc["mean_signed_error", "change_ci_low"] < 0 < redone.loc["mean_signed_error", "change_ci_high"]
    # The point estimates do not depend on how the intervals were made.
    pd.testing.assert_series_equal(fixed["change"], redone["change"])


def test_identical_sides_give_an_exact_zero_change():
    # Paired: the same personas with the same weights on both sides -> every replicate's change is 0.
    pop = sim.population(4, seed=1)
    answers = sim.sample(pop, 40, np.random.default_rng(0))
    c = compare(answers, answers, pop.truth, weights="weight", raw_weights="weight", n_boot=100, random_state=0,
                progress=False)
    ch = c.changes()
    assert c.paired["all"].pairing == "paired"
    assert (ch[["change", "change_ci_low", "change_ci_high"]].to_numpy() == 0).all()
    assert ch["improved"].tolist() == [NO_DETECTABLE_CHANGE] * 5
    assert set(ch["verdict"]) == {"no detectable change"}


def test_different_personas_are_resampled_unpaired():
    pop = sim.population(4, seed=1)
    raw = sim.sample(pop, 60, np.random.default_rng(1))
    cal = sim.sample(pop, 60, np.random.default_rng(2))
    cal["persona_id"] = "c" + cal["persona_id"]
    c = compare(raw.drop(columns="weight"), cal, pop.truth, weights="weight", n_boot=100, random_state=0,
                progress=False)
    assert c.paired["all"].pairing == "unpaired"
    assert any("each was resampled on its own" in n for n in c.notes)
    # the unpaired change interval is the spread of independent draws: wider than either side's own
    ch = c.changes().set_index("statistic").loc["mean_signed_error"]
    assert ch["change_ci_high"] - ch["change_ci_low"] > ch["raw_ci_high"] - ch["raw_ci_low"]


def test_reweight_must_reproduce_the_weights():
    pop = sim.population(3, seed=1)
    answers = sim.sample(pop, 30, np.random.default_rng(0))
    with pytest.raises(InputError, match="`reweight` of compare does not reproduce the calibrated weights"):
        _compare(answers, pop, n_boot=20, reweight=lambda f: f * 2.0)
    with pytest.raises(InputError, match="`reweight` of compare must return a Series of weights"):
        _compare(answers, pop, n_boot=20, reweight=lambda f: f.to_numpy())


def test_reweight_within_a_replicate_tolerance_is_accepted():
    # Population-scale weights (~500,000 per persona), redone to a looser raking tolerance: 2e-6
    # relative off, i.e. about 1 in absolute terms (the tiny-model demo's Subjective tier).
    pop = sim.population(3, seed=1)
    answers = sim.sample(pop, 30, np.random.default_rng(0))
    answers["weight"] = answers["weight"] * 5e5
    w = answers.drop_duplicates("persona_id").set_index("persona_id")["weight"]
    close = _compare(answers, pop, n_boot=20, reweight=lambda f: w.reindex(f.index) * f * (1 + 2e-6))
    assert close.paired["all"].pairing == "paired"
    with pytest.raises(InputError, match=r"largest relative difference 0\.01"):
        _compare(answers, pop, n_boot=20, reweight=lambda f: w.reindex(f.index) * f * 1.01)


def test_verdict_rules():
    assert decide("lower", -0.3, -0.1) is Verdict.IMPROVED
    assert decide("lower", 0.1, 0.3) is Verdict.WORSE
    assert decide("lower", -0.1, 0.1) is Verdict.NO_DETECTABLE_CHANGE
    assert decide("higher", 0.1, 0.3) is Verdict.IMPROVED and decide("higher", -0.3, -0.1) is Verdict.WORSE
    assert decide("closer to 0", -0.2, -0.01) is Verdict.IMPROVED
    assert decide("lower", np.nan, np.nan) is Verdict.NO_DETECTABLE_CHANGE
    # an interval touching 0 does not exclude it
    assert decide("lower", -0.2, 0.0) is Verdict.NO_DETECTABLE_CHANGE
    assert Verdict.NO_DETECTABLE_CHANGE == "no detectable change" == NO_DETECTABLE_CHANGE


def test_bca_matches_scipy():
    # Delete-one jackknife below 100 units: the same BCa interval as scipy.stats.bootstrap up to Monte Carlo error.
    x = np.random.default_rng(0).exponential(size=60)
    ours = bootstrap(lambda idx, w: x[idx].std(axis=-1), x.size, n_boot=20000, random_state=1, vectorized=True,
                     method="bca", progress=False)
    ref = scipy.stats.bootstrap((x,), np.std, n_resamples=20000, method="BCa", random_state=2)
    assert ours.ci_low[0] == pytest.approx(ref.confidence_interval.low, rel=0.02)
    assert ours.ci_high[0] == pytest.approx(ref.confidence_interval.high, rel=0.02)
    # and BCa moves the interval of a right-skewed statistic away from the percentile one
    pct = bootstrap(lambda idx, w: x[idx].std(axis=-1), x.size, n_boot=20000, random_state=1, vectorized=True,
                    progress=False)
    assert ours.ci_high[0] > pct.ci_high[0]


def test_verdict_numbers_keep_small_changes_visible():
    from personacal.evaluate._verdict_report import _num

    # a 0.0001 change in alignment and its interval must not print as +0.000
    assert _num(0.000116, "", True) == "+0.00012"
    assert _num(5.09e-05, "", True) == "+5.1e-05"
    assert _num(0.961, "", False) == "0.961"
    assert _num(-0.0123, "pp", True) == "-1.2"
