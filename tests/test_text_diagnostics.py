"""text_diagnostics: scores against vaderSentiment / TextBlob called directly, term counts by hand, paired intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from textblob import TextBlob
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from personacal.errors import InputError, MissingValueError
from personacal.evaluate import TextDiagnosticsResult, text_diagnostics

META = {
    "p1": "- Age: 45 to 54 years\n- Employment status: Unemployed\n- Marital status: Now married, except separated",
    "p2": "- Sex: Female\n- Marital status: Divorced\n- Insurance coverage: No health insurance coverage",
    "p3": "- Age: 25 to 34 years\n- Education: Bachelor's degree",
    "p4": "- Sex: Male\n- Marital status: Widowed",
}
LLM = {
    "p1": "Maria is a proud, resilient mother. She lost her job last year, but she enjoys her garden and stays hopeful.",
    "p2": "After her divorce, Ann struggled with debt and medical bills. She has no health insurance and worries a lot.",
    "p3": "Sam is a successful engineer who loves hiking. He feels happy and grateful for his close-knit family!",
    "p4": "Since his wife passed away, Joe feels lonely. Still, he is comfortable and finds joy in his grandchildren.",
}
# Hand counts of the life-experience terms (see personacal/evaluate/_text_terms.py):
HAND = {  # (negative, positive)
    ("meta", "p1"): (1, 0),  # unemployed; "except separated" is the ACS label of a married person
    ("meta", "p2"): (2, 0),  # divorced, no health insurance
    ("meta", "p3"): (0, 0),
    ("meta", "p4"): (1, 0),  # widowed
    ("llm", "p1"): (1, 4),  # lost | proud, resilient, enjoys, hopeful
    ("llm", "p2"): (5, 0),  # divorce, struggled, debt, no health insurance, worries
    ("llm", "p3"): (0, 5),  # successful, loves, happy, grateful, close-knit
    ("llm", "p4"): (2, 2),  # passed away, lonely | comfortable, joy
}


@pytest.fixture(scope="module")
def result() -> TextDiagnosticsResult:
    return text_diagnostics({"meta": pd.Series(META), "llm": pd.Series(LLM)}, progress=False)


def _vader(texts: dict[str, str]) -> pd.Series:
    analyzer = SentimentIntensityAnalyzer()
    return pd.Series({k: analyzer.polarity_scores(v)["compound"] for k, v in texts.items()})


def test_scores_match_the_libraries_called_directly(result):
    scores = result.scores.set_index(["tier", "persona_id"])
    for tier, texts in (("meta", META), ("llm", LLM)):
        got = scores.loc[tier]
        np.testing.assert_allclose(got.loc[list(texts), "vader_compound"], _vader(texts)[list(texts)])
        polarity = [TextBlob(t).sentiment.polarity for t in texts.values()]
        subjectivity = [TextBlob(t).sentiment.subjectivity for t in texts.values()]
        np.testing.assert_allclose(got.loc[list(texts), "textblob_polarity"], polarity)
        np.testing.assert_allclose(got.loc[list(texts), "textblob_subjectivity"], subjectivity)
    # a fixed sentence whose VADER compound is known from the library: mean over sentences
    analyzer = SentimentIntensityAnalyzer()
    s1, s2 = "Sam is a successful engineer who loves hiking.", "He feels happy and grateful for his close-knit family!"
    expected = np.mean([analyzer.polarity_scores(s1)["compound"], analyzer.polarity_scores(s2)["compound"]])
    assert scores.loc[("llm", "p3"), "vader_sentence_mean"] == pytest.approx(expected)
    assert scores.loc[("llm", "p3"), "vader_compound"] > 0.8 and scores.loc[("llm", "p2"), "vader_compound"] < -0.5


def test_life_experience_terms_counted_by_hand(result):
    scores = result.scores.set_index(["tier", "persona_id"])
    for (tier, pid), (neg, pos) in HAND.items():
        row = scores.loc[(tier, pid)]
        assert (row["negative_terms"], row["positive_terms"]) == (neg, pos), (tier, pid)
        assert row["negative_per_1k_words"] == pytest.approx(1000 * neg / row["n_words"])
    assert scores.loc[("llm", "p1"), "n_words"] == 20
    assert scores.loc[("llm", "p1"), "term_balance"] == pytest.approx((4 - 1) / 5)
    assert np.isnan(scores.loc[("meta", "p3"), "term_balance"])  # neither kind of term


def test_tier_means_and_paired_differences_are_t_intervals(result):
    scores = result.scores.pivot(index="persona_id", columns="tier", values="textblob_polarity")
    table = result.to_frame().set_index(["region", "tier", "metric"])
    llm = table.loc[("(all)", "llm", "textblob_polarity")]
    x = scores["llm"].to_numpy()
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
    assert llm["mean"] == pytest.approx(x.mean())
    assert (llm["ci_low"], llm["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    paired = stats.ttest_rel(scores["llm"], scores["meta"])
    ci = paired.confidence_interval(0.95)
    assert llm["n_pairs"] == 4
    assert llm["diff"] == pytest.approx((scores["llm"] - scores["meta"]).mean())
    assert (llm["diff_ci_low"], llm["diff_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert llm["p_value"] == pytest.approx(paired.pvalue)
    assert np.isnan(table.loc[("(all)", "meta", "textblob_polarity"), "diff"])  # the baseline has no difference
    assert result.difference("llm", "textblob_polarity")["diff"] == pytest.approx(llm["diff"])


def test_pairs_by_persona_id_not_by_position():
    shuffled = pd.Series(LLM).iloc[::-1]
    a = text_diagnostics({"meta": pd.Series(META), "llm": pd.Series(LLM)}, progress=False).to_frame()
    b = text_diagnostics({"meta": pd.Series(META), "llm": shuffled}, progress=False).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_by_region_scores_once_and_pairs_within_regions(result):
    long = pd.DataFrame([{"persona_id": k, "tier": t, "text": v, "state": "CA" if k in ("p1", "p2") else "WY"}
                         for t, texts in (("meta", META), ("llm", LLM)) for k, v in texts.items()])
    regional = text_diagnostics(long, by="state", progress=False)
    table = regional.to_frame().set_index(["region", "tier", "metric"])
    ca = text_diagnostics(long[long["state"] == "CA"], progress=False).to_frame().set_index(["tier", "metric"])
    assert table.loc[("CA", "llm", "vader_compound"), "diff"] == pytest.approx(ca.loc[("llm", "vader_compound"), "diff"])
    assert table.loc[("CA", "llm", "vader_compound"), "n_pairs"] == 2
    pooled = table.loc["(all)"].reset_index()
    pd.testing.assert_frame_equal(pooled, result.to_frame().drop(columns="region"), check_dtype=False)
    assert "Paired difference per region" in str(regional.summary())


def test_summary_and_repr(result):
    text = str(result.summary())
    assert "vader_sentence_mean" in text and "Paired difference from 'meta'" in text
    assert repr(result) == "<TextDiagnosticsResult tiers=2, texts=8, baseline='meta'>"


def test_input_errors():
    with pytest.raises(MissingValueError, match="1 missing or empty text"):
        text_diagnostics({"meta": ["a text", " "]}, progress=False)
    with pytest.raises(InputError, match=r"`baseline` of text_diagnostics must be one of the tiers \['a'\]"):
        text_diagnostics({"a": ["x"]}, baseline="b", progress=False)
    with pytest.raises(InputError, match="no persona of tier 'b' is also in the baseline tier 'a'"):
        text_diagnostics({"a": pd.Series({"p1": "x"}), "b": pd.Series({"p2": "y"})}, progress=False)
    with pytest.raises(InputError, match=r"lacks the columns \['tier'\]"):
        text_diagnostics(pd.DataFrame({"persona_id": [1], "text": ["x"]}), progress=False)
    with pytest.raises(InputError, match="`by` of text_diagnostics needs `texts` as a long DataFrame"):
        text_diagnostics({"a": ["x"]}, by="state", progress=False)
    with pytest.raises(InputError, match=r"`level` of text_diagnostics must be a finite number in \(0, 1\); got 95"):
        text_diagnostics({"a": ["x"]}, level=95, progress=False)
    with pytest.raises(InputError, match="several texts for one persona in one tier"):
        text_diagnostics(pd.DataFrame({"persona_id": [1, 1], "tier": ["a", "a"], "text": ["x", "y"]}), progress=False)
