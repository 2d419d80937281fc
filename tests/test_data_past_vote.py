"""Past-vote targets: MEDSL presidential results as shares of each state's adults, with "Did not vote".

Expected numbers are typed in from the sources: MEDSL 2020 returns (CA: Biden 11,110,250, Trump
6,006,429, other 384,202; WY: 73,491 / 193,559 / 9,715; national Biden 81,268,908, Trump 74,216,146),
ACS 2023 DP05 population 18+ (CA 30,527,864; WY 454,092), ACS 2023 citizen voting-age population
(WY 442,989) and PEP 2023 civilian 18+ (DC 549,187).
"""

from __future__ import annotations

import numpy as np
import pytest

from personacal.calibrate import Margins
from personacal.data import census_margins
from personacal.data import past_vote_margins, past_vote_targets
from personacal.data._past_vote import PAST_VOTE_CATEGORIES
from personacal.errors import InputError, UnknownRegionError


def test_wyoming_2020_counts_and_shares():
    wy = past_vote_targets(2020, state="WY").set_index("category")
    assert wy.index.tolist() == ["Biden", "Trump", "Other", "Did not vote"]
    np.testing.assert_array_equal(wy["count"], [73_491, 193_559, 9_715, 454_092 - 276_765])
    np.testing.assert_allclose(wy["share"], wy["count"] / 454_092)
    assert wy["turnout_cvap"].iloc[0] == pytest.approx(276_765 / 442_989)
    assert (wy["variable"] == "vote_2020").all()


def test_every_state_and_dc_sums_to_one_with_pedigree():
    table = past_vote_targets(2020)
    assert table["state"].nunique() == 51 and len(table) == 204
    np.testing.assert_allclose(table.groupby("state")["share"].sum(), 1.0, rtol=0, atol=1e-12)
    assert (table["count"] >= 0).all()
    assert set(table["source"]) == {"MEDSL"} and not table["weighted"].any() and table["exact"].all()
    assert table["dataset"].str.contains("MEDSL").all()
    national = table.groupby("category")["count"].sum()
    assert national["Biden"] == 81_268_908 and national["Trump"] == 74_216_146
    dc = table[table["state"] == "DC"].set_index("category")
    assert dc["population"].iloc[0] == 549_187 and dc["population_source"].iloc[0].startswith("PEP 2023")
    assert np.isnan(dc["citizen_adults"].iloc[0])


def test_anchor_pep_changes_the_denominator_only():
    acs = past_vote_targets(2020, state="CA").set_index("category")
    pep = past_vote_targets(2020, state="CA", anchor="pep").set_index("category")
    np.testing.assert_array_equal(acs.loc[["Biden", "Trump", "Other"], "count"], [11_110_250, 6_006_429, 384_202])
    np.testing.assert_array_equal(acs.loc[["Biden", "Trump", "Other"], "count"], pep.loc[["Biden", "Trump", "Other"], "count"])
    assert acs["population"].iloc[0] == 30_527_864
    assert pep["population"].iloc[0] < acs["population"].iloc[0]  # civilian population, mid-year


@pytest.mark.parametrize("year", [2016, 2024])
def test_other_years_use_their_nominees(year):
    table = past_vote_targets(year, state="PA")
    assert table["category"].tolist() == list(PAST_VOTE_CATEGORIES[year])
    assert table["variable"].iloc[0] == f"vote_{year}"


def test_margins_match_the_census_margins_total():
    for state, anchor in (("CA", "acs"), ("TX", "pep"), ("DC", "pep")):
        margins = past_vote_margins(2020, state=state, anchor=anchor)
        assert isinstance(margins, Margins)
        assert margins.total == pytest.approx(census_margins(state, anchor=anchor).total, rel=1e-12)
    scaled = past_vote_margins(2020, state="WY", total=1000.0)["vote_2020"]
    assert scaled.sum() == pytest.approx(1000.0)
    assert scaled["Trump"] == pytest.approx(1000 * 193_559 / 454_092)
    several = past_vote_margins(2020, state=["WY", "VT"])
    assert sorted(several) == ["VT", "WY"]


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match=r"`year` of past_vote_targets must be one of 2016, 2020, 2024; got 2012"):
        past_vote_targets(2012)
    with pytest.raises(InputError, match=r"`anchor` of past_vote_targets must be one of 'acs', 'pep'; got 'census'"):
        past_vote_targets(anchor="census")
    with pytest.raises(UnknownRegionError, match=r"`state` of past_vote_targets"):
        past_vote_targets(state="XX")
    with pytest.raises(InputError, match=r"`total` of past_vote_margins must be a finite number > 0"):
        past_vote_margins(state="WY", total=-5)
