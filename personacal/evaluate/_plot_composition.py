"""Composition figures: how far each persona pool is from the census, per margin.

:func:`region_composition` is the report's default view: one bar per pool (raw draws,
raked draws, Meta personas, ...) and margin, the mean over regions, with each region's
value as a dot. :func:`pooled_composition` draws a comparison's own composition, which
personacal's jobs compute over all regions pooled; the figure says so when told.
Every bar carries its value, and a bar that dwarfs the rest breaks the axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import InputError
from ._compare import VERSIONS
from ._plot_base import COLOURS, LABELS, figure, fit_title, intervals, labelled_bars, pool_colour

__all__ = ["region_composition", "pooled_composition", "REGION_COLUMNS"]

#: Columns of the per-region composition table (``region`` may be called ``state``).
REGION_COLUMNS = ("region", "margin", "pool", "tvd")
XLABEL = "Total variation distance from the census margin (percentage points)"


def _region_table(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"`region_composition` must be a DataFrame with columns {list(REGION_COLUMNS)}; "
                         f"got {type(table).__name__}")
    frame = table.rename(columns={"state": "region"}) if "region" not in table.columns else table
    missing = [c for c in REGION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"`region_composition` lacks column(s) {missing}; it needs {list(REGION_COLUMNS)} "
                         f"(one row per region x margin x pool); it has {list(table.columns)}")
    return frame


def region_composition(table: pd.DataFrame) -> Figure:
    """Bars: mean TVD over regions per margin and pool; dots: each region (when there are several)."""
    frame = _region_table(table)
    margins = list(dict.fromkeys(frame["margin"]))
    pools = list(dict.fromkeys(frame["pool"]))
    regions = frame["region"].nunique()
    series = []
    for k, pool in enumerate(pools):
        part = frame[frame["pool"] == pool]
        by_margin = part.groupby("margin", sort=False)["tvd"]
        means = 100 * by_margin.mean().reindex(margins).to_numpy(float)
        dots = [100 * part.loc[part["margin"] == m, "tvd"].to_numpy(float) for m in margins] if regions > 1 else None
        series.append((str(pool), pool_colour(pool, k), means, dots))
    fig = figure(7.6, 1.9 + 0.22 * len(margins) * len(pools))
    labelled_bars(fig, margins, series, xlabel=XLABEL)
    fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(3, len(pools)),
               frameon=False, fontsize=8)
    what = (f"mean over {regions} regions (bars, labelled) and each region (dots)" if regions > 1
            else f"region {frame['region'].iloc[0]}")
    fit_title(fig, f"Composition error per region, {what}; 0 = matches the census")
    return fig


def pooled_composition(comparison, *, pooled: bool = False) -> Figure:
    """The comparison's raw and calibrated composition error per margin (labelled bars, CI whiskers)."""
    table = comparison.to_frame("composition")
    margins = list(dict.fromkeys(table["margin"]))
    series, whiskers = [], []
    for version in VERSIONS:
        part = table[table["version"] == version].set_index("margin").reindex(margins)
        if part["tvd"].notna().any():
            series.append((LABELS[version], COLOURS[version], 100 * part["tvd"].to_numpy(float), None))
            whiskers.append(part)
    fig = figure(7.2, 1.9 + 0.45 * len(margins))
    axes = labelled_bars(fig, margins, series, xlabel=XLABEL)
    height = 0.8 / len(series)
    y = np.arange(len(margins))[::-1]
    for k, part in enumerate(whiskers):
        if "ci_low" in part.columns:
            for ax in axes:
                intervals(ax, y + 0.4 - height * (k + 0.5), part["ci_low"], part["ci_high"], "0.25", horizontal=True,
                          scale=100.0, capsize=2, elinewidth=0.8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    where = "all regions pooled (each weighted by its population)" if pooled else "the persona pool"
    fit_title(fig, f"Composition error, {where}; 0 = matches the census")
    return fig
