"""The curated ACS 2023 state-profile tables as published (before any universe rescaling)."""

from __future__ import annotations

import pandas as pd

from .._validation import Options, check_param
from ._categories import NO_ACS_PROFILE, STATES
from ._files import read_table
from ._states import resolve_state

__all__ = ["acs_table"]

TABLES = {
    "margins": "acs2023_state_margins.csv.gz",
    "universes": "acs2023_state_universes.csv.gz",
    "occupations": "acs2023_state_occupations.csv.gz",
    "employment_rates": "acs2023_state_employment_rates.csv.gz",
}


def acs_table(state=None, table: str = "margins") -> pd.DataFrame:
    """A curated ACS 2023 1-year table, tidy, one state (postal code or name) or all 50 (``None``).

    table
        ``"margins"``: every published margin used by :func:`census_margins` with its source
        ``table`` (DP02/DP03/DP05/S2401), ``universe`` and ``margin`` (e.g. "sex:marital"),
        one column per variable, ``estimate`` and ``moe`` (90% margin of error; only S2401 rows
        have one). The ``age`` margin is over the total population with categories "Under 16",
        "16-17" and the adult groups.
        ``"universes"``: universe totals (total, adult, 16+, 15+, 25+, households, civilian
        employed, citizen_adult = citizen voting-age population) by sex where published.
        ``"occupations"``: S2401 occupation hierarchy (levels 0-3) by sex with MOE.
        ``"employment_rates"``: S2301 population, labor-force participation rate, employment/
        population ratio and unemployment rate (percent) by characteristic, with MOEs; NaN
        where the Census suppresses the cell.
    """
    func = "acs_table"
    check_param(func, "table", table, Options(TABLES))
    frame = read_table(TABLES[table], {"state": "string"})
    if state is not None:
        code = resolve_state(state, func=func, allowed=frozenset(STATES) - NO_ACS_PROFILE)
        frame = frame[frame["state"] == code].reset_index(drop=True)
    return frame
