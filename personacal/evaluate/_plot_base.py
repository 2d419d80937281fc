"""What every report figure shares: colours, sizes, titles that fit, honest axes, labelled and broken bars.

Matplotlib ``Figure`` objects are built directly (no pyplot state), so drawing never
touches the interactive backend.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
COLOURS = {"raw": "#D55E00", "calibrated": "#0072B2", "actual": "black", "meta": "#009E73", "other": "#CC79A7"}
LABELS = {"raw": "Raw personas", "calibrated": "Calibrated personas"}
MARKERS = {"raw": "o", "calibrated": "s"}
#: Vertical space per state (or question) row, in inches; 7-pt labels need about 0.11.
ROW_HEIGHT = 0.16
#: Alignment axes always reach down to this value (and up to 1, perfect), so that a change of a few
#: thousandths looks as small as it is instead of filling an auto-zoomed axis.
ALIGNMENT_FLOOR = 0.75
#: A bar this many times longer than every other row's longest bar gets a broken axis.
DWARF_RATIO = 4.0
#: Characters of an 11-pt title per inch of figure width (DejaVu Sans, with a margin).
TITLE_CHARS_PER_INCH = 11.5


def figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", dpi=110)


def wrap(label, width: int = 14) -> str:
    return textwrap.fill(str(label), width)


def clip(label, width: int) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def fit_title(fig: Figure, text: str, *, ax=None, fontsize: float = 11) -> None:
    """A title wrapped to the figure's width, so that it is never clipped at the sides."""
    width = fig.get_figwidth() * (ax.get_position().width if ax is not None else 1.0)
    chars = max(20, int(width * TITLE_CHARS_PER_INCH * 11 / fontsize))
    wrapped = "\n".join(textwrap.fill(part, chars) for part in text.split("\n"))
    if ax is None:
        fig.suptitle(wrapped, fontsize=fontsize)
    else:
        ax.set_title(wrapped, fontsize=fontsize)


def plain_numbers(axis) -> None:
    """Tick labels as plain numbers: no "+1" offset, no scientific notation."""
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)


