"""pep_age_sex and band_age; expected values from sc-est2023-agesex-civ.csv and its SOURCE.txt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.data import band_age, pep_age_sex
from personacal.errors import InputError, UnknownRegionError


def test_pep_total_of_51_areas_matches_source_txt():
    frame = pep_age_sex()
    assert frame["state"].nunique() == 51
    assert len(frame) == 51 * 2 * 86
    assert frame["population"].sum() == 333_849_724


def test_pep_california_cells_are_the_raw_rows():
    ca = pep_age_sex("California")
    assert list(ca.columns) == ["state", "sex", "age", "population"]
    assert ca["population"].sum() == 38_828_183  # AGE=999, SEX=0 row
    by_sex = ca.groupby("sex")["population"].sum()
    assert by_sex["Male"] == 19_331_668 and by_sex["Female"] == 19_496_515
    cell = ca[(ca.sex == "Male") & (ca.age == 0)]["population"]
    assert cell.tolist() == [211_765]
    top = ca[(ca.sex == "Female") & (ca.age == 85)]["population"]  # 85 = 85 and over
    assert top.tolist() == [438_008]
    assert pep_age_sex("wy")["population"].sum() == 581_296


def test_pep_banded_groups():
    banded = pep_age_sex("CA", banded=True)
    assert list(banded["age"].cat.categories) == ["Under 18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    male = banded[banded.sex == "Male"].set_index("age")["population"]
    assert male["Under 18"] == 4_322_529  # sum of raw male rows AGE 0..17
    assert male.sum() == 19_331_668
    assert len(banded) == 14


def test_band_age_edges_by_universe():
    ages = [0, 15, 16, 17, 18, 24, 25, 34, 35, 64, 65, 99, np.nan]
    adult = band_age(ages)
    assert list(adult.categories) == ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    expected = [None, None, None, None, "18-24", "18-24", "25-34", "25-34", "35-44", "55-64", "65+", "65+", None]
    assert [None if pd.isna(a) else a for a in adult] == expected
    total = band_age(ages, universe="total")
    assert list(total[:4]) == ["Under 18"] * 4
    sixteen = band_age(ages, universe="16+")
    assert pd.isna(sixteen[1]) and list(sixteen[2:4]) == ["16-17", "16-17"]
    over25 = band_age(ages, universe="25+")
    assert pd.isna(over25[5]) and over25[6] == "25-34"


def test_pep_and_band_age_errors():
    with pytest.raises(UnknownRegionError, match=r"`state` of pep_age_sex .*got 'PR'"):
        pep_age_sex("PR")
    with pytest.raises(InputError, match=r"`universe` of band_age must be one of .*got 'kids'"):
        band_age([20], universe="kids")
