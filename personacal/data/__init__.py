"""Curated public data shipped with personacal (no network and no raw source files needed at run time).

* :func:`census_margins` / :func:`census_margins_all` — ACS 2023 1-year state margins over one
  declared universe (adult 18+ by default), every margin scaled to it by a recorded rule;
  :func:`acs_table` — the curated ACS tables as published (with MOEs where the source has them).
* :func:`pep_age_sex` — Census PEP 2023 civilian population by state x sex x single year of age
  (50 states + DC); :func:`band_age` bands ages into the margins' age groups.
* :func:`election_results` — presidential results by state, 2016 / 2020 / 2024 (MEDSL);
  :func:`past_vote_targets` / :func:`past_vote_margins` — those results as shares of each state's
  adults with "Did not vote" (the default partisan calibration target of election jobs).
* :func:`national_seed` (ACS 2012 person sample), :func:`gss_subset` (GSS 2018),
  :func:`anes_subset` (ANES 1978-2012) — microdata recoded to the margins' category labels.
* :func:`psychographic_targets` — party ID / ideology shares (ANES, GSS, Pew ATP) in the LLM tiers'
  vocabularies; :func:`psychographic_margins` turns them into Margins.
* :func:`states` — postal code, name, FIPS, region and data coverage of the 50 states + DC;
  :func:`categories` — the shared category labels; :func:`coarsening` — how a coarse variable
  (race_eth4, education3, ...) groups the labels of its fine one.
* :func:`race_by_ethnicity` — the (race4, race_eth) cross-tab implied by a state's race and
  race/ethnicity margins.

Sources, licences and every change made to the raw files: ``personacal/data/SOURCES.md``.
"""

from __future__ import annotations

from .._validation import Options, check_param
from ._acs import acs_table
from ._ages import band_age
from ._categories import CATEGORIES as _CATEGORIES
from ._categories import COARSENINGS as _COARSENINGS
from ._coarsen import category_map
from ._census import census_margins, census_margins_all
from ._census_result import CensusMargins
from ._elections import election_results
from ._past_vote import past_vote_margins, past_vote_targets
from ._pep import pep_age_sex
from ._psychographic import psychographic_margins, psychographic_targets
from ._race import race_by_ethnicity
from ._states import states
from ._surveys import anes_subset, gss_subset, national_seed

__all__ = [
    "CensusMargins",
    "acs_table",
    "anes_subset",
    "band_age",
    "categories",
    "coarsening",
    "census_margins",
    "census_margins_all",
    "category_map",
    "election_results",
    "gss_subset",
    "national_seed",
    "past_vote_margins",
    "past_vote_targets",
    "pep_age_sex",
    "psychographic_margins",
    "psychographic_targets",
    "race_by_ethnicity",
    "states",
]


def categories(variable: str | None = None):
    """The category labels of ``variable`` (a tuple, in order), or a dict of all variables.

    Variables: sex, age, race_eth, race_eth4, race, race4, race3, education, education5,
    education4, education3, employment, employment3, marital, marital2, income, occupation,
    party_id7, party3, ideology7, ideology3, region; and the Subjective tier's vocabularies
    ideology5, party_id4, religiosity3 and vote_2020 (the recalled 2020 presidential vote).
    """
    if variable is None:
        return dict(_CATEGORIES)
    check_param("categories", "variable", variable, Options(sorted(_CATEGORIES)))
    return _CATEGORIES[variable]


def coarsening(variable: str) -> tuple[str, dict[str, str]]:
    """How the coarse ``variable`` groups a fine one: ``(fine variable, {fine label: coarse label})``.

    ``coarsening("race_eth4")`` gives ``("race_eth", {"Hispanic": "Hispanic", ..., "Asian
    non-Hispanic": "Other non-Hispanic", ...})``, so ``frame["race_eth"].map(mapping)`` recodes
    a column and ``series.groupby(mapping).sum()`` sums a margin. Coarse variables: race_eth4,
    race4, race3, education5, education4, education3, employment3, marital2.
    """
    check_param("coarsening", "variable", variable, Options(sorted(_COARSENINGS)))
    fine, mapping = _COARSENINGS[variable]
    return fine, dict(mapping)
