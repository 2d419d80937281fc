"""Post-stratification to a table of population counts per stratum."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from .._ray import NEEDS_BY, as_executor
from ..errors import InputError
from ._encode import check_cells, check_design_weights, encode_sample
from ._margins import Margins
from ._by_region import by_region
from ._results import MarginCheck, WeightingResult, unit_totals

__all__ = ["poststratify"]


def _as_margins(table, func: str) -> Margins:
    check_param(func, "table", table, InstanceOf(
        pd.Series, Margins, name="a pandas Series of population counts indexed by the stratum column(s), "
        "or a one-margin Margins"))
    if isinstance(table, Margins):
        if len(table) != 1:
            raise InputError(
                f"`table` of {func} must hold exactly one (possibly multi-way) margin, the strata; "
                f"got {len(table)}: {table.keys()}. Use rake() for several margins"
            )
        return table
    names = list(table.index.names)
    if any(n is None for n in names):
        raise InputError(f"`table` of {func} needs named index levels (the stratum columns); got {names}")
    key = names[0] if len(names) == 1 else tuple(names)
    return Margins({key: table})


def poststratify(sample: pd.DataFrame, table, *, weights=None, by: str | None = None,
                 progress: bool | None = None, executor=None) -> WeightingResult:
    """Scale design weights within each stratum to the stratum's population count.

    w_i = d_i · N_h / Σ_{j∈h} d_j, as R survey's ``postStratify``. Strata are the
    cells of ``table`` (one or several columns). With ``by``, ``table`` is a
    mapping ``{region: table}``. ``executor`` (``"ray"`` or a
    :class:`~personacal.calibrate.RayExecutor`) then fits the regions as Ray tasks.
    """
    executor = as_executor(executor, func="poststratify", applies=by is not None, why=NEEDS_BY)
    if by is not None:
        if not isinstance(table, dict):
            raise InputError("with `by`, `table` of poststratify must be a mapping {region: table}")
        tables = {region: _as_margins(t, "poststratify") for region, t in table.items()}
        return by_region(poststratify, sample, tables, by=by, label="poststratify", progress=progress, weights=weights,
                         executor=executor)
    margins = _as_margins(table, "poststratify")
    enc = encode_sample(sample, margins, func="poststratify")
    d = check_design_weights(weights, sample, "poststratify")
    (stratum_margin,) = enc.margins
    stratum = enc.margin_codes(stratum_margin)
    target = np.nan_to_num(stratum_margin.target.ravel())
    sample_total = np.bincount(stratum, weights=d, minlength=target.size)
    check_cells(enc, [sample_total], "poststratify")
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(sample_total > 0, target / sample_total, 0.0)
    w = d * factor[stratum]
    check = MarginCheck(enc, unit_totals(enc, d, w))
    error = float(check.table["rel_error"].max())
    return WeightingResult(
        weights=pd.Series(w, index=sample.index, name="weight"),
        design_weights=pd.Series(d, index=sample.index, name="design_weight"),
        converged=True,
        n_iter=1,
        history=np.array([error]),
        max_margin_error=error,
        method="poststratify",
        tol=0.0,
        margins=margins,
        margin_check=check,
        region=margins.name,
    )
