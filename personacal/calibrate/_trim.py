"""Trim extreme weights, then re-calibrate, until the caps and the margins both hold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import Interval, Options, check_params
from ..errors import ConvergenceError, InfeasibleBoundsError, InputError
from ._calibrate import calibrate_impl
from ._cells import collapse_cells
from ._encode import check_cells, check_design_weights, design_totals, encode_sample
from ._feasibility import conflicting_constraints
from ._margins import Margins
from ._rake import rake
from ._results import WeightingResult

__all__ = ["trim"]


def trim(
    sample: pd.DataFrame,
    margins: Margins,
    *,
    max_ratio: float | None = None,
    max_weight: float | None = None,
    min_weight: float = 0.0,
    weights=None,
    method: str = "raking",
    tol: float = 1e-8,
    max_rounds: int = 200,
) -> WeightingResult:
    """Calibrate, cap the weights, re-calibrate from the capped weights, and repeat.

    The cap is ``max_weight`` (absolute) or ``max_ratio`` × the mean calibrated
    weight. The loop stops when every weight is within the caps (to ``tol``
    relative) *and* every margin is met to ``tol``; if that does not happen in
    ``max_rounds`` rounds, :class:`ConvergenceError` is raised. Caps that no
    weights can satisfy are found first by a linear programme and raise
    :class:`InfeasibleBoundsError` naming the conflicting margin cells.
    """
    func = "trim"
    if (max_ratio is None) == (max_weight is None):
        raise InputError(f"{func} needs exactly one of `max_ratio` or `max_weight`")
    positive = Interval("real", 0, None, closed="neither")
    check_params(func, {"method": Options(("raking", "linear")),
                        "max_ratio": [Interval("real", 1, None, closed="neither"), None],  # a cap above the mean
                        "max_weight": [positive, None], "min_weight": Interval("real", 0, None),
                        "tol": positive, "max_rounds": Interval("int", 1, None)},
                 {"method": method, "max_ratio": max_ratio, "max_weight": max_weight, "min_weight": min_weight,
                  "tol": tol, "max_rounds": max_rounds})
    enc = encode_sample(sample, margins, func=func)
    d = check_design_weights(weights, sample, func)
    check_cells(enc, design_totals(enc, d), func)
    cap = max_ratio * margins.total / len(sample) if max_ratio is not None else float(max_weight)
    if not min_weight < cap:  # a bound that depends on the other parameters
        raise InputError(f"`min_weight` of {func} must be below the cap {cap:g}; got {min_weight}")
    cells = collapse_cells(enc, d)
    n_units = np.bincount(cells.unit_cell, minlength=len(cells.design)).astype(float)
    conflicts = conflicting_constraints(cells, n_units * min_weight, n_units * cap)
    if conflicts:
        shown = "; ".join(f"'{m}' = {c!r} (off by {s:.2%})" for m, c, s in conflicts[:8])
        raise InfeasibleBoundsError(
            f"{func}: no weights in [{min_weight:g}, {cap:g}] meet every target. Conflicting margin cells: "
            f"{shown}. Raise the cap or collapse those categories",
            conflicting=[(m, c) for m, c, _ in conflicts],
        )
    current = d
    history = []
    for round_ in range(1, max_rounds + 1):
        fit = (
            rake(sample, margins, weights=current, tol=tol, on_nonconvergence="warn")
            if method == "raking"
            else calibrate_impl(sample, margins, method="linear", bounds=None, weights=current, tol=tol,
                                max_iter=100, on_nonconvergence="warn", label="calibrate (linear)")
        )
        w = fit.weights.to_numpy()
        excess = max(float(w.max()) / cap - 1.0, (min_weight - float(w.min())) / cap if min_weight > 0 else 0.0)
        history.append(max(excess, fit.max_margin_error))
        if excess <= tol and fit.max_margin_error <= tol:
            return WeightingResult(
                weights=fit.weights,
                design_weights=pd.Series(d, index=sample.index, name="design_weight"),
                converged=True,
                n_iter=round_,
                history=np.asarray(history),
                max_margin_error=fit.max_margin_error,
                method=f"trim ({method}, cap {cap:.6g})",
                tol=tol,
                margins=margins,
                margin_check=fit.margin_check,
                region=margins.name,
            )
        current = np.clip(w, min_weight, cap)
    raise ConvergenceError(
        f"{func} did not satisfy both the cap {cap:g} and the margins within {max_rounds} rounds: weights exceed "
        f"the cap by {excess:.3g} (relative), max margin error {fit.max_margin_error:.3g}. Raise `max_rounds` or "
        "the cap, or use calibrate(..., bounds=) which enforces bounds on g exactly",
        result=fit,
    )
