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

The scalar calibration functions compute the array ones of ``_newton_kernel``
with the same overflow-free logit form (NaN kept by the clips), the logit with
one division instead of two, so both paths follow the same iterates up to
rounding. The pattern pass does not write g: the Newton loop asks for it once,
at the iterate it keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from ._coded_matrix import CodedMatrix
from ._rake_numba import _RowChunks

__all__ = ["CALFUN_KINDS", "CodedNewtonPass", "pattern_width"]

#: The calibration functions the fused pass knows, by name (``_newton_kernel.CALIBRATION_FUNCTIONS``).
CALFUN_KINDS = {"linear": 0, "raking": 1, "logit": 2}


@numba.njit(inline="always")
def _clip(g, lower, upper):
    """np.clip for one value: NaN stays NaN."""
    if g < lower:
        return lower
    if g > upper:
        return upper
    return g


@numba.njit(inline="always")
def _constants(lower, upper, kind):
    """What F needs of the bounds, computed once for scalar bounds (the logit's divisions are costly)."""
    if kind != 2:
        return lower, upper, 0.0, 0.0, 0.0, 0.0
    a = (upper - lower) / ((1.0 - lower) * (upper - 1.0))
    return lower * (upper - 1.0), upper * (1.0 - lower), upper - 1.0, 1.0 - lower, a, \
        a * (1.0 - lower) * (upper - 1.0) * (upper - lower)


@numba.njit(inline="always")
def _calfun(u, k, kind):
    """(F(u), F'(u)) of the linear, raking or logit calibration function (see ``_newton_kernel``);
    ``k`` from :func:`_constants`."""
    if kind == 0:
        g = 1.0 + u
        return _clip(g, k[0], k[1]), 1.0 if (g > k[0] and g < k[1]) else 0.0
    if kind == 1:
        e = np.exp(u)
        return _clip(e, k[0], k[1]), e if (e > k[0] and e < k[1]) else 0.0
    # logit: [L(U−1) + U(1−L)e^{Au}] / [(U−1) + (1−L)e^{Au}], written with e = e^{−|Au|} so that
    # nothing overflows: numerator and denominator are (k0·m0 + k1·m1) and (k2·m0 + k3·m1) with
    # (m0, m1) = (e, 1) for Au ≥ 0 and (1, e) below. Chosen by arithmetic, not a branch: the sign of
    # Au is a coin flip from row to row, and a mispredicted branch costs as much as the exp.
    au = k[4] * u
    e = np.exp(-np.abs(au))
    pos = 1.0 if au >= 0 else 0.0
    m0 = pos * e + (1.0 - pos)
    m1 = pos + (1.0 - pos) * e
    inverse = 1.0 / (k[2] * m0 + k[3] * m1)
    return (k[0] * m0 + k[1] * m1) * inverse, k[5] * e * inverse * inverse


@numba.njit(cache=True, nogil=True)
def _newton_pass(codes, numeric, d, lower, upper, eta, n_dummy, kind, g_out):
    """g = F(Xη) into ``g_out``; returns [X'(d·g) (p), upper triangle of X' diag(d·F') X (p·p), #non-finite F'].

    ``lower`` / ``upper`` hold one bound per row or a single one for all rows.
    """
    n, m = codes.shape
    q = numeric.shape[1]
    p = n_dummy + q
    out = np.zeros(p + p * p + 1)
    per_unit = lower.shape[0] > 1
    k = _constants(lower[0], upper[0], kind)
    for i in range(n):
        u = 0.0
        for j in range(m):
            c = codes[i, j]
            if c >= 0:
                u += eta[c]
        for t in range(q):
            u += numeric[i, t] * eta[n_dummy + t]
        if per_unit:
            k = _constants(lower[i], upper[i], kind)
        g, slope = _calfun(u, k, kind)
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


@numba.njit(cache=True, nogil=True)
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
    per_unit = lower.shape[0] > 1
    k = _constants(lower[0], upper[0], kind)
    for i in range(n):
        r = pattern[i]
        u = eta_pattern[r]
        for t in range(q):
            u += numeric[i, t] * eta_numeric[t]
        if per_unit:
            k = _constants(lower[i], upper[i], kind)
        g, slope = _calfun(u, k, kind)
        dg = d[i] * g
        ds = d[i] * slope
        at = r * width
        out[at] += dg
        out[at + 1] += ds
        c = at + 2 + 2 * q
        for t in range(q):
            x = numeric[i, t]
            v = ds * x
            out[at + 2 + t] += v
            out[at + 2 + q + t] += dg * x
            for s in range(t, q):
                out[c] += v * numeric[i, s]
                c += 1
    return out


