"""balance (Meta) ``balance.weighting_methods.rake.rake`` -- needs numpy<2 (own venv).

Timed: the ``rake(sample_df, sample_weights, target_df, target_weights, ...)`` call,
which itself casts the columns to str, cross-tabulates the sample into a dense
table, runs a vectorised IPF on that table and merges cell weights back onto rows.

Targets: rake wants a *target frame*. ``target_margins=`` would realise the totals
as a synthetic frame of at most ``target_margins_max_length`` rows (rounding each
share to 1/max_length), which cannot reach 1e-6; instead the adapter builds an
exact joint table with the requested 1-D margins (north-west-corner rule, at most
sum(levels) rows) and passes it with its weights. Untimed.

Tolerance: ``convergence_rate=tol`` is checked after every full sweep as
max over margins of |table margin / target - 1| -- the benchmark's own measure.
A second rule, ``rate_tolerance`` (default 1e-8), also stops -- and reports
converged=1 -- when that error changes by less than rate_tolerance between two
sweeps (a stall). It is set to 0 so only the 1e-6 test can stop it, unless
--library-defaults. ``transformations=None`` (the default would bin/lump columns).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common


def version():
    import balance
    import numpy
    import pandas

    return f"balance {balance.__version__} (numpy {numpy.__version__}, pandas {pandas.__version__})"


def load(problem):
    import logging

    import pandas as pd

    logging.getLogger("balance").setLevel(logging.ERROR)
    frame = pd.read_parquet(problem.parquet)
    rows, weights = _common.monotone_coupling(problem.targets_by_label)
    target_df = pd.DataFrame(rows, columns=problem.columns)
    return frame, target_df, pd.Series(weights, index=target_df.index), problem


def prepare(data, params):
    import pandas as pd

    frame, target_df, target_weights, problem = data
    sample_weights = pd.Series(1.0, index=frame.index)
    return frame, sample_weights, target_df, target_weights, problem, params


def call(state):
    from balance.weighting_methods.rake import rake

    frame, sample_weights, target_df, target_weights, problem, params = state
    extra = {} if params.library_defaults else {"rate_tolerance": 0.0}
    return rake(
        frame,
        sample_weights,
        target_df,
        target_weights,
        variables=problem.columns,
        transformations=None,
        max_iteration=params.max_iter,
        convergence_rate=params.tol,
        **extra,
    )


def finish(state, raw, stdout):
    frame = state[0]
    weights = raw["weight"].reindex(frame.index).to_numpy(dtype=float)
    iters = raw["model"]["iterations"]
    claim = {
        "converged": bool(raw["model"]["converged"]),
        "n_iter": len(iters),
        "reported_error": float(iters["conv"].iloc[-1]) if len(iters) else None,
    }
    return weights, claim


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