def alignment_limits(values) -> tuple[float, float]:
    """From :data:`ALIGNMENT_FLOOR` (or below the lowest value) to 1 (perfect alignment)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    low = min(ALIGNMENT_FLOOR, float(values.min()) - 0.02) if values.size else ALIGNMENT_FLOOR
    return max(0.0, low), 1.005


def row_guides(ax, y) -> None:
    """Faint full-width lines that lead the eye from a row label to its dots."""
    ax.hlines(np.asarray(y, dtype=float), 0, 1, transform=ax.get_yaxis_transform(), color="0.93", lw=0.6, zorder=0)


def tier_colours(n: int) -> list:
    # Tiers are ordered (more and more LLM-written text), so a sequential map shows the order.
    cmap = colormaps["viridis"]
    return [cmap(x) for x in (np.linspace(0.0, 0.8, n) if n > 1 else [0.0])]


def intervals(ax, pos, low, high, colour, *, horizontal: bool = False, scale: float = 1.0, **kw) -> None:
    """Draw ``[low, high]`` as whiskers at ``pos``.

    Drawn around the interval's own midpoint, not the estimate: a percentile
    interval of an absolute-error statistic can exclude the estimate, and
    the figure must show it where it is.
    """
    low, high, pos = (np.asarray(a, dtype=float) for a in (low, high, pos))
    keep = np.isfinite(low) & np.isfinite(high)
    if not keep.any():
        return
    mid, half = scale * (low[keep] + high[keep]) / 2, scale * (high[keep] - low[keep]) / 2
    style = {"fmt": "none", "ecolor": colour, "capsize": 4, "elinewidth": 1.3} | kw
    if horizontal:
        ax.errorbar(mid, pos[keep], xerr=half, **style)
    else:
        ax.errorbar(pos[keep], mid, yerr=half, **style)


def pool_colour(label: str, k: int) -> str:
    """Raw pools orange, raked or calibrated ones blue, Meta personas green (then a fourth colour)."""
    text = str(label).lower()
    if "meta" in text:
        return COLOURS["meta"]
    if "raked" in text or "calibrated" in text:
        return COLOURS["calibrated"]
    if "raw" in text:
        return COLOURS["raw"]
    return (COLOURS["raw"], COLOURS["calibrated"], COLOURS["meta"], COLOURS["other"])[k % 4]


def _break_point(values: np.ndarray) -> tuple[float, float, float] | None:
    """``(left_max, right_min, right_max)`` when one row's bars dwarf every other row's, else None."""
    row_max = np.nanmax(values, axis=1)
    if row_max.size < 2 or not np.isfinite(row_max).all():
        return None
    order = np.sort(row_max)[::-1]
    big, second = order[0], order[1]
    if second <= 0 or big < DWARF_RATIO * second:
        return None
    left_max = second * 1.45
    dwarfing = values[values > left_max]
    return left_max, max(left_max, float(dwarfing.min()) * 0.85), big * 1.1


def labelled_bars(fig: Figure, rows: list[str], series: list[tuple[str, str, np.ndarray, np.ndarray | None]],
                  *, xlabel: str, ylabel: str = "Census margin", unit_format: str = "{:.1f}") -> list:
    """Horizontal bars, one group per row, each bar labelled with its value; returns the axes.

    ``series``: ``(label, colour, bar values per row, per-row extra dots or None)``. When one
    row's bars are more than :data:`DWARF_RATIO` times every other row's, the value axis is
    broken in two panels, so that the small bars stay readable next to the large one.
    """
    values = np.column_stack([np.asarray(v, dtype=float) for _, _, v, _ in series])
    split = _break_point(values)
    axes = list(fig.subplots(1, 2, sharey=True, width_ratios=[3, 1], gridspec_kw={"wspace": 0.04})) \
        if split else [fig.subplots()]
    y = np.arange(len(rows))[::-1]
    height = 0.8 / len(series)
    for ax in axes:
        for k, (label, colour, bar_values, dots) in enumerate(series):
            py = y + 0.4 - height * (k + 0.5)
            keep = np.isfinite(bar_values)
            ax.barh(py[keep], np.asarray(bar_values)[keep], height * 0.92, color=colour, label=label)
            if dots is not None:
                for row, points in zip(py, dots):
                    points = np.asarray(points, dtype=float)
                    ax.scatter(points, np.full(points.shape, row), s=9, color="black", alpha=0.55, lw=0, zorder=3)
        ax.grid(axis="x", color="0.9")
        plain_numbers(ax.xaxis)
    if split:
        left_max, right_min, right_max = split
        axes[0].set_xlim(0, left_max)
        axes[1].set_xlim(right_min, right_max)
        axes[0].spines["right"].set_visible(False)
        axes[1].spines["left"].set_visible(False)
        axes[1].tick_params(axis="y", left=False)
        for ax, x in ((axes[0], 1.0), (axes[1], 0.0)):  # the usual diagonal break marks
            ax.plot([x, x], [0, 1], transform=ax.transAxes, ls="none", marker=[(-1, -1), (1, 1)], ms=10, mew=1,
                    color="0.3", clip_on=False)
    limits = [ax.get_xlim() for ax in axes]
    for k, (_, _, bar_values, dots) in enumerate(series):
        py = y + 0.4 - height * (k + 0.5)
        for r, (row, value) in enumerate(zip(py, bar_values)):
            if not np.isfinite(value):
                continue
            ax = next((a for a, (lo, hi) in zip(axes, limits) if value <= hi), axes[-1])
            lo, hi = ax.get_xlim()
            # right of the bar and of its dots, so that no dot hides the number
            reach = max([value, *np.asarray(dots[r] if dots is not None else [], dtype=float)])
            at = min(max(reach, lo), hi) + (hi - lo) * 0.012
            ax.text(at, row, unit_format.format(value), va="center", fontsize=6.5, color="0.15", clip_on=False)
    axes[0].set_yticks(y, [wrap(r, 22) for r in rows], fontsize=8)
    axes[0].set_ylabel(ylabel)
    axes[0].set_xlabel(xlabel, loc="left" if split else "center")
    if split:
        axes[1].set_xlabel("axis broken: one bar\ndwarfs the rest", fontsize=7.5, color="0.3")
    return axes
