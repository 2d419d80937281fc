"""Deville–Särndal generalised calibration by Newton's method on the Lagrange multipliers.

Pure NumPy. The iteration and the calibration functions follow R survey's
``grake`` (survey 4.x): g = F(Xλ) with

* linear  F(u) = clip(1 + u, L, U)
* raking  F(u) = clip(exp(u), L, U)
* logit   F(u) = [L(U−1) + U(1−L)e^{Au}] / [(U−1) + (1−L)e^{Au}],  A = (U−L) / ((1−L)(U−1))

and the step Δλ = T⁺ (t − X'(d·g)), T = X' diag(d·F'(Xλ)) X, with T⁺ the
Moore–Penrose inverse (singular values below 256·eps·σ_max dropped, as
``MASS::ginv``), so redundant indicator columns are harmless.

Unlike ``grake``, which halves a step only when g turns non-finite, a step is
also halved while it does not reduce the (target-scaled) misfit: plain Newton
on exp() overshoots and diverges when the design weights are far from the
targets' scale, which R avoids only by its ad-hoc rescaling. The converged g is
the unique minimiser of the calibration distance, so the safeguard changes the
path, never the answer. When none of ``MAX_HALVINGS`` halvings lowers the misfit,
the iteration stops at the last iterate that did (``g`` and the reported error
belong to it) with the error above ``tol``: the callers report non-convergence.

Once the error is below √tol, the next iterate should meet tol (Newton's error
squares with each step near the solution): it is checked by a pass that gives g
and the totals only (``evaluate.final``), and a full pass follows only if that
check fails. The reported error is always measured on the totals of the g returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._coded_matrix import CodedMatrix
from ._coded_newton import CodedNewtonPass
from ._ipf_kernels import relative_errors

__all__ = ["CALIBRATION_FUNCTIONS", "NewtonFit", "newton_calibrate"]

#: Most halvings of one Newton step; when none lowers the misfit the iteration stops.
MAX_HALVINGS = 40


def _linear(u, lower, upper):
    g = 1.0 + u
    return np.clip(g, lower, upper), ((g > lower) & (g < upper)).astype(float)


def _raking(u, lower, upper):
    with np.errstate(over="ignore"):
        e = np.exp(u)
    return np.clip(e, lower, upper), np.where((e > lower) & (e < upper), e, 0.0)


def _logit(u, lower, upper):
    a = (upper - lower) / ((1.0 - lower) * (upper - 1.0))
    # Written with e^{-|Au|} so that neither branch overflows.
    au = a * u
    e = np.exp(-np.abs(au))
    pos = au >= 0
    num = np.where(pos, lower * (upper - 1.0) * e + upper * (1.0 - lower), lower * (upper - 1.0) + upper * (1.0 - lower) * e)
    den = np.where(pos, (upper - 1.0) * e + (1.0 - lower), (upper - 1.0) + (1.0 - lower) * e)
    g = num / den
    # dF/du = A (1−L)(U−1)(U−L) e^{Au} / den², in the same scaled form.
    deriv = a * (1.0 - lower) * (upper - 1.0) * (upper - lower) * e / den**2
    return g, deriv


CALIBRATION_FUNCTIONS: dict[str, Callable] = {"linear": _linear, "raking": _raking, "logit": _logit}


class NewtonFit(NamedTuple):
    """What :func:`newton_calibrate` found; ``history[k]`` is the max relative constraint error after step k + 1."""

    g: np.ndarray
    n_iter: int
    history: np.ndarray
    max_error: float
    achieved: np.ndarray  # X'(d·g) at this g: the totals the error was measured on


def newton_calibrate(
    x: np.ndarray,
    d: np.ndarray,
    totals: np.ndarray,
    calfun: Callable,
    lower: float,
    upper: float,
    *,
    population: float,
    tol: float,
    max_iter: int,
) -> NewtonFit:
    """Solve X'(d·g) = totals for g = F(Xλ).

    Parameters
    ----------
    x
        (cells, constraints) design matrix: dense, or a :class:`~._coded_matrix.CodedMatrix`
        (then each step is one fused pass over its rows, ``_coded_newton``).
    d
        Design weight of each row of ``x``.
    totals
        Target of each constraint.
    population
        Population total; errors on zero targets are measured relative to it.

    """
    if isinstance(x, CodedMatrix):
        kind = next(name for name, f in CALIBRATION_FUNCTIONS.items() if f is calfun)
        with CodedNewtonPass(x, d, lower, upper, kind) as evaluate:
            return _newton(evaluate, x.shape[1], totals, population=population, tol=tol, max_iter=max_iter)
    return _newton(_dense_pass(x, d, calfun, lower, upper), x.shape[1], totals, population=population, tol=tol,
                   max_iter=max_iter)


def _dense_pass(x, d, calfun, lower, upper):
    """η -> (g, X'(d·g), X' diag(d·F'(Xη)) X, every F' finite); g and the matrix computed when asked for.

    ``.final(η)`` -> (g, X'(d·g), both finite), as :meth:`CodedNewtonPass.final`.
    """

    def evaluate(eta):
        g, deriv = calfun(x @ eta, lower, upper)
        return lambda: g, x.T @ (d * g), lambda: (x * (d * deriv)[:, None]).T @ x, bool(np.all(np.isfinite(deriv)))

    def final(eta):
        g, _ = calfun(x @ eta, lower, upper)
        achieved = x.T @ (d * g)
        return g, achieved, bool(np.isfinite(g).all() and np.isfinite(achieved).all())

    evaluate.final = final
    return evaluate


def _newton(evaluate, p: int, totals, *, population: float, tol: float, max_iter: int):
    eta = np.zeros(p)
    scale = np.where(totals != 0, np.abs(totals), population)  # |T|: numeric totals may be negative
    g, achieved, tmat, _ = evaluate(eta)
    merit = _merit(achieved, totals, scale)
    history: list[float] = []
    max_error = float(np.max(relative_errors(achieved, totals, population), initial=0.0))
    n_iter = 0
    while max_error > tol and n_iter < max_iter:
        n_iter += 1
        step = np.linalg.pinv(tmat() if callable(tmat) else tmat, rcond=256 * np.finfo(float).eps) @ (totals - achieved)
        if max_error <= math.sqrt(tol):
            # Near the solution Newton's error squares with each step, so the next iterate should meet
            # tol; confirming that needs g and the totals only, not the Jacobian (a cheaper pass). If it
            # falls short, the full pass below takes over.
            with np.errstate(over="ignore", invalid="ignore"):
                g_last, achieved_last, finite = evaluate.final(eta + step)
            error_last = float(np.max(relative_errors(achieved_last, totals, population), initial=0.0))
            if finite and error_last <= tol:
                history.append(error_last)
                return NewtonFit(g_last, n_iter, np.asarray(history), error_last, achieved_last)
        for _ in range(MAX_HALVINGS):
            with np.errstate(over="ignore", invalid="ignore"):
                g_new, achieved_new, tmat_new, finite = evaluate(eta + step)
                merit_new = _merit(achieved_new, totals, scale)
            if np.isfinite(merit_new) and finite and merit_new < merit:
                break
            step = step / 2
        else:
            # No step length lowered the misfit (every try overflowed, or the step points uphill
            # where T is near singular): keep the last good iterate, whose g and error agree,
            # and stop; further iterations would compute the same step. The caller sees
            # max_error > tol and applies its on_nonconvergence policy.
            history.append(max_error)
            break
        eta, g, achieved, tmat, merit = eta + step, g_new, achieved_new, tmat_new, merit_new
        max_error = float(np.max(relative_errors(achieved, totals, population), initial=0.0))
        history.append(max_error)
    # g is asked for once, at the iterate kept: a pass that only computes the totals need not write n values
    return NewtonFit(g(), n_iter, np.asarray(history), max_error, achieved)


def _merit(achieved, totals, scale) -> float:
    return float(np.sum(((totals - achieved) / scale) ** 2))
