"""Convex minimum-distance calibration with cvxpy, and the closest weights when targets conflict."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import Options, check_params
from ..errors import InfeasibleBoundsError
from ._auxiliary import calibration_matrix
from ._cells import Cells, collapse_cells
from ._checks import ITERATION_OPTIONS, check_bounds, finish
from ._encode import check_cells, check_design_weights, design_totals, encode_sample
from ._feasibility import conflicting_constraints
from ._margins import Margins
from ._results import MarginCheck, WeightingResult, unit_totals

__all__ = ["min_distance"]

DISTANCES = ("chi2", "entropy")
ON_INFEASIBLE = ("raise", "closest")


def _distance(g: cp.Variable, d: np.ndarray, distance: str):
    if distance == "chi2":
        return cp.sum(cp.multiply(d, cp.square(g - 1))) / 2
    # Σ d (g log g − g + 1); −entr(g) = g log g.
    return cp.sum(cp.multiply(d, -cp.entr(g) - g + 1))


def _solve(problem: cp.Problem, distance: str) -> None:
    solver = cp.CLARABEL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cvxpy's "solution may be inaccurate" is checked below
        problem.solve(solver=solver, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)


def _fit_cells(cells: Cells, distance: str, lower: float, upper: float, slack_cap: np.ndarray | None):
    n = len(cells.design)
    g = cp.Variable(n, nonneg=distance == "entropy")
    scale = np.where(cells.targets > 0, cells.targets, 1.0)
    achieved = (cells.constraints @ cp.multiply(cells.design, g)) / scale
    wanted = cells.targets / scale
    constraints = []
    if np.isfinite(lower):
        constraints.append(g >= lower)
    if np.isfinite(upper):
        constraints.append(g <= upper)
    if slack_cap is None:
        constraints.append(achieved == wanted)
    else:
        constraints.append(cp.abs(achieved - wanted) <= slack_cap)
    problem = cp.Problem(cp.Minimize(_distance(g, cells.design, distance)), constraints)
    _solve(problem, distance)
    return problem, g


def min_distance(
    sample: pd.DataFrame,
    margins: Margins,
    *,
    distance: str = "chi2",
    bounds: tuple[float, float] | None = None,
    weights=None,
    tol: float = 1e-6,
    on_infeasible: str = "raise",
) -> WeightingResult:
    """Weights closest to the design weights (chi-square or entropy distance) that meet the margins.

    Solved as a convex programme with cvxpy (Clarabel). With ``distance="chi2"``
    and bounds this is the truncated-linear calibration of R survey
    (``calfun="linear", bounds=``); with ``"entropy"`` it is bounded raking.
    Numeric totals in ``margins`` (``Margins(..., totals=)``) are met too; the
    problem is then solved on units instead of cells.

    When no weights inside ``bounds`` meet every target, the margin cells that
    conflict are named (from the slack of an L1-closest relaxation). With
    ``on_infeasible="raise"`` (default) an :class:`InfeasibleBoundsError` is
    raised carrying them in ``.conflicting``; with ``"closest"`` the closest
    weights are returned with ``converged=False`` and the conflicts in ``notes``.
    """
    func = "min_distance"
    check_params(func, {"distance": Options(DISTANCES), "on_infeasible": Options(ON_INFEASIBLE),
                        "tol": ITERATION_OPTIONS["tol"]},
                 {"distance": distance, "on_infeasible": on_infeasible, "tol": tol})
    checked = check_bounds(func, bounds)
    lower, upper = checked if checked is not None else (-np.inf, np.inf)
    if distance == "entropy":
        lower = max(lower, 0.0)
    d = check_design_weights(weights, sample, func)
    if isinstance(margins, Margins) and len(margins.numeric):
        aux = calibration_matrix(sample, margins, d, func=func, coded=False)
        enc, cells = aux.enc, _unit_cells(aux, d)
    else:
        aux = None
        enc = encode_sample(sample, margins, func=func)
        check_cells(enc, design_totals(enc, d), func)
        cells = collapse_cells(enc, d)
    conflicts = conflicting_constraints(cells, max(lower, 0.0) if distance == "entropy" else lower, upper) \
        if np.isfinite(lower) or np.isfinite(upper) else []
    notes: tuple[str, ...] = ()
    if conflicts:
        shown = "; ".join(f"'{m}' = {c!r} (off by {s:.2%})" for m, c, s in conflicts[:8])
        if on_infeasible == "raise":
            raise InfeasibleBoundsError(
                f"{func}: no weights with g in [{lower:g}, {upper:g}] meet every target. Conflicting margin "
                f"cells: {shown}. Widen the bounds, or pass on_infeasible='closest' for the closest weights",
                conflicting=[(m, c) for m, c, _ in conflicts],
            )
        slack = np.zeros(len(cells.targets))
        for m, c, s in conflicts:
            slack[cells.labels.index((m, c))] = s
        problem, g = _fit_cells(cells, distance, lower, upper, slack_cap=slack + 1e-9)
        notes = (f"targets unreachable within bounds; conflicting margin cells: {shown}",)
    else:
        problem, g = _fit_cells(cells, distance, lower, upper, slack_cap=None)
    if g.value is None or problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise InfeasibleBoundsError(
            f"{func}: the solver ended with status {problem.status!r}; no weights were found. "
            "Check the margins and bounds"
        )
    g_cell = np.asarray(g.value, dtype=float)
    if np.isfinite(lower) or np.isfinite(upper):
        g_cell = np.clip(g_cell, lower, upper)  # solver round-off only; bounds hold to ~1e-12
    w = d * g_cell[cells.unit_cell]
    numeric = None
    if aux is not None:
        k = aux.n_categorical
        numeric = (list(aux.numeric), aux.totals[k:], aux.numeric_block.T @ d, aux.numeric_block.T @ w)
    check = MarginCheck(enc, unit_totals(enc, d, w) if enc is not None else [], numeric=numeric)
    error = float(check.table["rel_error"].max())
    result = WeightingResult(
        weights=pd.Series(w, index=sample.index, name="weight"),
        design_weights=pd.Series(d, index=sample.index, name="design_weight"),
        converged=bool(error <= tol),
        n_iter=int(problem.solver_stats.num_iters or 0),
        history=np.array([error]),
        max_margin_error=error,
        method=f"min_distance ({distance})",
        tol=tol,
        margins=margins,
        margin_check=check,
        bounds=checked,
        region=margins.name,
        notes=notes,
    )
    if conflicts:
        return result
    return finish(result, "raise", hint="The solver's accuracy may be below tol; loosen tol (default 1e-6).")


def _unit_cells(aux, d: np.ndarray) -> Cells:
    """Every unit its own cell, the constraints the rows of the calibration matrix (numeric totals)."""
    n = len(d)
    labels = [tuple(name.split(" = ", 1)) if " = " in name else (name, "(total)") for name in aux.names]
    return Cells(np.zeros((n, 0)), d, np.arange(n), sp.csr_matrix(aux.x.T), aux.totals, labels)
