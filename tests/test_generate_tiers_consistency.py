"""Rule-based consistency checks of LLM-written persona tiers against census attributes (no LLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from personacal.errors import InputError, MappingError
from personacal.generate import ConsistencyReport, find_contradictions
from personacal.generate._consistency import check_fields, check_text
from personacal.generate._consistency_census import census_facts, resolve_census_columns
from personacal.generate._consistency_rules import text_claims

CASES = json.loads((Path(__file__).parent / "data" / "tier_narratives.json").read_text())["cases"]


def _facts(census: dict) -> dict:
    return census_facts(census, resolve_census_columns(list(census)))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hand_written_narratives(case):
    found, _ = check_text(case["id"], _facts(case["census"]), case["text"])
    assert {c.attribute: c.stated_value for c in found} == case["expected"]
    for c in found:
        assert c.persona_id == case["id"]
        assert c.census_value == str(case["census"][_census_key(case["census"], c.attribute)])
        assert c.evidence  # a snippet of the text, or the pronoun counts


def _census_key(census: dict, attribute: str) -> str:
    names = {"hispanic": ("race_eth", "race"), "race": ("race", "race_eth"), "education": ("education", "education3"),
             "employment": ("employment", "employment3")}
    return next(k for k in names.get(attribute, (attribute,)) if k in census)


def test_evidence_quotes_the_contradicting_phrase():
    case = next(c for c in CASES if c["id"] == "paper_style_divorced")
    found, stated = check_text("p", _facts(case["census"]), case["text"])
    evidence = {c.attribute: c.evidence for c in found}
    assert "ended in divorce" in evidence["marital"]
    assert "Bachelor's degree" in evidence["education"]
    # the narrative also speaks to age, sex and origin, consistently
    assert {"age", "sex", "hispanic", "marital", "education"} <= stated


def test_other_peoples_ages_are_not_the_personas():
    claims = [c for c in text_claims("She cares for her 92-year-old father and her two 12-year-old twins.") if c.attribute == "age"]
    assert claims == []
    claims = [c.allowed for c in text_claims("A 45- to 54-year-old woman.") if c.attribute == "age"]
    assert claims == [(45, 54)]


def test_pronouns_need_a_clear_majority():
    # 3 x she/her, 2 x he/his: below the 80% share, so no sex claim
    text = "She met him at work. She says his jokes are bad, but she laughs. He cooks."
    assert [c for c in text_claims(text) if c.attribute == "sex"] == []


# -- census values --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "column, value, attribute, allowed",
    [
        ("age", "65+", "age", (65, 120)),
        ("age", "85 years and over", "age", (85, 120)),
        ("age", "18 to 19 years", "age", (18, 19)),
        ("AGE", "Under 18", "age", (0, 17)),
        ("education3", "No college degree", "education", {"lths", "hs", "sc"}),
        ("education", "9th to 12th grade, no diploma", "education", {"lths"}),
        ("education4", "High school graduate, some college or associate's", "education", {"hs", "sc", "assoc"}),
        ("employment3", "Employed (incl. Armed Forces)", "employment", {"employed", "armed_forces"}),
        ("LABOR FORCE STATUS", "In Labor Force", "employment", {"employed", "armed_forces", "unemployed"}),
        ("marital", "Now married, except separated", "marital", {"married"}),
        ("marital2", "Not married", "marital", {"never", "divorced", "widowed", "separated"}),
        ("race4", "Other", "race", {"aian", "nhpi", "other", "multi"}),
        ("race3", "Other", "race", {"asian", "aian", "nhpi", "other", "multi"}),
        ("Race", "White and Some Other Race", "race", {"white", "other", "multi"}),
        ("race_eth", "Asian non-Hispanic", "race", {"asian"}),
        ("race_eth", "Asian non-Hispanic", "hispanic", {False}),
        ("race_eth", "Hispanic", "hispanic", {True}),
        ("Race", "Hispanic", "hispanic", {True}),
        ("gender", "F", "sex", {"female"}),
    ],
)
def test_census_values_are_read_into_categories(column, value, attribute, allowed):
    facts = census_facts({column: value}, resolve_census_columns([column]))
    got = facts[attribute].allowed
    assert (set(got) if isinstance(got, frozenset) else got) == allowed


def test_two_columns_on_one_attribute_intersect():
    row = {"EMPLOYMENT STATUS": "Not Applicable", "LABOR FORCE STATUS": "Not in Labor Force",
           "race": "White", "race_eth": "Hispanic"}
    facts = census_facts(row, resolve_census_columns(list(row)))
    assert facts["employment"].allowed == frozenset({"nilf"})  # "Not Applicable" says nothing
    assert facts["race"].allowed == frozenset({"white"})  # White (race) and any race (Hispanic)
    assert facts["hispanic"].allowed == frozenset({True})


def test_ethnicity_values_without_hispanic_words_are_not_checked():
    facts = census_facts({"Ethnicity": "Chinese"}, resolve_census_columns(["Ethnicity"]))
    assert "hispanic" not in facts


def test_unreadable_census_value_is_named():
    with pytest.raises(MappingError, match=r"census column 'marital' holds 'complicated'.*check_columns=\{'marital': None\}"):
        census_facts({"marital": "complicated"}, resolve_census_columns(["marital"]))


def test_check_columns_add_and_remove_columns():
    kinds = resolve_census_columns(["SEXO", "age"], {"SEXO": "sex", "age": None})
    assert kinds == {"SEXO": "sex"}
    with pytest.raises(InputError, match="`check_columns\\['SEXO'\\]` of find_contradictions must be one of"):
        resolve_census_columns(["SEXO"], {"SEXO": "gender"})
    with pytest.raises(InputError, match="`check_columns` of find_contradictions names column 'x', which the personas lack"):
        resolve_census_columns(["SEXO"], {"x": "sex"})


# -- objective fields ------------------------------------------------------------------------------
def _fields(**kw):
    base = {"occupation": "nurse", "industry": "health care", "household_size": 3, "number_of_children": 1,
            "commute": "drive alone", "years_at_current_address": 4, "owns_home": False}
    return {**base, **kw}


@pytest.mark.parametrize(
    "census, fields, expected",
    [
        ({"age": "35-44", "employment3": "Employed (incl. Armed Forces)"}, _fields(), {}),
        ({"age": "35-44"}, _fields(household_size=2, number_of_children=3),
         {"household": "household_size=2, number_of_children=3"}),
        ({"age": "18-24"}, _fields(years_at_current_address=30), {"age": "years_at_current_address=30"}),
        ({"employment3": "Not in labor force"}, _fields(), {"employment": "commute='drive alone'"}),
        ({"employment3": "Employed (incl. Armed Forces)"}, _fields(occupation="retired teacher", commute="not working"),
         {"employment": "commute='not working'; occupation='retired teacher'"}),
        ({"employment3": "Unemployed"}, _fields(occupation="line cook", commute="not working"), {}),
        ({"employment3": "Unemployed"}, _fields(occupation="retired", commute="not working"),
         {"employment": "occupation='retired'"}),
    ],
)
def test_objective_fields(census, fields, expected):
    found, stated = check_fields("p", _facts(census), fields)
    assert {c.attribute: c.stated_value for c in found} == expected
    assert {"household", "age", "employment"} == stated


# -- the table API and rates --------------------------------------------------------------------
def test_find_contradictions_counts_by_hand():
    personas = pd.DataFrame({
        "persona_id": ["a", "b", "c"],
        "sex": ["Female", "Female", None],
        "marital": ["Married", "Never married", "Married"],
        "text": [
            "As a single mother of three, I juggle two jobs.",        # marital contradicted; "mother": sex fine
            "She is happily married to Tom. I'm a 40-year-old woman.",  # marital contradicted; sex stated, fine
            "I read a lot.",                                           # says nothing
        ],
    })
    report = find_contradictions(personas, "text")
    assert isinstance(report, ConsistencyReport)
    assert report.contradictions[["persona_id", "attribute"]].values.tolist() == [["a", "marital"], ["b", "marital"]]
    rates = report.rates.set_index("attribute")
    # marital: census for 3, stated in a and b, contradicted in both
    assert rates.loc["marital", ["n_checked", "n_stated", "n_contradicted"]].tolist() == [3, 2, 2]
    assert rates.loc["marital", "rate"] == pytest.approx(2 / 3)
    assert rates.loc["marital", "rate_when_stated"] == pytest.approx(1.0)
    # sex: census for a and b only; stated in both ("a single mother", "a 40-year-old woman"), consistent
    assert rates.loc["sex", ["n_checked", "n_stated", "n_contradicted"]].tolist() == [2, 2, 0]
    summary = report.summary().as_text()
    assert "personas with a contradiction  2" in summary


def test_find_contradictions_with_fields():
    personas = pd.DataFrame({"persona_id": ["a", "b"], "employment3": ["Not in labor force", "Unemployed"]})
    fields = pd.DataFrame([_fields(), _fields(commute="not working")])
    report = find_contradictions(personas, fields=fields)
    assert report.contradictions["persona_id"].tolist() == ["a"]
    rates = report.rates.set_index("attribute")
    assert rates.loc["household", ["n_checked", "n_contradicted"]].tolist() == [2, 0]


def test_find_contradictions_input_errors():
    personas = pd.DataFrame({"persona_id": ["a"], "sex": ["Male"], "text": ["x"]})
    with pytest.raises(InputError, match="find_contradictions needs `texts`, `fields` or both"):
        find_contradictions(personas)
    with pytest.raises(InputError, match="`texts` of find_contradictions names column 'story', which `personas` lacks"):
        find_contradictions(personas, "story")
    with pytest.raises(InputError, match="`texts` of find_contradictions must hold one text per persona; got 2 for 1"):
        find_contradictions(personas, ["x", "y"])
    with pytest.raises(InputError, match="has no 'persona_id' column"):
        find_contradictions(personas.drop(columns="persona_id"), "text")
    with pytest.raises(InputError, match="has no census column the checks recognise"):
        find_contradictions(pd.DataFrame({"persona_id": ["a"], "text": ["x"]}), "text")
