"""US presidential results by state, 2016 / 2020 / 2024 (MEDSL, rebuilt by candidate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import Options, check_param
from ..errors import DataError
from ._categories import STATES
from ._files import read_table
from ._states import resolve_state

__all__ = ["election_results"]

YEARS = (2016, 2020, 2024)
LEVELS = ("state", "candidate")


def election_results(year=None, *, level: str = "state", state=None) -> pd.DataFrame:
    """Presidential general-election results by state (50 states + DC).

    Parameters
    ----------
    year
        2016, 2020 or 2024; ``None`` for all three.
    level
        ``"state"``: one row per state and year with ``dem_votes, rep_votes, other_votes,
        total_votes`` (valid votes for any candidate; undervotes, overvotes, blank, void and
        spoiled ballots excluded and counted in ``non_votes``), ``dem_share, rep_share,
        dem_two_party_share`` (D / (D + R)), ``winner`` ("D", "R" or "Other"),
        ``winner_candidate``, candidate names and MEDSL's own ``reported_total_votes``.
        ``"candidate"``: one row per candidate, state and year (fusion lines summed).
    state
        Optional postal code or name to keep one state.
    """
    func = "election_results"
    check_param(func, "level", level, Options(LEVELS))
    check_param(func, "year", year, [Options(YEARS), None], error=DataError)  # None: every year shipped
    if level == "state":
        frame = read_table("president_state_2016_2024.csv", {"state": "string"})
        two_party = frame["dem_votes"] + frame["rep_votes"]
        frame["dem_share"] = frame["dem_votes"] / frame["total_votes"]
        frame["rep_share"] = frame["rep_votes"] / frame["total_votes"]
        frame["dem_two_party_share"] = frame["dem_votes"] / two_party
        frame["winner"] = np.select(
            [frame["winner_candidate"] == frame["dem_candidate"], frame["winner_candidate"] == frame["rep_candidate"]],
            ["D", "R"], default="Other")
        frame.insert(2, "state_name", frame["state"].map(lambda c: STATES[c][0]).astype("string"))
        columns = ["year", "state", "state_name", "dem_candidate", "rep_candidate", "dem_votes", "rep_votes",
                   "other_votes", "total_votes", "dem_share", "rep_share", "dem_two_party_share", "winner",
                   "winner_candidate", "non_votes", "reported_total_votes"]
        frame = frame[columns]
    else:
        frame = read_table("president_candidates_2016_2024.csv.gz", {"state": "string"})
    if year is not None:
        frame = frame[frame["year"] == year]
    if state is not None:
        frame = frame[frame["state"] == resolve_state(state, func=func)]
    return frame.reset_index(drop=True)
