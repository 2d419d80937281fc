"""Plain-numpy unit-level raking (benchmarks/baselines.py), run in /work/venv-core."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common
import numpy as np

from baselines import rake_units


def version():
    return f"numpy {np.__version__}"


def load(problem):
    return problem.codes_and_targets()


def prepare(data, params):
    return data, params


def call(state):
    (codes, targets), params = state
    return rake_units(codes, targets, params.tol, params.max_iter)


def finish(state, raw, stdout):
    weights, sweeps, converged = raw
    return weights, {"converged": converged, "n_iter": sweeps}


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
