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

__all__ = [
    "CodePatterns", "code_patterns", "pattern_sums", "pattern_product", "scaled_pattern_sums", "pattern_residual",
    "variable_patterns", "pattern_gram_sums",
]


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
    pattern = np.empty(n, dtype=np.int32)  # half the bytes the passes read
    for i in range(n):
        pattern[i] = seen[key[i]]
    return pattern, keys


@numba.njit(cache=True, nogil=True)
def _add_digit(codes, radix, key, first):
    """key = key·radix + codes (key = codes for the first variable): one vectorised pass per variable."""
    if first:
        for i in range(codes.shape[0]):
            key[i] = codes[i]
    else:
        for i in range(codes.shape[0]):
            key[i] = key[i] * radix + codes[i]


@numba.njit(cache=True, nogil=True)
def _patterns_of_keys(key, n_keys, d):
    """Dense pattern numbers (in key order) of the rows' keys, the key of every pattern and Σd per pattern."""
    n = key.shape[0]
    seen = np.zeros(n_keys, dtype=np.int64)
    for i in range(n):
        seen[key[i]] = 1
    count = 0
    for k in range(n_keys):
        if seen[k]:
            seen[k] = count  # pattern number, in key order
            count += 1
    pattern = np.empty(n, dtype=np.int32)
    keys = np.empty(count, dtype=np.int64)
    weight = np.zeros(count)
    for i in range(n):
        k = key[i]
        r = seen[k]
        pattern[i] = r
        keys[r] = k
        weight[r] += d[i]
    return pattern, keys, weight


@numba.njit(cache=True, nogil=True)
def pattern_sums(pattern, numeric, b, size):
    """[Σ over each pattern's rows of b (size x k), numeric' b (q x k)] for b (n, k), stacked."""
    n, k = b.shape
    q = numeric.shape[1]
    out = np.zeros((size + q, k))
    for i in range(n):
        r = pattern[i]
        for t in range(k):
            out[r, t] += b[i, t]
        for j in range(q):
            v = numeric[i, j]
            for t in range(k):
                out[size + j, t] += v * b[i, t]
    return out


@numba.njit(cache=True, nogil=True)
def pattern_gram_sums(pattern, numeric, w, size):
    """The sums X' diag(w) X needs: per pattern [Σw, Σw·x_t] (rows :size) and Σ w·x_t·x_s (rows size:,
    columns 1:), in :func:`pattern_sums`' layout for b = [w, w·x] without forming b."""
    n, q = numeric.shape
    out = np.zeros((size + q, 1 + q))
    for i in range(n):
        wi = w[i]
        r = pattern[i]
        out[r, 0] += wi
        for t in range(q):
            v = wi * numeric[i, t]
            out[r, 1 + t] += v
            for s in range(q):
                out[size + t, 1 + s] += v * numeric[i, s]
    return out


@numba.njit(cache=True, nogil=True)
def pattern_product(pattern, numeric, coef_pattern, coef_numeric, out):
    """out = coef_pattern[pattern] + numeric @ coef_numeric, row by row (X @ coef by pattern)."""
    n, k = out.shape
    q = numeric.shape[1]
    for i in range(n):
        r = pattern[i]
        for t in range(k):
            v = coef_pattern[r, t]
            for j in range(q):
                v += numeric[i, j] * coef_numeric[j, t]
            out[i, t] = v


@numba.njit(inline="always")
def _response(b, c, i, t, divide):
    """b[i, t] / c[i] (0 where c[i] = 0) with ``divide``, else b[i, t]."""
    if not divide:
        return b[i, t]
    return b[i, t] / c[i] if c[i] != 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def scaled_pattern_sums(pattern, numeric, b, c, rs, size, divide):
    """X' diag(rs) r by pattern (as :func:`pattern_sums`), r = b ⊘ c (``divide``) or b."""
    n, k = b.shape
    q = numeric.shape[1]
    out = np.zeros((size + q, k))
    for i in range(n):
        r = pattern[i]
        for t in range(k):
            v = _response(b, c, i, t, divide) * rs[i]
            out[r, t] += v
            for j in range(q):
                out[size + j, t] += numeric[i, j] * v
    return out


@numba.njit(cache=True, nogil=True)
def pattern_residual(pattern, numeric, b, c, rs, coef_pattern, coef_numeric, divide, multiply, out):
    """out = (r − diag(rs) X coef) (⊙ c with ``multiply``), r = b ⊘ c (``divide``) or b: a least-squares
    residual, row by row."""
    n, k = b.shape
    q = numeric.shape[1]
    for i in range(n):
        p = pattern[i]
        for t in range(k):
            fit = coef_pattern[p, t]
            for j in range(q):
                fit += numeric[i, j] * coef_numeric[j, t]
            v = _response(b, c, i, t, divide) - fit * rs[i]
            out[i, t] = v * c[i] if multiply else v


