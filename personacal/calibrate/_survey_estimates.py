"""Means, totals and proportions on a survey design, overall and by group, with design-based SEs.

Every estimate of one call is a column of one influence matrix z (n × k):
total of y: zᵢ = wᵢyᵢ; mean of y: zᵢ = wᵢ(yᵢ − ȳ)/Σw; a proportion is the mean of
a category's dummy; a domain (``group=``) zeroes z outside it. The variance is
then either

* **linearisation** — z with every weighting step taken out
  (:meth:`SurveyDesign.linearized_vcov`), then the stratified multistage
  variance of its totals, as R's ``svymean``/``svytotal``/``svyby``: on a design
  without a weighting step a domain is a subset (strata without its rows drop
  out, which matters for lonely-PSU rules), on a weighted one it is the
  zero-padded influence over the whole sample; or
* **replicates** — the estimate recomputed with every replicate's weights
  (weighted like the design), and R's ``svrVar`` of them.

Confidence intervals are normal at ``level`` (R's ``confint`` on these).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd
from scipy import stats

from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, Interval, Options, check_params
from ..errors import InputError, MissingValueError, SurveyDesignError

if TYPE_CHECKING:
    from ._survey_design import SurveyDesign

__all__ = ["SurveyEstimate", "estimate", "STATISTICS"]

STATISTICS = ("mean", "total", "proportion")
INTERVAL_METHODS = ("linearization", "replicate")
LEVEL = Interval("real", 0, 1, closed="neither")
_COLUMNS = InstanceOf(str, list, tuple, name="a column name or a list of column names")
#: Rows of the estimates table that ``summary()`` shows.
SUMMARY_ROWS = 60


@dataclass(frozen=True)
class SurveyEstimate:
    """Estimates with design-based standard errors (``design.mean/total/proportion``).

    ``table``: one row per estimate — statistic, variable, category (the category of a
    categorical variable, empty for a numeric one), one column per ``group`` column,
    estimate, se, ci_low, ci_high. ``interval_method`` is "linearization" or the
    replicate kind ("JK1", "JKn", "bootstrap"); ``level`` the confidence level.
    """

    table: pd.DataFrame
    statistic: str
    interval_method: str
    level: float
    group: tuple[str, ...]
    design: str
    n_replicates: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def labels(self) -> list[str]:
        """``variable`` or ``variable=category``, then `` | group=value`` per group column."""
        out = [v + (f"={c}" if c != "" else "") for v, c in zip(self.table["variable"], self.table["category"])]
        if self.group:
            values = self.table[list(self.group)].astype(str)
            suffix = [", ".join(f"{g}={v}" for g, v in zip(self.group, row)) for row in values.itertuples(index=False)]
            out = [f"{label} | {s}" for label, s in zip(out, suffix)]
        return out

    @property
    def estimate(self) -> pd.Series:
        return pd.Series(self.table["estimate"].to_numpy(), index=self.labels, name="estimate")

    @property
    def se(self) -> pd.Series:
        return pd.Series(self.table["se"].to_numpy(), index=self.labels, name="se")

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __repr__(self) -> str:
        facts = {"statistic": self.statistic, "estimates": len(self.table)}
        if len(self.table) == 1:
            facts |= {"estimate": float(self.table["estimate"].iloc[0]), "se": float(self.table["se"].iloc[0])}
        return one_line_repr(self, **facts, interval_method=self.interval_method, level=self.level)

    def summary(self) -> Summary:
        method = ("Taylor linearisation of the weighted (calibrated) estimator" if self.interval_method ==
                  "linearization" else f"{self.n_replicates} {self.interval_method} replicate weights, weighting "
                  "redone on every replicate")
        facts = {"statistic": self.statistic, "estimates": len(self.table),
                 "groups": ", ".join(self.group) if self.group else "none", "standard errors": method,
                 "confidence interval": f"{self.level:.0%} normal", "design": self.design}
        return Summary(f"personacal survey {self.statistic}", facts, {"Estimates": self.table.head(SUMMARY_ROWS)},
                       list(self.notes))


def _variables(design, names, statistic: str, na_rm: bool):
    """(label rows, Y (n, m), valid (n, m) or None when no value is missing): one column per numeric
    variable or per category."""
    data = design.data
    rows, columns = [], []
    for name in names:
        if name not in data.columns:
            raise InputError(f"`y` of SurveyDesign.{statistic} names column {name!r}, which the design's data lacks")
        values = data[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and statistic != "proportion":
            # a float column is read in place (no copy): Y is filled once below
            array = values.to_numpy() if values.dtype.kind == "f" else values.to_numpy(dtype=float, na_value=np.nan)
            missing = np.isnan(array)
        else:
            missing = values.isna().to_numpy()
        if missing.any() and not na_rm:
            raise MissingValueError(f"column {name!r} has {int(missing.sum())} missing value(s); pass na_rm=True to "
                                    "estimate over the rows that have one (a domain, as R's na.rm=TRUE)")
        if numeric and statistic != "proportion":
            rows.append((name, ""))
            columns.append((array, missing))
            continue
        categories = (values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype)
                      else pd.Index(sorted(pd.unique(values[~missing]), key=_sort_key)))
        for category in categories:
            rows.append((name, str(category)))
            columns.append(((values == category).to_numpy(dtype=float), missing))
    any_missing = any(missing.any() for _, missing in columns)
    valid = np.column_stack([~missing for _, missing in columns]) if any_missing else None
    # a missing value counts as 0 (its row is out of that estimate's domain)
    return rows, tuple(np.where(missing, 0.0, column) if missing.any() else np.ascontiguousarray(column, dtype=float)
                       for column, missing in columns), valid


def _stacked(columns: tuple[np.ndarray, ...], shift: np.ndarray | None = None,
             scale: np.ndarray | None = None) -> np.ndarray:
    """The (n, m) matrix of the columns, or (column_j − shift_j) · scale (per row), in one pass.

    One allocation filled in row blocks: at a million rows a temporary per column, or a
    column-by-column fill that sweeps all of the matrix m times, costs as much as the variance.
    """
    n = len(columns[0]) if columns else 0
    out = np.empty((n, len(columns)))
    if columns:
        _fill_columns(columns, np.zeros(len(columns)) if shift is None else np.asarray(shift, dtype=float),
                      np.ones(1) if scale is None else np.ascontiguousarray(scale, dtype=float), out)
    return out


@numba.njit(cache=True, nogil=True)
def _fill_columns(columns, shift, scale, out):
    """out[i, j] = (columns[j][i] − shift[j]) · scale[i] (scale of length 1: the same for every row),
    a block of rows at a time (the block of out stays in cache)."""
    n = out.shape[0]
    per_row = scale.shape[0] > 1
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        for j in range(len(columns)):
            column = columns[j]
            for i in range(start, stop):
                out[i, j] = (column[i] - shift[j]) * scale[i if per_row else 0]


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float, np.number)) else (1, 0, str(value))


def _domains(design, group: list[str], statistic: str):
    """(domain values frame, (n, G) membership)."""
    if not group:
        return pd.DataFrame(index=[0]), np.ones((len(design.data), 1), dtype=bool)
    data = design.data
    for name in group:
        if name not in data.columns:
            raise InputError(f"`group` of SurveyDesign.{statistic} names column {name!r}, which the design's data "
                             "lacks")
        if data[name].isna().any():
            raise MissingValueError(f"group column {name!r} has missing values; give every row a group")
    codes, uniques = pd.MultiIndex.from_frame(data[group]).factorize(sort=True)
    levels = pd.DataFrame(list(uniques), columns=group)
    return levels, codes[:, None] == np.arange(len(levels))[None, :]


def _linearized_se(design, z: np.ndarray, masks: np.ndarray) -> np.ndarray:
    if design.calibrated or masks.all():
        return np.sqrt(design.linearized_vcov(z, diagonal=True, overwrite=True))  # z is ours
    # an unweighted design: a domain is a subset; R leaves out the strata it has no rows in
    variance = np.empty(z.shape[1])
    patterns, which = np.unique(masks.T, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        cols = np.flatnonzero(which.ravel() == p)
        variance[cols] = design.linearized_vcov(z[:, cols], present=pattern, diagonal=True, overwrite=True)
    return np.sqrt(variance)


def _replicate_se(statistic: str, y: np.ndarray, masks: np.ndarray, replicate_weights: np.ndarray, reps,
                  estimates: np.ndarray) -> np.ndarray:
    totals = replicate_weights.T @ (masks * y)
    thetas = totals if statistic == "total" else totals / (replicate_weights.T @ masks)
    rscales = np.asarray(reps.rscales, dtype=float)
    centre = estimates if reps.mse else thetas[rscales > 0].mean(axis=0)
    deviation = (thetas - centre) * np.sqrt(rscales)[:, None]
    return np.sqrt(reps.scale * np.einsum("rk,rk->k", deviation, deviation))


def estimate(design: "SurveyDesign", statistic: str, y, *, group=None, level: float = 0.95,
             interval_method: str | None = None, na_rm: bool = False) -> SurveyEstimate:
    func = f"SurveyDesign.{statistic}"
    check_params(func, {"statistic": Options(STATISTICS), "y": _COLUMNS, "group": [None, _COLUMNS], "level": LEVEL,
                        "interval_method": [None, Options(INTERVAL_METHODS)],
                        "na_rm": InstanceOf(bool, name="True or False")},
                 {"statistic": statistic, "y": y, "group": group, "level": level, "interval_method": interval_method,
                  "na_rm": na_rm})
    names = [y] if isinstance(y, str) else list(y)
    groups = [] if group is None else [group] if isinstance(group, str) else list(group)
    w, replicate_weights, reps = design._arrays()
    if interval_method is None:
        interval_method = "linearization" if reps is None else "replicate"
    if interval_method == "replicate" and reps is None:
        raise SurveyDesignError(f"{func}(interval_method='replicate') needs replicate weights; call "
                                "design.with_replicates('JK1' | 'JKn' | 'bootstrap') first")
    rows, columns, valid = _variables(design, names, statistic, na_rm)
    levels, domains = _domains(design, groups, statistic)
    n_var, n_dom = len(columns), domains.shape[1]
    if n_dom == 1 and domains.all() and valid is None:
        # every row in every estimate (the common case): masks of one column that broadcast, and z made
        # straight from the columns, (y − ȳ)·w/Σw, in one pass (no Y for the linearisation)
        masks = np.ones((len(w), 1), dtype=bool)
        sums = np.array([np.einsum("i,i->", w, column) for column in columns])  # not BLAS: see _RowChunks
        if statistic == "total":
            estimates, shift, scale = sums, None, w
        else:
            base = w.sum()
            estimates, shift, scale = sums / base, sums / base, w / base
        linearized = interval_method == "linearization"
        z = _stacked(columns, shift, scale) if linearized else None
        y_all = None if linearized else _stacked(columns)
    else:
        # column k = (domain k // n_var, variable k % n_var)
        y_matrix = _stacked(columns)
        valid = np.ones(y_matrix.shape, dtype=bool) if valid is None else valid
        masks = np.repeat(domains, n_var, axis=1) & np.tile(valid, (1, n_dom))
        y_all = np.tile(y_matrix, (1, n_dom))
        weighted = masks * w[:, None]
        if statistic == "total":
            estimates = np.einsum("ik,ik->k", weighted, y_all)
            z = weighted * y_all
        else:
            base = weighted.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                estimates = np.einsum("ik,ik->k", weighted, y_all) / base
                z = weighted * (y_all - estimates) / base
    if interval_method == "linearization":
        se = _linearized_se(design, z, masks)
        method = "linearization"
    else:
        se = _replicate_se(statistic, y_all, masks, replicate_weights, reps, estimates)
        method = reps.kind
    quantile = stats.norm.ppf(0.5 + level / 2)
    table = pd.DataFrame({"statistic": statistic, "variable": [rows[k % n_var][0] for k in range(len(estimates))],
                          "category": [rows[k % n_var][1] for k in range(len(estimates))]})
    for name in groups:
        table[name] = np.repeat(levels[name].to_numpy(), n_var)
    table["estimate"] = estimates
    table["se"] = se
    table["ci_low"] = estimates - quantile * se
    table["ci_high"] = estimates + quantile * se
    notes = []
    if method != "linearization" and design._replicate_failures:
        notes.append(f"{len(design._replicate_failures)} replicate(s) did not converge in a weighting step (R only "
                     "warns); their last iterate is used")
    return SurveyEstimate(table=table, statistic=statistic, interval_method=method, level=level, group=tuple(groups),
                          design=design.describe(), n_replicates=None if reps is None or method == "linearization"
                          else reps.n_replicates, notes=tuple(notes))
