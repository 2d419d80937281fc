"""Shipped question banks, the election questions, file loaders and the Pew reference table."""

import json

import numpy as np
import pandas as pd
import pytest

from personacal.errors import DataError, InputError
from personacal.simulate import (
    available_question_banks,
    election_question,
    load_question_bank,
    reference_distributions,
)


def test_shipped_bank_sizes():
    sizes = dict(zip(available_question_banks()["name"], available_question_banks()["n_questions"]))
    # 3 elections x 2 variants; SubPOP ships 494 OpinionQA and 133 GSS-2022 questions
    assert sizes == {"elections": 6, "opinionqa-curated": 48, "subpop-opinionqa": 494, "subpop-gss2022": 133}
    for name, n in sizes.items():
        assert len(load_question_bank(name)) == n


@pytest.mark.parametrize(
    ("year", "dem", "rep"),
    [(2016, "Hillary Clinton", "Donald Trump"), (2020, "Joe Biden", "Donald Trump"), (2024, "Kamala Harris", "Donald Trump")],
)
def test_election_questions_name_the_two_parties(year, dem, rep):
    q = election_question(year)
    assert q.id == f"election-{year}"
    assert q.text == f"Who do you support for the presidential election in {year}?"
    assert q.options == (dem, rep, "Another candidate", "Would not vote")
    assert q.party_option("D") == dem and q.party_option("R") == rep
    assert q.position(dem) == 0.0 and q.position(rep) == 1.0
    assert load_question_bank(f"election-{year}") == [q]


def test_paper_variant_keeps_the_papers_option_order():
    # LeonLixyz/LLM_Simulation Simulation_Result/Election/context.json: A/B per year
    assert election_question(2016, variant="paper").options == ("Donald Trump", "Hillary Clinton")
    assert election_question(2020, variant="paper").options == ("Joe Biden", "Donald Trump")
    assert election_question(2024, variant="paper").options == ("Donald Trump", "Kamala Harris")
    assert election_question(2024, variant="paper").party_option("D") == "Kamala Harris"


def test_election_question_errors():
    with pytest.raises(InputError, match=r"^`year` of election_question must be one of 2016, 2020, 2024; got 2012$"):
        election_question(2012)
    with pytest.raises(InputError, match=r"^`variant` of election_question must be one of 'full', 'paper'; got"):
        election_question(2024, variant="short")


def test_opinionqa_rule_in_shipped_banks():
    qs = {q.id: q for q in load_question_bank("subpop-opinionqa")}
    # OpinionQA: options past len(option_ordinal) are refusals
    q = qs["EVOBIOA_W34"]
    assert q.refusal_options == ("Not sure", "Refused")
    assert q.positions == (1.0, 2.0, None, None)
    assert q.wave == "W34" and q.topic == "science"
    gss = {q.id: q for q in load_question_bank("subpop-gss2022")}
    # SubPOP-Eval pres16: ordinal [1, 2, -1, -1] -> two unordered substantive options, then "Refused"
    p = gss["pres16"]
    assert p.options == ("Clinton", "Trump", "Other candidate", "Didn't vote for president", "Refused")
    assert p.positions == (1.0, 2.0, None, None, None)
    assert p.refusal_options == ("Refused",)


def test_curated_bank_spans_topics_and_is_ordinal():
    curated = load_question_bank("opinionqa-curated")
    assert len({q.topic for q in curated}) >= 15
    assert all(q.is_ordinal for q in curated)
    assert all(q.source and q.wave for q in curated)


