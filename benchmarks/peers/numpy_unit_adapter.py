"""Plain-numpy unit-level raking (benchmarks/baselines.py), run in /work/venv-core.

Everything but the kernel is shared with the collapsed-cell adapter.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common
from baselines import rake_units
from numpy_cells_adapter import finish, load, prepare, version  # noqa: F401  (the adapter protocol)


def call(state):
    (codes, targets), params = state
    return rake_units(codes, targets, params.tol, params.max_iter)


if __name__ == "__main__":
    _common.main(sys.modules[__name__])
