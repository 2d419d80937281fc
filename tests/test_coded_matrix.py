"""The coded calibration matrix (category codes + numeric columns) against the dense matrix it stands for.

``calibrate`` keeps X coded from ``CODED_FROM_ROWS`` rows on; below that it is
dense. Both paths must give the same weights and SEs: the R replays are run here
with the coded path forced (the R reference files are the expected values), and
the operators are checked against the dense matrix built by hand.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import r_survey as ref
from _survey_public import NOT_PUBLIC, public_design, public_estimates

from personacal.calibrate import _auxiliary
from personacal.calibrate._coded_matrix import CodedMatrix

#: calibrate() cases without variance= / cluster= (those stay dense), numeric and categorical.
CASES = [c for c in ["a01_strat_linear_stype_api99", "a02_clus1_linear_stype_api99", "a03_clus1_raking_stype_api99",
                     "a04_clus1_logit_stype_api99", "a05_clus1_linear_bounded_stype_api99",
                     "a06_strat_raking_bounded_schwide_api99", "a12_strat_logit_schwide_api99_enroll",
                     "b05_kalton_logit", "b08_strat_per_unit_g_bounds"] if c not in NOT_PUBLIC]


@pytest.fixture
def coded_everywhere(monkeypatch):
    monkeypatch.setattr(_auxiliary, "CODED_FROM_ROWS", 0)


def _dense_by_hand(codes, numeric, n_dummy):
    x = np.zeros((codes.shape[0], n_dummy + numeric.shape[1]))
    for i, row in enumerate(codes):
        for c in row:
            if c >= 0:
                x[i, c] = 1.0
    x[:, n_dummy:] = numeric
    return x


def test_operators_equal_the_dense_matrix():
    rng = np.random.default_rng(3)
    n = 500
    codes = np.column_stack([rng.integers(0, 3, n), 3 + rng.integers(0, 4, n), 7 + rng.integers(-8, 2, n)])
    codes[codes == -1] = -1  # margin 3: some units in no cell (code -1)
    codes[:, 2] = np.where(codes[:, 2] < 7, -1, codes[:, 2])
    numeric = rng.normal(size=(n, 2))
    x = CodedMatrix(codes.astype(np.int64), numeric, 9)
    dense = _dense_by_hand(codes, numeric, 9)
    assert x.shape == dense.shape and (codes[:, 2] == -1).any()
    w, coef, b = rng.uniform(0.5, 2, n), rng.normal(size=(11, 3)), rng.normal(size=(n, 2))
    np.testing.assert_allclose(x @ coef, dense @ coef, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x @ coef[:, 0], dense @ coef[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.T @ b, dense.T @ b, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(x.T @ w, dense.T @ w, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose((x * w[:, None]).T @ x, (dense * w[:, None]).T @ dense, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(x.dense(), dense)
    np.testing.assert_array_equal(x.columns([1, 10]), dense[:, [1, 10]])
    with pytest.raises(TypeError, match="one weight per row"):
        x * w


@pytest.mark.parametrize("case_id", CASES)
def test_coded_path_weights_equal_r(case_id, coded_everywhere):
    design = public_design(case_id)
    np.testing.assert_allclose(design.weights.to_numpy(), ref.load_weights(case_id), rtol=1e-8, atol=0)


@pytest.mark.parametrize("case_id", [c for c in CASES if len(ref.load_estimates(c))])
def test_coded_path_standard_errors_equal_r(case_id, coded_everywhere):
    table = public_estimates(case_id)
    np.testing.assert_allclose(table["ours"], table["estimate"], rtol=1e-8, atol=0)
    zero = table["se"] < 1e-8 * table["estimate"].abs()
    np.testing.assert_allclose(table.loc[~zero, "our_se"], table.loc[~zero, "se"], rtol=1e-6, atol=0)


def _coded_problem(n=4000, seed=5):
    rng = np.random.default_rng(seed)
    codes = np.column_stack([rng.integers(0, 3, n), 3 + rng.integers(0, 4, n), 7 + rng.integers(0, 2, n)])
    numeric = np.column_stack([rng.lognormal(0, 0.5, n), rng.integers(1, 5, n).astype(float)])
    return CodedMatrix(codes.astype(np.int64), numeric, 9), _dense_by_hand(codes, numeric, 9), rng


def test_pattern_and_row_paths_equal_the_dense_matrix():
    x, dense, rng = _coded_problem()
    rows = CodedMatrix(x.codes, x.numeric, x.n_dummy)
    rows.__dict__["patterns"] = None  # force the row-wise kernels
    assert x.patterns is not None and x.patterns.size == 24 and x.patterns.codes.shape == (24, 3)
    w, coef, b = rng.uniform(0.5, 2, len(dense)), rng.normal(size=(11, 3)), rng.normal(size=(len(dense), 2))
    for m in (x, rows):
        np.testing.assert_allclose(m @ coef, dense @ coef, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m.T @ b, dense.T @ b, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(m.gram(w), (dense * w[:, None]).T @ dense, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("refine", [False, True])
def test_pattern_residual_equals_the_dense_projection(refine):
    from personacal.calibrate._linearization import LeastSquares, Projection

    x, dense, rng = _coded_problem()
    d = rng.uniform(0.5, 3, len(dense))
    d[:7] = 0.0  # rows with c = 0 keep no influence
    g = rng.uniform(0.6, 1.5, len(dense))
    z = rng.normal(size=(len(dense), 4))
    root = np.sqrt(d)
    coded = Projection(design=x, g=g, factor=root, row_scale=root)
    plain = Projection(design=dense * root[:, None], g=g, factor=root)
    for p in (coded, plain):
        p.__dict__["_least_squares"] = dataclasses.replace(LeastSquares.of(p.design, p.row_scale), refine=refine)
    expected = plain.apply(z)
    np.testing.assert_allclose(coded.apply(z), expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    assert np.all(coded.apply(z)[:7] == 0)


@pytest.mark.parametrize("calfun", ["linear", "raking", "logit"])
def test_fused_newton_passes_follow_the_dense_iteration(calfun):
    from personacal.calibrate._newton_kernel import CALIBRATION_FUNCTIONS, newton_calibrate

    x, dense, rng = _coded_problem(n=3000, seed=11)
    rows = CodedMatrix(x.codes, x.numeric, x.n_dummy)
    rows.__dict__["patterns"] = None
    d = rng.uniform(1, 3, len(dense))
    truth = np.exp(0.2 * np.sin(dense[:, 9]) + 0.05 * (dense[:, 10] - 2))  # a smooth g inside (0.5, 2)
    totals = dense.T @ (d * truth)
    lower = np.where(np.arange(len(dense)) % 2, 0.5, 0.4)  # per-unit bounds on half the runs
    for lo in (0.5, lower):
        fits = [newton_calibrate(m, d, totals, CALIBRATION_FUNCTIONS[calfun], lo, 2.0, population=totals[:3].sum(),
                                 tol=1e-11, max_iter=50) for m in (dense, x, rows)]
        for g, n_iter, _, error, _ in fits:
            assert error <= 1e-11 and n_iter == fits[0][1]
            np.testing.assert_allclose(g, fits[0][0], rtol=1e-9)
        assert x.patterns is not None
