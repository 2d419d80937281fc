"""The calibration functions F and F' in numba, one row at a time or over a block of rows.

The scalar forms compute the array ones of ``_newton_kernel`` (linear, raking and
the overflow-free logit). The logit's e^{−|Au|} comes from :func:`exp_nonpositive`,
written in plain arithmetic so that LLVM vectorises a loop of it: a call to the C
library's exp keeps a loop scalar, and in the Newton pass over a million rows
that call and the division after it cost more than the sums themselves
(benchmarks/results/exp_kernel.md: 1M values, one core, against ``np.exp``).
The kernels use numba's NumPy error model: with Python's, every division tests
for zero and the test keeps the loop scalar.

These functions are inlined into the passes of other modules, whose numba cache
(``cache=True``) is keyed on their own source file: after editing this module
in a checkout, delete the ``__pycache__/*.nbi`` / ``*.nbc`` files of the package.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["calfun_block", "calfun_constants", "calfun_scalar", "exp_nonpositive"]

_LN2_HIGH = 6.93147180369123816490e-01  # ln 2 split in two (Cody–Waite): k·ln2 is exact in its high part
_LN2_LOW = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
#: 2^(−2^j), j = 0..9: 2^k for an integer 0 <= −k < 1024 is the product of those its bits select
_POWERS = tuple(2.0 ** -(2 ** j) for j in range(10))
#: Below this e^v is under 2^−1021: the logit's F and F' no longer change in double precision.
_EXP_FLOOR = -708.0


@numba.njit(inline="always", error_model="numpy")
def exp_nonpositive(v):
    """e^v for v <= 0 (NaN stays NaN; below −708, e^−708): within 1 ulp of the C library's exp.

    v = k·ln2 + r with |r| <= ln2/2; e^r by its Taylor series to r^13 (the remainder is
    below 1e-17 there), times 2^k assembled from k's bits without a table lookup (a
    gather would keep the loop scalar).
    """
    v = max(v, _EXP_FLOOR)
    k = np.floor(v * _INV_LN2 + 0.5)
    r = (v - k * _LN2_HIGH) - k * _LN2_LOW
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    bits = np.int64(-k)  # NaN gives some integer: its bits only scale a NaN
    scale = 1.0
    for j in range(10):
        scale *= _POWERS[j] if (bits >> j) & 1 else 1.0
    return p * scale


@numba.njit(inline="always")
def _clip(g, lower, upper):
    """np.clip for one value: NaN stays NaN."""
    if g < lower:
        return lower
    if g > upper:
        return upper
    return g


@numba.njit(inline="always", error_model="numpy")
def calfun_constants(lower, upper, kind):
    """What F needs of the bounds, computed once for scalar bounds (the logit's divisions are costly)."""
    if kind != 2:
        return lower, upper, 0.0, 0.0, 0.0, 0.0
    a = (upper - lower) / ((1.0 - lower) * (upper - 1.0))
    return lower * (upper - 1.0), upper * (1.0 - lower), upper - 1.0, 1.0 - lower, a, \
        a * (1.0 - lower) * (upper - 1.0) * (upper - lower)


@numba.njit(inline="always")
def _linear(u, k):
    g = 1.0 + u
    return _clip(g, k[0], k[1]), 1.0 if (g > k[0] and g < k[1]) else 0.0


@numba.njit(inline="always")
def _raking(u, k):
    e = np.exp(u)  # may overflow to inf: the Newton step halves on a non-finite F'
    return _clip(e, k[0], k[1]), e if (e > k[0] and e < k[1]) else 0.0


@numba.njit(inline="always", error_model="numpy")
def _logit(u, k):
    # [L(U−1) + U(1−L)e^{Au}] / [(U−1) + (1−L)e^{Au}], written with e = e^{−|Au|} so that nothing
    # overflows: numerator and denominator are (k0·m0 + k1·m1) and (k2·m0 + k3·m1) with (m0, m1) =
    # (e, 1) for Au ≥ 0 and (1, e) below. Chosen by arithmetic, not a branch: the sign of Au is a
    # coin flip from row to row, and a mispredicted branch costs as much as the exp.
    au = k[4] * u
    e = exp_nonpositive(-np.abs(au))
    pos = 1.0 if au >= 0 else 0.0
    m0 = pos * e + (1.0 - pos)
    m1 = pos + (1.0 - pos) * e
    inverse = 1.0 / (k[2] * m0 + k[3] * m1)
    return (k[0] * m0 + k[1] * m1) * inverse, k[5] * e * inverse * inverse


@numba.njit(inline="always", error_model="numpy")
def calfun_scalar(u, k, kind):
    """(F(u), F'(u)) of the linear (kind 0), raking (1) or logit (2) calibration function;
    ``k`` from :func:`calfun_constants`."""
    if kind == 0:
        return _linear(u, k)
    if kind == 1:
        return _raking(u, k)
    return _logit(u, k)


@numba.njit(inline="always", error_model="numpy")
def _block(u, lower, upper, kind, f_out, slope_out, calfun):
    if lower.shape[0] > 1:
        for b in range(u.shape[0]):
            f_out[b], slope_out[b] = calfun(u[b], calfun_constants(lower[b], upper[b], kind))
    else:
        k = calfun_constants(lower[0], upper[0], kind)
        for b in range(u.shape[0]):
            f_out[b], slope_out[b] = calfun(u[b], k)


@numba.njit(inline="always", error_model="numpy")
def calfun_block(u, lower, upper, kind, f_out, slope_out):
    """F and F' of every u of a block into ``f_out`` / ``slope_out``; ``lower`` / ``upper`` hold one
    bound per row of the block or a single one (then the logit's loop runs vectorised). One loop
    per kind: a choice of function inside the loop keeps it scalar."""
    if kind == 0:
        _block(u, lower, upper, kind, f_out, slope_out, _linear)
    elif kind == 1:
        _block(u, lower, upper, kind, f_out, slope_out, _raking)
    else:
        _block(u, lower, upper, kind, f_out, slope_out, _logit)
