"""census_margins: published numbers, universe rules, consistency and errors.

Expected numbers are copied from the raw ACS / PEP files (acs2023_state_profiles/*/raw_data/<st>_*.csv,
sc-est2023-agesex-civ.csv) or from their SOURCE.txt; derived ones are written out as the arithmetic
on those raw numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.calibrate._margins import Margins
from personacal.data import CensusMargins, acs_table, census_margins, census_margins_all
from personacal.errors import DataError, InputError, UnknownRegionError

# CA raw values (DP05 ca_sex_race_age.csv, DP02 ca_dp02.csv, DP03 ca_dp03.csv, S2401 ca_s2401.csv)
CA_TOTAL = 38_965_193
CA_ADULT = 30_527_864
CA_ADULT_MALE, CA_ADULT_FEMALE = 15_128_271, 15_399_593
CA_AGE_ROWS_25_PLUS = {  # 25-34 .. 85+
    "25 to 34": 5_670_629, "35 to 44": 5_460_310, "45 to 54": 4_846_002, "55 to 59": 2_341_362,
    "60 to 64": 2_339_427, "65 to 74": 3_662_353, "75 to 84": 1_935_061, "85+": 714_505,
}
CA_25_PLUS = 26_969_649
CA_BACHELORS = 6_137_666
CA_16_PLUS, CA_FEMALE_16_PLUS = 31_584_340, 15_919_050
CA_MALES_15, CA_MALES_15_MARRIED = 15_933_641, 7_645_313
CA_HOUSEHOLDS, CA_INCOME_200K = 13_699_816, 2_612_277
CA_MALE_CIV_EMPLOYED = 10_173_825
CA_MALE_MANAGEMENT, CA_MALE_MANAGEMENT_MOE = 4_088_180, 28_156
# PEP 2023 civilian, California, ages 18+ by sex (sum of the single-year rows of the raw file)
CA_PEP_ADULT_MALE, CA_PEP_ADULT_FEMALE = 15_009_139, 15_373_509
CA_PEP_25_PLUS = 26_879_347
DC_PEP_ADULT_MALE, DC_PEP_ADULT_FEMALE = 255_018, 294_169


def test_california_adult_sex_and_age_are_the_published_dp05_numbers():
    m = census_margins("CA")
    assert isinstance(m, Margins) and isinstance(m, CensusMargins)
    assert m.total == CA_ADULT
    assert m["sex"].to_dict() == {"Male": CA_ADULT_MALE, "Female": CA_ADULT_FEMALE}
    age = m["age"]
    assert age["18-24"] == CA_ADULT - sum(CA_AGE_ROWS_25_PLUS.values())  # = 3,558,215
    assert age["18-24"] == 3_558_215
    assert age["25-34"] == 5_670_629
    assert age["55-64"] == 2_341_362 + 2_339_427
    assert age["65+"] == 3_662_353 + 1_935_061 + 714_505
    assert list(age.index) == ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]


def test_fifty_state_total_population_matches_source_txt():
    universes = acs_table(table="universes")
    totals = universes[(universes.table == "DP05") & (universes.universe == "total") & (universes.sex == "Total")]
    assert len(totals) == 50
    assert totals["estimate"].sum() == 334_235_924
    assert census_margins("ca", universe="total", variables=["sex"]).total == CA_TOTAL


def test_native_universe_keeps_published_education_and_shares_rule_rescales_it():
    native = census_margins("CA", universe="25+", variables=["education"])
    assert native.total == CA_25_PLUS
    assert native["education"]["Bachelor's degree"] == CA_BACHELORS
    assert native.provenance.set_index("margin").loc["education", "rule"] == "native"

    adult = census_margins("CA", variables=["sex", "education"])
    expected = CA_BACHELORS * CA_ADULT / CA_25_PLUS
    assert adult["education"]["Bachelor's degree"] == pytest.approx(expected, rel=1e-12)
    row = adult.provenance.set_index("margin").loc["education"]
    assert row["rule"] == "shares"
    assert row["source_universe"] == "25+"
    assert row["scale"] == pytest.approx(CA_ADULT / CA_25_PLUS, rel=1e-12)
    assert any(n.startswith("education: ACS 2023 DP02 shares for the population 25+") for n in adult.notes)


def test_sex_crosstab_rule_keeps_within_sex_shares_and_matches_sex_margin():
    m = census_margins("CA", variables=["sex", ("sex", "marital")])
    married_men = m[("sex", "marital")][("Male", "Married")]
    assert married_men == pytest.approx(CA_MALES_15_MARRIED / CA_MALES_15 * CA_ADULT_MALE, rel=1e-12)
    by_sex = m[("sex", "marital")].groupby(level="sex").sum()
    assert by_sex["Male"] == pytest.approx(CA_ADULT_MALE, rel=1e-12)
    assert by_sex["Female"] == pytest.approx(CA_ADULT_FEMALE, rel=1e-12)
    assert m.provenance.set_index("margin").loc["sex:marital", "rule"] == "conditional on sex"


def test_households_universe_is_published_household_income():
    m = census_margins("CA", universe="households")
    assert m.keys() == ["income"]
    assert m.total == CA_HOUSEHOLDS
    assert m["income"]["$200k+"] == CA_INCOME_200K
    assert len(m["income"]) == 10


def test_employment_and_occupation_are_native_over_16_plus_with_moe():
    m = census_margins("CA", universe="16+", variables=["sex", "employment", ("sex", "occupation")])
    assert m.total == CA_16_PLUS
    assert m["sex"].to_dict() == {"Male": CA_16_PLUS - CA_FEMALE_16_PLUS, "Female": CA_FEMALE_16_PLUS}
    assert m["employment"].to_dict() == {
        "Employed": 19_026_566, "Unemployed": 1_110_856, "Armed Forces": 161_140, "Not in labor force": 11_285_778,
    }
    occ = m[("sex", "occupation")]
    assert occ[("Male", "Management, business, science, and arts")] == CA_MALE_MANAGEMENT
    assert occ[("Male", "Not civilian employed")] == (CA_16_PLUS - CA_FEMALE_16_PLUS) - CA_MALE_CIV_EMPLOYED
    moe = m.moe[("sex", "occupation")]
    assert moe[("Male", "Management, business, science, and arts")] == CA_MALE_MANAGEMENT_MOE
    assert np.isnan(moe[("Male", "Not civilian employed")])
    assert set(m.provenance["rule"]) == {"native"}


def test_coarse_variables_are_sums_of_published_cells():
    m = census_margins("CA", universe="total", variables=["race4", "race_eth4", "race_eth"])
    # DP05 "RACE" rows: AIAN 546,952 + NHPI 150,781 + Some Other Race 7,619,295 + Two or more 7,398,273
    assert m["race4"]["Other"] == 546_952 + 150_781 + 7_619_295 + 7_398_273
    assert m["race4"]["White"] == 14_999_252
    assert m["race_eth"]["Hispanic"] == 15_760_437
    assert m["race_eth4"]["Hispanic"] == 15_760_437
    assert m["race_eth4"]["Other non-Hispanic"] == 6_042_726 + 102_548 + 133_436 + 259_508 + 1_699_061
    edu = census_margins("CA", universe="25+", variables=["education3"])["education3"]
    # DP02: less than 9th + 9-12 + HS + some college = no college degree
    assert edu["No college degree"] == 2_341_160 + 1_753_074 + 5_505_182 + 5_142_978
    assert edu["Associate's or bachelor's degree"] == 2_116_930 + 6_137_666


def test_pep_anchor_uses_pep_totals_and_rescales_acs_margins():
    m = census_margins("CA", anchor="pep", variables=["sex", "age", ("age", "sex"), "education"])
    assert m.total == CA_PEP_ADULT_MALE + CA_PEP_ADULT_FEMALE
    assert m["sex"].to_dict() == {"Male": CA_PEP_ADULT_MALE, "Female": CA_PEP_ADULT_FEMALE}
    assert m["education"]["Bachelor's degree"] == pytest.approx(
        CA_BACHELORS * (CA_PEP_ADULT_MALE + CA_PEP_ADULT_FEMALE) / CA_25_PLUS, rel=1e-12)
    assert m.notes[0].startswith("anchor: PEP 2023 civilian population")
    joint = m[("age", "sex")]
    assert joint.groupby(level="sex").sum()["Male"] == CA_PEP_ADULT_MALE

    over25 = census_margins("CA", universe="25+", anchor="pep", variables=["education"])
    assert over25.total == CA_PEP_25_PLUS
    row = over25.provenance.set_index("margin").loc["education"]
    assert row["rule"] == "rescaled"
    assert row["scale"] == pytest.approx(CA_PEP_25_PLUS / CA_25_PLUS, rel=1e-12)


def test_anchor_choice_resolves_dp05_vs_pep_sex_disagreement_explicitly():
    acs = census_margins("CA", variables=["sex"])
    pep = census_margins("CA", variables=["sex"], anchor="pep")
    assert acs["sex"]["Male"] == CA_ADULT_MALE
    assert pep["sex"]["Male"] == CA_PEP_ADULT_MALE
    assert acs.anchor == "acs" and pep.anchor == "pep"


@pytest.mark.slow
@pytest.mark.parametrize("universe", ["adult", "total", "16+", "25+"])
@pytest.mark.parametrize("anchor", ["acs", "pep"])
def test_every_state_margins_share_total_and_subtotals(universe, anchor):
    variables = "all"
    for code, m in census_margins_all(variables=variables, universe=universe, anchor=anchor).items():
        total = m.total
        for margin in m:
            assert margin.total == pytest.approx(total, rel=1e-9), (code, margin.label)
            assert (margin.values >= 0).all(), (code, margin.label)
        if ("sex", "marital") in m:
            assert np.allclose(m[("sex", "marital")].groupby(level="sex").sum().reindex(m["sex"].index), m["sex"], rtol=1e-9)
        if ("age", "sex") in m:
            joint = m[("age", "sex")]
            assert np.allclose(joint.groupby(level="age", sort=False).sum().reindex(m["age"].index), m["age"], rtol=1e-9)


def test_census_margins_all_covers_50_states_and_dc_only_for_pep_margins():
    assert len(census_margins_all(variables=["sex"])) == 50
    pep_only = census_margins_all(anchor="pep", variables=["sex", "age"])
    assert len(pep_only) == 51 and "DC" in pep_only
    assert "DC" not in census_margins_all(anchor="pep")


def test_dc_has_pep_margins_only():
    m = census_margins("dc", anchor="pep")
    assert m.keys() == ["sex", "age", ("age", "sex")]
    assert m["sex"].to_dict() == {"Male": DC_PEP_ADULT_MALE, "Female": DC_PEP_ADULT_FEMALE}
    with pytest.raises(DataError, match=r"DC has no ACS 2023 state profile.*anchor='pep'"):
        census_margins("DC")
    with pytest.raises(DataError, match=r"DC has no ACS 2023 state profile.*lacks \['education'\]"):
        census_margins("DC", anchor="pep", variables=["sex", "education"])


def test_state_lookup_is_case_insensitive_and_accepts_names():
    assert census_margins("ca", variables=["sex"])["sex"].equals(census_margins("California", variables=["sex"])["sex"])
    assert census_margins(" wy ", variables=["sex"]).name == "WY"


def test_unknown_state_names_it_suggests_and_lists_codes():
    with pytest.raises(UnknownRegionError, match=r"`state` of census_margins .* got 'XY'\. Did you mean 'WY'.*Valid codes: AK, AL"):
        census_margins("XY")
    with pytest.raises(UnknownRegionError, match=r"got 'Californa'\. Did you mean 'California'"):
        census_margins("Californa")
    with pytest.raises(KeyError):  # UnknownRegionError is also a KeyError
        census_margins("Puerto Rico")


def test_bad_arguments_raise_with_the_parameter_named():
    with pytest.raises(InputError, match=r"`universe` of census_margins must be one of .*got 'kids'"):
        census_margins("CA", universe="kids")
    with pytest.raises(InputError, match=r"`anchor` of census_margins must be one of .*got 'census'"):
        census_margins("CA", anchor="census")
    with pytest.raises(InputError, match=r"unknown margin 'educ'\. Did you mean education\?"):
        census_margins("CA", variables=["educ"])
    with pytest.raises(InputError, match=r"unknown margin \('marital', 'sex'\)\. Write it as \('sex', 'marital'\)"):
        census_margins("CA", variables=[("marital", "sex")])
    with pytest.raises(InputError, match=r"\('age', 'sex'\) comes from the PEP single-year table; pass anchor='pep'"):
        census_margins("CA", variables=[("age", "sex")])
    with pytest.raises(InputError, match=r"'education' is not defined for universe='total'"):
        census_margins("CA", universe="total", variables=["education"])
    with pytest.raises(InputError, match=r"universe='households' has only 'income'"):
        census_margins("CA", universe="households", variables=["sex"])
    with pytest.raises(InputError, match=r"PEP counts persons, not households"):
        census_margins("CA", universe="households", anchor="pep")
    with pytest.raises(InputError, match=r"lists 'sex' twice"):
        census_margins("CA", variables=["sex", "sex"])


def test_to_frame_summary_and_long_round_trip():
    m = census_margins("WY", universe="16+", variables=["sex", ("sex", "occupation")])
    frame = m.to_frame()
    assert list(frame.columns) == ["state", "universe", "margin", "sex", "occupation", "value", "moe"]
    assert (frame["state"] == "WY").all()
    # S2401 wy_s2401.csv: Male civilian employed 154,013 = sum of the 5 major groups
    male_employed = frame[(frame.margin == "sex:occupation") & (frame.sex == "Male")
                          & (frame.occupation != "Not civilian employed")]["value"].sum()
    assert male_employed == 154_013
    text = m.summary().as_text()
    assert "Census margins for WY (16+, anchor acs)" in text and "provenance" in text
    long = m.to_long()
    back = Margins.from_long(long.drop(columns=[c for c in ("region",) if c in long.columns]), name="WY")
    pd.testing.assert_series_equal(back[("sex", "occupation")], m[("sex", "occupation")], check_names=False)


def test_census_margins_all_checks_its_arguments():
    with pytest.raises(InputError, match=r"`universe` of census_margins_all must be one of .*got 'kids'"):
        census_margins_all(universe="kids", anchor="pep")
