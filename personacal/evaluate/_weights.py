"""Weight facts as table rows, from the one source :func:`personacal.calibrate.weight_diagnostics`.

Every evaluate table that says what weights cost -- the weight diagnostics of
:func:`compare`, the diagnostics of :func:`poststratify_answers`, the cost table of
:func:`calibrate_tier` -- builds its rows here, so the numbers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from ..calibrate import WEIGHT_DIAGNOSTIC_LABELS, RegionalResult, WeightingResult, weight_diagnostics
from ..errors import InvalidValueError
from ._tidy import as_frame, per_unit_values, require_columns, require_complete, resolve_unit_weights

__all__ = ["FACTS", "DIAGNOSTIC_COLUMNS", "weight_facts", "weight_table", "fact_labels", "unit_weight_table",
           "diagnostics_table"]

#: The facts evaluate's weight tables carry, in column order (keys of ``weight_diagnostics``;
#: ``ess_ratio`` = ESS per unit with weight ≠ 0 = 1 / design_effect).
FACTS = ("rows", "ess", "ess_ratio", "design_effect", "weight_ratio")
#: Columns of a weight-diagnostics table after ``tier`` and ``region``.
DIAGNOSTIC_COLUMNS = FACTS
_DIAGNOSTICS = InstanceOf(RegionalResult, WeightingResult, pd.DataFrame,
                          name="a RegionalResult, a WeightingResult or a DataFrame")


def weight_facts(weights, keys: Sequence[str] = FACTS) -> dict[str, float]:
    """The ``keys`` of :func:`~personacal.calibrate.weight_diagnostics` for one set of weights."""
    facts = weight_diagnostics(weights)
    return {k: facts[k] for k in keys}


def weight_table(weights, regions=None, *, pooled=None, keys: Sequence[str] = FACTS) -> pd.DataFrame:
    """One row per region (in order of appearance) with ``region`` and the weights' facts.

    ``regions`` gives each unit's region (``None``: one pool). ``pooled`` labels an extra row
    over all units; without regions that row is the only one.
    """
    w = np.asarray(weights, dtype=float)
    rows = []
    if regions is not None:
        regions = np.asarray(regions, dtype=object)
        rows = [{"region": r, **weight_facts(w[regions == r], keys)} for r in pd.unique(regions)]
    if pooled is not None or regions is None:
        rows.append({"region": pooled, **weight_facts(w, keys)})
    return pd.DataFrame(rows, columns=["region", *keys])


def fact_labels(keys: Sequence[str] = FACTS) -> dict[str, str]:
    """How summaries name the facts (``WEIGHT_DIAGNOSTIC_LABELS``)."""
    return {k: WEIGHT_DIAGNOSTIC_LABELS[k] for k in keys}


def _with_ess_ratio(table: pd.DataFrame) -> pd.DataFrame:
    """A user's table with ``ess`` and ``rows`` but no ``ess_ratio``: ESS / rows (their own count)."""
    if "ess_ratio" not in table.columns and {"ess", "rows"} <= set(table.columns):
        table = table.assign(ess_ratio=table["ess"] / table["rows"])
    return table


def unit_weight_table(frame: pd.DataFrame, weights, *, unit: str, region: str | None, pooled: str, func: str,
                      arg: str) -> pd.DataFrame:
    """Per-region facts of the weights of the units of a long table (a weight column or a Series by unit)."""
    units = pd.Index(pd.unique(frame[unit]), name=unit)
    w = resolve_unit_weights(frame, unit, units, weights, func=func, arg=arg)
    regions = None if region is None else per_unit_values(frame, unit, region, units, func=func, arg=arg)
    table = _with_ess_ratio(weight_table(w, regions, pooled=pooled if region is None else None))
    return table[["region", *DIAGNOSTIC_COLUMNS]]


def diagnostics_table(obj, region_column: str, *, pooled: str, func: str) -> pd.DataFrame:
    """A weight-diagnostics table (tier, region, rows, ess, ess_ratio, design_effect, weight_ratio).

    Accepts a ``RegionalResult`` or ``WeightingResult`` (from ``rake``, ``calibrate``,
    ``poststratify`` ...) or a DataFrame with a ``region`` (or ``region_column``) column,
    ``design_effect``, ``weight_ratio`` and either ``ess_ratio`` or ``ess`` and ``rows``;
    an optional ``tier`` column (``pooled`` where absent).
    """
    arg = "weight_diagnostics"
    check_param(func, arg, obj, _DIAGNOSTICS)
    if isinstance(obj, RegionalResult):
        table = obj.region_table().reset_index()
    elif isinstance(obj, WeightingResult):
        table = weight_table(obj.weights.to_numpy(float), pooled=obj.region or pooled)
    else:
        table = as_frame(obj, func=func, arg=arg).copy()
        if "region" not in table.columns and region_column in table.columns:
            table = table.rename(columns={region_column: "region"})
    table = _with_ess_ratio(table)
    fmt = "region, design_effect, weight_ratio and ess_ratio (or ess and rows); optional tier"
    require_columns(table, ["region", "design_effect", "weight_ratio", "ess_ratio"], func=func, arg=arg, fmt=fmt)
    require_complete(table, ["region"], func=func, arg=arg)
    if "tier" not in table.columns:
        table.insert(0, "tier", pooled)
    for column in DIAGNOSTIC_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
        try:
            table[column] = pd.to_numeric(table[column], errors="raise").astype(float)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"column '{column}' of `{arg}` ({func}) must be numeric ({exc})") from exc
    return table[["tier", "region", *DIAGNOSTIC_COLUMNS]].reset_index(drop=True)
