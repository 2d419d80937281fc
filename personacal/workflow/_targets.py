"""What the workflow rakes to, where each target comes from, and in which order margins give way.

Census margins first. For the shipped states they are each state's ACS 2023 1-year margins
(anchored to the PEP 2023 civilian adult population): sex, age, education in 3 groups,
employment in 3 groups, and race/ethnicity in 4 groups (Hispanic; White, Black, other
non-Hispanic) from the (race, Hispanic origin) cross-tab. Four groups, not the census's eight,
because a few dozen personas per state rarely hold all eight and raking cannot weight up an
empty group. The PEP age x sex table is held out of the raking as a joint truth.

Then the partisan margin, for the tiers that carry it:

* ``"past_vote"`` (default): the recalled 2020 presidential vote (``vote_2020``, written by
  the Subjective tier, prompt subjective-v2) raked to each state's 2020 result as shares of its
  adults, with "Did not vote" = adults - votes (:func:`personacal.data.past_vote_targets`;
  MEDSL certified returns, exact, no sampling error). This is what pollsters weight on, and the
  2024 evaluation stays out of sample.
* ``"party_id"``: the Subjective tier's party ID raked to the state party-ID targets made by
  MRP of ANES 2008 + 2012 (unweighted survey data; :func:`personacal.data.psychographic_targets`).
  Not a default: their vote-weighted national D-R lean is +12.4 points against +3.4 (Pew 2021,
  unweighted) and -0.6 (weighted, November 2020), see benchmarks/results/party_id_targets.md.
* ``"none"``: census margins only.

:data:`PRIORITY` orders the margins; with ``on_infeasible="drop"`` the partisan margin is
dropped first, then the census margins from the end of the list.
"""

from __future__ import annotations

import pandas as pd

from .._validation import Options, check_param
from ..calibrate import Margins
from ..data import coarsening, past_vote_targets, psychographic_targets
from ..errors import DataError
from ..generate import state_margins

__all__ = ["PARTISAN", "PRIORITY", "CENSUS_KEYS", "census_targets", "partisan_targets", "partisan_column",
           "target_sources", "RACE_ETH4_OF", "PARTY_FOR_RAKING"]

PARTISAN = ("past_vote", "party_id", "none")
#: Census margins, most important first (sex and age are the best-measured).
CENSUS_KEYS = ("sex", "age", "race_eth4", "education3", "employment3")
#: The partisan margin's column per choice.
PARTISAN_COLUMN = {"past_vote": "vote_2020", "party_id": "party_id"}
#: All margins in order of priority: census first, the partisan margin last.
PRIORITY = (*CENSUS_KEYS, "vote_2020", "party_id")
#: race/ethnicity label -> its group of four (Hispanic, White, Black, Other non-Hispanic).
RACE_ETH4_OF = coarsening("race_eth4")[1]
#: ANES codes party ID as Democrat / Independent / Republican; a persona naming another party is
#: raked with the independents, the closest ANES category (counted in the notes).
PARTY_FOR_RAKING = {"Democrat": "Democrat", "Republican": "Republican", "Independent": "Independent",
                    "Other": "Independent"}


def partisan_column(partisan: str) -> str | None:
    check_param("partisan_column", "partisan", partisan, Options(PARTISAN))
    return PARTISAN_COLUMN.get(partisan)


def census_targets(state: str) -> Margins:
    """A shipped state's census raking margins (see the module docstring), PEP 2023 adult totals."""
    margins = state_margins(state, anchor="pep")
    kept = {m.key: m.values for m in margins if len(m.variables) == 1 and m.key != "race4"}
    race_eth = margins[("race4", "race_eth")].groupby(level="race_eth").sum()
    kept["race_eth4"] = race_eth.groupby(RACE_ETH4_OF).sum()
    return Margins(kept, name=margins.name)


def partisan_targets(states, partisan: str = "past_vote", *, totals: dict[str, float]) -> dict[str, Margins]:
    """``{state: Margins}`` of the partisan variable, each scaled to ``totals[state]`` (its census total)."""
    column = partisan_column(partisan)
    if column is None:
        return {}
    if partisan == "past_vote":
        table = past_vote_targets(2020, state=list(states), anchor="pep")
        table = table.rename(columns={"state": "area"})
    else:
        table = psychographic_targets("party_id", geography="state")
        table = table[table["area"].isin(list(states))]
        absent = sorted(set(states) - set(table["area"]))
        if absent:  # the MRP table covers the 50 states, not DC
            raise DataError(f"partisan='party_id' has no state party-ID targets for {absent}; use "
                            "partisan='past_vote' (all 50 states and DC) or 'none'")
    out = {}
    for state, block in table.groupby("area", sort=False):
        shares = pd.Series(block["share"].to_numpy(float), index=pd.Index(block["category"].astype(str),
                                                                          name=column))
        out[str(state)] = Margins({column: shares / shares.sum() * totals[str(state)]}, name=str(state))
    return out


def target_sources(partisan: str, *, election_year: int | None = 2024, census: str | None = None) -> pd.DataFrame:
    """Method, source, years and weighting of every target and truth the workflow uses (for the report)."""
    rows = [{"role": "census margins", "variable": "sex, age, race_eth4, education3, employment3",
             "source": census or "ACS 2023 1-year state profiles, anchored to PEP 2023 civilian adults (18+)",
             "years": "2023", "method": "published tables; race/ethnicity in 4 groups from the race x Hispanic "
             "origin cross-tab", "weighted": "census estimates"}]
    if partisan == "past_vote":
        rows.append({"role": "partisan margin (default)", "variable": "vote_2020 (recalled, Subjective tier)",
                     "source": "MEDSL U.S. President 1976-2020 (doi:10.7910/DVN/42MVDX); PEP 2023 adults",
                     "years": "2020", "method": "each state's 2020 result as shares of its adults; 'Did not vote' = "
                     "adults - valid votes", "weighted": "exact counts (no sampling error)"})
    elif partisan == "party_id":
        rows.append({"role": "partisan margin", "variable": "party_id (Subjective tier; Other -> Independent)",
                     "source": "ANES time series 2008 + 2012 (stevedata::anes_partytherms)", "years": "2008+2012",
                     "method": "MRP: multinomial logit with a 2020-vote state predictor, post-stratified over each "
                     "state's census joint", "weighted": "unweighted survey data"})
    if election_year is not None:
        rows.append({"role": "truth (evaluation)", "variable": "Democratic two-party share per state",
                     "source": "MEDSL " + ("2024-elections-official" if election_year == 2024
                                           else "U.S. President 1976-2020"),
                     "years": str(election_year), "method": "certified returns",
                     "weighted": "exact counts" + (" (out of sample: calibration used 2020)"
                                                   if partisan == "past_vote" and election_year != 2020 else "")})
    return pd.DataFrame(rows)
