"""Curated public data shipped with personacal (no network and no raw source files needed at run time).

* :func:`census_margins` / :func:`census_margins_all` — ACS 2023 1-year state margins over one
  declared universe (adult 18+ by default), every margin scaled to it by a recorded rule;
  :func:`acs_table` — the curated ACS tables as published (with MOEs where the source has them).
* :func:`pep_age_sex` — Census PEP 2023 civilian population by state x sex x single year of age
  (50 states + DC); :func:`band_age` bands ages into the margins' age groups.
* :func:`election_results` — presidential results by state, 2016 / 2020 / 2024 (MEDSL).
* :func:`national_seed` (ACS 2012 person sample), :func:`gss_subset` (GSS 2018),
  :func:`anes_subset` (ANES 1978-2012) — microdata recoded to the margins' category labels.
* :func:`psychographic_targets` — party ID / ideology shares (ANES, GSS, Pew ATP) in the LLM tiers'
  vocabularies; :func:`psychographic_margins` turns them into Margins.
* :func:`states` — postal code, name, FIPS, region and data coverage of the 50 states + DC;
  :func:`categories` — the shared category labels.

Sources, licences and every change made to the raw files: ``personacal/data/SOURCES.md``.
"""

from __future__ import annotations

from ..errors import InputError
from ._acs import acs_table
from ._ages import band_age
from ._categories import CATEGORIES as _CATEGORIES
from ._coarsen import category_map
from ._census import census_margins, census_margins_all
from ._census_result import CensusMargins
from ._elections import election_results
from ._pep import pep_age_sex
from ._psychographic import psychographic_margins, psychographic_targets
from ._regions import states
from ._surveys import anes_subset, gss_subset, national_seed

__all__ = [
    "CensusMargins",
    "acs_table",
    "anes_subset",
    "band_age",
    "categories",
    "census_margins",
    "census_margins_all",
    "category_map",
    "election_results",
    "gss_subset",
    "national_seed",
    "pep_age_sex",
    "psychographic_margins",
    "psychographic_targets",
    "states",
]


def categories(variable: str | None = None):
    """The category labels of ``variable`` (a tuple, in order), or a dict of all variables.

    Variables: sex, age, race_eth, race_eth4, race, race4, race3, education, education5,
    education4, education3, employment, employment3, marital, marital2, income, occupation,
    party_id7, party3, ideology7, ideology3, region; and the Subjective tier's vocabularies
    ideology5, party_id4, religiosity3.
    """
    if variable is None:
        return dict(_CATEGORIES)
    try:
        return _CATEGORIES[variable]
    except KeyError:
        raise InputError(
            f"`variable` of categories must be one of {sorted(_CATEGORIES)}; got {variable!r}"
        ) from None
