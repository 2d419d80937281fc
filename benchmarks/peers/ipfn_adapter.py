"""ipfn 1.4.4 (``ipfn.ipfn``) in its two input modes (--mode np | df | df-units).

np mode: the sample cross-tabulated into a dense float array (5x7x9x4x50 for the
main problem), aggregates = one 1-D target array per axis, dimensions [[0],[1],...].
df mode: a data frame with one row per *distinct* sample cell (c1..c5 as str, plus
a count column 'total'); aggregates = pandas Series of targets indexed by label.
Unit-level rows (1 row per person, total=1) are also accepted by ipfn's df mode,
(--mode df-units) but its per-category ``.loc`` assignments make one sweep take
seconds at N=1M, so the cell frame is what a user would pass. In both modes the cross-tab and the
expansion of cell weights back to rows are adapter work: untimed in "library call",
counted in e2e.

Tolerance: ``convergence_rate=tol``; after each full sweep ipfn computes
max over margins of |margin / target - 1| -- the benchmark's own measure.
``rate_tolerance`` (default 1e-8) also stops it when that error changes by less
than rate_tolerance between sweeps, and then it still returns converged=1; it is
set to 0 unless --library-defaults. ``max_iteration`` counts sweeps (it runs up to
max_iteration + 1). verbose=2 returns (table, converged flag, per-sweep errors).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import numpy as np


def version():
    from importlib.metadata import version as v

    return f"ipfn {v('ipfn')} (numpy {np.__version__}, pandas {v('pandas')})"


def load(problem):
    codes, targets = problem.codes_and_targets()
    return codes, targets, problem


def prepare(data, params):
    import pandas as pd

    codes, targets, problem = data
    counts, flat = _common.dense_cell_counts(codes, problem.levels)
    stop = {} if params.library_defaults else {"rate_tolerance": 0.0}
    kw = dict(
        convergence_rate=params.tol, max_iteration=params.max_iter, verbose=2, **stop
    )
    if params.mode == "np":
        aggregates = [t.copy() for t in targets]
        dims = [[j] for j in range(len(targets))]
        return ("np", counts, aggregates, dims, kw, flat, None)
    aggregates = [
        pd.Series(problem.targets_by_label[col]).rename_axis(col)
        for col in problem.columns
    ]
    dims = [[col] for col in problem.columns]
    if params.mode == "df-units":
        frame = pd.DataFrame(
            {
                col: np.asarray(problem.labels(col), dtype=object)[c]
                for col, c in zip(problem.columns, codes)
            }
        )
        frame["total"] = 1.0
        return ("df-units", frame, aggregates, dims, kw, flat, None)
    cells = np.flatnonzero(counts.ravel())
    cell_codes = np.unravel_index(cells, problem.levels)
    frame = pd.DataFrame(
        {
            col: np.asarray(problem.labels(col), dtype=object)[cc]
            for col, cc in zip(problem.columns, cell_codes)
        }
    )
    frame["total"] = counts.ravel()[cells]
    return ("df", frame, aggregates, dims, kw, flat, (counts, problem))


def call(state):
    from ipfn import ipfn

    _, original, aggregates, dims, kw, _, _ = state
    return ipfn.ipfn(original, aggregates, dims, **kw).iteration()


def finish(state, raw, stdout):
    mode, _, _, _, _, flat, extra = state
    table, converged, history = raw
    claim = {
        "converged": bool(converged),
        "n_iter": len(history),
        "reported_error": float(history["conv"].iloc[-1]) if len(history) else None,
    }
    if (
        mode == "df-units"
    ):  # ipfn keeps the row order of a single-column set_index/reset_index
        return table["total"].to_numpy(dtype=float), claim
    if mode == "np":
        cell_weights = np.asarray(table, dtype=float).ravel()
    else:
        counts, problem = extra
        idx = np.ravel_multi_index(
            tuple(
                table[col]
                .map({lab: k for k, lab in enumerate(problem.labels(col))})
                .to_numpy(dtype=np.intp)
                for col in problem.columns
            ),
            tuple(problem.levels),
        )
        cell_weights = np.zeros(counts.size)
        cell_weights[idx] = table["total"].to_numpy(dtype=float)
    n_per_cell = np.bincount(flat, minlength=cell_weights.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_row = cell_weights / np.where(n_per_cell > 0, n_per_cell, 1)
    return per_row[flat], claim


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