@numba.njit(cache=True, nogil=True)
def _pattern_factors(pattern, numeric, lower, upper, eta_pattern, eta_numeric, kind, g_out):
    """g = F(Xη) of every row into ``g_out`` (once, at the multipliers Newton settled on)."""
    n = numeric.shape[0]
    q = len(eta_numeric)
    per_unit = lower.shape[0] > 1
    k = _constants(lower[0], upper[0], kind)
    for i in range(n):
        u = eta_pattern[pattern[i]]
        for t in range(q):
            u += numeric[i, t] * eta_numeric[t]
        if per_unit:
            k = _constants(lower[i], upper[i], kind)
        g_out[i] = _calfun(u, k, kind)[0]


def _mirror(half: np.ndarray) -> np.ndarray:
    """The symmetric matrix of which a pass filled one triangle (whichever a column pair lands in)."""
    return half + half.T - np.diag(np.diag(half))


def _compact(bound: np.ndarray) -> np.ndarray:
    """A single-element array when every unit has the same bound (spares reading n bounds per pass)."""
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
        return self

    def __exit__(self, *exc) -> None:
        self._chunks.__exit__(*exc)

    def __call__(self, eta: np.ndarray) -> tuple[Callable[[], np.ndarray], np.ndarray, np.ndarray, bool]:
        """(a function giving g, X'(d·g), X' diag(d·F'(Xη)) X, every F' finite)."""
        x, p = self.x, self.x.shape[1]
        eta = np.ascontiguousarray(eta, dtype=float)
        per_unit = self.lower.size > 1
        if x.patterns is not None:
            return self._by_pattern(eta, per_unit)
        g = np.empty(x.shape[0])

        def chunk(rows):
            bounds = (self.lower[rows], self.upper[rows]) if per_unit else (self.lower, self.upper)
            return _newton_pass(x.codes[rows], x.numeric[rows], self.d[rows], *bounds, eta, x.n_dummy, self.kind,
                                g[rows])

        out = self._chunks.sum(chunk)
        return lambda: g, out[:p], _mirror(out[p:p + p * p].reshape(p, p)), bool(out[-1] == 0)

    def _by_pattern(self, eta, per_unit):
        x, patterns = self.x, self.x.patterns
        nd, q, size = x.n_dummy, x.numeric.shape[1], patterns.size
        eta_pattern = patterns.gather(eta[:nd])
        # numba cannot index an empty tuple: without numeric columns the kernel sees one column of
        # zeros (a zero-stride view, no memory) and its sums are dropped below
        numeric = x.numeric if q else np.broadcast_to(np.zeros((1, 1)), (x.shape[0], 1))
        eta_numeric = tuple(float(v) for v in eta[nd:]) if q else (0.0,)
        q_kernel = len(eta_numeric)
        kind, lower, upper = self.kind, self.lower, self.upper
        if not per_unit and not eta.any() and lower[0] < 1.0 < upper[0]:
            # At η = 0 every calibration function has F = 1 and F' = 1 (inside the bounds): the first
            # Newton pass is the linear one, without an exp per row.
            kind, lower, upper = CALFUN_KINDS["linear"], np.array([-np.inf]), np.array([np.inf])

        def bounds(rows):
            return (lower[rows], upper[rows]) if per_unit else (lower, upper)

        def chunk(rows):
            return _pattern_pass(patterns.pattern[rows], numeric[rows], self.d[rows], *bounds(rows), eta_pattern,
                                 eta_numeric, size, kind)

        def factors():
            g = np.empty(x.shape[0])
            self._chunks.each(lambda rows: _pattern_factors(patterns.pattern[rows], numeric[rows], *bounds(rows),
                                                            eta_pattern, eta_numeric, kind, g[rows]))
            return g

        sums = self._chunks.sum(chunk).reshape(size, pattern_width(q_kernel))
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
        return factors, achieved, gram, finite