def test_reference_distributions_hand_checked_values():
    ref = reference_distributions("opinionqa-curated")
    assert list(ref.columns) == [
        "question_id", "group_variable", "group", "option", "position", "is_refusal", "count", "n", "share",
        "weighted"]
    # the snapshot holds unweighted respondent counts, and the bank says so (OpinionQA's own are weighted)
    assert not ref["weighted"].any() and ref.attrs["weighted"] is False
    assert "unweighted" in ref.attrs["weighting"]
    row = lambda var, grp, opt: ref[
        (ref.question_id == "GAYMARR2_W32") & (ref.group_variable == var) & (ref.group == grp) & (ref.option == opt)
    ].iloc[0]
    # OpinionQA W32 SEX_data.json: Female 1134 + Male 852 "Very good thing"; n = 3184 + 3067
    overall = row("Overall", "Overall", "Very good thing")
    assert (overall["count"], overall["n"]) == (1986, 6251)
    assert overall["share"] == pytest.approx(1986 / 6251)
    # POLPARTY_data.json Democrat: 1159 of 33 + 220 + 491 + 198 + 1159 = 2101
    dem = row("POLPARTY", "Democrat", "Very good thing")
    assert (dem["count"], dem["n"]) == (1159, 2101)
    refused = row("CREGION", "South", "Refused")
    assert refused["is_refusal"] and np.isnan(refused["position"]) and refused["count"] == 55


def test_reference_distributions_cover_the_curated_questions():
    ref = reference_distributions()
    curated = {q.id: q for q in load_question_bank("opinionqa-curated")}
    assert set(ref["question_id"]) == set(curated)
    sums = ref.groupby(["question_id", "group_variable", "group"])["share"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert {"Overall", "CREGION", "POLPARTY", "POLIDEOLOGY"} <= set(ref["group_variable"])
    assert set(ref.loc[ref.group_variable == "CREGION", "group"]) == {"Northeast", "Midwest", "South", "West"}
    for qid, q in curated.items():
        rows = ref[(ref.question_id == qid) & (ref.group_variable == "Overall")]
        assert rows["option"].tolist() == list(q.options)
        assert rows["is_refusal"].tolist() == list(q.is_refusal)


def test_reference_distributions_for_a_bank_without_them():
    with pytest.raises(DataError, match=r"^`bank` of reference_distributions must be one of 'opinionqa-curated'; got"):
        reference_distributions("elections")


def test_load_subpop_format_file(tmp_path):
    path = tmp_path / "subpop.json"
    path.write_text(json.dumps({
        "fair": {"original_qbody": "Do you think ...?", "refined_qbody": "Do you think most people would be fair?",
                 "option_list": ["Take advantage", "Try to be fair", "Depends", "Refused"],
                 "ordinal": [1.0, 2.0, -1.0]},
    }))
    (q,) = load_question_bank(path)
    assert q.positions == (1.0, 2.0, None, None)
    assert q.refusal_options == ("Refused",)
    assert q.metadata["original_text"] == "Do you think ...?"


def test_load_opinionqa_info_csv(tmp_path):
    path = tmp_path / "info.csv"
    pd.DataFrame({
        "key": ["WORLDDANGER_W26"],
        "question": ["Compared to 50 years ago, do you think"],
        "references": ["['Safer', 'More dangerous', 'Neither', 'Refused']"],
        "option_ordinal": ["[1.0, 2.0, 1.5]"],
    }).to_csv(path, index=False)
    (q,) = load_question_bank(path)
    assert q.positions == (1.0, 2.0, 1.5, None) and q.refusal_options == ("Refused",) and q.wave == "W26"


def test_load_native_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"questions": [election_question(2020).to_dict()]}))
    assert load_question_bank(path) == [election_question(2020)]


def test_loader_errors(tmp_path):
    with pytest.raises(DataError, match=r"`name_or_path` of load_question_bank must be a shipped bank .* got 'gss'"):
        load_question_bank("gss")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": 1}))
    with pytest.raises(DataError, match=r"must hold personacal questions"):
        load_question_bank(bad)
    dupes = tmp_path / "dupes.json"
    dupes.write_text(json.dumps([election_question(2020).to_dict()] * 2))
    with pytest.raises(DataError, match=r"must be unique; duplicated: \['election-2020'\]"):
        load_question_bank(dupes)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps([{"id": "q", "text": "t", "options": ["only one"]}]))
    with pytest.raises(DataError, match=r"question 0 of bank .* is invalid: .*at least 2 non-refusal options"):
        load_question_bank(invalid)
    txt = tmp_path / "bank.txt"
    txt.write_text("")
    with pytest.raises(DataError, match=r"must be a .json or .csv file"):
        load_question_bank(txt)
