"""Census margins for one state: every margin moved to one declared universe by an explicit rule.

The published tables describe different populations (DP05: everyone and 18+; DP02: 25+ and 15+;
DP03: 16+ and households; S2401: civilian employed 16+). ``census_margins`` returns them all over
ONE universe, whose total comes from the anchor table, by these rules (recorded per margin in
``CensusMargins.provenance`` and, for every margin not taken as published, in ``notes``):

native
    The table describes the universe and the anchor total: taken as published.
rescaled
    Same universe, other anchor (ACS table with ``anchor="pep"``): multiplied by N_pep / N_acs.
shares
    Other universe: its shares are applied to the universe total (N_universe / N_source).
conditional on sex
    A sex cross-tab from another universe: P(category | sex) of the source is applied to the
    universe's sex totals, so the cross-tab agrees with the ``sex`` margin exactly.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import pandas as pd

from .._validation import Options, check_params
from ..errors import DataError, InputError
from . import _categories as C
from ._ages import band_age
from ._census_result import CensusMargins
from ._states import resolve_state
from ._rescale import scale_factors_rows
from ._sources import (
    AGE_LOWER_BY_UNIVERSE,
    Source,
    acs_sources,
    acs_universe_total,
    pep_cells,
)

__all__ = ["census_margins", "census_margins_all"]

logger = logging.getLogger(__name__)

UNIVERSES = ("adult", "total", "16+", "25+", "households")
ANCHORS = ("acs", "pep")
UNIVERSE_LABELS = {
    "total": "total population",
    "adult": "population 18+",
    "16+": "population 16+",
    "25+": "population 25+",
    "15+": "population 15+",
    "households": "households",
    "civilian_employed": "civilian employed population 16+",
}

ONE_D = ("sex", "age", "race_eth", "race_eth4", "race", "race4", "race3", "education", "education5", "education4",
         "education3", "employment", "employment3", "marital", "marital2", "income", "occupation")
TWO_D = (("sex", "marital"), ("sex", "marital2"), ("sex", "occupation"), ("age", "sex"))
PEP_KEYS = ("sex", "age", ("age", "sex"))
DEFAULTS = {
    "total": ("sex", "age", "race_eth"),
    "adult": ("sex", "age", "race_eth", "education", "employment", ("sex", "marital")),
    "16+": ("sex", "age", "race_eth", "education", "employment", ("sex", "marital")),
    "25+": ("sex", "age", "race_eth", "education", "employment", ("sex", "marital")),
    "households": ("income",),
}
ALL = ("sex", "age", "race_eth", "race", "education", "employment", ("sex", "marital"), "income", ("sex", "occupation"))
#: Variables defined for the total population (children included).
TOTAL_OK = {"sex", "age", "race_eth", "race_eth4", "race", "race4", "race3", ("age", "sex")}

#: fine variable -> (stored margin label, stored universe)
STORED = {
    "race_eth": ("race_eth", "total"),
    "race": ("race", "total"),
    "education": ("education", "25+"),
    "employment": ("employment", "16+"),
    "income": ("income", "households"),
    "marital": ("sex:marital", "15+"),
}
ASSUMPTION = {
    "sex": "assumes the sex ratio of the population 18+ (DP05 has no 25+ by sex)",
    "race_eth": "assumes the race/Hispanic-origin shares of the whole population (children included)",
    "race": "assumes the race shares of the whole population (children included)",
    "education": "assumes people outside the 25+ universe (e.g. 18-24) share its education distribution",
    "employment": "assumes the employment-status shares of the population 16+",
    "income": ("household income is a household attribute: household shares are used as person shares, "
               "ignoring that larger households hold more persons"),
    "marital": "assumes the marital-status shares within each sex of the population 15+",
    "occupation": ("assumes the occupation shares within each sex of the population 16+ "
                   "('Not civilian employed' = population 16+ minus the civilian employed)"),
}


def _label(key) -> str:
    return key if isinstance(key, str) else ":".join(key)


def _fine(variable: str) -> str:
    return C.COARSENINGS[variable][0] if variable in C.COARSENINGS else variable


def _resolve_variables(variables, *, state: str, universe: str, anchor: str, has_acs: bool, func: str) -> list:
    """The margin keys to build, in order; raises for keys the universe, anchor or state cannot give."""
    if variables is None:
        if not has_acs:
            return list(PEP_KEYS)
        return list(DEFAULTS[universe]) + ([("age", "sex")] if anchor == "pep" else [])
    if isinstance(variables, str) and variables == "all":
        if not has_acs:
            return list(PEP_KEYS)
        if universe == "households":
            return ["income"]
        keys = list(ALL) + ([("age", "sex")] if anchor == "pep" else [])
        return [k for k in keys if k in TOTAL_OK] if universe == "total" else keys
    if isinstance(variables, (str, tuple)):
        variables = [variables]
    keys = []
    known = [*ONE_D, *TWO_D]
    for v in variables:
        key = tuple(v) if isinstance(v, list) else v
        if key not in known:
            shown = ", ".join(map(repr, known))
            close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            if isinstance(key, tuple) and tuple(reversed(key)) in TWO_D:
                hint = f" Write it as {tuple(reversed(key))!r}."
            raise InputError(f"`variables` of {func} lists unknown margin {key!r}.{hint} Available: {shown}")
        if key in keys:
            raise InputError(f"`variables` of {func} lists {key!r} twice")
        keys.append(key)
    for key in keys:
        if universe == "households" and key != "income":
            raise InputError(
                f"`variables` of {func}: {key!r} is a person attribute; universe='households' has only 'income'. "
                "Use a person universe ('adult', '16+', '25+', 'total') for it"
            )
        if universe == "total" and key not in TOTAL_OK:
            raise InputError(
                f"`variables` of {func}: {key!r} is not defined for universe='total' (children included); "
                "use universe='adult', '16+' or '25+'"
            )
        if key == ("age", "sex") and anchor != "pep":
            raise InputError(
                f"`variables` of {func}: ('age', 'sex') comes from the PEP single-year table; "
                "pass anchor='pep' (the ACS profiles give no age x sex cross-tab for adults)"
            )
        if not has_acs and key not in PEP_KEYS:
            missing = [_label(k) for k in keys if k not in PEP_KEYS]
            raise DataError(
                f"{func}: {state} has no ACS 2023 state profile in the shipped data (the source snapshot covers the 50 "
                f"states), so it lacks {missing}; only 'sex', 'age' and ('age', 'sex') from PEP 2023 are available "
                "(anchor='pep')"
            )
    return keys


def acs_total(state: str, universe: str) -> float:
    """The ACS 2023 total of a universe (DP05 for persons, DP02 for 25+ and households)."""
    table, stored = {"total": ("DP05", "total"), "adult": ("DP05", "adult"), "16+": ("DP05", "16+"),
                     "25+": ("DP02", "25+"), "households": ("DP02", "households")}[universe]
    return acs_universe_total(state, table, stored)


class _Builder:
    """Builds each margin over the target universe and records how."""

    def __init__(self, state: str, universe: str, anchor: str, has_acs: bool):
        self.state, self.universe, self.anchor = state, universe, anchor
        self.acs = acs_sources(state) if has_acs else {}
        self.pep = pep_cells(state) if anchor == "pep" else None
        self.total = self._universe_total()
        self.provenance: list[dict] = []
        self.notes: list[str] = []

    # ------------------------------------------------------------ totals
    def _universe_total(self) -> float:
        if self.anchor == "pep":
            return float(self.pep.loc[self.pep["age"] >= AGE_LOWER_BY_UNIVERSE[self.universe], "population"].sum())
        return acs_total(self.state, self.universe)

    def _record(self, key, source: str, source_universe: str, source_total: float, target_total: float, rule: str,
                note: str | None = None) -> None:
        self.provenance.append({
            "margin": _label(key), "source": source, "source_universe": source_universe,
            "source_total": source_total, "target_total": target_total,
            "scale": target_total / source_total if source_total else np.nan, "rule": rule,
        })
        if note:
            self.notes.append(f"{_label(key)}: {note}")

    # ------------------------------------------------------------ pieces
    def _pep_series(self, variables: tuple[str, ...]) -> pd.Series:
        cells = self.pep[self.pep["age"] >= AGE_LOWER_BY_UNIVERSE[self.universe]].copy()
        cells["age"] = band_age(cells["age"], universe=self.universe)
        series = cells.groupby(list(variables), observed=False, sort=False)["population"].sum().astype(float)
        order = {"age": C.AGE_GROUPS_BY_UNIVERSE[self.universe], "sex": C.SEX}
        if len(variables) == 1:
            return series.reindex(pd.Index(order[variables[0]], name=variables[0]))
        return series.reindex(pd.MultiIndex.from_product([order[v] for v in variables], names=list(variables)))

    def one_d(self, key, source: Source, fine: str) -> tuple[pd.Series, pd.Series]:
        factor = self.total / source.total
        same = source.universe == self.universe
        rule = "native" if same and factor == 1.0 else ("rescaled" if same else "shares")
        note = None
        if rule == "rescaled":
            note = (f"{source.table} counts for the {UNIVERSE_LABELS[source.universe]} ({source.total:,.0f}) "
                    f"rescaled by {factor:.5f} to the PEP 2023 civilian total {self.total:,.0f}")
        elif rule == "shares":
            note = (f"{source.table} shares for the {UNIVERSE_LABELS[source.universe]} ({source.total:,.0f}) applied "
                    f"to the {UNIVERSE_LABELS[self.universe]} total {self.total:,.0f}; {ASSUMPTION[fine]}")
        self._record(key, source.table, source.universe, source.total, self.total, rule, note)
        return source.values * factor, source.moe * factor

    def sex(self, key="sex", record: bool = False) -> pd.Series:
        if self.anchor == "pep":
            values = self._pep_series(("sex",))
            if record:
                self._record(key, "PEP 2023 (civilian)", self.universe, self.total, self.total, "native")
            return values
        stored_universe = self.universe if self.universe in ("total", "adult", "16+") else "adult"
        source = self.acs[("sex", stored_universe)]
        if record:
            return self.one_d(key, source, "sex")[0]
        return source.values * (self.total / source.total)

    def age(self, key="age") -> pd.Series:
        if self.anchor == "pep":
            self._record(key, "PEP 2023 (civilian)", self.universe, self.total, self.total, "native")
            return self._pep_series(("age",))
        source = self.acs[("age", "total")]
        fine = source.values
        if self.universe == "total":
            values = pd.concat([pd.Series({"Under 18": fine["Under 16"] + fine["16-17"]}), fine[list(C.AGE_GROUPS)]])
        else:
            values = fine[list(C.AGE_GROUPS_BY_UNIVERSE[self.universe])]
        values = values.rename_axis("age")
        self._record(key, source.table, self.universe, float(values.sum()), self.total,
                     "native" if values.sum() == self.total else "rescaled")
        return values

    def age_sex(self, key) -> pd.Series:
        self._record(key, "PEP 2023 (civilian)", self.universe, self.total, self.total, "native")
        return self._pep_series(("age", "sex"))

    def _occupation_source(self) -> Source:
        """Occupation by sex over the population 16+ ('Not civilian employed' added)."""
        employed = self.acs[("sex:occupation", "civilian_employed")]
        over16 = self.acs[("sex", "16+")].values
        rest = over16 - employed.values.groupby(level="sex", sort=False).sum().reindex(over16.index)
        extra = pd.Series(rest.to_numpy(), index=pd.MultiIndex.from_tuples(
            [(s, C.NOT_CIVILIAN_EMPLOYED) for s in rest.index], names=["sex", "occupation"]))
        index = pd.MultiIndex.from_product([C.SEX, C.OCCUPATION], names=["sex", "occupation"])
        values = pd.concat([employed.values, extra]).reindex(index)
        moe = pd.concat([employed.moe, extra * np.nan]).reindex(index)
        return Source(values, moe, "ACS 2023 S2401 + DP03", "16+")

    def by_sex(self, key, fine: str) -> tuple[pd.Series, pd.Series]:
        """``(sex, fine)`` over the universe: source P(fine | sex) times the universe's sex totals."""
        source = self._occupation_source() if fine == "occupation" else self.acs[STORED[fine]]
        categories = C.OCCUPATION if fine == "occupation" else C.MARITAL
        index = pd.MultiIndex.from_product([C.SEX, categories], names=["sex", fine])
        shape = (len(C.SEX), len(categories))
        table = source.values.reindex(index).to_numpy(float).reshape(shape)
        moe_table = source.moe.reindex(index).to_numpy(float).reshape(shape)
        sex_totals = self.sex().reindex(list(C.SEX)).to_numpy(float)
        factors = scale_factors_rows(table, sex_totals)[:, None]
        native = source.universe == self.universe and np.allclose(factors, 1.0, rtol=0, atol=1e-12)
        note = None if native else (
            f"{source.table} shares of {fine} within each sex for the {UNIVERSE_LABELS[source.universe]} "
            f"({source.total:,.0f}) applied to this universe's sex totals "
            f"({sex_totals[0]:,.0f} male, {sex_totals[1]:,.0f} female); {ASSUMPTION[fine]}")
        self._record(key, source.table, source.universe, source.total, self.total,
                     "native" if native else "conditional on sex", note)
        return pd.Series((table * factors).ravel(), index=index), pd.Series((moe_table * factors).ravel(), index=index)


