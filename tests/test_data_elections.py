"""election_results; expected values from the MEDSL raw files and their SOURCE.txt."""

from __future__ import annotations

import pytest

from personacal.data import election_results
from personacal.errors import DataError, InputError, UnknownRegionError


def test_2024_battleground_votes_are_the_medsl_rows():
    pa = election_results(2024, state="PA").iloc[0]
    assert (pa.dem_votes, pa.rep_votes, pa.total_votes) == (3_423_042, 3_543_308, 7_034_206)
    assert pa.winner == "R" and pa.winner_candidate == "TRUMP, DONALD J."
    assert pa.dem_two_party_share == pytest.approx(3_423_042 / (3_423_042 + 3_543_308))
    ga = election_results(2024, state="georgia").iloc[0]
    assert (ga.dem_votes, ga.rep_votes) == (2_548_017, 2_663_117)


@pytest.mark.parametrize(
    ("year", "dem", "rep", "dem_wins"),
    [(2016, 65_853_581, 62_985_062, 21), (2020, 81_268_908, 74_216_146, 26), (2024, 75_017_613, 77_302_580, 20)],
)
def test_national_sums_and_wins_match_source_txt(year, dem, rep, dem_wins):
    frame = election_results(year)
    assert len(frame) == 51
    assert frame["dem_votes"].sum() == dem
    assert frame["rep_votes"].sum() == rep
    assert (frame["winner"] == "D").sum() == dem_wins


def test_2024_two_party_share_is_49_25_percent():
    frame = election_results(2024)
    share = frame["dem_votes"].sum() / (frame["dem_votes"].sum() + frame["rep_votes"].sum())
    assert round(100 * share, 2) == 49.25


def test_fusion_lines_are_summed_by_candidate():
    ny = election_results(2016, state="NY").iloc[0]
    assert ny.dem_votes == 4_379_789 + 140_041 + 36_294  # Democrat + Working Families + Women's Equality
    assert ny.rep_votes == 2_527_142 + 292_392  # Republican + Conservative


def test_non_votes_are_excluded_and_nevada_none_of_these_is_kept():
    dc = election_results(2016, state="DC").iloc[0]
    assert dc.non_votes == 1_064 + 243  # BLANK VOTE + OVER VOTE
    assert dc.total_votes == 312_575 - 1_064 - 243
    assert dc.other_votes == 6_551 + 4_906 + 4_258  # unnamed write-ins + Johnson + Stein
    nv = election_results(2016, state="NV").iloc[0]
    assert nv.total_votes == 1_125_385
    assert nv.other_votes == 37_384 + 28_863 + 5_268 + 2_552  # incl. "NONE OF THE ABOVE"


def test_candidate_level_and_all_years():
    cands = election_results(2016, level="candidate", state="NV")
    none_row = cands[cands.candidate == "NONE OF THE ABOVE"]
    assert none_row["votes"].tolist() == [28_863]
    assert not none_row["non_vote"].iloc[0]
    assert sorted(election_results()["year"].unique()) == [2016, 2020, 2024]


def test_election_errors():
    with pytest.raises(DataError, match=r"^`year` of election_results must be one of 2016, 2020, 2024 or None; got 2012$"):
        election_results(2012)
    with pytest.raises(InputError, match=r"`level` of election_results must be one of .*got 'county'"):
        election_results(2020, level="county")
    with pytest.raises(UnknownRegionError, match=r"`state` of election_results .*got 'ZZ'"):
        election_results(2020, state="ZZ")
