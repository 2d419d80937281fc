"""Population targets for one region: 1-D and multi-way categorical margins, and totals of numeric columns.

A ``Margins`` holds population *totals*. Shares are accepted only through
:meth:`Margins.from_shares`, which needs an explicit total, so a table of
percentages can never be mistaken for counts. Numeric auxiliaries (R survey's
``calibrate(design, ~stype + api99, pop.totals)``) are population totals of
numeric columns, kept beside the categorical margins (``totals=``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import Interval, check_param
from ..errors import InputError, InvalidValueError, MarginTotalsError

__all__ = ["Margin", "Margins"]

#: The ``margin`` label of the population size in the long format (numeric totals only).
POPULATION = "(population)"
#: Relative tolerance for margins that must agree (totals, shared sub-margins).
CONSISTENCY_RTOL = 1e-6


@dataclass(frozen=True)
class Margin:
    """One target table: its variables and a Series of population totals.

    ``values`` has a plain Index named after the variable for a 1-D margin and a
    MultiIndex whose level names are ``variables`` for a multi-way margin.
    """

    variables: tuple[str, ...]
    values: pd.Series

    @property
    def key(self) -> str | tuple[str, ...]:
        return self.variables[0] if len(self.variables) == 1 else self.variables

    @property
    def label(self) -> str:
        return ":".join(self.variables)

    @property
    def total(self) -> float:
        return float(self.values.sum())

    def categories(self, variable: str) -> pd.Index:
        """The categories of ``variable`` in this margin, in first-seen order."""
        level = self.values.index.get_level_values(variable)
        return pd.Index(pd.unique(level), name=variable)

    def collapse(self, variables: tuple[str, ...]) -> pd.Series:
        """Sum this margin over the variables not in ``variables``."""
        return self.values.groupby(level=list(variables), sort=False).sum()


def _as_series(key: tuple[str, ...], values) -> pd.Series:
    label = ":".join(key)
    if isinstance(values, pd.DataFrame):
        raise InputError(
            f"margin '{label}' must be a mapping or a pandas Series of totals; got a DataFrame "
            "(for a multi-way margin pass a Series with a MultiIndex, e.g. df.set_index([...])['value'])"
        )
    if isinstance(values, pd.Series):
        series = values.copy()
    elif isinstance(values, Mapping):
        if len(key) > 1:
            index = pd.MultiIndex.from_tuples(list(values.keys()), names=list(key))
        else:
            index = pd.Index(list(values.keys()), name=key[0])
        series = pd.Series(list(values.values()), index=index)
    else:
        raise InputError(
            f"margin '{label}' must be a mapping {{category: total}} or a pandas Series; "
            f"got {type(values).__name__}"
        )
    if len(key) > 1:
        if not isinstance(series.index, pd.MultiIndex) or series.index.nlevels != len(key):
            raise InputError(
                f"multi-way margin '{label}' needs a Series with a {len(key)}-level MultiIndex; "
                f"got an index with {series.index.nlevels} level(s)"
            )
        names = list(series.index.names)
        if all(n is None for n in names):
            series.index = series.index.set_names(list(key))
        elif sorted(map(str, names)) != sorted(key):
            raise InputError(
                f"multi-way margin '{label}' has index levels {names}; they must be the margin's "
                f"variables {list(key)}"
            )
        else:
            series = series.reorder_levels(list(key))
    else:
        if isinstance(series.index, pd.MultiIndex):
            raise InputError(f"1-D margin '{label}' must not have a MultiIndex; key it by a tuple of columns instead")
        series.index = series.index.rename(key[0])
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()].unique().tolist()[:5]
        raise InputError(f"margin '{label}' lists categories more than once: {dup}")
    try:
        series = series.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"margin '{label}' holds non-numeric totals ({exc}); give numbers") from exc
    bad = series[~np.isfinite(series.to_numpy()) | (series.to_numpy() < 0)]
    if len(bad):
        shown = ", ".join(f"{c!r}={v}" for c, v in list(bad.items())[:5])
        raise InvalidValueError(
            f"margin '{label}' has NaN, negative or infinite totals: {shown}; "
            "targets must be finite and >= 0"
        )
    series.name = "target"
    return series


def _numeric_totals(totals) -> pd.Series:
    """Population totals of numeric columns as a float Series indexed by column name."""
    if totals is None:
        return pd.Series(dtype=float, name="target")
    if isinstance(totals, pd.Series):
        series = totals.copy()
    elif isinstance(totals, Mapping):
        series = pd.Series(dict(totals), dtype=object)
    else:
        raise InputError(f"`totals` of Margins must be a mapping {{column: population total}}; got {type(totals).__name__}")
    bad_names = [k for k in series.index if not isinstance(k, str)]
    if bad_names:
        raise InputError(f"`totals` of Margins must be keyed by column names (str); got {bad_names[:5]}")
    try:
        series = series.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"`totals` of Margins holds non-numeric values ({exc}); give numbers") from exc
    bad = series[~np.isfinite(series.to_numpy())]
    if len(bad):
        raise InvalidValueError(f"`totals` of Margins must be finite; got {dict(bad.items())}")
    series.index = pd.Index(list(series.index), name="column")
    series.name = "target"
    return series


def _normalise_key(key) -> tuple[str, ...]:
    if isinstance(key, str):
        return (key,)
    if isinstance(key, tuple) and key and all(isinstance(k, str) for k in key):
        if len(set(key)) != len(key):
            raise InputError(f"margin key {key} repeats a column")
        return key
    raise InputError(f"margin keys must be a column name or a tuple of column names; got {key!r}")


class Margins:
    """Population targets for one region.

    Parameters
    ----------
    margins
        ``{"age": {"18-29": 1234.0, ...}, ("age", "sex"): series_with_multiindex}``.
        Values are population totals.
    totals
        Population totals of numeric columns, ``{"api99": 3_914_069, "enroll": 3_811_472}``
        (finite, any sign): numeric auxiliaries for :func:`~personacal.calibrate.calibrate`
        and :func:`~personacal.calibrate.min_distance`. The categorical margins already
        contain the intercept (their cells sum to the population); with numeric totals
        only there is none, which is R's ``~enroll - 1`` (the ratio estimator),
        unless ``population`` is given.
    population
        The population size N. With numeric totals only it adds the intercept
        (the weights then sum to N: R's ``~api99`` with ``pop = c(N, T)``); with
        categorical margins it is implied by them and must agree.
    rescale_to
        Resolve margins whose totals disagree by an explicit rule: rescale every
        margin to the total of the margin with this key (or to this number).
        Without it, disagreeing totals raise :class:`MarginTotalsError`.
    check_consistency
        Also check that margins sharing a variable agree on its sub-totals
        (for example ``age`` against ``("age", "sex")``).
    name
        A label, usually the region code.
    """

    def __init__(
        self,
        margins: Mapping | None = None,
        *,
        totals: Mapping | None = None,
        population: float | None = None,
        rescale_to: str | tuple[str, ...] | float | None = None,
        check_consistency: bool = True,
        name: str | None = None,
    ):
        if isinstance(margins, Margins):
            if totals is None:
                totals = margins.numeric
            if population is None:
                population = margins.population
            margins = {m.key: m.values for m in margins}
        numeric = _numeric_totals(totals)
        if margins is None and len(numeric):
            margins = {}
        if not isinstance(margins, Mapping) or not (margins or len(numeric)):
            raise InputError("`margins` of Margins must be a non-empty mapping {column or (columns...): totals} "
                             "(or give numeric `totals=`)")
        items = []
        for key, values in margins.items():
            variables = _normalise_key(key)
            items.append(Margin(variables, _as_series(variables, values)))
        self.name = name
        self._items: tuple[Margin, ...] = tuple(items)
        self._numeric = numeric
        clash = [c for c in numeric.index if c in self.variables]
        if clash:
            raise InputError(f"columns {clash} have both a categorical margin and a numeric total; keep one")
        if rescale_to is not None and items:
            self._items = self._rescaled(rescale_to)
        if items:
            self._check_totals()
        self._population = None if population is None else self._check_population(population)
        if check_consistency:
            self._check_shared_variables()

    @classmethod
    def from_shares(
        cls, shares: Mapping, *, total: float, normalize: bool = False, name: str | None = None
    ) -> "Margins":
        """Build totals from shares that sum to 1 within each margin, times ``total``.

        With ``normalize=True`` each margin is first divided by its own sum (use it
        for rounded published percentages); otherwise a sum off 1 by more than
        1e-6 raises :class:`MarginTotalsError`.
        """
        check_param("Margins.from_shares", "total", total, Interval("real", 0, None, closed="neither"),
                    error=InvalidValueError)
        scaled = {}
        for key, values in shares.items():
            variables = _normalise_key(key)
            series = _as_series(variables, values)
            s = series.sum()
            if s <= 0:
                raise InvalidValueError(f"shares of margin '{':'.join(variables)}' sum to {s}; they must sum to 1")
            if normalize:
                series = series / s
            elif abs(s - 1.0) > CONSISTENCY_RTOL:
                raise MarginTotalsError(
                    f"shares of margin '{':'.join(variables)}' sum to {s:.8g}, not 1; "
                    "fix them or pass normalize=True to rescale each margin to 1"
                )
            scaled[key] = series * float(total)
        return cls(scaled, name=name)

    # ----------------------------------------------------------------- access
    def __iter__(self) -> Iterator[Margin]:
        return iter(self._items)

    def __len__(self) -> int:
        """The number of categorical margins (numeric totals are in :attr:`numeric`)."""
        return len(self._items)

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, key) -> pd.Series:
        variables = _normalise_key(key)
        for m in self._items:
            if m.variables == variables:
                return m.values.copy()
        raise KeyError(f"no margin on {':'.join(variables)}; have {[m.label for m in self._items]}")

    def __contains__(self, key) -> bool:
        try:
            variables = _normalise_key(key)
        except InputError:
            return False
        return any(m.variables == variables for m in self._items)

    def keys(self) -> list:
        return [m.key for m in self._items]

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column named by a margin, in first-seen order."""
        seen: dict[str, None] = {}
        for m in self._items:
            seen.update(dict.fromkeys(m.variables))
        return tuple(seen)

    @property
    def numeric(self) -> pd.Series:
        """Population totals of numeric columns (empty when there are none)."""
        return self._numeric.copy()

    @property
    def auxiliaries(self) -> tuple[str, ...]:
        """Every column the margins use: categorical variables, then numeric columns."""
        return self.variables + tuple(self._numeric.index)

    @property
    def population(self) -> float | None:
        """The population size given with ``population=`` (the intercept of a numeric-only calibration)."""
        return self._population

    @property
    def total(self) -> float:
        """The population total: that of the categorical margins, else ``population`` (NaN without either)."""
        if self._items:
            return self._items[0].total
        return float("nan") if self._population is None else self._population

    def categories(self, variable: str) -> pd.Index:
        """The categories of ``variable``, in the order of the first margin that names it."""
        for m in self._items:
            if variable in m.variables:
                return m.categories(variable)
        raise KeyError(f"no margin names column '{variable}'; margins cover {list(self.variables)}")

    def subset(self, keys) -> "Margins":
        """A Margins with only the margins whose keys are given."""
        wanted = [_normalise_key(k) for k in keys]
        numeric = {c: v for c, v in self._numeric.items() if (c,) in wanted}
        return Margins({m.key: m.values for m in self._items if m.variables in wanted}, totals=numeric or None,
                       population=self._population, name=self.name)

    def shares(self) -> "Margins":
        """The same margins divided by the total (a copy; the totals are kept on ``self``).

        Numeric totals become population means (total / population)."""
        numeric = (self._numeric / self.total).to_dict() if len(self._numeric) else None
        return Margins({m.key: m.values / m.total for m in self._items}, totals=numeric,
                       population=None if self._population is None else 1.0, name=self.name)

    def __repr__(self) -> str:
        labels = ", ".join([m.label for m in self._items] + [f"{c} (numeric)" for c in self._numeric.index])
        region = f" {self.name!r}" if self.name else ""
        total = f"; total {self.total:,.6g}" if self._items or self._population is not None else ""
        return f"<Margins{region}: {labels}{total}>"

    # -------------------------------------------------------- long-format I/O
    def to_long(self) -> pd.DataFrame:
        """Tidy long form: one row per cell, columns ``margin``, one per variable, ``value``.

        Columns of variables not in a row's margin are empty. This is the format
        that :func:`personacal.calibrate.read_margins` reads (add a region
        column to hold several regions in one file). Numeric totals add a
        ``kind`` column: "category" for margin cells, "total" for a numeric
        column's total (``margin`` is then the column name), "population" for
        ``population=`` when there is no categorical margin.
        """
        rows = []
        for m in self._items:
            frame = m.values.reset_index()
            frame.insert(0, "margin", m.label)
            frame = frame.rename(columns={"target": "value"})
            rows.append(frame)
        columns = ["margin", *self.variables, "value"]
        if not len(self._numeric):
            return pd.concat(rows, ignore_index=True)[columns]
        rows.append(pd.DataFrame({"margin": list(self._numeric.index), "value": self._numeric.to_numpy(),
                                  "kind": "total"}))
        if self._population is not None and not self._items:
            rows.append(pd.DataFrame({"margin": [POPULATION], "value": [self._population], "kind": "population"}))
        out = pd.concat(rows, ignore_index=True)
        out["kind"] = out["kind"].fillna("category") if "kind" in out else "category"
        return out[["margin", "kind", *self.variables, "value"]]

    @classmethod
    def from_long(cls, frame: pd.DataFrame, *, name: str | None = None, **kwargs) -> "Margins":
        """Inverse of :meth:`to_long` for one region (see ``read_margins`` for many)."""
        for col in ("margin", "value"):
            if col not in frame.columns:
                raise InputError(
                    f"margins table needs a '{col}' column; it has {list(frame.columns)} "
                    "(format: margin, one column per variable, value)"
                )
        totals = population = None
        if "kind" in frame.columns:
            kinds = set(frame["kind"].dropna()) - {"category", "total", "population"}
            if kinds or frame["kind"].isna().any():
                raise InputError("`kind` of a margins table must be 'category', 'total' or 'population' on every "
                                 f"row; got {sorted(kinds)}")
            if (frame["kind"] == "population").any():
                population = float(frame.loc[frame["kind"] == "population", "value"].iloc[0])
            numeric = frame[frame["kind"] == "total"]
            if numeric["margin"].duplicated().any():
                raise InputError(f"numeric totals listed twice: {numeric['margin'][numeric['margin'].duplicated()].tolist()}")
            totals = dict(zip(numeric["margin"], numeric["value"])) or None
            frame = frame[frame["kind"] == "category"].drop(columns="kind")
        margins = {}
        for label, block in frame.groupby("margin", sort=False):
            variables = tuple(str(label).split(":"))
            missing = [v for v in variables if v not in block.columns]
            if missing:
                raise InputError(f"margin '{label}' names columns {missing} that the margins table lacks")
            empty = block[list(variables)].isna().any(axis=1)
            if empty.any():
                raise InputError(
                    f"margin '{label}' has {int(empty.sum())} row(s) with an empty category in "
                    f"{list(variables)}; fill every variable of the margin on each row"
                )
            if len(variables) == 1:
                series = pd.Series(block["value"].to_numpy(), index=pd.Index(block[variables[0]], name=variables[0]))
                margins[variables[0]] = series
            else:
                index = pd.MultiIndex.from_frame(block[list(variables)])
                margins[variables] = pd.Series(block["value"].to_numpy(), index=index)
        return cls(margins, totals=totals, population=population, name=name, **kwargs)

    # ------------------------------------------------------------- validation
    def _rescaled(self, anchor) -> tuple[Margin, ...]:
        if isinstance(anchor, (int, float)) and not isinstance(anchor, bool):
            target_total = float(anchor)
        else:
            variables = _normalise_key(anchor)
            found = [m for m in self._items if m.variables == variables]
            if not found:
                raise InputError(
                    f"`rescale_to` of Margins names margin {':'.join(variables)}, which is not among "
                    f"{[m.label for m in self._items]}"
                )
            target_total = found[0].total
        out = []
        for m in self._items:
            if m.total <= 0:
                raise InvalidValueError(f"margin '{m.label}' sums to 0 and cannot be rescaled")
            out.append(Margin(m.variables, m.values * (target_total / m.total)))
        return tuple(out)

    def _check_population(self, population) -> float:
        check_param("Margins", "population", population, Interval("real", 0, None, closed="neither"),
                    error=InvalidValueError)
        population = float(population)
        if self._items and abs(population - self.total) > CONSISTENCY_RTOL * population:
            raise MarginTotalsError(f"`population` of Margins is {population:,.10g} but the margins sum to "
                                    f"{self.total:,.10g}{self._region_note()}; they must agree")
        return population

    def _check_totals(self) -> None:
        totals = {m.label: m.total for m in self._items}
        ref = self._items[0].total
        if ref <= 0:
            raise InvalidValueError(f"margin '{self._items[0].label}' sums to 0; a population must be positive")
        off = {k: v for k, v in totals.items() if abs(v - ref) > CONSISTENCY_RTOL * ref}
        if off:
            shown = ", ".join(f"'{k}' = {v:,.10g}" for k, v in totals.items())
            raise MarginTotalsError(
                f"margin totals disagree: {shown}{self._region_note()}. Pass rescale_to=<margin key> "
                "to rescale all margins to one anchor, or give shares via Margins.from_shares(..., total=N)"
            )

    def _check_shared_variables(self) -> None:
        for i, a in enumerate(self._items):
            for b in self._items[i + 1 :]:
                shared = tuple(v for v in a.variables if v in b.variables)
                if not shared:
                    continue
                sa, sb = a.collapse(shared), b.collapse(shared)
                cats_a, cats_b = set(sa.index), set(sb.index)
                if cats_a != cats_b:
                    only_a = sorted(map(repr, cats_a - cats_b))[:5]
                    only_b = sorted(map(repr, cats_b - cats_a))[:5]
                    raise MarginTotalsError(
                        f"margins '{a.label}' and '{b.label}' list different categories of "
                        f"{':'.join(shared)}: only in '{a.label}': {only_a}; only in '{b.label}': {only_b}"
                        f"{self._region_note()}"
                    )
                diff = (sa - sb.reindex(sa.index)).abs()
                scale = max(a.total, 1e-300)
                if (diff > CONSISTENCY_RTOL * scale).any():
                    worst = diff.idxmax()
                    raise MarginTotalsError(
                        f"margins '{a.label}' and '{b.label}' disagree on {':'.join(shared)} = {worst!r}: "
                        f"{sa[worst]:,.10g} vs {sb[worst]:,.10g}{self._region_note()}. Make the sub-totals "
                        "agree (or drop one margin); raking cannot meet contradictory targets"
                    )

    def _region_note(self) -> str:
        return f" (region {self.name!r})" if self.name is not None else ""