def _coarsen(values: pd.Series, variable: str, level: str) -> pd.Series:
    """Sum the fine categories of ``level`` into the coarse ``variable`` (see COARSENINGS)."""
    mapping = C.COARSENINGS[variable][1]
    frame = values.rename("value").reset_index()
    frame[level] = frame[level].map(mapping)
    frame = frame.rename(columns={level: variable})
    names = [variable if n == level else n for n in values.index.names]
    out = frame.groupby(names, sort=False)["value"].sum()
    order = [C.CATEGORIES[variable] if n == variable else list(dict.fromkeys(frame[n])) for n in names]
    index = pd.Index(order[0], name=names[0]) if len(names) == 1 else pd.MultiIndex.from_product(order, names=names)
    return out.reindex(index)


def _build(builder: _Builder, key) -> tuple[pd.Series, pd.Series]:
    """(totals, MOE) of one margin key over the builder's universe; MOE is NaN where unpublished."""
    moe = None
    if key == "sex":
        values = builder.sex(key, record=True)
    elif key == "age":
        values = builder.age(key)
    elif key == ("age", "sex"):
        values = builder.age_sex(key)
    else:
        variable = key[1] if isinstance(key, tuple) else key
        fine = _fine(variable)
        if fine in ("marital", "occupation"):
            values, moe = builder.by_sex(key, fine)
            if not isinstance(key, tuple):
                values, moe = values.groupby(level=fine, sort=False).sum(), None
        else:
            values, moe = builder.one_d(key, builder.acs[STORED[fine]], fine)
            values, moe = values.rename_axis(fine), moe.rename_axis(fine)
        if variable != fine:
            values, moe = _coarsen(values, variable, fine), None
    return values, (values * np.nan if moe is None else moe)


