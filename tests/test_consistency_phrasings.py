"""The contradiction detector on hand-written phrasings: negation, years of birth, school and degree names.

Each case gives a sentence, a census value and whether the sentence contradicts it (by reading).
"""

from __future__ import annotations

import pandas as pd
import pytest

from personacal.errors import InputError
from personacal.generate import find_contradictions
from personacal.generate._consistency import check_text
from personacal.generate._consistency_census import census_facts, resolve_census_columns
from personacal.generate._consistency_rules import text_claims


def _contradicted(sentence: str, column: str, value: str, **kw) -> set[str]:
    facts = census_facts({column: value}, resolve_census_columns([column]))
    found, _ = check_text("p", facts, sentence, **kw)
    return {c.attribute for c in found}


@pytest.mark.parametrize(
    "sentence, column, value, contradicts",
    [
        # negation
        ("I'm not a man, whatever the form says.", "sex", "Male", False),
        ("I'm not a man, whatever the form says.", "sex", "Female", False),
        ("I am a man who loves gardening.", "sex", "Female", True),
        ("She is not divorced; she never married.", "marital", "Never married", False),
        ("She is not married and lives alone.", "marital", "Now married, except separated", True),
        ("They have not married, by choice.", "marital", "Divorced", True),
        ("He is not retired yet and works as a welder.", "employment", "Not in labor force", True),
        ("She is no longer working as a nurse.", "employment", "Not in labor force", False),
        # years of birth (reference years 2023-2025)
        ("She was born in 1950 in Ohio.", "age", "35 to 44 years", True),
        ("She was born in 1950 in Ohio.", "age", "65 to 74 years", False),
        ("Born on March 3, 1990, he grew up in Texas.", "age", "25 to 34 years", False),
        ("Born on March 3, 1990, he grew up in Texas.", "age", "45 to 54 years", True),
        ("He was born in the 1960s.", "age", "55 to 64 years", False),
        ("He was born in the 1960s.", "age", "25 to 34 years", True),
        ("Her son, born in 2001, studies in Denver.", "age", "65 to 74 years", False),
        # school and degree names
        ("He graduated from Stanford and moved to Seattle.", "education", "High school graduate", True),
        ("He graduated from Stanford and moved to Seattle.", "education", "Graduate or professional degree", False),
        ("She graduated from the University of Wyoming in 1991.", "education", "Some college, no degree", True),
        ("She graduated from Natrona County High School and never pursued higher education.", "education",
         "Bachelor's degree", True),
        ("She graduated from Natrona County High School and never pursued higher education.", "education",
         "High school graduate", False),
        ("Paying off my MBA took ten years.", "education", "Bachelor's degree", True),
        ("She has a high school diploma and lives with her parents.", "education", "Some college, no degree", True),
        ("She has a high school diploma and a bachelor's degree in nursing.", "education", "Bachelor's degree", False),
        ("He holds an Associate's degree in welding.", "education", "Bachelor's degree", True),
        ("He completed his GED after dropping out of high school in the 10th grade.", "education",
         "High school graduate", False),
        ("He regrets not completing his high school diploma.", "education", "High school graduate", True),
        ("She attended Casper College but did not complete her degree.", "education", "Associate's degree", True),
        ("She earns more than those without a college education.", "education", "Bachelor's degree", False),
        # common phrasings
        ("He is married but separated.", "marital", "Now married, except separated", True),
        ("He is married but separated.", "marital", "Separated", False),
        ("She has been married to her husband, James, a 60-year-old retired mechanic, for 30 years.", "age",
         "25 to 34 years", False),
        ("She has been married to her husband, James, a 60-year-old retired mechanic, for 30 years.", "employment",
         "Employed", False),
        ("A 29-year-old married male, likely of Asian descent.", "race", "White", False),
        ("She is a young Hispanic woman, aged 18-19 years.", "age", "20 to 24 years", True),
        ("Her late husband's pension supports her.", "marital", "Now married, except separated", True),
    ],
)
def test_phrasing(sentence, column, value, contradicts):
    attribute = {"sex": "sex", "marital": "marital", "employment": "employment", "age": "age",
                 "education": "education", "race": "race"}[column]
    assert (attribute in _contradicted(sentence, column, value)) is contradicts


def test_birth_year_follows_the_reference_year():
    claim = next(c for c in text_claims("She was born in 1950.", reference_year=2000) if c.attribute == "age")
    assert claim.allowed == (49, 50)
    claim = next(c for c in text_claims("She was born in 1950.") if c.attribute == "age")
    assert claim.allowed == (2023 - 1950 - 1, 2025 - 1950)


def test_reference_year_is_checked():
    personas = pd.DataFrame({"persona_id": [1], "age": ["65+"], "text": ["Born in 1950."]})
    with pytest.raises(InputError, match=r"`reference_year` of find_contradictions must be a year in 1900..2100"):
        find_contradictions(personas, "text", reference_year=(2025, 2023))
    with pytest.raises(InputError, match=r"`reference_year` of find_contradictions must be a year or a"):
        find_contradictions(personas, "text", reference_year="2024")
    report = find_contradictions(personas, "text", reference_year=1990)
    assert report.contradictions["attribute"].tolist() == ["age"]  # born 1950 = 39-40 in 1990, not 65+
