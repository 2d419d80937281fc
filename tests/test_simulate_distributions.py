"""Kernels of simulate(): option orders, mapping letters back, OpinionQA's missing-option rule, counts.

Expected values are worked out by hand in the comments.
"""

import numpy as np
import pytest

from personacal._random import item_rng
from personacal.simulate._distributions import (
    letter_probabilities,
    option_order,
    reply_counts,
    to_original_order,
)

LOG = np.log


# -- option orders and mapping back ----------------------------------------------
def test_to_original_order_inverts_the_shown_order():
    # shown A = option 2, B = option 0, C = option 1
    order = np.array([2, 0, 1])
    assert to_original_order(np.array([10.0, 20.0, 30.0]), order).tolist() == [20.0, 30.0, 10.0]
    assert to_original_order(np.array(["A", "B", "C"], dtype=object), order).tolist() == ["B", "C", "A"]


def test_option_order_keeps_refusals_last_and_permutes_the_rest():
    is_refusal = np.array([False, False, False, False, True, True])
    seen = set()
    for seed in range(40):
        order = option_order(np.random.default_rng(seed), is_refusal, shuffle=True)
        assert sorted(order[:4].tolist()) == [0, 1, 2, 3]
        assert order[4:].tolist() == [4, 5]
        seen.add(tuple(order[:4]))
    assert len(seen) > 10  # 24 possible orders; 40 draws hit many of them


def test_option_order_without_shuffle_is_the_questionnaire_order():
    order = option_order(np.random.default_rng(0), np.array([False, False, True]), shuffle=False)
    assert order.tolist() == [0, 1, 2]


def test_later_draws_do_not_depend_on_shuffle():
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    option_order(a, np.zeros(5, dtype=bool), shuffle=True)
    option_order(b, np.zeros(5, dtype=bool), shuffle=False)
    assert a.integers(0, 2**31) == b.integers(0, 2**31)


def test_item_rng_depends_only_on_run_seed_and_ids():
    draw = lambda *key: item_rng(*key).integers(0, 2**62)
    assert draw(1, "p1", "q1") == draw(1, "p1", "q1")
    assert len({draw(1, "p1", "q1"), draw(1, "p2", "q1"), draw(1, "p1", "q2"), draw(2, "p1", "q1")}) == 4


# -- OpinionQA's first-token rule ----------------------------------------------------
def test_all_letters_returned_renormalises():
    probs, mass, missing = letter_probabilities(LOG([0.3, 0.1, 0.1]), unseen_mass=0.2)
    # 0.3, 0.1, 0.1 over 0.5
    np.testing.assert_allclose(probs, [0.6, 0.2, 0.2])
    assert mass == pytest.approx(0.5)
    assert missing.tolist() == [False, False, False]


def test_missing_letters_get_the_smallest_reported_probability_when_that_is_smaller():
    lp = np.array([LOG(0.5), LOG(0.2), -np.inf, -np.inf])
    probs, mass, missing = letter_probabilities(lp, unseen_mass=0.1, min_reported_logprob=LOG(0.02))
    # fill = min(p_min = 0.02, 0.1 / 2 = 0.05) = 0.02; total 0.74
    np.testing.assert_allclose(probs, np.array([0.5, 0.2, 0.02, 0.02]) / 0.74)
    assert mass == pytest.approx(0.7)
    assert missing.tolist() == [False, False, True, True]


def test_missing_letters_share_the_unseen_mass_when_that_is_smaller():
    lp = np.array([LOG(0.5), LOG(0.2), -np.inf, -np.inf])
    probs, _, _ = letter_probabilities(lp, unseen_mass=0.01, min_reported_logprob=LOG(0.02))
    # fill = min(0.02, 0.01 / 2 = 0.005) = 0.005; total 0.71
    np.testing.assert_allclose(probs, np.array([0.5, 0.2, 0.005, 0.005]) / 0.71)


def test_without_min_reported_the_smallest_returned_letter_bounds_p_min():
    lp = np.array([LOG(0.5), LOG(0.04), -np.inf])
    probs, _, _ = letter_probabilities(lp, unseen_mass=0.3)
    # fill = min(0.04 (smallest returned letter), 0.3 / 1) = 0.04; total 0.58
    np.testing.assert_allclose(probs, np.array([0.5, 0.04, 0.04]) / 0.58)


def test_no_unseen_mass_gives_missing_letters_zero():
    lp = np.array([LOG(0.6), -np.inf])
    probs, _, _ = letter_probabilities(lp, unseen_mass=0.0, min_reported_logprob=LOG(0.01))
    np.testing.assert_allclose(probs, [1.0, 0.0])


def test_all_letters_missing_under_opinionqa_is_uniform_at_the_fill():
    probs, mass, _ = letter_probabilities(np.full(3, -np.inf), unseen_mass=0.3, min_reported_logprob=LOG(0.1))
    # fill = min(0.1, 0.3 / 3) = 0.1 each
    np.testing.assert_allclose(probs, [1 / 3, 1 / 3, 1 / 3])
    assert mass == 0.0


def test_zero_rule():
    lp = np.array([LOG(0.5), LOG(0.2), -np.inf, -np.inf])
    probs, mass, missing = letter_probabilities(lp, missing="zero")
    np.testing.assert_allclose(probs, [5 / 7, 2 / 7, 0.0, 0.0])
    assert mass == pytest.approx(0.7)
    assert missing.tolist() == [False, False, True, True]


def test_zero_rule_with_every_letter_missing_is_undefined():
    probs, mass, _ = letter_probabilities(np.full(2, -np.inf), missing="zero")
    assert np.isnan(probs).all() and mass == 0.0


def test_opinionqa_rule_needs_the_unseen_mass():
    with pytest.raises(ValueError, match="unseen_mass"):
        letter_probabilities(np.array([LOG(0.5), -np.inf]))


def test_bad_log_probabilities_are_rejected():
    with pytest.raises(ValueError, match="<= 0 or -inf"):
        letter_probabilities(np.array([0.5, np.nan]), unseen_mass=0.0)
    with pytest.raises(ValueError, match="<= 0 or -inf"):
        letter_probabilities(np.array([0.5, -1.0]), unseen_mass=0.0)
    with pytest.raises(ValueError, match="missing must be one of"):
        letter_probabilities(np.array([-1.0]), missing="uniform")


# -- counts of sampled replies ---------------------------------------------------------
def test_reply_counts_keep_unparseable_apart():
    counts, n_bad = reply_counts(np.array([0, 2, -1, 2, -1]), 3)
    assert counts.tolist() == [1, 0, 2]
    assert n_bad == 2
    assert counts.sum() + n_bad == 5
