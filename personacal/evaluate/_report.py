"""How a raw-vs-calibrated :class:`Comparison` reads: its summary and a self-contained HTML report.

:func:`comparison_summary` is ``Comparison.summary()``. For :func:`write_report` the folder
gets ``index.html`` and one PNG per figure; the page links only
those files (relative paths), so the folder can be zipped or served as is.
Nothing is computed here that the comparison does not hold: figures that
cannot be drawn and the reasons why are listed under "Notes".
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from string import Template

import numpy as np
import pandas as pd

from .._summary import Summary, _fmt, _fmt_float
from .._validation import InstanceOf, Interval, check_params
from ..errors import InputError
from ._compare import VERSIONS, Comparison
from ._plot_base import ALIGNMENT_FLOOR
from ._plot_composition import pooled_composition
from ._plot_composition import region_composition as draw_region_composition
from ._plots import FIGURES
from ._verdict_report import verdict_section, write_summary_json

__all__ = ["write_report", "comparison_summary"]

logger = logging.getLogger(__name__)

#: Shown in a table cell that has no number (an interval without a bootstrap, say); columns with none are dropped.
MISSING = "–"
TITLES = {
    "composition_regions": "Composition of the persona pools, per region",
    "states": "Simulated vs actual vote share by state",
    "alignment_by_tier": "Alignment per persona tier",
    "alignment": "Alignment before and after calibration",
    "lean": "Partisan lean",
    "questions": "Alignment per question",
    "composition": "Composition of the persona pool",
    "weights": "Weight diagnostics",
}


def _reading(comparison: Comparison, name: str) -> str:
    """The "how to read this" paragraph of one figure."""
    span = (f" The alignment axis always spans {ALIGNMENT_FLOOR} (or lower, if a value is lower) to 1, perfect "
            "alignment: auto-zooming to the values would make a change of a few thousandths look dramatic.")
    ci = (f" Whiskers are {comparison.level:.0%} {comparison.interval_method} bootstrap intervals over personas "
          f"({comparison.n_boot} replicates) of each version; the change has its own interval in the verdict."
          if comparison.n_boot else " No intervals are drawn: no bootstrap was run.")
    tiers = " One panel per persona tier." if comparison.tiers else ""
    if name == "states":
        return ("Each row is a state, from the most Republican actual result (bottom) to the most Democratic (top). "
                "The black bar is the actual Democratic share of the two-party vote, orange circles the raw personas' "
                "simulated share and blue squares the calibrated personas'. A dot right of its bar overstates the "
                "Democratic vote. The dashed line at 50% separates D from R wins: a dot on the other side of 50% "
                "from its bar is a wrongly called state." + tiers + ci)
    if name == "alignment_by_tier":
        return ("Alignment of each persona tier with the truth; 1 is perfect. Tiers run from census attributes only "
                "(Meta) to LLM-written descriptions; the seed paper found that the more text the LLM writes, the "
                "further simulated opinions drift left, which shows as orange points falling from left to right. "
                "Within a tier, blue above orange means calibration brought the simulation closer to the truth." + span
                + ci)
    if name == "alignment":
        what = ("1 − mean absolute error of the state shares (the Wasserstein-1 distance between two-option "
                "distributions)" if comparison.kind == "election"
                else "1 − the mean normalised Wasserstein-1 distance between answer distributions (OpinionQA)")
        return (f"Alignment is {what}; 1 is perfect. Each line joins one population's alignment before (raw) and "
                "after calibration: an upward slope means calibration helped. Overlapping intervals mean the change "
                "may be sampling noise." + span + ci)
    if name == "lean":
        return ("The lean is the mean over states of simulated − actual Democratic two-party share, in percentage "
                "points. Right of 0: the personas vote more Democratic than the states did (the left shift the seed "
                "paper reports); left of 0: a Republican lean. Calibration should pull the blue squares towards 0. "
                "Errors of both signs cancel in the lean, so read it together with the MAE in the summary table." + ci)
    if name == "questions":
        return ("Per question (averaged over groups when there are any), the alignment of the raw (orange) and "
                "calibrated (blue) answer distributions with the reference survey; 1 = identical distributions. "
                "Questions are sorted by their raw alignment; with many questions only those that changed most "
                "are shown (the full list is in the per-question table)." + tiers + span)
    if name == "composition":
        return ("For each census margin, the total variation distance between the persona pool's category shares "
                "and the census shares (half the sum of absolute differences, in percentage points): the share of "
                "personas that would have to change category to match the census, so 0 is an exact match. Joint "
                "margins (such as age:sex) also catch dependence that the one-way margins miss. The calibrated pool "
                "is measured with its weights when they were given to composition_error. Each bar is labelled with "
                "its value; when one bar is several times longer than all the others, the axis is broken (the "
                "diagonal marks) so that the short bars stay readable.")
    if name == "weights":
        return ("Per region, what the calibration weights cost. ESS / n is Kish's effective sample size over the "
                "number of personas: 1 when all weights are equal, 0.5 when the weighted personas carry the "
                "information of half as many. The design effect n / ESS = 1 + CV² is the factor by which variances "
                "grow. The max / min weight ratio (log scale) shows how many times more one persona counts than "
                "another; very large ratios mean a few personas stand in for many people (consider "
                "personacal.calibrate.trim).")
    raise InputError(f"no figure {name!r}")


def _table_html(frame: pd.DataFrame, *, index: bool = False) -> str:
    """A table without the columns that hold no number at all; a single missing value shows as "–"."""
    empty = [c for c in frame.columns if frame[c].isna().all()]
    return frame.drop(columns=empty).to_html(index=index, float_format=_fmt_float, na_rep=MISSING, border=0)


def _summary_html(summary: Summary) -> str:
    """``Summary.as_html`` for a page: the same facts and tables, never a cell that reads NaN."""
    parts = [f"<h4>{html.escape(summary.title)}</h4>"]
    if summary.facts:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
                       for k, v in summary.facts.items())
        parts.append(f"<table>{rows}</table>")
    for name, table in summary.tables.items():
        parts += [f"<h5>{html.escape(name)}</h5>", _table_html(table, index=True)]
    parts += [f"<p><em>Note:</em> {html.escape(n)}</p>" for n in summary.notes]
    return "\n".join(parts)


def _region_reading(table: pd.DataFrame) -> str:
    return ("For each census margin and persona pool, the total variation distance between the pool's category "
            "shares and the census shares of the same region (percentage points; 0 = exact match). The bars are the "
            f"mean over the {table.iloc[:, 0].nunique()} region(s) and are labelled with their value; the dots are "
            "the regions one by one. This is the per-region view: a pool can match the national mix while missing "
            "every state. The Meta personas (drawn whole from each region's reconstructed joint) stand beside the "
            "paper-style pool of independent draws, raw and raked. Raking meets the margins it was given (bars near "
            "0) but cannot repair the joint structure of independent draws, which the two-way margins (age:sex, "
            "race4:race_eth) reveal. When one bar dwarfs the rest the axis is broken (diagonal marks).")


def _detail_tables(comparison: Comparison) -> list[tuple[str, pd.DataFrame]]:
    # The summary above already shows the raw-vs-calibrated and composition tables.
    tables = []
    if comparison.kind == "election":
        tables.append(("Per state", comparison.to_frame("state")))
    elif comparison.kind == "opinion":
        tables.append(("Per question", comparison.to_frame("question")))
    if comparison.weight_diagnostics is not None:
        tables.append(("Weight diagnostics per region", comparison.to_frame("weights")))
    return tables


_CONSTRAINTS = {"comparison": InstanceOf(Comparison, name="a Comparison (from compare)"),
                "dpi": Interval("int", 50, 600),
                "region_composition": [InstanceOf(pd.DataFrame, name="a DataFrame (region, margin, pool, tvd)"), None]}


def write_report(comparison: Comparison, folder, *, title: str | None = None, notes: Sequence[str] = (),
                 dpi: int = 110, context=None,
                 region_composition: pd.DataFrame | None = None) -> Path:
    """Write ``index.html``, ``summary.json`` and the PNG figures of ``comparison`` into ``folder``.

    Returns the page's path. The page opens with the verdict in words (the paired change of
    each headline statistic and its interval) followed by ``context``: ``{caption: DataFrame,
    mapping or text}`` the caller wants beside it (targets and their sources, per-region
    calibration records, parse rates); ``summary.json`` holds the same numbers for scripts.

    ``region_composition`` (optional): the composition error of each persona pool per region, one row
    per region x margin x pool, columns ``region`` (or ``state``), ``margin``, ``pool`` ("paper-style,
    raw", "personacal Meta (ipf joint)", ...) and ``tvd`` (a share). It is drawn first, as the
    default view; the comparison's own composition is then labelled as pooled over all regions.

    ``notes`` are listed with the comparison's own notes (say here which
    steps were skipped and why, e.g. "no LLM backend configured: simulation
    steps skipped"). Figure PNGs of an earlier report in the same folder that
    this comparison cannot draw are removed so the folder never shows stale
    figures.
    """
    check_params("write_report", _CONSTRAINTS,
                 {"comparison": comparison, "dpi": dpi, "region_composition": region_composition})
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"`folder` of write_report must be a directory; {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    from .. import __version__

    skipped = comparison.skipped_figures()
    parts = [verdict_section(comparison, context), "<h2>Summary</h2>", _summary_html(comparison.summary()),
             "<h2>Figures</h2>"]
    drawn = []
    regions_path = folder / "composition_regions.png"
    regions_path.unlink(missing_ok=True)
    if region_composition is not None:
        drawn.append(("composition_regions", draw_region_composition(region_composition),
                      _region_reading(region_composition.rename(columns={"state": "region"})[["region"]])))
    for name in FIGURES:
        if name in skipped:
            (folder / f"{name}.png").unlink(missing_ok=True)
            continue
        figure = (pooled_composition(comparison, pooled=region_composition is not None) if name == "composition"
                  else comparison.plot(name))
        reading = _reading(comparison, name)
        if name == "composition" and region_composition is not None:
            reading = ("All regions pooled into one population (each region weighted by its population), so errors "
                       "of opposite sign in different regions cancel: read the per-region figure above first. "
                       + reading)
        drawn.append((name, figure, reading))
    for name, figure, reading in drawn:
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=dpi)
        logger.debug("wrote %s", path)
        parts.append(
            f"<figure id='{name}'><h3>{html.escape(TITLES[name])}</h3>"
            f"<img src='{path.name}' alt='{html.escape(TITLES[name])}'>"
            f"<figcaption><strong>How to read this.</strong> {html.escape(reading)}</figcaption>"
            "</figure>"
        )
    parts.append("<h2>Detailed tables</h2>")
    for caption, frame in _detail_tables(comparison):
        parts.append(f"<details><summary>{html.escape(caption)} ({len(frame)} rows)</summary>"
                     f"{_table_html(frame)}</details>")
    note_items = [*comparison.notes, *map(str, notes)]
    note_items += [f"Figure '{name}' skipped: {why}." for name, why in skipped.items()]
    parts.append("<h2>Notes</h2>")
    parts.append("<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in note_items) + "</ul>"
                 if note_items else "<p>Nothing was skipped.</p>")
    page = Template((files("personacal.evaluate") / "templates" / "report.html").read_text(encoding="utf-8"))
    title = title or ("Raw vs calibrated personas: " + ("election" if comparison.kind == "election" else "opinions"))
    meta = f"personacal {__version__} · truth: {comparison.truth_label}"
    index = folder / "index.html"
    index.write_text(page.substitute(title=html.escape(title), meta=html.escape(meta), body="\n".join(parts)),
                     encoding="utf-8")
    write_summary_json(comparison, folder, title=title, context=context)
    return index


_KIND_TEXT = {
    "composition": "population only: persona-pool composition vs census margins (no simulated answers)",
    "election": "election: simulated vs actual Democratic two-party share per state",
    "opinion": "opinion: simulated vs reference answer distributions (OpinionQA representativeness)",
}


def _fmt_plain(est, low, high) -> str:
    text = f"{est:.4f}"
    return text + (f" [{low:.4f}, {high:.4f}]" if np.isfinite(low) else "")


def _fmt_pp(est, low, high) -> str:
    text = f"{100 * est:+.2f} pp"
    return text + (f" [{100 * low:+.2f}, {100 * high:+.2f}]" if np.isfinite(low) else "")


def _fmt_pp_abs(est, low, high) -> str:
    text = f"{100 * est:.2f} pp"
    return text + (f" [{100 * low:.2f}, {100 * high:.2f}]" if np.isfinite(low) else "")


_SUMMARY_STATS = {
    "election": (("alignment", "alignment (1 - W1)", _fmt_plain), ("mean_signed_error", "lean", _fmt_pp),
                 ("mae", "MAE", _fmt_pp_abs), ("winner_accuracy", "winner accuracy", _fmt_plain)),
    "opinion": (("alignment", "alignment (representativeness)", _fmt_plain),),
}

_STANDARD_NOTES = {
    "election": [("signed error = simulated - actual Democratic two-party share; lean = mean signed error, "
                  "> 0 leans Democratic (left); pp = percentage points."),
                 "alignment = 1 - W1 between the simulated and actual two-option distributions = 1 - MAE."],
    "opinion": [("alignment = 1 - mean over questions of W1(simulated, reference) / (max - min position), "
                 "refusals excluded (OpinionQA representativeness, Santurkar et al. 2023).")],
}
_CHANGE_NOTE = ("change = calibrated - raw, with its own interval from the paired bootstrap (raw and calibrated "
                "resampled with the same personas); improved = True only when that interval excludes 0 on the "
                "better side, False when it excludes 0 on the worse side, else 'no detectable change'.")
for _notes in _STANDARD_NOTES.values():
    _notes.append(_CHANGE_NOTE)


def comparison_summary(comparison: Comparison) -> Summary:
    """``Comparison.summary()``: headline numbers raw -> calibrated, the change table and the diagnostics."""
    tiers = ", ".join(map(str, comparison.tiers)) if comparison.tiers else "none (one population)"
    facts: dict[str, object] = {"comparison": _KIND_TEXT[comparison.kind], "truth": comparison.truth_label,
                                "tiers": tiers}
    tables = {}
    if comparison.kind != "composition":
        first = next(iter(comparison.results.values()))
        facts["states" if comparison.kind == "election" else "questions"] = (
            first.n_states if comparison.kind == "election" else first.n_questions)
        facts["bootstrap"] = "none (no intervals)" if not comparison.n_boot else (
            f"{comparison.n_boot} replicates, {comparison.level:.0%} {comparison.interval_method} intervals over "
            "personas, raw and calibrated paired")
        changes = comparison.changes()
        for stat, label, fmt in _SUMMARY_STATS[comparison.kind]:
            for _, row in changes[changes["statistic"] == stat].iterrows():
                name = label if not comparison.tiers else f"{label} [{row['tier']}]"
                facts[name] = " -> ".join(
                    f"{v} {fmt(row[v], row[f'{v}_ci_low'], row[f'{v}_ci_high'])}" for v in VERSIONS)
        tables["raw vs calibrated"] = changes
    if comparison.composition:
        tables["composition: TVD per margin"] = comparison.to_frame("composition")
    if comparison.weight_diagnostics is not None:
        worst = comparison.weight_diagnostics.sort_values("design_effect", ascending=False).head(10)
        tables["weight diagnostics (10 largest design effects)"] = worst
    if comparison.kind == "composition":
        return Summary("Raw vs calibrated persona pool", facts, tables, list(comparison.notes))
    return Summary("Raw vs calibrated personas", facts, tables, [*_STANDARD_NOTES[comparison.kind], *comparison.notes])
