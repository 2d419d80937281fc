"""personacal.calibrate.rake on a pandas frame of Categorical columns (/work/venv-core).

Timed: the ``rake(frame, margins, tol=, max_iter=)`` call (--mode warn adds
``on_nonconvergence="warn"``: return the last iterate instead of raising). Building ``Margins``
from the target dict happens in ``prepare`` (untimed; it is counted in e2e).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common


def version():
    import personacal

    return f"personacal {getattr(personacal, '__version__', '?')}"


def load(problem):
    import pandas as pd
    from personacal.calibrate import Margins, rake  # noqa: F401  (fail early if not there yet)

    return pd.read_parquet(problem.parquet), problem


def prepare(data, params):
    from personacal.calibrate import Margins

    frame, problem = data
    return frame, Margins(problem.targets_by_label), params


def call(state):
    import warnings

    from personacal.calibrate import rake

    frame, margins, params = state
    if params.mode != "warn":
        return rake(frame, margins, tol=params.tol, max_iter=params.max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rake(
            frame,
            margins,
            tol=params.tol,
            max_iter=params.max_iter,
            on_nonconvergence="warn",
        )


def finish(state, raw, stdout):
    frame = state[0]
    weights = raw.weights.reindex(frame.index).to_numpy(dtype=float)
    claim = {
        "converged": bool(raw.converged),
        "n_iter": int(raw.n_iter),
        "reported_error": float(raw.max_margin_error),
    }
    return weights, claim


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
