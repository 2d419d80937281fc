"""svy (polars + Rust IPF kernel): ``Sample.weighting.rake(controls=..., tol=, max_iter=)``.

Timed: the ``rake`` call. Reading the Parquet into polars (Categorical columns) and
building ``svy.Sample`` with a unit design weight are untimed.

Tolerance: ``tol`` is "the largest relative misfit |achieved - target| / target
accepted over every margin level" -- the benchmark's own measure -- and svy
re-checks it in Python on the weights the kernel returns, so its converged flag is
computed, not assumed. ``max_iter`` caps IPF sweeps. ``on_nonconvergence="warn"``
(the default "error" raises and returns no weights); the claim is "converged"
unless svy emitted its non-convergence warning. ``update_design_wgts`` keeps its
default (True: svy also writes one cell-code column per margin; --mode lean sets
False, which skips that bookkeeping and leaves the weights identical).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common


def version():
    import polars
    import svy

    return f"svy {svy.__version__} (polars {polars.__version__})"


def load(problem):
    import polars as pl

    frame = pl.read_parquet(problem.parquet).with_columns(pl.lit(1.0).alias("w0"))
    return frame, problem


def prepare(data, params):
    import svy

    frame, problem = data
    sample = svy.Sample(data=frame, design=svy.Design(wgt="w0"))
    return sample, problem, params


def call(state):
    import warnings

    sample, problem, params = state
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = sample.weighting.rake(
            controls=problem.targets_by_label,
            tol=params.tol,
            max_iter=params.max_iter,
            on_nonconvergence="warn",
            update_design_wgts=params.mode != "lean",
        )
    return out, [str(w.message) for w in caught]


def finish(state, raw, stdout):
    out, caught = raw
    weights = out.data.get_column("rk_wgt").to_numpy().astype(float)
    nonconv = [m for m in caught if "converge" in m.lower()]
    claim = {"converged": not nonconv, "warnings": " | ".join(caught)[:300]}
    return weights, claim


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
