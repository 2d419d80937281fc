"""Party ID and ideology shares from real surveys, in the LLM tiers' fixed vocabularies.

Two shipped tables: ``psychographic_targets.csv.gz`` (unweighted respondent shares of ANES, GSS and
Pew ATP; ``scripts/curate_psychographic.py``) and ``party_id_state_mrp.csv.gz`` (state party ID by
multilevel regression and post-stratification of ANES 2008 + 2012 over each state's census joint;
``scripts/curate_party_id_mrp.py``). Sources, code maps and caveats: ``personacal/data/SOURCES.md``
(sections 5 and 6). No share is survey-weighted: the extracts carry no weights.

At ``geography="state"`` the default is ONE source, the MRP table (all 50 states): the table a
workflow rakes to. The raw ANES state shares (34 states) stay reachable with ``source="ANES"``.
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
MRP_FILE = "party_id_state_mrp.csv.gz"
MRP_SOURCE = "ANES MRP"
#: (variable, geography) -> the source returned when ``source`` is None (one table to rake to).
DEFAULT_SOURCES = {("party_id", "state"): MRP_SOURCE}
COLUMNS = ["source", "dataset", "years", "geography", "area", "variable", "category", "share", "count", "n",
           "weighted", "source_codes", "method", "ci_low", "ci_high", "state_predictor", "poststratification"]
RAW_METHOD = "unweighted respondent shares"
GEOGRAPHIES = ("national", "region", "state")
_DTYPES = {"source": "string", "dataset": "string", "years": "string", "geography": "string", "area": "string",
           "variable": "string", "category": "string", "source_codes": "string", "method": "string",
           "state_predictor": "string", "poststratification": "string"}


def _table() -> pd.DataFrame:
    raw = read_table(FILE, _DTYPES).assign(method=RAW_METHOD)
    mrp = read_table(MRP_FILE, _DTYPES)
    table = pd.concat([raw, mrp], ignore_index=True)
    return table.reindex(columns=COLUMNS)


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
        (postal codes).
    source
        ``"ANES"``, ``"GSS"``, ``"Pew ATP"`` or ``"ANES MRP"``. ``None``: at
        ``geography="state"``, party ID from ``"ANES MRP"`` only (all 50 states; DC has no
        ACS margins to post-stratify on); elsewhere every source that has the variable at
        this geography (the ``source`` column tells them apart; pick one before turning the
        shares into margins). ``"ANES"`` at state level gives the raw pooled 2008+2012
        respondent shares of the 34 states with >= 50 respondents.
    area
        Keep only these areas (region names or state codes).

    Returns
    -------
    DataFrame with columns source, dataset, years, geography, area, variable, category,
    share (within source x area x variable; sums to 1), count (raw sources), n (respondents
    with a valid answer in the area), weighted (always False), source_codes (the survey codes
    mapped onto the category), method ("unweighted respondent shares" or the MRP model), and
    for the MRP rows ci_low / ci_high (95% posterior interval), state_predictor and
    poststratification.

    The MRP targets describe party identification as ANES measured it in 2008 and 2012,
    projected onto 2023 census composition and the 2020 vote: their national lean is about 9
    points more Democratic than Pew ATP's 2021 respondents (benchmarks/party_id_targets.py), so
    no workflow rakes to them by default; past vote (:func:`past_vote_targets`) is the default
    partisan target.
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
    if source is None and variable is not None:
        source = DEFAULT_SOURCES.get((variable, geography))
    elif source is None:
        defaults = {DEFAULT_SOURCES[k] for k in DEFAULT_SOURCES if k[1] == geography}
        if defaults:
            table = table[table["source"].isin(defaults) | ~table["variable"].isin(
                [k[0] for k in DEFAULT_SOURCES if k[1] == geography])]
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
