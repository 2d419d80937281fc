"""The report's verdict: the paired before/after result in words, first on the page, and ``summary.json``.

``verdict_sentences`` writes one sentence per tier and headline statistic, e.g. "calibrated
lean -1.2 pp (95% CI -2.0 to -0.3) vs raw +6.1 pp; change -7.3 pp (95% CI -8.4 to -6.1):
improved". ``verdict_section`` puts them at the top of the HTML report with whatever context
the caller adds (targets and their pedigree, per-region calibration records, parse rates);
``write_summary_json`` writes the same numbers for scripts. Nothing is computed here that the
:class:`Comparison` (or the caller's context) does not hold.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._compare import Comparison

__all__ = ["verdict_sentences", "verdict_section", "write_summary_json", "summary_record", "SUMMARY_FILE"]

SUMMARY_FILE = "summary.json"
#: The statistics the verdict speaks about, per comparison kind: (statistic, label, unit).
HEADLINE = {
    "election": (("mean_signed_error", "lean", "pp"), ("mae", "MAE", "pp")),
    "opinion": (("alignment", "alignment", ""),),
}
_WORDS = {"improved": "improved", "worse": "worse", "no detectable change": "no detectable change"}


def _num(value: float, unit: str, signed: bool) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    if unit == "pp":
        return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"
    if 0 < abs(value) < 0.0095:
        # Three decimals would print a small but real change, and its interval, as +0.000.
        return f"{value:+.2g}" if signed else f"{value:.2g}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _ci(low: float, high: float, unit: str, signed: bool, level: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no interval"
    return f"{level:.0%} CI {_num(low, unit, signed)} to {_num(high, unit, signed)}"


def verdict_sentences(comparison: Comparison) -> list[str]:
    """One sentence per tier and headline statistic: calibrated vs raw, the change, the verdict."""
    if comparison.kind == "composition":
        return _composition_sentences(comparison)
    changes = comparison.changes()
    level = comparison.level
    out = []
    for _, row in changes.iterrows():
        spec = next((s for s in HEADLINE[comparison.kind] if s[0] == row["statistic"]), None)
        if spec is None:
            continue
        _, label, unit = spec
        signed = row["statistic"] == "mean_signed_error"
        suffix = f" {unit}" if unit else ""
        tier = "" if row["tier"] == "all" else f"{row['tier']}: "
        text = (f"{tier}calibrated {label} {_num(row['calibrated'], unit, signed)}{suffix} "
                f"({_ci(row['calibrated_ci_low'], row['calibrated_ci_high'], unit, signed, level)}) vs raw "
                f"{_num(row['raw'], unit, signed)}{suffix}; change {_num(row['change'], unit, True)}{suffix} "
                f"({_ci(row['change_ci_low'], row['change_ci_high'], unit, True, level)}): {_WORDS[row['verdict']]}")
        if signed and np.isfinite(row["abs_change"]):
            text += (f" (|{label}| {_num(row['abs_change'], unit, True)}{suffix}, "
                     f"{_ci(row['abs_change_ci_low'], row['abs_change_ci_high'], unit, True, level)})")
        out.append(text)
    return out


def _composition_sentences(comparison: Comparison) -> list[str]:
    if not comparison.composition:
        return ["No simulated answers and no composition results: there is nothing to judge."]
    means = {v: float(c.per_margin["tvd"].mean()) for v, c in comparison.composition.items()}
    parts = " vs ".join(f"{v} {100 * t:.2f} pp" for v, t in means.items())
    return [f"No simulated answers were scored (no LLM backend): the verdict covers the persona pool's "
            f"composition only. Mean TVD from the census margins: {parts}."]


def _plain(value):
    """JSON-ready: NaN -> None, numpy scalars -> Python, frames -> records."""
    if isinstance(value, pd.DataFrame):
        return [{k: _plain(v) for k, v in row.items()} for row in value.to_dict(orient="records")]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if value is pd.NA or value is None:
        return None
    return value if isinstance(value, (int, str)) else str(value)


def summary_record(comparison: Comparison, *, title: str | None = None, context: Mapping | None = None) -> dict:
    """The verdict as JSON-ready data: the same numbers as the report's header."""
    from .. import __version__

    record = {
        "personacal_version": __version__, "title": title, "kind": comparison.kind, "truth": comparison.truth_label,
        "reference_weighted": comparison.reference_weighted, "level": comparison.level,
        "interval_method": comparison.interval_method, "n_boot": comparison.n_boot,
        "pairing": {t: p.pairing for t, p in comparison.paired.items()},
        "sentences": verdict_sentences(comparison), "statistics": [],
    }
    if comparison.kind != "composition":
        for _, row in comparison.changes().iterrows():
            item = {"tier": row["tier"], "statistic": row["statistic"], "better_if": row["better_if"]}
            for part in ("raw", "calibrated", "change", "abs_change"):
                value = row[part] if part in ("raw", "calibrated", "change") or np.isfinite(row["abs_change"]) \
                    else None
                item[part] = None if value is None else {"estimate": row[part], "ci_low": row[f"{part}_ci_low"],
                                                         "ci_high": row[f"{part}_ci_high"]}
            item["improved"] = row["improved"]
            item["verdict"] = row["verdict"]
            record["statistics"].append(item)
    else:
        record["composition"] = {v: c.per_margin for v, c in comparison.composition.items()}
    record["context"] = dict(context or {})
    return _plain(record)


def write_summary_json(comparison: Comparison, folder, *, title: str | None = None,
                       context: Mapping | None = None) -> Path:
    path = Path(folder) / SUMMARY_FILE
    path.write_text(json.dumps(summary_record(comparison, title=title, context=context), indent=2) + "\n",
                    encoding="utf-8")
    return path


def verdict_section(comparison: Comparison, context: Mapping | None = None) -> str:
    """The HTML block that opens the report: the verdict in words, then the caller's context."""
    from .._summary import _fmt_float

    items = "".join(f"<li>{html.escape(s)}</li>" for s in verdict_sentences(comparison))
    how = ""
    if comparison.kind != "composition":
        pairing = sorted({p.pairing for p in comparison.paired.values()}) or ["none"]
        how = (f"<p class='how'>Change = calibrated - raw. Intervals: {comparison.level:.0%} "
               f"{html.escape(comparison.interval_method)} bootstrap, {comparison.n_boot} replicates, "
               f"resampling: {html.escape(', '.join(pairing))}. 'Improved' only when the interval of the change "
               "excludes 0 on the better side; 'worse' when it excludes 0 on the other; otherwise no detectable "
               f"change. Truth: {html.escape(comparison.truth_label)}.</p>")
    parts = [f"<section id='verdict'><h2>Verdict</h2><ul class='verdict'>{items}</ul>{how}"]
    for caption, value in (context or {}).items():
        if isinstance(value, pd.DataFrame):
            parts.append(f"<h3>{html.escape(str(caption))}</h3>"
                         + value.to_html(index=False, float_format=_fmt_float, na_rep="", border=0))
        elif isinstance(value, Mapping):
            rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                           for k, v in value.items())
            parts.append(f"<h3>{html.escape(str(caption))}</h3><table>{rows}</table>")
        else:
            parts.append(f"<p><strong>{html.escape(str(caption))}:</strong> {html.escape(str(value))}</p>")
    parts.append("</section>")
    return "".join(parts)
