"""The vectorisable exp and calibration functions, the Newton loop's cheap last pass, and both ways of
coding a large calibration matrix (by unit patterns and by rows)."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

from personacal.calibrate import Margins, calibrate
from personacal.calibrate._calfun_kernels import calfun_block, calfun_constants, calfun_scalar, exp_nonpositive
from personacal.errors import UnknownCategoryError

KINDS = {"linear": 0, "raking": 1, "logit": 2}


@numba.njit
def _exp_all(v):
    out = np.empty_like(v)
    for i in range(v.size):
        out[i] = exp_nonpositive(v[i])
    return out


@numba.njit
def _block(u, lower, upper, kind):
    f, slope = np.empty_like(u), np.empty_like(u)
    calfun_block(u, lower, upper, kind, f, slope)
    return f, slope


@numba.njit
def _scalar(u, lower, upper, kind):
    f, slope = np.empty_like(u), np.empty_like(u)
    for i in range(u.size):
        f[i], slope[i] = calfun_scalar(u[i], calfun_constants(lower, upper, kind), kind)
    return f, slope


def test_exp_nonpositive_is_within_two_ulp_of_numpy():
    rng = np.random.default_rng(20261208)
    v = np.concatenate([-rng.exponential(3.0, 200_000), -rng.uniform(0, 708, 200_000), [0.0, -0.0, -1e-300, -708.0]])
    got, want = _exp_all(v), np.exp(v)
    assert np.max(np.abs(got / want - 1.0)) <= 2 * np.finfo(float).eps
    assert got[-4] == 1.0 and got[-3] == 1.0 and got[-2] == 1.0


def test_exp_nonpositive_keeps_nan_and_floors_below_minus_708():
    got = _exp_all(np.array([np.nan, -np.inf, -709.0, -1e5]))
    assert np.isnan(got[0])
    np.testing.assert_allclose(got[1:], np.exp(-708.0), rtol=2 * np.finfo(float).eps)


def _logit_by_formula(u, lower, upper):
    """R survey's logit calibration function and its derivative, written directly (moderate u only)."""
    a = (upper - lower) / ((1 - lower) * (upper - 1))
    e = np.exp(a * u)
    den = (upper - 1) + (1 - lower) * e
    f = (lower * (upper - 1) + upper * (1 - lower) * e) / den
    slope = a * (1 - lower) * (upper - 1) * (upper - lower) * e / den**2
    return f, slope


def test_logit_block_equals_the_textbook_formula():
    u = np.linspace(-6.0, 6.0, 1001)
    f, slope = _block(u, np.array([0.4]), np.array([2.5]), KINDS["logit"])
    want_f, want_slope = _logit_by_formula(u, 0.4, 2.5)
    np.testing.assert_allclose(f, want_f, rtol=1e-14)
    np.testing.assert_allclose(slope, want_slope, rtol=1e-13, atol=1e-300)
    assert np.all(np.diff(f) > 0) and f.min() > 0.4 and f.max() < 2.5


@pytest.mark.parametrize("kind", list(KINDS))
def test_block_with_per_unit_bounds_equals_the_scalar_function(kind):
    rng = np.random.default_rng(7)
    u = rng.normal(0, 1.5, 513)
    lower, upper = rng.uniform(0.2, 0.9, u.size), rng.uniform(1.1, 3.0, u.size)
    f, slope = _block(u, lower, upper, KINDS[kind])
    for i in range(0, u.size, 37):
        one_f, one_slope = _scalar(u[i:i + 1], lower[i], upper[i], KINDS[kind])
        assert f[i] == one_f[0] and slope[i] == one_slope[0]
    assert np.all((f >= lower) & (f <= upper))


def test_newton_falls_back_to_a_full_pass_when_the_last_pass_falls_short():
    from personacal.calibrate._newton_kernel import CALIBRATION_FUNCTIONS, _dense_pass, _newton

    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(400), rng.integers(0, 2, 400), rng.uniform(0, 3, 400)])
    d = rng.uniform(1, 2, 400)
    totals = x.T @ (d * np.exp(0.3 * x[:, 2] - 0.2))
    args = (x, d, CALIBRATION_FUNCTIONS["raking"], -np.inf, np.inf)
    plain = _newton(_dense_pass(*args), 3, totals, population=totals[0], tol=1e-12, max_iter=50)

    evaluate, calls = _dense_pass(*args), []
    real_final = evaluate.final

    def final_refused_once(eta):
        g, achieved, finite = real_final(eta)
        calls.append(eta)
        return g, achieved, finite and len(calls) > 1

    evaluate.final = final_refused_once
    fallback = _newton(evaluate, 3, totals, population=totals[0], tol=1e-12, max_iter=50)
    assert calls  # the last pass was tried, refused, and the full pass at the same step took over
    assert fallback.max_error <= 1e-12 and plain.max_error <= 1e-12
    np.testing.assert_allclose(fallback.g, plain.g, rtol=1e-10)
    np.testing.assert_allclose(fallback.achieved, x.T @ (d * fallback.g), rtol=1e-12)
    assert fallback.n_iter == plain.n_iter


def _sample(n, sizes, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"v{j}": pd.Categorical.from_codes(rng.integers(0, k, n), [f"c{i}" for i in range(k)])
                          for j, k in enumerate(sizes)})
    frame["income"] = rng.lognormal(10, 0.5, n)
    d = rng.uniform(1, 3, n)
    truth = d * np.exp(0.1 * np.sin(frame["income"].to_numpy() / 1e4))
    shares = {c: pd.Series(truth).groupby(frame[c].to_numpy()).sum().to_dict() for c in frame.columns[:len(sizes)]}
    margins = Margins({c: {str(k): float(v) for k, v in s.items()} for c, s in shares.items()},
                      totals={"income": float(truth @ frame["income"].to_numpy())})
    return frame.assign(d=d), margins


@pytest.mark.parametrize("sizes", [(3, 4, 2), (40, 40, 40)], ids=["few patterns", "too many for a lookup"])
def test_coded_matrix_by_patterns_or_rows_equals_the_dense_one(sizes, monkeypatch):
    from personacal.calibrate import _auxiliary

    frame, margins = _sample(3000, sizes, seed=sum(sizes))
    runs = {}
    for coded in (False, True):
        monkeypatch.setattr(_auxiliary, "CODED_FROM_ROWS", 0 if coded else 10**9)
        runs[coded] = calibrate(frame, margins, weights="d", method="logit", bounds=(0.3, 3.0))
    assert runs[True].converged and runs[False].converged
    np.testing.assert_allclose(runs[True].weights, runs[False].weights, rtol=1e-10)
    matrix = _auxiliary.calibration_matrix(frame, margins, frame["d"].to_numpy(), func="test", coded=True).x
    # 24 combinations fit a lookup table; 64,000 do not (more than 4n + 1024): codes by row
    assert (matrix._codes is None) == (sizes == (3, 4, 2))


def test_a_weighted_unit_in_an_unlisted_cell_is_named_on_the_pattern_path(monkeypatch):
    from personacal.calibrate import _auxiliary

    frame, _ = _sample(2000, (3, 2), seed=5)
    joint = frame.groupby(["v0", "v1"], observed=True)["d"].sum()
    listed = {(a, b): float(v) for (a, b), v in joint.items() if (a, b) != ("c2", "c1")}
    margins = Margins({("v0", "v1"): listed})
    monkeypatch.setattr(_auxiliary, "CODED_FROM_ROWS", 0)
    with pytest.raises(UnknownCategoryError, match="c2.*c1"):
        calibrate(frame, margins, weights="d", method="logit", bounds=(0.3, 3.0))
