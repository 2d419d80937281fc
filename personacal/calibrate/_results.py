"""Result objects returned by the calibration methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .._summary import Summary
from ._diagnostics import asmd, design_effect, kish_ess, weight_ratio
from ._encode import EncodedSample
from ._margins import Margins

__all__ = ["WeightingResult", "TableResult", "RegionalResult", "MarginCheck", "margin_table", "unit_totals"]

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


class MarginCheck:
    """Per-margin-cell initial and achieved totals; the labelled table is built on first use."""

    def __init__(self, enc: EncodedSample, totals: list[tuple[np.ndarray, np.ndarray]]):
        self._enc = enc
        self._totals = totals

    @cached_property
    def table(self) -> pd.DataFrame:
        return margin_table(self._enc, self._totals)


def _weight_facts(weights: np.ndarray) -> dict[str, object]:
    g_positive = weights[weights > 0]
    return {
        "rows": len(weights),
        "rows with weight 0": int((weights == 0).sum()),
        "sum of weights": float(weights.sum()),
        "Kish effective sample size": kish_ess(weights),
        "design effect (1 + CV²)": design_effect(weights),
        "max/min weight ratio": weight_ratio(weights),
        "min weight": float(g_positive.min()) if len(g_positive) else float("nan"),
        "max weight": float(weights.max()),
    }


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
    bounds: tuple[float, float] | None = None
    region: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def margin_errors(self) -> pd.DataFrame:
        """One row per margin cell: target, initial and achieved totals, relative error, ASMD."""
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
            facts["bounds on g = w/d"] = f"[{self.bounds[0]:g}, {self.bounds[1]:g}]"
            facts["g range"] = f"[{g.min():.6g}, {g.max():.6g}]"
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

    def region_table(self) -> pd.DataFrame:
        rows = []
        for region, r in self.results.items():
            w = r.weights.to_numpy()
            rows.append(
                {
                    "region": region,
                    "rows": len(w),
                    "converged": r.converged,
                    "iterations": r.n_iter,
                    "max_rel_error": r.max_margin_error,
                    "ess": kish_ess(w),
                    "design_effect": design_effect(w),
                    "weight_ratio": weight_ratio(w),
                }
            )
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
