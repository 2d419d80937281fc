"""The GitHub pipe tables the benchmark scripts write into results/ (pandas' ``to_markdown`` needs
the optional tabulate package, which is not a project dependency)."""

from __future__ import annotations

import math

import pandas as pd


def markdown_table(frame: pd.DataFrame, float_format: str = ".4g", nan: str | None = None) -> str:
    """``frame`` as a pipe table: floats with ``float_format``, NaN as ``nan`` (default: formatted as is)."""

    def cell(value) -> str:
        if isinstance(value, float):
            if nan is not None and math.isnan(value):
                return nan
            return format(value, float_format)
        return str(value).replace("|", "/")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
