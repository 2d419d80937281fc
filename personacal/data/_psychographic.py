"""Party ID and ideology shares from real surveys, in the LLM tiers' fixed vocabularies.

The table ``psychographic_targets.csv.gz`` is written by ``scripts/curate_psychographic.py``;
sources, code maps and caveats are in ``personacal/data/SOURCES.md`` (section "Psychographic
targets"). Every share is an unweighted respondent share: the extracts carry no survey weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..calibrate import Margins
from .._validation import InstanceOf, Options, check_param
from ..errors import DataError, InputError
from ._files import read_table

__all__ = ["psychographic_targets", "psychographic_margins"]

FILE = "psychographic_targets.csv.gz"
GEOGRAPHIES = ("national", "region", "state")
_DTYPES = {"source": "string", "dataset": "string", "years": "string", "geography": "string", "area": "string",
           "variable": "string", "category": "string", "source_codes": "string"}


def _table() -> pd.DataFrame:
    return read_table(FILE, _DTYPES)


def psychographic_targets(
    variable: str | None = None,
    *,
    geography: str = "national",
    source: str | None = None,
    area: str | list[str] | None = None,
) -> pd.DataFrame:
    """Shares of party ID / ideology categories from ANES, GSS and Pew ATP.

    Parameters
    ----------
    variable
        ``"party_id"`` or ``"ideology"`` (``None``: both). ``"religiosity"`` has no
        shipped source and raises :class:`~personacal.errors.DataError`.
    geography
        ``"national"`` (area ``"US"``), ``"region"`` (Census regions) or ``"state"``
        (postal codes; ANES 2008+2012 pooled, states with >= 50 respondents only).
    source
        ``"ANES"``, ``"GSS"`` or ``"Pew ATP"``; ``None`` returns every source that has
        the variable at this geography (the ``source`` column tells them apart; pick
        one before turning the shares into margins).
    area
        Keep only these areas (region names or state codes).

    Returns
    -------
    DataFrame with columns source, dataset, years, geography, area, variable, category,
    share (within source x area x variable; sums to 1), count, n (respondents with a valid
    answer), weighted (always False), source_codes (the survey codes mapped onto the category).
    """
    table = _table()
    if variable is not None:
        if variable == "religiosity":
            raise DataError(
                "no shipped source measures religiosity: the survey extracts personacal ships (ANES "
                "partytherms, GSS 2018 spending, OpinionQA's Pew ATP group counts) have no attendance or "
                "importance-of-religion item. Pass your own shares for 'religiosity' to calibrate_tier"
            )
        check_param("psychographic_targets", "variable", variable, Options(sorted(table["variable"].unique())))
        table = table[table["variable"] == variable]
    check_param("psychographic_targets", "geography", geography, Options(GEOGRAPHIES))
    table = table[table["geography"] == geography]
    if source is not None:
        available = sorted(table["source"].unique())
        if source not in available:
            raise InputError(
                f"`source` of psychographic_targets must be one of {available} for variable={variable!r}, "
                f"geography={geography!r}; got {source!r}"
            )
        table = table[table["source"] == source]
    if table.empty:
        raise DataError(f"no shipped targets for variable={variable!r} at geography={geography!r}")
    if area is not None:
        wanted = [area] if isinstance(area, str) else list(area)
        missing = sorted(set(wanted) - set(table["area"]))
        if missing:
            raise InputError(
                f"`area` of psychographic_targets names {missing}, which have no rows for "
                f"geography={geography!r}; available: {sorted(table['area'].unique())}"
            )
        table = table[table["area"].isin(wanted)]
    return table.reset_index(drop=True)


def _one_source(frame: pd.DataFrame) -> None:
    sources = frame.groupby("variable")[["source", "years"]].apply(lambda f: sorted(set(zip(f["source"], f["years"]))))
    ambiguous = {v: s for v, s in sources.items() if len(s) > 1}
    if ambiguous:
        raise InputError(
            f"`targets` of psychographic_margins hold several sources for the same variable: {ambiguous}; "
            "select one, e.g. psychographic_targets(variable, source='GSS')"
        )


def psychographic_margins(targets: pd.DataFrame, *, total: float | Mapping[str, float]):
    """Turn shares from :func:`psychographic_targets` into :class:`~personacal.calibrate.Margins`.

    One source per variable. With a single area the result is one ``Margins`` (keys are the
    variables) whose totals are ``shares * total``; with several areas it is ``{area: Margins}``
    and ``total`` may be a mapping ``{area: population}``.
    """
    check_param("psychographic_margins", "targets", targets, InstanceOf(pd.DataFrame, name="a DataFrame"))
    missing = [c for c in ("area", "variable", "category", "share") if c not in targets.columns]
    if missing:
        raise InputError(f"`targets` of psychographic_margins lacks column(s) {missing}; use psychographic_targets()")
    if "source" in targets.columns:
        _one_source(targets)
    out = {}
    for area, block in targets.groupby("area", sort=False):
        if isinstance(total, Mapping):
            if area not in total:
                raise InputError(f"`total` of psychographic_margins has no population for area {area!r}")
            area_total = float(total[area])
        else:
            area_total = float(total)
        shares = {v: pd.Series(b["share"].to_numpy(float), index=pd.Index(b["category"], name=v))
                  for v, b in block.groupby("variable", sort=False)}
        out[str(area)] = Margins.from_shares(shares, total=area_total, name=str(area))
    return next(iter(out.values())) if len(out) == 1 else out
