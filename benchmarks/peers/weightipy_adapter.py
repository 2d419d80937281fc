"""weightipy (RIM raking, a Quantipy3 fork) on a pandas frame of Categorical columns.

Timed: ``weightipy.weight(frame, scheme)``. Scheme construction is untimed.

Tolerance: weightipy has no margin tolerance. ``Rim(convcrit=...)`` is accepted but
(0.4.2) never reaches the raking loop: ``Rim._get_base_factors`` builds ``Rake``
without it, so ``Rake``'s default ``convcrit=0.01`` always applies. That rule is
anesrake's: stop when the L1 change of the weight vector over a sweep shrinks by
less than ``convcrit`` (1%) relative to the previous sweep's change -- a stall test,
not an accuracy test. We pass ``convcrit=tol`` anyway and report what comes out.
Targets are percentages, scaled to the row count; weights are rescaled to the
population total afterwards (untimed; a constant factor leaves relative errors alone).
Converged claim: weightipy prints "Convergence did not occur ..." or "... partial
convergence ..." when it thinks it failed; otherwise it claims success.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common


def version():
    import weightipy

    return f"weightipy {weightipy.__version__}"


def load(problem):
    import pandas as pd

    return pd.read_parquet(problem.parquet), problem


def prepare(data, params):
    import weightipy as wp

    frame, problem = data
    scheme = wp.Rim("bench", max_iterations=params.max_iter, convcrit=params.tol)
    scheme.set_targets(
        targets=[
            {col: {lab: 100.0 * v / problem.population for lab, v in tg.items()}}
            for col, tg in problem.targets_by_label.items()
        ]
    )
    return frame, scheme, problem


def call(state):
    import weightipy as wp

    frame, scheme, _ = state
    return wp.weight(frame, scheme)


def finish(state, raw, stdout):
    frame, scheme, problem = state
    weights = (
        raw.reindex(frame.index).to_numpy(dtype=float) * problem.population / len(frame)
    )
    text = stdout.lower()
    failed = "did not occur" in text or "partial convergence" in text
    n_iter = None
    for group in scheme.groups.values():
        n_iter = group.get("iterations") or n_iter
    return weights, {
        "converged": not failed,
        "n_iter": n_iter,
        "stdout": stdout.strip()[-300:],
    }


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
