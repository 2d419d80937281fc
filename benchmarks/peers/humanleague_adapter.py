"""humanleague ``ipf(seed, indices, marginals)``: dense N-D IPF in C++.

The sample is cross-tabulated into a dense seed array (5x7x9x4x50 for the main
problem); per-row weights are cell weight / cell count. Both steps are adapter
work: untimed in "library call", counted in e2e. Timed: ``humanleague.ipf``.

Tolerance: ipf takes no tolerance and no iteration cap. It stops when the largest
*absolute* difference between a fitted margin and its target is below a hard-coded
1e-8 (in the marginals' own units) or after a hard-coded 1000 sweeps, and returns
{'conv', 'iterations', 'maxError', ...}. With targets of order 1e6-1e7 people that
is a relative error of ~1e-15, i.e. "run to machine precision". --mode scaled
(the default row) multiplies every marginal by s = 1e-8 / (tol * smallest target),
so that its absolute 1e-8 is exactly a relative ``tol`` on the smallest category
(and tighter on the others); weights are divided by s afterwards. --mode raw passes
the population totals unchanged.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import numpy as np


def version():
    import humanleague

    return f"humanleague {humanleague.__version__} (numpy {np.__version__})"


def load(problem):
    codes, targets = problem.codes_and_targets()
    return codes, targets, problem


def prepare(data, params):
    codes, targets, problem = data
    counts, flat = _common.dense_cell_counts(codes, problem.levels)
    scale = 1.0
    if params.mode != "raw":
        scale = 1e-8 / (params.tol * min(float(t[t > 0].min()) for t in targets))
    marginals = [t * scale for t in targets]
    indices = [np.array([j]) for j in range(len(targets))]
    return counts, indices, marginals, flat, scale


def call(state):
    import humanleague

    counts, indices, marginals, _, _ = state
    return humanleague.ipf(counts, indices, marginals)


def finish(state, raw, stdout):
    _, _, _, flat, scale = state
    table, stats = raw
    cell_weights = np.asarray(table, dtype=float).ravel() / scale
    n_per_cell = np.bincount(flat, minlength=cell_weights.size)
    per_row = (cell_weights / np.where(n_per_cell > 0, n_per_cell, 1))[flat]
    claim = {
        "converged": bool(stats.get("conv")),
        "n_iter": int(stats.get("iterations", -1)),
        "reported_abs_error": float(stats.get("maxError", float("nan"))) / scale,
    }
    return per_row, claim


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
