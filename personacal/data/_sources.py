"""The shipped ACS 2023 and PEP 2023 tables for one state, as labelled pandas Series."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import product

import pandas as pd

from . import _categories as C
from ._files import read_table

__all__ = ["Source", "acs_sources", "acs_universe_total", "pep_cells", "AGE_LOWER_BY_UNIVERSE"]

ACS_MARGINS = "acs2023_state_margins.csv.gz"
ACS_UNIVERSES = "acs2023_state_universes.csv.gz"
PEP = "pep2023_state_age_sex.csv.gz"

#: Youngest age in each person universe.
AGE_LOWER_BY_UNIVERSE = {"total": 0, "16+": 16, "adult": 18, "25+": 25}

_ORDER = {
    "sex": C.SEX,
    "age": ("Under 16", "16-17", *C.AGE_GROUPS),
    "race_eth": C.RACE_ETH,
    "race": C.RACE,
    "education": C.EDUCATION,
    "marital": C.MARITAL,
    "employment": C.EMPLOYMENT,
    "income": C.INCOME_BRACKETS,
    "occupation": C.OCCUPATION_GROUPS,
}
_TABLE_NAMES = {"DP02": "ACS 2023 DP02", "DP03": "ACS 2023 DP03", "DP05": "ACS 2023 DP05", "S2401": "ACS 2023 S2401"}


@dataclass(frozen=True)
class Source:
    """One published table: counts (and MOE, if published) over a named universe."""

    values: pd.Series
    moe: pd.Series
    table: str
    universe: str

    @property
    def total(self) -> float:
        return float(self.values.sum())


def _index(variables: list[str]) -> pd.Index:
    if len(variables) == 1:
        return pd.Index(list(_ORDER[variables[0]]), name=variables[0])
    return pd.MultiIndex.from_tuples(list(product(*(_ORDER[v] for v in variables))), names=variables)


@functools.lru_cache(maxsize=64)
def acs_sources(state: str) -> dict[tuple[str, str], Source]:
    """``{(margin label, universe): Source}`` for one state, categories in canonical order.

    Cached: callers must not modify the returned Series in place.
    """
    frame = read_table(ACS_MARGINS)
    frame = frame[frame["state"] == state]
    out = {}
    for (label, universe, table), block in frame.groupby(["margin", "universe", "table"], sort=False):
        variables = label.split(":")
        index = pd.MultiIndex.from_frame(block[variables]) if len(variables) > 1 else pd.Index(block[variables[0]], name=label)
        canonical = _index(variables)
        values = pd.Series(block["estimate"].to_numpy(float), index=index).reindex(canonical)
        moe = pd.Series(block["moe"].to_numpy(float), index=index).reindex(canonical)
        if values.isna().any():
            missing = values[values.isna()].index.tolist()
            raise KeyError(f"shipped ACS table {label} for {state} lacks categories {missing}")
        out[(label, universe)] = Source(values, moe, _TABLE_NAMES[table], universe)
    return out


def acs_universe_total(state: str, table: str, universe: str, sex: str = "Total") -> float:
    frame = read_table(ACS_UNIVERSES)
    hit = frame[(frame["state"] == state) & (frame["table"] == table) & (frame["universe"] == universe) & (frame["sex"] == sex)]
    if len(hit) != 1:
        raise KeyError(f"shipped ACS universes table has {len(hit)} rows for {state} {table} {universe} {sex}")
    return float(hit["estimate"].iloc[0])


def pep_cells(state: str | None = None) -> pd.DataFrame:
    """Tidy PEP cells: state, sex, age (0..85, 85 = 85 and over), population."""
    frame = read_table(PEP, {"state": "string", "sex": "string"})
    if state is not None:
        frame = frame[frame["state"] == state].reset_index(drop=True)
    return frame

