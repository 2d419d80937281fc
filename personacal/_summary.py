"""A small printable summary: text for terminals, HTML for notebooks."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Summary:
    """Title, a block of key/value facts, then named tables.

    ``str(summary)`` gives the text form; notebooks render ``_repr_html_``.
    """

    title: str
    facts: dict[str, object] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        width = max(60, len(self.title) + 4)
        lines = [self.title, "=" * width]
        if self.facts:
            key_width = max(len(k) for k in self.facts)
            lines += [f"{k:<{key_width}}  {_fmt(v)}" for k, v in self.facts.items()]
        for name, table in self.tables.items():
            lines += ["", name, "-" * width]
            with pd.option_context("display.width", 120, "display.max_columns", 20, "display.max_rows", 60):
                lines.append(table.to_string(float_format=_fmt_float))
        if self.notes:
            lines += [""] + [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_html(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.facts:
            rows = "".join(
                f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
                for k, v in self.facts.items()
            )
            parts.append(f"<table>{rows}</table>")
        for name, table in self.tables.items():
            parts.append(f"<h5>{html.escape(name)}</h5>")
            parts.append(table.to_html(float_format=_fmt_float))
        parts += [f"<p><em>Note:</em> {html.escape(n)}</p>" for n in self.notes]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()


def _fmt_float(x: float) -> str:
    if x != x:  # NaN
        return "NaN"
    if x == 0 or 1e-4 <= abs(x) < 1e7:
        return f"{x:,.6g}"
    return f"{x:.3e}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return _fmt_float(value)
    return str(value)


def one_line_repr(obj: object, **facts: object) -> str:
    """A compact ``repr``: the class name and a few key facts, on one line (statsmodels style)."""
    shown = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else repr(v)}" for k, v in facts.items())
    return f"<{type(obj).__name__} {shown}>" if shown else f"<{type(obj).__name__}>"
