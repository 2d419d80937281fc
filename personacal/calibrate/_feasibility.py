"""Decide whether targets are reachable at all, and name the margin cells that conflict.

An L1-minimal relaxation is solved as a linear programme with SciPy's HiGHS:
find cell weights inside the bounds whose margin totals are as close to the
targets as possible. A positive optimum proves infeasibility, and the
constraints left with slack are the ones that cannot all hold together.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..errors import InfeasibleBoundsError, StructuralInfeasibilityError
from ._cells import Cells, collapse_cells
from ._encode import EncodedSample

__all__ = ["conflicting_constraints", "explain_nonconvergence", "check_bounds_feasible"]

#: Relative slack above which a constraint counts as violated.
SLACK_TOL = 1e-7


def conflicting_constraints(cells: Cells, lower, upper) -> list[tuple[str, str, float]]:
    """Margin cells that cannot be met with lower <= w <= upper, with their relative slack.

    ``lower``/``upper`` are either scalars bounding g = w/d (cell weights then
    lie in [L·d, U·d]) or arrays bounding each cell's total weight.
    """
    scale = np.where(cells.targets > 0, cells.targets, max(cells.targets.sum(), 1.0))
    a = sp.diags(1.0 / scale) @ cells.constraints
    k, n = a.shape
    eye = sp.identity(k, format="csr")
    a_eq = sp.hstack([a, eye, -eye], format="csr")
    b_eq = cells.targets / scale
    cost = np.concatenate([np.zeros(n), np.ones(2 * k)])
    if np.ndim(lower) == 0:
        upper_w = cells.design * upper if np.isfinite(upper) else np.full(n, np.inf)
        lower_w = cells.design * lower if np.isfinite(lower) else np.full(n, -np.inf)
        occupied = cells.design > 0  # a cell without design weight keeps weight 0
        w_bounds = np.column_stack([np.where(occupied, lower_w, 0.0), np.where(occupied, upper_w, 0.0)])
    else:
        w_bounds = np.column_stack([lower, upper])
    bounds = np.vstack([w_bounds, np.tile([0.0, np.inf], (2 * k, 1))])
    res = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - the relaxation is always feasible and bounded
        raise RuntimeError(f"feasibility LP failed: {res.message}")
    slack = res.x[n : n + k] + res.x[n + k :]
    bad = np.flatnonzero(slack > SLACK_TOL)
    order = bad[np.argsort(-slack[bad])]
    return [(cells.labels[i][0], cells.labels[i][1], float(slack[i])) for i in order]


def _describe(conflicts: list[tuple[str, str, float]], limit: int = 6) -> str:
    shown = "; ".join(f"'{m}' = {c!r} (off by {s:.2%})" for m, c, s in conflicts[:limit])
    more = f"; and {len(conflicts) - limit} more" if len(conflicts) > limit else ""
    return shown + more


def explain_nonconvergence(enc: EncodedSample, d: np.ndarray, *, func: str, on_nonconvergence: str) -> str:
    """Why a fit did not converge, when the zero pattern makes the targets unreachable.

    Raises StructuralInfeasibilityError when ``on_nonconvergence="raise"``;
    otherwise returns the explanation for the warning ("" when the targets
    are reachable and more iterations would do).
    """
    conflicts = conflicting_constraints(collapse_cells(enc, d), 0.0, np.inf)
    if not conflicts:
        return ""
    message = (
        f"{func}: no non-negative weights on the sample's cells can meet every target; the sample's zero "
        f"pattern forbids them. Conflicting margin cells: {_describe(conflicts)}. Collapse sparse categories, "
        "drop a multi-way margin, or add sample rows in the missing combinations"
    )
    if on_nonconvergence == "raise":
        raise StructuralInfeasibilityError(message)
    return message


def check_bounds_feasible(cells: Cells, lower: float, upper: float, *, func: str) -> None:
    """Raise InfeasibleBoundsError (naming the conflicting margin cells) when no bounded weights exist."""
    conflicts = conflicting_constraints(cells, lower, upper)
    if conflicts:
        structural = conflicting_constraints(cells, 0.0, np.inf)
        if structural:
            raise StructuralInfeasibilityError(
                f"{func}: the targets are unreachable even without bounds; conflicting margin cells: "
                f"{_describe(structural)}"
            )
        raise InfeasibleBoundsError(
            f"{func}: no weights with {lower:g} <= g <= {upper:g} meet every target. Conflicting margin cells: "
            f"{_describe(conflicts)}. Widen the bounds, or use min_distance(...) for the closest weights",
            conflicting=[(m, c) for m, c, _ in conflicts],
        )
