"""Figures of a raw-vs-calibrated :class:`~personacal.evaluate.Comparison` (matplotlib, no pyplot state).

:func:`plot` draws them (``Comparison.plot``); :func:`skipped_figures` says which ones a
comparison lacks the data for, and why.

Figures are built with ``matplotlib.figure.Figure`` directly, so drawing them
never touches pyplot's global figure list or the interactive backend; they
render with Agg when saved and display inline in notebooks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .._validation import Options, check_param
from ..errors import InputError
from ._compare import ALL, VERSIONS
from ._plot_base import (
    COLOURS, LABELS, MARKERS, ROW_HEIGHT, alignment_limits, clip, figure, fit_title, intervals,
    plain_numbers, row_guides, tier_colours, wrap,
)
from ._plot_composition import pooled_composition

__all__ = ["FIGURES", "draw", "plot", "skipped_figures"]

#: Every figure :meth:`Comparison.plot` can draw, in report order.
FIGURES = ("states", "alignment_by_tier", "alignment", "lean", "questions", "composition", "weights")

#: The questions figure shows at most this many questions.
MAX_QUESTIONS = 40


def _ci_text(comparison, newline: bool = False) -> str:
    if not comparison.n_boot:
        return ""
    return ("\n" if newline else " ") + f"(bars: {comparison.level:.0%} bootstrap CI)"


# ---------------------------------------------------------------------- states
def _states(comparison) -> Figure:
    table = comparison.to_frame("state")
    actual = table.drop_duplicates("state").set_index("state")["actual"].sort_values()
    states = actual.index.tolist()
    y = pd.Series(np.arange(len(states)), index=states)
    groups = comparison.groups
    fig = figure(2.0 + 3.1 * len(groups), max(3.6, 1.9 + ROW_HEIGHT * len(states)))
    axes = fig.subplots(1, len(groups), sharex=True, sharey=True, squeeze=False)[0]
    lo = min(table["simulated"].min(), table["actual"].min(), table.get("ci_low", table["simulated"]).min())
    hi = max(table["simulated"].max(), table["actual"].max(), table.get("ci_high", table["simulated"]).max())
    for ax, tier in zip(axes, groups):
        ax.axvline(50, color="0.6", lw=0.8, ls="--", zorder=0)
        row_guides(ax, y)
        ax.scatter(100 * actual.to_numpy(), y.to_numpy(), marker="|", s=70, lw=1.6, color=COLOURS["actual"], zorder=3)
        for k, version in enumerate(VERSIONS):
            part = table[(table["tier"] == tier) & (table["version"] == version)]
            if part.empty:
                continue
            # Offset the two versions a little so overlapping dots and intervals stay visible.
            py = y.reindex(part["state"]).to_numpy() + (0.18 if k == 0 else -0.18)
            px = 100 * part["simulated"].to_numpy(float)
            if "ci_low" in part.columns:
                intervals(ax, py, part["ci_low"], part["ci_high"], COLOURS[version], horizontal=True, scale=100.0,
                           capsize=0, elinewidth=0.7, alpha=0.6)
            ax.scatter(px, py, s=14, marker=MARKERS[version], color=COLOURS[version], zorder=4, alpha=0.9, lw=0)
        ax.set_yticks(y.to_numpy(), states, fontsize=7)
        ax.tick_params(axis="y", labelleft=True, length=0)
        ax.set_ylim(-0.8, len(states) - 0.2)
        ax.set_xlim(100 * lo - 2, 100 * hi + 2)
        ax.set_xlabel("Democratic two-party share (%)")
        if tier != ALL:
            ax.set_title(str(tier), fontsize=10)
    axes[0].set_ylabel("State (sorted by actual share)")
    handles = [Line2D([], [], color="black", marker="|", ls="", ms=9, mew=1.6, label="Actual result")]
    handles += [Line2D([], [], color=COLOURS[v], marker=MARKERS[v], ls="", ms=5, label=LABELS[v]) for v in VERSIONS]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=9)
    fit_title(fig, "Simulated vs actual Democratic two-party share by state" + _ci_text(comparison))
    return fig


# ------------------------------------------------------------------- alignment
def _alignment_label(comparison) -> str:
    if comparison.kind == "election":
        return "Alignment, 1 − W1 = 1 − MAE\n(1 = simulated shares equal actual)"
    return "Alignment, 1 − mean normalised W1\n(1 = identical answer distributions)"


def _alignment_by_tier(comparison) -> Figure:
    head = comparison.headline()
    head = head[head["statistic"] == "alignment"]
    groups = comparison.groups
    fig = figure(max(5.5, 1.6 + 1.4 * len(groups)), 4.2)
    ax = fig.subplots()
    x = np.arange(len(groups))
    for k, version in enumerate(VERSIONS):
        part = head[head["version"] == version].set_index("tier").reindex(groups)
        px = x + (-0.12 if k == 0 else 0.12)
        intervals(ax, px, part["ci_low"], part["ci_high"], COLOURS[version])
        ax.plot(px, part["estimate"].to_numpy(float), MARKERS[version], color=COLOURS[version], ms=7,
                label=LABELS[version])
    ax.set_xticks(x, [wrap(g) for g in groups])
    ax.set_xlim(-0.5, len(groups) - 0.5)
    ax.set_ylim(*alignment_limits(head[["estimate", "ci_low", "ci_high"]].to_numpy(float)))
    plain_numbers(ax.yaxis)
    ax.set_xlabel("Persona tier (left to right: more LLM-written text)" if comparison.tiers else "")
    ax.set_ylabel(_alignment_label(comparison))
    ax.grid(axis="y", color="0.9")
    ax.legend(frameon=False, loc="best")
    fit_title(fig, "Alignment per persona tier, raw vs calibrated" + _ci_text(comparison), ax=ax)
    return fig


def _alignment_before_after(comparison) -> Figure:
    head = comparison.headline()
    head = head[head["statistic"] == "alignment"]
    groups = comparison.groups
    fig = figure(5.8 if comparison.tiers else 4.6, 4.4)
    ax = fig.subplots()
    colours = tier_colours(len(groups)) if comparison.tiers else ["black"]
    offsets = np.linspace(-0.08, 0.08, len(groups)) if len(groups) > 1 else [0.0]
    for colour, offset, tier in zip(colours, offsets, groups):
        part = head[head["tier"] == tier].set_index("version").reindex(list(VERSIONS))
        x = np.arange(2) + offset
        intervals(ax, x, part["ci_low"], part["ci_high"], colour)
        ax.plot(x, part["estimate"].to_numpy(float), "-o", color=colour, ms=6, lw=1.4,
                label=None if tier == ALL else str(tier))
    ax.set_xticks([0, 1], ["Raw", "Calibrated"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylim(*alignment_limits(head[["estimate", "ci_low", "ci_high"]].to_numpy(float)))
    plain_numbers(ax.yaxis)
    ax.set_xlabel("Persona population")
    ax.set_ylabel(_alignment_label(comparison))
    ax.grid(axis="y", color="0.9")
    if comparison.tiers:
        ax.legend(title="Persona tier", frameon=False, fontsize=8, title_fontsize=9,
                  loc="center left", bbox_to_anchor=(1.0, 0.5))
    fit_title(fig, "Alignment before and after calibration" + _ci_text(comparison, True), ax=ax)
    return fig


# ------------------------------------------------------------------------ lean
def _lean(comparison) -> Figure:
    head = comparison.headline()
    head = head[head["statistic"] == "mean_signed_error"]
    groups = comparison.groups
    fig = figure(7.0, 1.9 + 0.55 * len(groups))
    ax = fig.subplots()
    y = np.arange(len(groups))[::-1]
    for k, version in enumerate(VERSIONS):
        part = head[head["version"] == version].set_index("tier").reindex(groups)
        py = y + (0.12 if k == 0 else -0.12)
        intervals(ax, py, part["ci_low"], part["ci_high"], COLOURS[version], horizontal=True, scale=100.0)
        ax.plot(100 * part["estimate"].to_numpy(float), py, MARKERS[version], color=COLOURS[version], ms=7,
                label=LABELS[version])
    ax.axvline(0, color="0.4", lw=1)
    values = 100 * head[["estimate", "ci_low", "ci_high"]].to_numpy(float)
    reach = max(1.0, np.nanmax(np.abs(values))) * 1.15
    ax.set_xlim(-reach, reach)  # symmetric, so left and right leans read at a glance
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.set_yticks(y, [wrap(g, 20) if g != ALL else "All personas" for g in groups])
    ax.set_xlabel("Lean: mean of simulated − actual D two-party share (percentage points)")
    ax.set_ylabel("Persona tier" if comparison.tiers else "")
    ax.text(0.01, 0.02, "← leans Republican", transform=ax.transAxes, fontsize=8, color="0.35")
    ax.text(0.99, 0.02, "leans Democratic →", transform=ax.transAxes, fontsize=8, color="0.35", ha="right")
    ax.grid(axis="x", color="0.9")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    fit_title(fig, "Partisan lean of the simulated vote, raw vs calibrated" + _ci_text(comparison, True), ax=ax)
    return fig


# ------------------------------------------------------------------- questions
def _questions(comparison) -> Figure:
    table = comparison.to_frame("question")
    per = table.groupby(["tier", "version", "question_id"], sort=False)["alignment"].mean().reset_index()
    wide = per.pivot_table(index="question_id", columns="version", values="alignment", aggfunc="mean")
    total = len(wide)
    if total > MAX_QUESTIONS and set(VERSIONS) <= set(wide.columns):
        wide = wide.loc[(wide["calibrated"] - wide["raw"]).abs().nlargest(MAX_QUESTIONS).index]
    order = wide["raw" if "raw" in wide.columns else wide.columns[0]].sort_values().index.tolist()
    y = pd.Series(np.arange(len(order)), index=order)
    groups = comparison.groups
    fig = figure(2.6 + 3.1 * len(groups), max(3.6, 1.9 + 0.2 * len(order)))
    axes = fig.subplots(1, len(groups), sharex=True, sharey=True, squeeze=False)[0]
    for ax, tier in zip(axes, groups):
        row_guides(ax, y)
        for k, version in enumerate(VERSIONS):
            part = per[(per["tier"] == tier) & (per["version"] == version) & per["question_id"].isin(order)]
            ax.scatter(part["alignment"], y.reindex(part["question_id"]).to_numpy() + (0.15 if k == 0 else -0.15),
                       s=16, marker=MARKERS[version], color=COLOURS[version], zorder=3, lw=0)
        ax.set_yticks(y.to_numpy(), [clip(q, 28) for q in order], fontsize=7)
        ax.tick_params(axis="y", labelleft=True, length=0)
        ax.set_ylim(-0.8, len(order) - 0.2)
        ax.set_xlabel("Alignment, 1 − normalised W1")
        ax.set_xlim(*alignment_limits(per["alignment"].to_numpy(float)))
        plain_numbers(ax.xaxis)
        if tier != ALL:
            ax.set_title(str(tier), fontsize=10)
    axes[0].set_ylabel("Question (sorted by raw alignment)")
    handles = [Line2D([], [], color=COLOURS[v], marker=MARKERS[v], ls="", ms=5, label=LABELS[v]) for v in VERSIONS]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=9)
    shown = f" ({len(order)} of {total} questions: largest changes)" if len(order) < total else ""
    fit_title(fig, "Alignment per question, raw vs calibrated" + shown)
    return fig


# --------------------------------------------------------------------- weights
def _weights(comparison) -> Figure:
    table = comparison.weight_diagnostics
    order = table.groupby("region", sort=False)["design_effect"].max().sort_values().index.tolist()
    y = pd.Series(np.arange(len(order)), index=order)
    tiers = list(dict.fromkeys(table["tier"]))
    colours = tier_colours(len(tiers)) if tiers != [ALL] else [COLOURS["calibrated"]]
    fig = figure(10.0, max(3.6, 1.9 + ROW_HEIGHT * len(order)))
    axes = fig.subplots(1, 3, sharey=True)
    ratios = table["weight_ratio"].to_numpy(float)
    # A log axis only pays when the ratios span a decade; within one it shows a single tick.
    log_ratio = bool(np.isfinite(ratios).any() and np.nanmax(ratios) > 10)
    panels = (("ess_ratio", "ESS / weighted n (Kish; 1 = no loss)", (None, 1.0), 0.2),
              ("design_effect", "Design effect, 1 + CV² of weights", (1.0, None), 0.2),
              ("weight_ratio", "Max / min weight" + (" (log scale)" if log_ratio else ""), (1.0, None), 1.0))
    for ax, (column, label, (low, high), min_span) in zip(axes, panels):
        row_guides(ax, y)
        ax.axvline(1, color="0.6", lw=0.8, ls="--", zorder=1)
        for colour, tier in zip(colours, tiers):
            part = table[table["tier"] == tier]
            ax.scatter(part[column], y.reindex(part["region"]).to_numpy(), s=14, color=colour, zorder=3, lw=0,
                       label=None if tier == ALL else str(tier))
        values = table[column].to_numpy(float)
        values = values[np.isfinite(values)]
        if column == "weight_ratio" and log_ratio:
            ax.set_xscale("log")
            # Plain numbers at 1-2-5 steps: weight ratios span one or two decades, and 10^0, 10^1 alone say little.
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(0.9, float(values.max()) * 1.3)
        elif values.size:
            # Anchored at 1 (equal weights) and at least ``min_span`` wide: a design effect of 1.0004 is
            # no loss at all and must not fill the axis (nor show as "0.0000 ... 0.0006 +1").
            lo = float(values.min()) if low is None else low
            hi = float(values.max()) if high is None else high
            lo, hi = (hi - max(min_span, hi - lo), hi) if low is None else (lo, lo + max(min_span, hi - lo))
            pad = 0.05 * (hi - lo)
            ax.set_xlim(lo - pad, hi + pad)
            plain_numbers(ax.xaxis)
        ax.set_xlabel(label)
        ax.tick_params(axis="y", labelleft=True, length=0, labelsize=7)
    axes[0].set_yticks(y.to_numpy(), [str(r) for r in order])
    axes[0].set_ylim(-0.8, len(order) - 0.2)
    axes[0].set_ylabel("Region (sorted by design effect)")
    if tiers != [ALL]:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(tiers),
                   frameon=False, fontsize=8, title="Persona tier", title_fontsize=8, markerscale=1.8)
    fit_title(fig, "Calibration weight diagnostics per region")
    return fig


_DRAW = {
    "states": _states,
    "alignment_by_tier": _alignment_by_tier,
    "alignment": _alignment_before_after,
    "lean": _lean,
    "questions": _questions,
    "composition": pooled_composition,
    "weights": _weights,
}


def draw(comparison, name: str) -> Figure:
    """Build figure ``name`` of ``comparison`` (names: see ``Comparison.plot``)."""
    if name not in _DRAW:
        raise InputError(f"no figure {name!r}; figures: {list(_DRAW)}")
    return _DRAW[name](comparison)


def skipped_figures(comparison) -> dict[str, str]:
    """``{figure: why it cannot be drawn}`` for the figures ``comparison`` lacks data for."""
    skipped = {}
    if comparison.kind == "composition":
        for name in ("states", "alignment_by_tier", "alignment", "lean", "questions"):
            skipped[name] = "no simulated answers: a population-only comparison (no LLM backend was used)"
    elif comparison.kind != "election":
        skipped["states"] = "per-state shares exist for election comparisons only"
        skipped["lean"] = ("the lean (mean signed error of the Democratic share) is defined for election "
                           "comparisons only")
    else:
        skipped["questions"] = "per-question alignment is drawn for opinion comparisons only"
    if not comparison.tiers:
        skipped["alignment_by_tier"] = "no persona-tier column: one persona population was compared"
    if not comparison.composition:
        skipped["composition"] = ("no composition results were given (pass composition=(composition_error(raw "
                                  "personas, margins), composition_error(calibrated personas, margins, weights=...)))")
    if comparison.weight_diagnostics is None:
        skipped["weights"] = ("no weight diagnostics: the calibrated answers carry no weights and no "
                              "`weight_diagnostics` were given")
    return {name: skipped[name] for name in FIGURES if name in skipped}


def plot(comparison, which: str | None = None):
    """Every available figure as ``{name: Figure}``, or the Figure ``which`` (see ``Comparison.plot``)."""
    check_param("Comparison.plot", "which", which, [Options(FIGURES), None])
    skipped = skipped_figures(comparison)
    if which is None:
        return {name: draw(comparison, name) for name in FIGURES if name not in skipped}
    if which in skipped:
        raise InputError(f"figure {which!r} of Comparison.plot is not available: {skipped[which]}")
    return draw(comparison, which)
