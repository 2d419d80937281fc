"""states(), acs_table() and the package-data contract (no dependency on /work/shared)."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pytest

from personacal.data import acs_table, election_results, pep_age_sex, states
from personacal.errors import InputError, UnknownRegionError


def test_states_table():
    frame = states()
    assert len(frame) == 51
    ca = frame.set_index("state").loc["CA"]
    assert (ca["name"], ca["fips"], ca["region"], ca["division"]) == ("California", "06", "West", "Pacific")
    assert frame.loc[~frame["has_acs_margins"], "state"].tolist() == ["DC"]
    assert frame["region"].value_counts().to_dict() == {"South": 17, "West": 13, "Midwest": 12, "Northeast": 9}


def test_state_codes_agree_across_tables():
    codes = set(states()["state"])
    assert set(pep_age_sex()["state"]) == codes
    assert set(election_results(2020)["state"]) == codes
    assert set(acs_table(table="universes")["state"]) == codes - {"DC"}


def test_acs_table_occupations_and_employment_rates():
    occ = acs_table("CA", "occupations")
    male_mgmt = occ[(occ.sex == "Male") & (occ.level == 1) & (occ.major_group == "Management, business, science, and arts")]
    assert male_mgmt[["estimate", "moe"]].values.tolist() == [[4_088_180, 28_156]]
    rates = acs_table("WY", "employment_rates").set_index("characteristic")
    assert rates.loc["AGE | 16 to 19 years", "labor_force_participation_rate"] == 49.5
    assert rates.loc["Hispanic or Latino origin (of any race)", "population"] == 43_316
    assert rates.loc["Hispanic or Latino origin (of any race)", "population_moe"] == 703
    # -999999999 (too few sample cases) in wy_s2301.csv becomes NaN
    assert math.isnan(rates.loc["RACE AND HISPANIC OR LATINO ORIGIN | Asian alone", "population"])
    universes = acs_table("WY", "universes").set_index(["table", "universe", "sex"])
    assert universes.loc[("S2401", "civilian_employed", "Male"), "moe"] == 3_428


def test_acs_table_errors():
    with pytest.raises(InputError, match=r"`table` of acs_table must be one of .*got 'dp02'"):
        acs_table("CA", "dp02")
    with pytest.raises(UnknownRegionError, match=r"got 'DC' \(District of Columbia\), which it does not cover"):
        acs_table("DC")


SHIPPED = (
    "acs2023_state_margins.csv.gz", "acs2023_state_universes.csv.gz", "acs2023_state_occupations.csv.gz",
    "acs2023_state_employment_rates.csv.gz", "pep2023_state_age_sex.csv.gz", "president_state_2016_2024.csv",
    "president_candidates_2016_2024.csv.gz", "acs2012_seed.csv.gz", "gss2018_subset.csv.gz",
    "anes_partytherms_subset.csv.gz",
)


def test_shipped_data_is_package_data_and_code_never_reads_shared():
    folder = resources.files("personacal.data")
    assert all((folder / name).is_file() for name in SHIPPED)
    assert (folder / "SOURCES.md").is_file()
    every_table = [p.name for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz", ".parquet"))]
    assert sum(Path(str(folder / name)).stat().st_size for name in every_table) < 3_000_000
    modules = [p for p in folder.iterdir() if p.name.endswith(".py")]
    assert len(modules) >= 10
    for module in modules:
        assert "/work/shared" not in module.read_text(), module.name
