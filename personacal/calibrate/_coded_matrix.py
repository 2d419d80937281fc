"""The calibration matrix as category codes plus numeric columns, and numba passes over it.

A unit's row of the calibration matrix is one 1 per categorical margin (the
margin cell it falls in) followed by its numeric auxiliaries. Kept as (n, m)
integer codes and (n, q) numbers instead of a dense (n, p) matrix, every product
the calibration and its linearisation need is one pass over the rows doing
O(m² + q²) additions, not O(p²) multiplications: at a million rows and 26 cells
plus 2 numeric columns, X'DX takes one such pass instead of a 28 x 28 dense
product over a 224 MB matrix (benchmarks/results/survey.md). The passes run in
numba on fixed row chunks, in threads for large inputs, like the raking kernel.
When the rows hold few distinct code patterns (``_code_patterns``), the passes
sum per pattern instead (one scatter-add per row) and the small pattern
indicator does the rest; a Newton step of calibration is one fused pass
(``_coded_newton``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from ._code_patterns import CodePatterns, code_patterns, pattern_gram_sums, pattern_product, pattern_sums
from ._rake_numba import _RowChunks

__all__ = ["CodedMatrix", "CODED_FROM_ROWS"]

#: Rows from which ``calibrate`` keeps the matrix coded (below, the dense matrix is as fast).
CODED_FROM_ROWS = 50_000


@numba.njit(inline="always")
def _add(out, src, row, column, value, transpose):
    """out[column] += value * src[row] (X'), or out[row] += value * src[column] (X)."""
    for t in range(src.shape[1]):
        if transpose:
            out[column, t] += value * src[row, t]
        else:
            out[row, t] += value * src[column, t]


@numba.njit(cache=True, nogil=True)
def _product(codes, numeric, src, n_dummy, n_out, transpose):
    """X @ src (src (p, k) -> (n, k)) or, with ``transpose``, X' @ src (src (n, k) -> (p, k)).

    One kernel for both directions: the flag is loop-invariant (LLVM unswitches it).
    """
    n, m = codes.shape
    out = np.zeros((n_out, src.shape[1]))
    for i in range(n):
        for j in range(m):
            if codes[i, j] >= 0:
                _add(out, src, i, codes[i, j], 1.0, transpose)
        for j in range(numeric.shape[1]):
            _add(out, src, i, n_dummy + j, numeric[i, j], transpose)
    return out


@numba.njit(cache=True, nogil=True)
def _gram(codes, numeric, w, n_dummy, p):
    n, m = codes.shape
    q = numeric.shape[1]
    out = np.zeros((p, p))
    for i in range(n):
        wi = w[i]
        if wi == 0.0:
            continue
        for a in range(m):
            ca = codes[i, a]
            if ca < 0:
                continue
            for b in range(m):
                cb = codes[i, b]
                if cb >= 0:
                    out[ca, cb] += wi
            for t in range(q):
                v = wi * numeric[i, t]
                out[ca, n_dummy + t] += v
                out[n_dummy + t, ca] += v
        for t in range(q):
            v = wi * numeric[i, t]
            for u in range(q):
                out[n_dummy + t, n_dummy + u] += v * numeric[i, u]
    return out


class CodedMatrix:
    """X with ``codes[i, j]`` = the column of unit i's cell in categorical margin j (-1: none) and the
    numeric columns after the ``n_dummy`` dummy columns.

    Built from the codes, or from their patterns (:meth:`from_patterns`): then the (n, m) codes
    are only made if a pass without patterns asks for them.
    """

    def __init__(self, codes: np.ndarray, numeric: np.ndarray, n_dummy: int,
                 ranges: tuple[np.ndarray, np.ndarray] | None = None):
        self._codes = codes  # (n, m) int64, global column indices
        self.numeric = numeric  # (n, q) float64
        self.n_dummy = n_dummy
        #: (lowest, highest) code each column may hold, when known (else found by a pass over the codes)
        self.ranges = ranges

    @classmethod
    def from_patterns(cls, patterns: CodePatterns, numeric: np.ndarray) -> "CodedMatrix":
        x = cls(None, numeric, patterns.n_dummy)
        x.__dict__["patterns"] = patterns
        return x

    @property
    def codes(self) -> np.ndarray:
        if self._codes is None:
            self._codes = self.patterns.codes[self.patterns.pattern]
        return self._codes

    @property
    def shape(self) -> tuple[int, int]:
        return self.numeric.shape[0], self.n_dummy + self.numeric.shape[1]

    @cached_property
    def patterns(self) -> CodePatterns | None:
        """The distinct code rows, when few (``_code_patterns``); computed once."""
        return code_patterns(self.codes, self.n_dummy, self.ranges)

    def matmat(self, coef: np.ndarray) -> np.ndarray:
        """X @ coef for coef (p, k) -> (n, k)."""
        coef = np.ascontiguousarray(coef, dtype=float)
        patterns = self.patterns
        if patterns is None:
            return _product(self.codes, self.numeric, coef, self.n_dummy, self.shape[0], False)
        out = np.empty((self.shape[0], coef.shape[1]))
        by_pattern = patterns.gather(coef[:self.n_dummy])
        tail = np.ascontiguousarray(coef[self.n_dummy:])
        with _RowChunks(self.shape[0]) as chunks:
            chunks.each(lambda rows: pattern_product(patterns.pattern[rows], self.numeric[rows], by_pattern, tail,
                                                     out[rows]))
        return out

    def matvec(self, eta: np.ndarray) -> np.ndarray:
        return self.matmat(np.asarray(eta, dtype=float)[:, None])[:, 0]

    def rmatmat(self, b: np.ndarray) -> np.ndarray:
        """X' @ b for b (n, k) -> (p, k)."""
        b = np.ascontiguousarray(b, dtype=float)
        patterns = self.patterns
        if patterns is None:
            return self._summed_over_rows(_product, b, self.n_dummy, self.shape[1], True)
        sums = self._by_pattern(pattern_sums, b, patterns.size)
        return np.concatenate([patterns.spread(sums[:patterns.size]), sums[patterns.size:]])

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self.rmatmat(np.asarray(v, dtype=float)[:, None])[:, 0]

    def gram(self, w: np.ndarray) -> np.ndarray:
        """X' diag(w) X (p, p)."""
        w = np.ascontiguousarray(w, dtype=float)
        patterns = self.patterns
        if patterns is None:
            return self._summed_over_rows(_gram, w, self.n_dummy, self.shape[1])
        # [w, w·x_1..q] summed per pattern and against x: every block of the Gram matrix
        q, size = self.numeric.shape[1], patterns.size
        sums = self._by_pattern(pattern_gram_sums, w, size)
        gram = np.empty((self.n_dummy + q, self.n_dummy + q))
        gram[:self.n_dummy, :self.n_dummy] = patterns.gram(sums[:size, 0])
        gram[:self.n_dummy, self.n_dummy:] = patterns.spread(sums[:size, 1:])
        gram[self.n_dummy:, :self.n_dummy] = gram[:self.n_dummy, self.n_dummy:].T
        gram[self.n_dummy:, self.n_dummy:] = (sums[size:, 1:] + sums[size:, 1:].T) / 2
        return gram

    def _by_pattern(self, kernel, per_row: np.ndarray, size: int) -> np.ndarray:
        pattern = self.patterns.pattern
        with _RowChunks(self.shape[0]) as chunks:
            return chunks.sum(lambda rows: kernel(pattern[rows], self.numeric[rows], per_row[rows], size))

    def _summed_over_rows(self, kernel, per_row: np.ndarray, *args) -> np.ndarray:
        """Σ over fixed row chunks (threads for large inputs) of kernel(codes, numeric, per_row, *args)."""
        with _RowChunks(self.shape[0]) as chunks:
            return chunks.sum(lambda rows: kernel(self.codes[rows], self.numeric[rows], per_row[rows], *args))

    def columns(self, index) -> np.ndarray:
        """The dense columns ``index`` (n, len(index))."""
        index = np.atleast_1d(index)
        out = np.zeros((self.shape[0], len(index)))
        for t, col in enumerate(index):
            if col >= self.n_dummy:
                out[:, t] = self.numeric[:, col - self.n_dummy]
            else:
                out[:, t] = (self.codes == col).any(axis=1)
        return out

    def dense(self) -> np.ndarray:
        return self.columns(np.arange(self.shape[1]))

    # The operators the Newton kernel (written for dense arrays) uses: x @ v, x.T @ v, (x * w[:, None]).T @ x.
    def __matmul__(self, other):
        other = np.asarray(other, dtype=float)
        return self.matvec(other) if other.ndim == 1 else self.matmat(other)

    @property
    def T(self) -> "_Transposed":
        return _Transposed(self)

    def __mul__(self, weights) -> "_RowWeighted":
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape != (self.shape[0], 1):
            raise TypeError("a CodedMatrix multiplies only by one weight per row (an (n, 1) array)")
        return _RowWeighted(self, weights[:, 0])


@dataclass(frozen=True)
class _Transposed:
    x: CodedMatrix

    def __matmul__(self, other):
        other = np.asarray(other, dtype=float)
        return self.x.rmatvec(other) if other.ndim == 1 else self.x.rmatmat(other)


@dataclass(frozen=True)
class _RowWeighted:
    """diag(w) X, only ever used as (diag(w) X)' X = X' diag(w) X."""

    x: CodedMatrix
    w: np.ndarray

    @property
    def T(self) -> "_RowWeightedTransposed":
        return _RowWeightedTransposed(self.x, self.w)


@dataclass(frozen=True)
class _RowWeightedTransposed:
    x: CodedMatrix
    w: np.ndarray

    def __matmul__(self, other):
        if other is not self.x:
            raise TypeError("(diag(w) X)' is only multiplied by X itself")
        return self.x.gram(self.w)
