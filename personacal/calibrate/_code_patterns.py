"""The distinct rows of a coded calibration matrix's category codes ("patterns"), for per-pattern sums.

Five margins of 2 to 9 categories leave at most 2,160 distinct code rows among a
million units. A row's categorical part of the Gram matrix X' diag(w) X depends
only on its pattern, so summing w per pattern in the pass over the rows (one
scatter-add) and forming P' diag(Σw) P on the small (patterns x dummies)
indicator P afterwards replaces the m(m+1)/2 scatter-adds per row that dominate
a Newton step (benchmarks/results/survey.md). Used when the patterns are few
enough that P costs less than a pass; otherwise the row-wise kernels stay.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["CodePatterns", "code_patterns"]


@numba.njit(cache=True, nogil=True)
def _column_ranges(codes):
    """(lowest non-negative code, highest code) of every column; (0, -1) for a column of -1 only."""
    n, m = codes.shape
    lo = np.full(m, np.iinfo(np.int64).max)
    hi = np.full(m, -1)
    for i in range(n):
        for j in range(m):
            c = codes[i, j]
            if c >= 0:
                lo[j] = min(lo[j], c)
                hi[j] = max(hi[j], c)
    for j in range(m):
        if hi[j] < 0:
            lo[j] = 0
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _pattern_of_rows(codes, lo, radix, n_keys):
    """Dense pattern numbers (in key order) of the rows, and the key of every pattern."""
    n, m = codes.shape
    key = np.empty(n, dtype=np.int64)
    seen = np.zeros(n_keys, dtype=np.int64)
    for i in range(n):
        k = 0
        for j in range(m):
            c = codes[i, j]
            k = k * radix[j] + (c - lo[j] + 1 if c >= 0 else 0)
        key[i] = k
        seen[k] = 1
    count = 0
    for k in range(n_keys):
        if seen[k]:
            seen[k] = count
            count += 1
        else:
            seen[k] = -1
    keys = np.empty(count, dtype=np.int64)
    for k in range(n_keys):
        if seen[k] >= 0:
            keys[seen[k]] = k
    for i in range(n):
        key[i] = seen[key[i]]
    return key, keys


class CodePatterns:
    """``pattern[i]``: unit i's pattern; ``indicator`` (patterns, n_dummy): the dummy row of each pattern."""

    def __init__(self, pattern: np.ndarray, indicator: np.ndarray):
        self.pattern = pattern
        self.indicator = indicator

    @property
    def size(self) -> int:
        return self.indicator.shape[0]


def code_patterns(codes: np.ndarray, n_dummy: int) -> CodePatterns | None:
    """The patterns of ``codes`` (n, m), or None when they are too many to pay off."""
    n, m = codes.shape
    if n == 0 or m == 0:
        return None
    lo, hi = _column_ranges(codes)
    radix = (hi - lo + 2).astype(np.int64)
    n_keys = 1
    for r in radix:
        n_keys *= int(r)
        if n_keys > 4 * n + 1024:
            return None  # too many possible patterns for a lookup table
    pattern, keys = _pattern_of_rows(codes, lo, radix, n_keys)
    if len(keys) * max(n_dummy, 1) > n:
        return None
    indicator = np.zeros((len(keys), n_dummy))
    rest = keys.copy()
    for j in range(m - 1, -1, -1):  # the keys' digits, last column first
        digit = rest % radix[j]
        rest //= radix[j]
        rows = np.flatnonzero(digit > 0)
        indicator[rows, digit[rows] - 1 + lo[j]] = 1.0
    return CodePatterns(pattern, indicator)
