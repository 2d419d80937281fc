"""Randomness: a ``random_state`` argument becomes a NumPy ``Generator`` once, at the boundary,
and per-item streams are derived from one run seed."""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

from .errors import InputError

__all__ = ["RandomState", "check_random_state", "derive_seed", "item_rng"]

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


def item_rng(run_seed: int, *keys: str) -> np.random.Generator:
    """A generator for one item (e.g. a persona x question) that depends on nothing else.

    Keyed by the run seed and stable hashes of the item's ``keys``, so adding or removing
    other items (personas, questions) leaves every item's stream, and so its option order
    and sampling seeds, unchanged. ``simulate`` and ``generate_tier`` both derive their
    per-request seeds this way.
    """
    return np.random.default_rng([run_seed, *(_stable_hash(k) for k in keys)])


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
