"""Survey microdata loaders; expected counts tallied from the raw Rdatasets CSVs."""

from __future__ import annotations

import pytest

from personacal.data import (
    anes_subset,
    categories,
    census_margins,
    gss_subset,
    national_seed,
)

MARGIN_VARIABLES = ("sex", "age", "race_eth4", "race4", "race3", "education5", "education4", "education3",
                    "employment3", "marital2")


def _margin_categories() -> dict[str, set]:
    m = census_margins("CA", variables=[v for v in MARGIN_VARIABLES if v != "marital2"] + [("sex", "marital2")])
    out = {v: set(m.categories(v)) for v in MARGIN_VARIABLES}
    out["income"] = set(census_margins("CA", universe="households").categories("income"))
    return out


def test_national_seed_recodes_acs12():
    everyone = national_seed(adults_only=False)
    assert len(everyone) == 2000
    assert everyone["sex"].value_counts().to_dict() == {"Male": 1031, "Female": 969}
    assert everyone["race4"].value_counts().to_dict() == {"White": 1555, "Black": 206, "Other": 152, "Asian": 87}
    over25 = everyone[everyone["age_years"] >= 25]
    assert over25["education3"].value_counts().to_dict() == {
        "No college degree": 893, "Associate's or bachelor's degree": 332, "Graduate or professional degree": 143}
    assert everyone.loc[everyone["age_years"] < 15, "marital2"].isna().all()
    adults = national_seed()
    assert len(adults) == 1561
    assert adults["employment3"].value_counts().to_dict() == {
        "Employed (incl. Armed Forces)": 837, "Not in labor force": 619, "Unemployed": 105}
    assert "Under 18" not in adults["age"].cat.categories
    assert "weight" not in adults.columns  # acs12 ships no weights
    first = everyone.iloc[0]  # raw row 1: 60000, not in labor force, white, 68, female, ..., college
    assert (first.personal_income, first.age, first.personal_income_bracket) == (60000.0, "65+", "$50k-$75k")


def test_gss_subset_recodes():
    gss = gss_subset()
    assert len(gss) == 2348
    assert (gss["sex"] == "Female").sum() == 1296  # 55.2% per SOURCE.txt
    assert gss["race3"].value_counts().to_dict() == {"White": 1693, "Black": 385, "Other": 270}
    assert gss["education3"].value_counts().to_dict() == {
        "No college degree": 262 + 1178, "Associate's or bachelor's degree": 196 + 465,
        "Graduate or professional degree": 247}
    assert gss["employment3"].value_counts().to_dict() == {
        "Employed (incl. Armed Forces)": 1134 + 259 + 53, "Not in labor force": 445 + 81 + 242 + 48, "Unemployed": 84}
    # the R documentation: 1 = too little; raw natheal == 1 for 1,641 respondents
    assert (gss["natheal"] == "Too little").sum() == 1641
    assert int(gss["other_party"].sum()) == 77
    assert gss["party_id7"].isna().sum() == 77 + 33
    assert gss["age"].isna().sum() == 7


def test_anes_subset_recodes():
    anes = anes_subset()
    assert len(anes) == 33_830
    assert anes["state"].isna().sum() == 4  # stateabb "99"
    assert anes["age_years"].isna().sum() == 183  # age 0 = not ascertained
    assert anes["age"].isna().sum() == 183 + 16  # no age, plus the 16 respondents aged 17
    assert (anes["party_id7"] == "Strong Democrat").sum() == 6575
    assert (anes["race_eth4"] == "Hispanic").sum() == 3339
    assert (anes["education4"] == "Less than high school").sum() == 2231 + 3529
    ca = anes[anes["state"] == "CA"]
    assert (ca["region"] == "West").all()


@pytest.mark.parametrize("loader", [national_seed, gss_subset, anes_subset])
def test_every_survey_category_is_a_margin_category(loader):
    margins = _margin_categories()
    frame = loader()
    checked = 0
    for column in frame.columns:
        if column in margins:
            assert set(frame[column].cat.categories) == margins[column], column
            assert set(frame[column].dropna().unique()) <= margins[column], column
            checked += 1
        if column in ("party_id7", "party3", "ideology7", "ideology3", "region"):
            assert tuple(frame[column].cat.categories) == categories(column)
    assert checked >= 3
    if loader is national_seed:
        assert set(frame["personal_income_bracket"].dropna().unique()) <= margins["income"]


def test_categories_registry():
    assert categories("sex") == ("Male", "Female")
    assert len(categories("education")) == 7 and len(categories("income")) == 10
    assert isinstance(categories(), dict) and "race_eth" in categories()
    with pytest.raises(ValueError, match=r"`variable` of categories must be one of .*got 'colour'"):
        categories("colour")
