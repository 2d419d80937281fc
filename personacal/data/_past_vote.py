"""Past-vote targets: each state's presidential result as shares of its ADULT population.

Pollsters weight on recalled past vote because the result is known exactly. personacal's
personas stand for a state's adults (the census margins' "adult" universe), so the targets are
shares of that population, with a "Did not vote" category:

    share(candidate) = votes(candidate) / adults,   share("Did not vote") = 1 - total votes / adults

* votes: MEDSL returns rebuilt by candidate (:func:`election_results`; valid votes only:
  undervotes, overvotes, blank and void ballots are not votes for anybody).
* adults: the same population the census margins describe, so a past-vote margin and the
  census margins of one state sum to the same total. ``anchor="acs"``: ACS 2023 1-year DP05
  population 18+ (the default ``census_margins`` universe); DC, which has no ACS profile in the
  shipped data, takes PEP 2023 (recorded per row in ``population_source``). ``anchor="pep"``:
  PEP 2023 civilian population 18+ for all 51.

Why not the citizen voting-age population (CVAP, shipped for the 50 states as the ACS
``citizen_adult`` universe): the personas include non-citizen adults, who also answer "did not
vote"; a CVAP denominator would leave them out of the margin and break its agreement with the
census margins. CVAP is reported next to the targets (``citizen_adults``, ``turnout_cvap``) so a
user can split "Did not vote" into eligible non-voters and non-citizens.

Known biases (no correction is applied; each is small and stated in SOURCES.md): the
denominator is the 2023 population while the votes were cast in the election year. Adults who
turned 18 after the election are rightly counted as non-voters, but voters who died or left the
state since then are still counted as votes, and newcomers as non-voters. A rough estimate (not
computed from the shipped data; US deaths run at about 3 million a year, mostly older adults who
voted at high rates and leaned Republican): for 2020 the share who voted is overstated by about 2
points of adults, a little more for Trump than for Biden.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .._validation import Interval, Options, check_param
from ..calibrate import Margins
from ..errors import DataError
from . import _categories as C
from ._elections import election_results
from ._files import read_table
from ._states import resolve_state
from ._sources import pep_cells

__all__ = ["past_vote_targets", "past_vote_margins", "PAST_VOTE_CATEGORIES", "past_vote_variable"]

YEARS = (2016, 2020, 2024)
ANCHORS = ("acs", "pep")
DID_NOT_VOTE = "Did not vote"
OTHER = "Other"
#: The categories of each election's past-vote variable (the Democratic and Republican nominees
#: by surname, every other candidate, and adults who cast no valid vote).
PAST_VOTE_CATEGORIES = {
    2016: ("Clinton", "Trump", OTHER, DID_NOT_VOTE),
    2020: ("Biden", "Trump", OTHER, DID_NOT_VOTE),
    2024: ("Harris", "Trump", OTHER, DID_NOT_VOTE),
}
SOURCE = "MEDSL"
DATASET = {
    2016: "MEDSL U.S. President 1976-2020 (Dataverse doi:10.7910/DVN/42MVDX, v20210113)",
    2020: "MEDSL U.S. President 1976-2020 (Dataverse doi:10.7910/DVN/42MVDX, v20210113)",
    2024: "MEDSL 2024-elections-official, 2024-president-state.csv",
}
POPULATION_SOURCES = {"acs": "ACS 2023 1-year DP05, population 18+", "pep": "PEP 2023 (July 1), civilian population 18+"}
POSITIVE = Interval("real", 0, None, closed="neither")
COLUMNS = ["year", "state", "variable", "category", "count", "share", "population", "population_source",
           "citizen_adults", "turnout_adult", "turnout_cvap", "source", "dataset", "weighted", "exact"]


def past_vote_variable(year: int) -> str:
    """The persona column a past-vote margin is named after: ``"vote_<year>"``."""
    return f"vote_{year}"


def _adults(anchor: str) -> pd.DataFrame:
    """Adult population and its source per state (51 rows), and the ACS CVAP where published."""
    universes = read_table("acs2023_state_universes.csv.gz", {"state": "string"})
    total = universes[(universes["table"] == "DP05") & (universes["sex"] == "Total")]
    acs = total[total["universe"] == "adult"].set_index("state")["estimate"]
    cvap = total[total["universe"] == "citizen_adult"].set_index("state")["estimate"]
    pep = pep_cells(None)
    pep = pep[pep["age"] >= 18].groupby("state")["population"].sum()
    rows = []
    for state in sorted(C.STATES):
        use_acs = anchor == "acs" and state in acs.index
        rows.append({
            "state": state,
            "population": float(acs[state] if use_acs else pep[state]),
            "population_source": POPULATION_SOURCES["acs" if use_acs else "pep"]
            + ("" if use_acs or anchor == "pep" else " (no ACS profile for this area in the shipped data)"),
            "citizen_adults": float(cvap.get(state, float("nan"))),
        })
    return pd.DataFrame(rows)


def past_vote_targets(year: int = 2020, *, state=None, anchor: str = "acs") -> pd.DataFrame:
    """Each state's presidential result as shares of its adult population, with "Did not vote".

    Parameters
    ----------
    year
        Election year: 2016, 2020 (default; the past vote of 2024 election jobs) or 2024.
    state
        A postal code or name, a list of them, or ``None`` for the 50 states and DC.
    anchor
        Which adult population is the denominator (as in :func:`census_margins`): ``"acs"``
        (ACS 2023 population 18+; DC from PEP 2023) or ``"pep"`` (PEP 2023 civilian 18+).

    Returns
    -------
    DataFrame, four rows per state (categories of :data:`PAST_VOTE_CATEGORIES`) with columns
    ``year, state, variable`` (``"vote_<year>"``), ``category, count`` (votes; adults minus
    total votes for "Did not vote"), ``share`` (count / population; sums to 1 per state),
    ``population, population_source, citizen_adults`` (ACS 2023 CVAP; NaN for DC),
    ``turnout_adult, turnout_cvap`` and the pedigree ``source`` ("MEDSL"), ``dataset``,
    ``weighted`` (False: counts, not survey estimates) and ``exact`` (True: certified returns,
    no sampling error). The module docstring says how non-voters are counted and what that
    misses.
    """
    func = "past_vote_targets"
    check_param(func, "year", year, Options(YEARS))
    check_param(func, "anchor", anchor, Options(ANCHORS))
    results = election_results(year).set_index("state")
    adults = _adults(anchor).set_index("state")
    codes = sorted(C.STATES) if state is None else [
        resolve_state(s, func=func) for s in ([state] if isinstance(state, str) else state)]
    dem, rep, other, dnv = PAST_VOTE_CATEGORIES[year]
    rows = []
    for code in codes:
        res, pop = results.loc[code], adults.loc[code]
        votes = float(res["total_votes"])
        if votes > pop["population"]:
            raise DataError(
                f"{func}: {code} has more {year} votes ({votes:,.0f}) than adults ({pop['population']:,.0f}) in "
                f"{pop['population_source']}; the shipped tables are inconsistent, regenerate them"
            )
        counts = {dem: float(res["dem_votes"]), rep: float(res["rep_votes"]), other: float(res["other_votes"]),
                  dnv: pop["population"] - votes}
        for category, count in counts.items():
            rows.append({
                "year": year, "state": code, "variable": past_vote_variable(year), "category": category,
                "count": count, "share": count / pop["population"], "population": pop["population"],
                "population_source": pop["population_source"], "citizen_adults": pop["citizen_adults"],
                "turnout_adult": votes / pop["population"], "turnout_cvap": votes / pop["citizen_adults"],
                "source": SOURCE, "dataset": DATASET[year], "weighted": False, "exact": True,
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def past_vote_margins(year: int = 2020, *, state=None, anchor: str = "acs", total=None):
    """Past-vote targets as :class:`~personacal.calibrate.Margins` on the column ``"vote_<year>"``.

    With one ``state`` the result is one ``Margins`` named after it; otherwise ``{state: Margins}``.
    ``total`` (a number, or ``{state: number}``) rescales the shares to another population
    total, e.g. ``census_margins(state).total``; by default the totals are the counts of
    :func:`past_vote_targets`, which equal the census margins' total for the same ``anchor``
    (ACS 2023 adults; PEP 2023 civilian adults with ``anchor="pep"`` and for DC).
    """
    func = "past_vote_margins"
    targets = past_vote_targets(year, state=state, anchor=anchor)
    variable = past_vote_variable(year)
    out = {}
    for code, block in targets.groupby("state", sort=False):
        if total is None:
            values = block["count"].to_numpy(float)
        else:
            if isinstance(total, Mapping):
                if code not in total:
                    raise DataError(f"`total` of {func} has no population for state {code!r}")
                area_total = total[code]
            else:
                area_total = total
            check_param(func, "total", area_total, POSITIVE)
            values = block["share"].to_numpy(float) * float(area_total)
        series = pd.Series(values, index=pd.Index(block["category"].tolist(), name=variable))
        out[code] = Margins({variable: series}, name=code)
    return next(iter(out.values())) if isinstance(state, str) else out

