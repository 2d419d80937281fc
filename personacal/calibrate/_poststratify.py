"""Post-stratification to a table of population counts per stratum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from .._ray import NEEDS_BY, as_executor
from ..errors import EmptyCategoryError, InputError
from ._by_region import by_region
from ._design_steps import poststratification_step
from ._encode import check_design_weights, encode_sample
from ._greg import poststratify_weights
from ._margins import Margins
from ._results import MarginCheck, WeightingResult, unit_totals
from ._survey_design import SurveyDesign, weighting_input

__all__ = ["poststratify"]


def _as_margins(table, func: str) -> Margins:
    check_param(func, "table", table, InstanceOf(
        pd.Series, Margins, name="a pandas Series of population counts indexed by the stratum column(s), "
        "or a one-margin Margins"))
    if isinstance(table, Margins):
        if len(table.numeric):
            raise InputError(f"`table` of {func} holds numeric totals {list(table.numeric.index)}; post-strata are "
                             "categorical (use calibrate() for numeric totals)")
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


def poststratify(sample: pd.DataFrame | SurveyDesign, table, *, partial: bool = False, weights=None,
                 by: str | None = None, progress: bool | None = None, executor=None) -> WeightingResult:
    """Scale design weights within each stratum to the stratum's population count.

    w_i = d_i · N_h / Σ_{j∈h} d_j, as R survey's ``postStratify``. Strata are the
    cells of ``table`` (one or several columns). With ``by``, ``table`` is a
    mapping ``{region: table}``. ``executor`` (``"ray"`` or a
    :class:`~personacal.calibrate.RayExecutor`) then fits the regions as Ray tasks.
    A :class:`SurveyDesign` may be passed as ``sample``: ``result.design`` is then
    post-stratified (its standard errors take the post-stratification into
    account, as R's).

    A population stratum without sample units raises
    :class:`~personacal.errors.EmptyCategoryError`; ``partial=True`` leaves such
    strata out instead (R's ``partial=TRUE``: the weights then sum to less than
    the population, and ``notes`` lists the strata left out).
    """
    check_param("poststratify", "partial", partial, InstanceOf(bool, name="True or False"))
    executor = as_executor(executor, func="poststratify", applies=by is not None, why=NEEDS_BY)
    frame, d_design, design = weighting_input(sample, weights, by=by, func="poststratify")
    if by is not None:
        if not isinstance(table, dict):
            raise InputError("with `by`, `table` of poststratify must be a mapping {region: table}")
        tables = {region: _as_margins(t, "poststratify") for region, t in table.items()}
        return by_region(poststratify, sample, tables, by=by, label="poststratify", progress=progress,
                         executor=executor, weights=weights, partial=partial)
    margins = _as_margins(table, "poststratify")
    enc = encode_sample(frame, margins, func="poststratify")
    d = check_design_weights(weights, frame, "poststratify") if design is None else d_design
    (stratum_margin,) = enc.margins
    stratum = enc.margin_codes(stratum_margin).astype(np.int64)
    target = stratum_margin.target.ravel()
    cells = _cell_labels(enc, stratum_margin)
    labels = [", ".join(f"{enc.variables[a]}={c!r}" for a, c in zip(stratum_margin.axes, cell)) for cell in cells]
    try:
        w = poststratify_weights(d, stratum, target, partial=partial, labels=labels)
    except EmptyCategoryError as exc:
        raise EmptyCategoryError(f"poststratify: {exc} (R: 'Some strata absent from sample: use partial=TRUE to "
                                 "ignore them.')") from None
    achieved = np.bincount(stratum, weights=d, minlength=target.size)
    left_out = np.flatnonzero((np.nan_to_num(target) > 0) & ~(achieved > 0))
    check = MarginCheck(enc, unit_totals(enc, d, w))
    kept = ~check.table["category"].isin([" × ".join(map(str, cells[h])) for h in left_out])
    error = float(check.table.loc[kept, "rel_error"].max())
    notes = () if not len(left_out) else (
        f"partial=True: {len(left_out)} population strata without sample units were left out, so the weights sum "
        f"to {w.sum():,.6g} instead of {np.nansum(target):,.6g}: {[labels[h] for h in left_out[:8]]}",)
    result = WeightingResult(
        weights=pd.Series(w, index=frame.index, name="weight"),
        design_weights=pd.Series(d, index=frame.index, name="design_weight"),
        converged=True,
        n_iter=1,
        history=np.array([error]),
        max_margin_error=error,
        method="poststratify",
        tol=0.0,
        margins=margins,
        margin_check=check,
        region=margins.name,
        notes=notes,
    )
    if design is not None:
        result = replace(result, design=design.with_step(w, poststratification_step(
            stratum, d, w, np.nan_to_num(target))))
    return result


def _cell_labels(enc, margin) -> list:
    """The tuple of categories of every cell of ``margin``'s table, in the order of its flat index."""
    grids = [enc.categories[a] for a in margin.axes]
    return [cell if isinstance(cell, tuple) else (cell,) for cell in pd.MultiIndex.from_product(grids)] \
        if len(grids) > 1 else [(c,) for c in grids[0]]
