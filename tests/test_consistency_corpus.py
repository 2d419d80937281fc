"""The contradiction detector against the hand-labelled corpus of the seed paper's persona sentences.

Labels were written by reading (tests/data/consistency_corpus.README.md); the scoring is in
tests/_consistency_corpus.py and the full table in benchmarks/results/consistency_accuracy.md.
"""

from __future__ import annotations

import pytest

import _consistency_corpus as corpus

ATTRIBUTES = ("age", "sex", "hispanic", "race", "marital", "education", "employment")


@pytest.fixture(scope="module")
def scores():
    return corpus.score(corpus.load()).set_index("attribute")


def test_corpus_is_large_and_labels_parse():
    data = corpus.load()
    assert len(data) >= 300
    assert set(data["part"]) == {"A", "B", "C", "D"}
    assert data["sentence_id"].is_unique
    for text in data["labels"]:
        corpus.parse_labels(text)  # raises on an unknown attribute or an empty value
    # every attribute has labelled contradictions to score precision and recall on
    stated = data["labels"].str.findall(r"(\w+)=\S*!").explode().dropna()
    assert {corpus.ATTRIBUTES[k] for k in stated} == set(ATTRIBUTES)


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_precision_is_at_least_0_9(scores, attribute):
    row = scores.loc[attribute]
    assert row["flagged"] >= 5, "too few verdicts to measure precision"
    assert row["precision"] >= 0.9, f"{attribute}: {row['flagged_right']} of {row['flagged']} verdicts right"


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_recall_does_not_regress(scores, attribute):
    # floors below the measured recall (0.50 employment ... 1.00 age): a guard, not a target
    floor = {"employment": 0.45, "marital": 0.8, "education": 0.8}.get(attribute, 0.9)
    assert scores.loc[attribute, "recall"] >= floor