@numba.njit(cache=True, nogil=True)
def _indicator_product(codes, src, n_out, transpose):
    """P' src ((patterns, k) -> (n_dummy, k)) with ``transpose``, else P src ((n_dummy, k) -> (patterns, k)).

    One kernel for both directions: the flag is loop-invariant (LLVM unswitches it).
    """
    out = np.zeros((n_out, src.shape[1]))
    for r in range(codes.shape[0]):
        for j in range(codes.shape[1]):
            c = codes[r, j]
            if c >= 0:
                for t in range(src.shape[1]):
                    if transpose:
                        out[c, t] += src[r, t]
                    else:
                        out[r, t] += src[c, t]
    return out


@numba.njit(cache=True, nogil=True)
def _pattern_gram(codes, w, n_dummy):
    """P' diag(w) P (n_dummy, n_dummy)."""
    out = np.zeros((n_dummy, n_dummy))
    for r in range(codes.shape[0]):
        for a in range(codes.shape[1]):
            ca = codes[r, a]
            if ca >= 0:
                for b in range(codes.shape[1]):
                    cb = codes[r, b]
                    if cb >= 0:
                        out[ca, cb] += w[r]
    return out


class CodePatterns:
    """``pattern[i]``: unit i's pattern; ``codes`` (patterns, m): the code row of each pattern, so that the
    (patterns x n_dummy) indicator P is applied by small loops (a BLAS call on it costs more in threads)."""

    def __init__(self, pattern: np.ndarray, codes: np.ndarray, n_dummy: int):
        self.pattern = pattern
        self.codes = codes
        self.n_dummy = n_dummy

    @property
    def size(self) -> int:
        return self.codes.shape[0]

    def spread(self, values: np.ndarray) -> np.ndarray:
        """P' values for values (patterns,) or (patterns, k)."""
        values = np.asarray(values, dtype=float)
        out = _indicator_product(self.codes, np.ascontiguousarray(values.reshape(len(values), -1)), self.n_dummy,
                                 True)
        return out[:, 0] if values.ndim == 1 else out

    def gather(self, coef: np.ndarray) -> np.ndarray:
        """P coef for coef (n_dummy,) or (n_dummy, k)."""
        coef = np.asarray(coef, dtype=float)
        out = _indicator_product(self.codes, np.ascontiguousarray(coef.reshape(len(coef), -1)), self.codes.shape[0],
                                 False)
        return out[:, 0] if coef.ndim == 1 else out

    def gram(self, w: np.ndarray) -> np.ndarray:
        return _pattern_gram(self.codes, np.ascontiguousarray(w, dtype=float), self.n_dummy)


def code_patterns(codes: np.ndarray, n_dummy: int, ranges=None) -> CodePatterns | None:
    """The patterns of ``codes`` (n, m), or None when they are too many to pay off.

    ``ranges``: (lowest, highest) code each column may hold, when the caller knows them (spares a pass).
    """
    n, m = codes.shape
    if n == 0 or m == 0 or n >= 2**31:
        return None
    lo, hi = _column_ranges(codes) if ranges is None else (np.asarray(r, dtype=np.int64) for r in ranges)
    radix = (hi - lo + 2).astype(np.int64)
    n_keys = 1
    for r in radix:
        n_keys *= int(r)
        if n_keys > 4 * n + 1024:
            return None  # too many possible patterns for a lookup table
    pattern, keys = _pattern_of_rows(codes, lo, radix, n_keys)
    if len(keys) * max(n_dummy, 1) > n:
        return None
    pattern_codes = np.full((len(keys), m), -1, dtype=np.int64)
    rest = keys.copy()
    for j in range(m - 1, -1, -1):  # the keys' digits, last column first
        digit = rest % radix[j]
        rest //= radix[j]
        pattern_codes[:, j] = np.where(digit > 0, digit - 1 + lo[j], -1)
    return CodePatterns(pattern, pattern_codes, n_dummy)


def variable_patterns(codes: tuple[np.ndarray, ...], sizes: tuple[int, ...], d: np.ndarray,
                      n_dummy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The distinct rows of the per-variable category codes (``codes[v]`` in [0, ``sizes[v]``)): each
    unit's pattern, every pattern's codes (patterns x variables) and Σd per pattern; None when they
    could be too many to pay off (as :func:`code_patterns`)."""
    n = len(d)
    if n == 0 or not codes or n >= 2**31:
        return None
    n_keys = 1
    for size in sizes:
        n_keys *= int(size)
        if n_keys > 4 * n + 1024:
            return None
    key = np.empty(n, dtype=np.int32 if n_keys < 2**31 else np.int64)
    for v, (column, size) in enumerate(zip(codes, sizes)):
        _add_digit(np.ascontiguousarray(column), size, key, v == 0)
    pattern, keys, weight = _patterns_of_keys(key, n_keys, np.ascontiguousarray(d, dtype=float))
    if len(keys) * max(n_dummy, 1) > n:
        return None
    return pattern, np.stack(np.unravel_index(keys, sizes), axis=1), weight
