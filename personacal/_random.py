"""Turn a ``random_state`` argument into a NumPy ``Generator`` once, at the boundary."""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InputError

RandomState = None | int | np.random.Generator


def check_random_state(random_state: RandomState, *, func: str = "this function") -> np.random.Generator:
    """Return a ``Generator`` for ``None``, an ``int`` seed or an existing ``Generator``."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InputError(f"`random_state` of {func} must be a non-negative int; got {random_state}")
        return np.random.default_rng(int(random_state))
    raise InputError(
        f"`random_state` of {func} must be None, an int or a numpy.random.Generator; "
        f"got {type(random_state).__name__}"
    )


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a fresh 31-bit seed from ``rng`` (for per-item seeds derived from a run seed)."""
    return int(rng.integers(0, 2**31 - 1))
