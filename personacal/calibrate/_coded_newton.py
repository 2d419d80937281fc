"""One fused pass over a :class:`~._coded_matrix.CodedMatrix` per Newton step of calibration.

A Newton step (``_newton_kernel``) needs, at the multipliers η, the factors
g = F(Xη), the achieved totals X'(d·g) and the Jacobian X' diag(d·F'(Xη)) X.
Done with separate operators that is four passes over a million rows and an
(n,) temporary for each of Xη, g, F' and d·g; here one numba pass per row does
all of it: the row's Xη is a gather of η at its category codes plus its numeric
columns, F and F' are computed in registers, and the totals and the Gram matrix
(upper triangle only: codes of different margins lie in increasing column
ranges) are accumulated in place. The rows are split over threads in fixed
chunks (``_RowChunks``), so results do not depend on the core count.

The calibration functions are those of ``_calfun_kernels`` (the array ones of
``_newton_kernel`` up to rounding). The pattern passes work on blocks of
``BLOCK`` rows: Xη of the block by a gather, then F and F' over the block in one
vectorised loop, then the scatter-add per pattern. The pattern pass does not
write g: the Newton loop asks for it at the iterate it keeps, through
:meth:`CodedNewtonPass.final`, the pass that also gives the totals there; when
the error is small enough that the next Newton iterate should meet the
tolerance, that pass (without the Jacobian) is the one that confirms it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np

from ._calfun_kernels import calfun_block, calfun_constants, calfun_scalar
from ._coded_matrix import CodedMatrix
from ._rake_numba import _RowChunks

__all__ = ["CALFUN_KINDS", "CodedNewtonPass", "pattern_width"]

#: The calibration functions the fused pass knows, by name (``_newton_kernel.CALIBRATION_FUNCTIONS``).
CALFUN_KINDS = {"linear": 0, "raking": 1, "logit": 2}


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _newton_pass(codes, numeric, d, lower, upper, eta, n_dummy, kind, g_out):
    """g = F(Xη) into ``g_out``; returns [X'(d·g) (p), upper triangle of X' diag(d·F') X (p·p), #non-finite F'].

    ``lower`` / ``upper`` hold one bound per row or a single one for all rows.
    """
    n, m = codes.shape
    q = numeric.shape[1]
    p = n_dummy + q
    out = np.zeros(p + p * p + 1)
    per_unit = lower.shape[0] > 1
    k = calfun_constants(lower[0], upper[0], kind)
    for i in range(n):
        u = 0.0
        for j in range(m):
            c = codes[i, j]
            if c >= 0:
                u += eta[c]
        for t in range(q):
            u += numeric[i, t] * eta[n_dummy + t]
        if per_unit:
            k = calfun_constants(lower[i], upper[i], kind)
        g, slope = calfun_scalar(u, k, kind)
        g_out[i] = g
        if not np.isfinite(slope):
            out[p + p * p] += 1.0
        dg = d[i] * g
        ds = d[i] * slope
        for a in range(m):
            ca = codes[i, a]
            if ca < 0:
                continue
            out[ca] += dg
            if ds != 0.0:
                for b in range(a, m):
                    cb = codes[i, b]
                    if cb >= 0:
                        out[p + ca * p + cb] += ds
                for t in range(q):
                    out[p + ca * p + n_dummy + t] += ds * numeric[i, t]
        for t in range(q):
            out[n_dummy + t] += dg * numeric[i, t]
            if ds != 0.0:
                v = ds * numeric[i, t]
                for s in range(t, q):
                    out[p + (n_dummy + t) * p + n_dummy + s] += v * numeric[i, s]
    return out


def pattern_width(q: int) -> int:
    """Sums per pattern of the pattern pass: d·g, d·F', d·F'·x_t (q), d·g·x_t (q), d·F'·x_t·x_s (t ≤ s)."""
    return 2 + 2 * q + q * (q + 1) // 2


#: Rows per block of the pattern passes: the linear predictors, F and F' of a block stay in L1, and
#: F runs vectorised over it (the gather before it and the scatter-add after it cannot).
BLOCK = 256


@numba.njit(inline="always")
def _predictor(pattern, numeric, eta_pattern, eta_numeric, u):
    """u = Xη for a block of rows: η summed by pattern plus the numeric columns."""
    for b in range(pattern.shape[0]):
        v = eta_pattern[pattern[b]]
        for t in range(len(eta_numeric)):
            v += numeric[b, t] * eta_numeric[t]
        u[b] = v


@numba.njit(inline="always")
def _block_bounds(lower, upper, start, stop):
    """The bounds of rows start:stop, or the single pair every row shares."""
    if lower.shape[0] > 1:
        return lower[start:stop], upper[start:stop]
    return lower, upper


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _pattern_pass(pattern, numeric, d, lower, upper, eta_pattern, eta_numeric, n_pattern, kind):
    """As :func:`_newton_pass` on a matrix whose code rows are patterns (``_code_patterns``), without g:
    returns the (patterns x ``pattern_width(q)``) sums, flat.

    ``eta_numeric`` is a tuple, so q is known when numba compiles and the loops over the numeric
    columns unroll; the numeric sums go per pattern too, so no row waits on the one before it to
    add to a shared total. A non-finite F' makes its pattern's sums non-finite (the caller checks).
    """
    n = numeric.shape[0]
    q = len(eta_numeric)
    width = 2 + 2 * q + q * (q + 1) // 2
    out = np.zeros(n_pattern * width)
    u, f, slope = np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        m = stop - start
        rows_pattern, rows_numeric, rows_d = pattern[start:stop], numeric[start:stop], d[start:stop]
        _predictor(rows_pattern, rows_numeric, eta_pattern, eta_numeric, u)
        lo, hi = _block_bounds(lower, upper, start, stop)
        calfun_block(u[:m], lo, hi, kind, f, slope)
        for b in range(m):
            dg = rows_d[b] * f[b]
            ds = rows_d[b] * slope[b]
            at = rows_pattern[b] * width
            out[at] += dg
            out[at + 1] += ds
            c = at + 2 + 2 * q
            for t in range(q):
                x = rows_numeric[b, t]
                v = ds * x
                out[at + 2 + t] += v
                out[at + 2 + q + t] += dg * x
                for s in range(t, q):
                    out[c] += v * rows_numeric[b, s]
                    c += 1
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _pattern_final(pattern, numeric, d, lower, upper, eta_pattern, eta_numeric, n_pattern, kind, g_out):
    """g = F(Xη) of every row into ``g_out``, and per pattern [Σ d·g, Σ d·g·x_t] (patterns x (1 + q), flat):
    the weights and their totals in one pass, without the Jacobian."""
    n = numeric.shape[0]
    q = len(eta_numeric)
    width = 1 + q
    out = np.zeros(n_pattern * width)
    u, slope = np.empty(BLOCK), np.empty(BLOCK)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        rows_pattern, rows_numeric, rows_d, g = pattern[start:stop], numeric[start:stop], d[start:stop], \
            g_out[start:stop]
        _predictor(rows_pattern, rows_numeric, eta_pattern, eta_numeric, u)
        lo, hi = _block_bounds(lower, upper, start, stop)
        calfun_block(u[:stop - start], lo, hi, kind, g, slope)
        for b in range(stop - start):
            dg = rows_d[b] * g[b]
            at = rows_pattern[b] * width
            out[at] += dg
            for t in range(q):
                out[at + 1 + t] += dg * rows_numeric[b, t]
    return out


def _mirror(half: np.ndarray) -> np.ndarray:
    """The symmetric matrix of which a pass filled one triangle (whichever a column pair lands in)."""
    return half + half.T - np.diag(np.diag(half))


def _compact(bound: np.ndarray) -> np.ndarray:
    """A single-element array when every unit has the same bound (spares reading n bounds per pass)."""
    if bound.ndim == 1 and bound.size and bound.strides == (0,):  # a broadcast scalar
        return np.array(bound[:1], dtype=float)
    bound = np.ascontiguousarray(bound, dtype=float)
    return bound[:1] if bound.size and (bound == bound[0]).all() else bound


class CodedNewtonPass:
    """Evaluates g, X'(d·g) and the Jacobian at η in one pass; use as a context manager (thread pool)."""

    def __init__(self, x: CodedMatrix, d: np.ndarray, lower, upper, kind: str):
        n = x.shape[0]
        self.x, self.kind = x, CALFUN_KINDS[kind]
        self.d = np.ascontiguousarray(d, dtype=float)
        lower = _compact(np.broadcast_to(np.asarray(lower, dtype=float), (n,)))
        upper = _compact(np.broadcast_to(np.asarray(upper, dtype=float), (n,)))
        if lower.size != upper.size:  # one side per unit: both per unit
            lower, upper = (np.ascontiguousarray(np.broadcast_to(b, (n,))) for b in (lower, upper))
        self.lower, self.upper = lower, upper
        self._chunks = _RowChunks(n)

    def __enter__(self) -> "CodedNewtonPass":
        self._chunks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._chunks.__exit__(*exc)

    def __call__(self, eta: np.ndarray) -> tuple[Callable[[], np.ndarray], np.ndarray, np.ndarray, bool]:
        """(a function giving g, X'(d·g), X' diag(d·F'(Xη)) X, every F' finite)."""
        x, p = self.x, self.x.shape[1]
        eta = np.ascontiguousarray(eta, dtype=float)
        per_unit = self.lower.size > 1
        if x.patterns is not None:
            return self._by_pattern(eta)
        g = np.empty(x.shape[0])

        def chunk(rows):
            bounds = (self.lower[rows], self.upper[rows]) if per_unit else (self.lower, self.upper)
            return _newton_pass(x.codes[rows], x.numeric[rows], self.d[rows], *bounds, eta, x.n_dummy, self.kind,
                                g[rows])

        out = self._chunks.sum(chunk)
        return lambda: g, out[:p], _mirror(out[p:p + p * p].reshape(p, p)), bool(out[-1] == 0)

    def final(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """(g, X'(d·g), both finite) at η, without the Jacobian: the pass that confirms a last step."""
        eta = np.ascontiguousarray(eta, dtype=float)
        if self.x.patterns is None:
            g, achieved, _, _ = self(eta)
            g = g()
            return g, achieved, bool(np.isfinite(g).all() and np.isfinite(achieved).all())
        patterns, args = self.x.patterns, self._pattern_inputs(eta)
        g = np.empty(self.x.shape[0])
        sums = self._chunks.sum(lambda rows: _pattern_final(*self._rows(args, rows), patterns.size, args.kind,
                                                            g[rows]))
        sums = sums.reshape(patterns.size, -1)
        q = self.x.numeric.shape[1]
        achieved = np.concatenate([patterns.spread(sums[:, 0]), sums[:, 1:1 + q].sum(axis=0)])
        return g, achieved, bool(np.isfinite(sums).all())

    def _pattern_inputs(self, eta) -> "_PatternInputs":
        x, patterns = self.x, self.x.patterns
        nd, q = x.n_dummy, x.numeric.shape[1]
        # numba cannot index an empty tuple: without numeric columns the kernel sees one column of
        # zeros (a zero-stride view, no memory) and its sums are dropped by the callers
        numeric = x.numeric if q else np.broadcast_to(np.zeros((1, 1)), (x.shape[0], 1))
        eta_numeric = tuple(float(v) for v in eta[nd:]) if q else (0.0,)
        kind, lower, upper = self.kind, self.lower, self.upper
        if lower.size == 1 and not eta.any() and lower[0] < 1.0 < upper[0]:
            # At η = 0 every calibration function has F = 1 and F' = 1 (inside the bounds): the first
            # Newton pass is the linear one, without an exp per row.
            kind, lower, upper = CALFUN_KINDS["linear"], np.array([-np.inf]), np.array([np.inf])
        return _PatternInputs(patterns.gather(eta[:nd]), numeric, eta_numeric, kind, lower, upper)

    def _rows(self, args: "_PatternInputs", rows: slice) -> tuple:
        """The leading kernel arguments for a chunk of rows."""
        per_unit = args.lower.size > 1
        return (self.x.patterns.pattern[rows], args.numeric[rows], self.d[rows],
                args.lower[rows] if per_unit else args.lower, args.upper[rows] if per_unit else args.upper,
                args.eta_pattern, args.eta_numeric)

    def _by_pattern(self, eta):
        x, patterns = self.x, self.x.patterns
        nd, q, size = x.n_dummy, x.numeric.shape[1], patterns.size
        args = self._pattern_inputs(eta)
        q_kernel = len(args.eta_numeric)
        sums = self._chunks.sum(lambda rows: _pattern_pass(*self._rows(args, rows), size, args.kind))
        sums = sums.reshape(size, pattern_width(q_kernel))
        finite = bool(np.isfinite(sums[:, 1:2 + q_kernel]).all())
        tail = sums[:, 2 + q_kernel:].sum(axis=0)
        triangle = np.zeros((q_kernel, q_kernel))
        triangle[np.triu_indices(q_kernel)] = tail[q_kernel:]
        achieved = np.concatenate([patterns.spread(sums[:, 0]), tail[:q]])
        gram = np.empty((nd + q, nd + q))
        gram[:nd, :nd] = patterns.gram(sums[:, 1])
        gram[:nd, nd:] = patterns.spread(sums[:, 2:2 + q])
        gram[nd:, :nd] = gram[:nd, nd:].T
        gram[nd:, nd:] = _mirror(triangle[:q, :q])
        return lambda: self.final(eta)[0], achieved, gram, finite


class _PatternInputs(NamedTuple):
    """What every pattern pass at one η shares."""

    eta_pattern: np.ndarray
    numeric: np.ndarray
    eta_numeric: tuple
    kind: int
    lower: np.ndarray
    upper: np.ndarray