def _check_universe_anchor(universe: str, anchor: str, func: str) -> None:
    check_params(func, {"universe": Options(UNIVERSES), "anchor": Options(ANCHORS)},
                 {"universe": universe, "anchor": anchor})


def census_margins(state, *, variables=None, universe: str = "adult", anchor: str = "acs") -> CensusMargins:
    """Census margins of one state over one population universe.

    Parameters
    ----------
    state
        Postal code or name, any case ("CA", "ca", "California"). DC has PEP margins only.
    variables
        Margin keys to return: 1-D names ``"sex", "age", "race_eth", "race", "education",
        "employment", "income"`` and ``"marital"``/``"occupation"`` (summed over sex), coarse
        variants ``"race_eth4", "race4", "race3", "education5", "education4", "education3",
        "employment3", "marital2"``, and 2-D keys ``("sex", "marital")``, ``("sex", "marital2")``,
        ``("sex", "occupation")`` and ``("age", "sex")`` (PEP only). ``None`` gives the
        universe's defaults (adult: sex, age, race_eth, education, employment, (sex, marital);
        with anchor="pep" also (age, sex)); ``"all"`` gives every fine margin available.
    universe
        "adult" (18+, default), "total", "16+", "25+" or "households" (income only).
    anchor
        Which table fixes the universe total (and, for persons, the sex and age margins):
        "acs" = ACS 2023 DP05/DP02 (resident population incl. Armed Forces, 2023 average);
        "pep" = PEP 2023 civilian population on July 1, 2023. Every other margin is scaled to
        the anchor total by the rules in this module's docstring.

    Returns
    -------
    CensusMargins
        A :class:`~personacal.calibrate.Margins` whose margins all sum to the universe total
        and agree on shared variables; ``.provenance``, ``.notes`` and ``.moe`` say how each
        margin was built.
    """
    func = "census_margins"
    code = resolve_state(state, func=func)
    _check_universe_anchor(universe, anchor, func)
    has_acs = code not in C.NO_ACS_PROFILE
    if anchor == "acs" and not has_acs:
        raise DataError(
            f"{func}: {code} has no ACS 2023 state profile in the shipped data (the source covers the 50 states); "
            "pass anchor='pep' for its sex and age margins from PEP 2023"
        )
    if anchor == "pep" and universe == "households":
        raise InputError(f"`anchor` of {func}: PEP counts persons, not households; use anchor='acs' with universe='households'")
    keys = _resolve_variables(variables, state=code, universe=universe, anchor=anchor, has_acs=has_acs, func=func)
    builder = _Builder(code, universe, anchor, has_acs)
    if anchor == "pep" and has_acs:
        builder.notes.append(
            f"anchor: PEP 2023 civilian population (July 1, 2023; excludes the Armed Forces) of the "
            f"{UNIVERSE_LABELS[universe]}, {builder.total:,.0f}, vs ACS 2023 {acs_total(code, universe):,.0f}; "
            "ACS-based margins are scaled to it"
        )
    margins, moes = {}, {}
    for key in keys:
        values, moe = _build(builder, key)
        margins[key] = values
        moes[key] = moe
    logger.debug("census_margins %s %s anchor=%s: %s", code, universe, anchor, [_label(k) for k in keys])
    return CensusMargins(
        margins,
        rescale_to=float(builder.total),
        name=code,
        universe=universe,
        anchor=anchor,
        provenance=pd.DataFrame(builder.provenance),
        moe=moes,
        notes=tuple(builder.notes),
    )


def census_margins_all(*, variables=None, universe: str = "adult", anchor: str = "acs") -> dict[str, CensusMargins]:
    """:func:`census_margins` for every state that can answer the request, keyed by postal code.

    That is the 50 states; DC is included too when ``anchor="pep"`` and only PEP margins
    (sex, age, (age, sex)) are requested, since DC has no ACS profile in the shipped data.
    """
    _check_universe_anchor(universe, anchor, "census_margins_all")
    codes = sorted(C.STATES)
    only_pep = False
    if anchor == "pep":
        keys = _resolve_variables(variables, state="all", universe=universe, anchor=anchor, has_acs=True,
                                  func="census_margins_all")
        only_pep = all(k in PEP_KEYS for k in keys)
    if not only_pep:
        codes = [c for c in codes if c not in C.NO_ACS_PROFILE]
    return {c: census_margins(c, variables=variables, universe=universe, anchor=anchor) for c in codes}
