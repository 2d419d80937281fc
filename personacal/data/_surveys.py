"""Survey microdata shipped for joint-structure seeds and attitude targets (ACS 2012, GSS 2018, ANES)."""

from __future__ import annotations

import pandas as pd

from ..errors import DataError
from . import _categories as C
from ._files import read_table

__all__ = ["national_seed", "gss_subset", "anes_subset"]

_EXTRA = {
    "age": ("Under 18", *C.AGE_GROUPS),
    "personal_income_bracket": C.INCOME_BRACKETS,
    "work_status": ("Working full time", "Working part time", "With a job, not at work", "Unemployed, laid off",
                    "Retired", "In school", "Keeping house", "Other"),
    "urbanism": ("Central city", "Suburban", "Rural, small town or outlying"),
    "income_percentile": ("0-16", "17-33", "34-67", "68-95", "96-100"),
    "political_interest": ("Hardly at all", "Only now and then", "Some of the time", "Most of the time"),
    "language": ("English", "Other"),
    "state": tuple(sorted(C.STATES)),
    **{item: C.SPENDING for item in ("natspac", "natenvir", "natheal", "natcity", "natcrime", "natdrug", "nateduc",
                                     "natrace", "natarms", "nataid", "natfare", "natroad", "natsoc", "natmass",
                                     "natpark", "natchld", "natsci", "natenrgy")},
}


_INTEGERS = ("age_years", "years_of_school", "respondent_income_code", "place_size_code", "therm_dem", "therm_gop",
             "therm_bmp", "mpti", "distrust_govt", "govt_crooked", "govt_waste", "govt_biginterests")
_FLAGS = ("citizen", "disability", "other_party", "temporarily_unemployed")


def _read(name: str) -> pd.DataFrame:
    """A shipped survey table with nullable integer / boolean columns restored."""
    header = read_table(name).columns
    dtypes = {c: "Int64" for c in _INTEGERS if c in header}
    dtypes.update({c: "boolean" for c in _FLAGS if c in header})
    dtypes.update({c: "string" for c in header if c in _EXTRA or c in C.CATEGORIES})
    return _categorical(read_table(name, dtypes))


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    """Every label column becomes a Categorical whose categories are the shared constants, in order."""
    for column in frame.columns:
        categories = _EXTRA.get(column, C.CATEGORIES.get(column))
        if categories is None:
            continue
        unknown = set(frame[column].dropna().unique()) - set(categories)
        if unknown:  # the curation script guarantees this; a hand-edited file would break it
            raise DataError(
                f"column {column!r} of a shipped survey table has labels {sorted(unknown)} outside {categories}; "
                "regenerate the tables with scripts/curate_data.py"
            )
        frame[column] = pd.Categorical(frame[column], categories=list(categories), ordered=column != "state")
    return frame


def national_seed(*, adults_only: bool = True) -> pd.DataFrame:
    """ACS 2012 person sample (openintro ``acs12``, 2,000 persons, national) recoded to the margin labels.

    Columns: ``person_id, age_years, age, sex, race4, education3, employment3, marital2,
    personal_income, personal_income_bracket, hours_worked, time_to_work, citizen, language,
    disability``. The sample has no survey weights, no state and no Hispanic origin, and its
    income is PERSONAL income (``personal_income_bracket`` uses the household-income bracket
    labels but must not be raked to the household ``income`` margin). ``adults_only=True``
    keeps the 1,561 persons aged 18+.
    """
    frame = _read("acs2012_seed.csv.gz")
    if adults_only:
        frame = frame[frame["age_years"] >= 18].reset_index(drop=True)
    if adults_only:
        frame["age"] = frame["age"].cat.remove_categories(["Under 18"])
    return frame


def gss_subset() -> pd.DataFrame:
    """GSS 2018 respondents (stevedata ``gss_spending``, 2,348 adults, national, unweighted).

    Demographics (``age_years, age, sex, race3, years_of_school, education5, education3,
    employment3, work_status, respondent_income_code``), attitudes (``party_id7, other_party,
    party3, ideology7, ideology3``), ``place_size_code`` (NORC size code) and the 18 national-
    spending items ``nat*`` as "Too little" / "About right" / "Too much".
    """
    frame = _read("gss2018_subset.csv.gz")
    frame["age"] = frame["age"].cat.remove_categories(["Under 18"])
    return frame


def anes_subset() -> pd.DataFrame:
    """ANES time series 1978-2012 (stevedata ``anes_partytherms``, 33,830 respondents, unweighted).

    ``year, respondent_id, state, region, age_years, age, education4, race_eth4, party_id7,
    party3``, party thermometers ``therm_dem, therm_gop, therm_bmp, mpti``, ``urbanism,
    income_percentile, temporarily_unemployed, political_interest`` and the trust items
    ``distrust_govt, govt_crooked, govt_waste, govt_biginterests`` (codes as in the source).
    No sex column exists in this extract. ``age`` is missing below 18 and where ANES has no age.
    """
    frame = _read("anes_partytherms_subset.csv.gz")
    frame["age"] = frame["age"].cat.remove_categories(["Under 18"])
    return frame
