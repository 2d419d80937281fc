"""Result objects returned by the calibration methods and by joint reconstruction."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import warnings

import numpy as np
import pandas as pd

from .._summary import Summary, one_line_repr
from ..errors import InputError
from ._diagnostics import WEIGHT_DIAGNOSTIC_LABELS, asmd, design_effect, kish_ess, weight_diagnostics, weight_ratio
from ._encode import EncodedSample
from ._margins import Margins

if TYPE_CHECKING:
    from ._survey_design import SurveyDesign

__all__ = ["WeightingResult", "TableResult", "RegionalResult", "JointResult", "MarginCheck", "margin_table",
           "unit_totals"]

#: How many of the worst margin cells a summary lists.
SUMMARY_WORST_CELLS = 10


def margin_table(enc: EncodedSample, totals: list[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One row per margin cell: target, initial and achieved totals, errors, ASMD before/after.

    ``totals[m]`` holds margin ``m``'s (initial, achieved) totals as flat arrays
    over its target table, so callers can compute them from whichever form
    (units or collapsed cells) they already hold.
    """
    frames = []
    for m, (before, after) in zip(enc.margins, totals):
        target = m.target.ravel()
        listed = ~np.isnan(target)
        cells = np.array(list(np.ndindex(m.target.shape)))[listed]
        labels = [" × ".join(str(enc.categories[a][i]) for a, i in zip(m.axes, cell)) for cell in cells]
        t, b, a = target[listed], before[listed], after[listed]
        total_t = t.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(t > 0, np.abs(a - t) / t, np.abs(a) / total_t)
        frames.append(
            pd.DataFrame(
                {
                    "margin": m.label,
                    "category": labels,
                    "target": t,
                    "initial": b,
                    "achieved": a,
                    "rel_error": rel,
                    "target_share": t / total_t,
                    "asmd_before": asmd(b / b.sum(), t / total_t),
                    "asmd_after": asmd(a / a.sum() if a.sum() > 0 else a, t / total_t),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def unit_totals(enc: EncodedSample, initial: np.ndarray, final: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-margin (initial, achieved) totals from unit weights."""
    out = []
    for m in enc.margins:
        codes = enc.margin_codes(m)
        out.append(
            (
                np.bincount(codes, weights=initial, minlength=m.target.size),
                np.bincount(codes, weights=final, minlength=m.target.size),
            )
        )
    return out


#: The category label of a numeric auxiliary's row in the margin check table.
NUMERIC_TOTAL = "(total)"
MARGIN_TABLE_COLUMNS = ["margin", "category", "target", "initial", "achieved", "rel_error", "target_share",
                        "asmd_before", "asmd_after"]


def numeric_table(names, target, initial, achieved) -> pd.DataFrame:
    """Rows of the margin check for numeric totals (no shares or ASMD: they are not distributions)."""
    target, achieved = np.asarray(target, dtype=float), np.asarray(achieved, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(target != 0, np.abs(achieved - target) / np.abs(target), np.abs(achieved))
    return pd.DataFrame({"margin": list(names), "category": NUMERIC_TOTAL, "target": target,
                         "initial": np.asarray(initial, dtype=float), "achieved": achieved, "rel_error": rel,
                         "target_share": np.nan, "asmd_before": np.nan, "asmd_after": np.nan})


class MarginCheck:
    """Per-margin-cell initial and achieved totals; the labelled table is built on first use.

    ``numeric``: ``(names, target, initial, achieved)`` of numeric auxiliaries, listed after the cells
    (or a function that makes it, like ``totals``).
    """

    def __init__(self, enc: EncodedSample | None, totals, numeric=None):
        self._enc = enc
        self._totals = totals  # the list, or a function that makes it when the table is first asked for
        self._numeric = numeric

    @cached_property
    def table(self) -> pd.DataFrame:
        frames = []
        if self._enc is not None and self._enc.margins:
            frames.append(margin_table(self._enc, self._totals() if callable(self._totals) else self._totals))
        numeric = self._numeric() if callable(self._numeric) else self._numeric
        if numeric is not None and len(numeric[0]):
            frames.append(numeric_table(*numeric))
        if not frames:
            return pd.DataFrame(columns=MARGIN_TABLE_COLUMNS)
        return pd.concat(frames, ignore_index=True)


def _weight_facts(weights: np.ndarray) -> dict[str, object]:
    """:func:`weight_diagnostics` under the labels summaries print."""
    return {WEIGHT_DIAGNOSTIC_LABELS[k]: v for k, v in weight_diagnostics(weights).items()}


def _describe_bounds(bounds) -> str:
    """``[L, U] on g`` for scalar bounds, the range of per-unit ones, and what they bound."""
    lower, upper, on = (*bounds, "g = w/d") if len(bounds) == 2 else bounds
    sides = []
    for side in (lower, upper):
        arr = np.asarray(side, dtype=float)
        sides.append(f"{float(arr):g}" if arr.ndim == 0 else f"per unit {arr.min():g}..{arr.max():g}")
    return f"[{sides[0]}, {sides[1]}] on {on}"


@dataclass(frozen=True)
class WeightingResult:
    """Unit weights from ``rake``, ``calibrate``, ``min_distance``, ``poststratify`` or ``trim``.

    ``to_frame()`` is the per-margin-cell check table; the weights are ``.weights``.
    """

    weights: pd.Series
    design_weights: pd.Series
    converged: bool
    n_iter: int
    history: np.ndarray
    max_margin_error: float
    method: str
    tol: float
    margins: Margins | None
    margin_check: MarginCheck
    bounds: tuple | None = None
    region: str | None = None
    notes: tuple[str, ...] = field(default=())
    #: The weighted survey design, when the input was a :class:`SurveyDesign` (its weights are these).
    design: "SurveyDesign | None" = field(default=None, repr=False)

    @property
    def margin_errors(self) -> pd.DataFrame:
        """One row per margin cell (and numeric total): target, initial and achieved totals, relative error, ASMD."""
        return self.margin_check.table

    @property
    def g(self) -> pd.Series:
        """Adjustment ratios g = w / d (1 where the design weight is 0)."""
        d = self.design_weights.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(d > 0, self.weights.to_numpy() / d, 1.0)
        return pd.Series(g, index=self.weights.index, name="g")

    @property
    def ess(self) -> float:
        return kish_ess(self.weights.to_numpy())

    @property
    def design_effect(self) -> float:
        return design_effect(self.weights.to_numpy())

    @property
    def weight_ratio(self) -> float:
        return weight_ratio(self.weights.to_numpy())

    def __repr__(self) -> str:
        facts = {"method": self.method} | ({"region": self.region} if self.region is not None else {})
        return one_line_repr(self, **facts, rows=len(self.weights), converged=self.converged, n_iter=self.n_iter,
                             max_margin_error=self.max_margin_error, ess=self.ess)

    def to_frame(self) -> pd.DataFrame:
        out = self.margin_errors.copy()
        if self.region is not None:
            out.insert(0, "region", self.region)
        return out

    def summary(self) -> Summary:
        facts: dict[str, object] = {"method": self.method}
        if self.region is not None:
            facts["region"] = self.region
        facts |= {
            "converged": self.converged,
            "iterations": self.n_iter,
            "max margin error (relative)": self.max_margin_error,
            "tolerance": self.tol,
        }
        if self.bounds is not None:
            g = self.g.to_numpy()
            facts["bounds"] = _describe_bounds(self.bounds)
            facts["g range"] = f"[{g.min():.6g}, {g.max():.6g}]"
        if self.design is not None:
            facts["survey design"] = self.design.describe()
        facts |= _weight_facts(self.weights.to_numpy())
        facts["design effect before (design weights)"] = design_effect(self.design_weights.to_numpy())
        tables = {}
        if len(self.margin_errors):
            per_margin = self.margin_errors.groupby("margin", sort=False).agg(
                cells=("category", "size"),
                max_rel_error=("rel_error", "max"),
                mean_asmd_before=("asmd_before", "mean"),
                mean_asmd_after=("asmd_after", "mean"),
            )
            tables["Per margin"] = per_margin
            worst = self.margin_errors.nlargest(min(SUMMARY_WORST_CELLS, len(self.margin_errors)), "rel_error")
            tables["Largest remaining errors"] = worst[["margin", "category", "target", "initial", "achieved", "rel_error"]]
        notes = list(self.notes)
        if not self.converged:
            notes.insert(0, "NOT CONVERGED: the weights are the last iterate and miss the targets by the error shown.")
        return Summary(f"personacal {self.method}", facts, tables, notes)


@dataclass(frozen=True)
class TableResult:
    """A fitted dense table from ``ipf`` (or joint reconstruction)."""

    table: pd.Series
    seed: pd.Series
    converged: bool
    n_iter: int
    history: np.ndarray
    max_margin_error: float
    method: str
    tol: float
    margin_check: MarginCheck
    notes: tuple[str, ...] = field(default=())

    @property
    def margin_errors(self) -> pd.DataFrame:
        return self.margin_check.table

    def __repr__(self) -> str:
        return one_line_repr(self, method=self.method, cells=len(self.table), converged=self.converged,
                             n_iter=self.n_iter, max_margin_error=self.max_margin_error)

    def to_frame(self) -> pd.DataFrame:
        """The fitted table in long form: one row per cell, with the seed beside it."""
        frame = self.table.rename("fitted").to_frame()
        frame["seed"] = self.seed.to_numpy()
        return frame.reset_index()

    def summary(self) -> Summary:
        facts = {
            "method": self.method,
            "cells": len(self.table),
            "zero cells": int((self.table == 0).sum()),
            "total": float(self.table.sum()),
            "converged": self.converged,
            "iterations": self.n_iter,
            "max margin error (relative)": self.max_margin_error,
            "tolerance": self.tol,
        }
        tables = {}
        if len(self.margin_errors):
            tables["Per margin"] = self.margin_errors.groupby("margin", sort=False).agg(
                cells=("category", "size"), max_rel_error=("rel_error", "max")
            )
        notes = list(self.notes)
        if not self.converged:
            notes.insert(0, "NOT CONVERGED: the table is the last iterate and misses the margins by the error shown.")
        return Summary(f"personacal {self.method}", facts, tables, notes)


@dataclass(frozen=True)
class RegionalResult:
    """Per-region results of one call with ``by=``; the weights are combined in sample order."""

    results: dict[str, WeightingResult]
    weights: pd.Series
    method: str

    @property
    def converged(self) -> bool:
        return all(r.converged for r in self.results.values())

    @property
    def n_iter(self) -> int:
        return max(r.n_iter for r in self.results.values())

    @property
    def max_margin_error(self) -> float:
        return max(r.max_margin_error for r in self.results.values())

    @property
    def history(self) -> dict[str, np.ndarray]:
        return {k: r.history for k, r in self.results.items()}

    def __getitem__(self, region: str) -> WeightingResult:
        return self.results[region]

    def to_frame(self) -> pd.DataFrame:
        return pd.concat([r.to_frame() for r in self.results.values()], ignore_index=True)

    def __repr__(self) -> str:
        return one_line_repr(self, method=self.method, regions=len(self.results), rows=len(self.weights),
                             converged=self.converged, max_margin_error=self.max_margin_error)

    def region_table(self) -> pd.DataFrame:
        """One row per region: rows, convergence, iterations, error and the weight facts of
        :func:`weight_diagnostics` (ess, ess_ratio, design_effect, weight_ratio)."""
        rows = []
        for region, r in self.results.items():
            facts = weight_diagnostics(r.weights.to_numpy())
            rows.append({"region": region, "rows": facts["rows"], "converged": r.converged, "iterations": r.n_iter,
                         "max_rel_error": r.max_margin_error, "ess": facts["ess"], "ess_ratio": facts["ess_ratio"],
                         "design_effect": facts["design_effect"], "weight_ratio": facts["weight_ratio"]})
        return pd.DataFrame(rows).set_index("region")

    def summary(self) -> Summary:
        table = self.region_table()
        facts = {
            "method": self.method,
            "regions": len(self.results),
            "all converged": self.converged,
            "max margin error (relative, worst region)": self.max_margin_error,
            "rows": len(self.weights),
        }
        facts |= {k: v for k, v in _weight_facts(self.weights.to_numpy()).items() if k != "rows"}
        notes = []
        failed = table.index[~table["converged"]].tolist()
        if failed:
            notes.append(f"NOT CONVERGED in {len(failed)} region(s): {failed}")
        return Summary(f"personacal {self.method} by region", facts, {"Per region": table}, notes)


@dataclass(frozen=True)
class JointResult:
    """A reconstructed joint distribution (population counts), one block per region.

    ``table`` has one MultiIndex level per attribute, preceded by a ``region``
    level when several regions were fitted. Bayesian fits add ``lower`` and
    ``upper`` (credible interval per cell) and ``diagnostics``.
    """

    table: pd.Series
    method: str
    regions: tuple[str, ...]
    variables: tuple[str, ...]
    converged: bool
    max_margin_error: float
    margin_errors: pd.DataFrame
    lower: pd.Series | None = None
    upper: pd.Series | None = None
    #: ``"bayes"`` only: the equal-tailed credible level of ``lower`` / ``upper``.
    level: float | None = None
    diagnostics: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())
    #: ``"bayes"`` only: the ArviZ InferenceData (``share`` holds the cell-share draws).
    posterior: object | None = field(default=None, repr=False, compare=False)

    @property
    def interval(self) -> float | None:
        """Deprecated name of :attr:`level`."""
        warnings.warn("`JointResult.interval` is deprecated and will be removed in the next release; use `level`",
                      DeprecationWarning, stacklevel=2)
        return self.level

    @property
    def multi_region(self) -> bool:
        return self.table.index.names[0] == "region"

    def for_region(self, region: str) -> pd.Series:
        """The joint of one region (without the region level)."""
        if not self.multi_region:
            if region not in self.regions:
                raise InputError(f"this joint holds region(s) {list(self.regions)}, not {region!r}")
            return self.table
        if region not in self.regions:
            raise InputError(f"this joint holds regions {list(self.regions)[:10]}..., not {region!r}")
        return self.table.xs(region, level="region")

    def shares(self) -> pd.Series:
        """Cell shares within each region."""
        if self.multi_region:
            return self.table / self.table.groupby(level="region").transform("sum")
        return self.table / self.table.sum()

    def __repr__(self) -> str:
        facts = {"method": self.method, "regions": len(self.regions), "variables": len(self.variables),
                 "cells": len(self.table), "converged": self.converged, "max_margin_error": self.max_margin_error}
        return one_line_repr(self, **facts, **({"level": self.level} if self.level is not None else {}))

    def to_frame(self) -> pd.DataFrame:
        frame = self.table.rename("count").to_frame()
        if self.lower is not None:
            frame["lower"] = self.lower.to_numpy()
            frame["upper"] = self.upper.to_numpy()
        return frame.reset_index()

    def summary(self) -> Summary:
        facts = {
            "method": self.method,
            "regions": len(self.regions),
            "variables": ", ".join(self.variables),
            "cells per region": int(len(self.table) / max(len(self.regions), 1)),
            "converged": self.converged,
            "max margin error (relative)": self.max_margin_error,
        }
        if self.level is not None:
            facts["credible interval"] = f"{self.level:.0%}"
        tables = {}
        if self.diagnostics is not None and len(self.diagnostics):
            tables["Convergence diagnostics"] = self.diagnostics
        if len(self.margin_errors):
            group = ["region", "margin"] if "region" in self.margin_errors else ["margin"]
            per = self.margin_errors.groupby(group, sort=False)["rel_error"].max().unstack("margin") if len(group) > 1 \
                else self.margin_errors.groupby("margin", sort=False)["rel_error"].max().to_frame()
            tables["Max relative margin error"] = per.head(60)
        return Summary(f"personacal joint reconstruction ({self.method})", facts, tables, list(self.notes))
