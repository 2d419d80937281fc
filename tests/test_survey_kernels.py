"""Survey-design kernels on small problems whose answers are known in closed form.

The comparison with R is tests/test_survey_vs_r.py; these pin down textbook
identities (SRS variance, the jackknife of a mean), hand-worked trimming and
lonely-PSU rules, and the least-squares residual against NumPy's SVD solver.
"""

from __future__ import annotations

import numpy as np
import pytest

from personacal.calibrate._design_variance import design_vcov, stage_sample_sizes
from personacal.calibrate._greg import (
    calibrate_g,
    cluster_mean,
    poststratify_weights,
    trim_g,
    trim_weights,
    unit_bounds,
)
from personacal.calibrate._linearization import least_squares_residual, mean_influence, residualize, total_influence
from personacal.calibrate._replicates import (
    jk1_replicates,
    jkn_replicates,
    replicate_means,
    replicate_vcov,
)
from personacal.errors import ConvergenceError, InputError, UnknownCategoryError


def _lstsq_residual(a, b):
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return b - a @ coef


@pytest.mark.parametrize("kind", ["full_rank", "collinear", "badly_scaled"])
def test_least_squares_residual_matches_svd(kind, rng):
    n = 500
    a = rng.normal(size=(n, 4))
    if kind == "collinear":  # an intercept plus a full set of dummies, as in a categorical margin
        codes = rng.integers(0, 3, n)
        a = np.column_stack([np.ones(n), *(codes == j for j in range(3)), rng.normal(size=n)]).astype(float)
    if kind == "badly_scaled":
        a[:, 1] *= 1e6
        a[:, 2] = a[:, 2] * 1e-4 + 600
    b = rng.normal(size=(n, 3))
    np.testing.assert_allclose(least_squares_residual(a, b), _lstsq_residual(a, b), atol=1e-10)


def test_srs_without_replacement_variance(rng):
    """Simple random sample of n from N: Var(total) = N² (1 − n/N) s² / n."""
    n, big_n = 40, 1000
    y = rng.normal(10, 3, n)
    w = np.full(n, big_n / n)
    _, z = total_influence(y, w)
    v = design_vcov(z, np.zeros(n, int), np.arange(n), np.full(n, n), np.full(n, big_n))
    assert v[0, 0] == pytest.approx(big_n**2 * (1 - n / big_n) * np.var(y, ddof=1) / n, rel=1e-12)


def test_stratified_variance_adds_strata(rng):
    y = rng.normal(size=30)
    strata = np.repeat([0, 1, 2], 10)
    w = np.repeat([5.0, 8.0, 2.0], 10)
    _, z = total_influence(y, w)
    both = design_vcov(z, strata, np.arange(30), np.full(30, 10))[0, 0]
    parts = sum(10 * np.var(z[strata == h, 0], ddof=1) for h in range(3))
    assert both == pytest.approx(parts, rel=1e-12)


@pytest.mark.parametrize("rule", ["certainty", "remove", "adjust", "average"])
def test_lonely_psu_rules(rule):
    z = np.array([[1.0], [3.0], [10.0], [7.0]])
    strata = np.array([0, 0, 1, 2])  # strata 1 and 2 have one PSU each
    sampsize = np.array([2, 2, 1, 1])
    v = design_vcov(z, strata, np.arange(4), sampsize, lonely_psu=rule)[0, 0]
    regular = 2 * ((1 - 2) ** 2 + (3 - 2) ** 2)  # n/(n-1) Σ (t - t̄)² in stratum 0
    expected = {"certainty": regular, "remove": regular, "adjust": regular + 10**2 + 7**2,
                "average": regular * 3 / 1}[rule]
    assert v == pytest.approx(expected)


def test_clustered_variance_uses_psu_totals():
    z = np.array([[1.0], [2.0], [4.0], [8.0], [16.0]])
    clusters = np.array([0, 0, 1, 1, 2])
    v = design_vcov(z, np.zeros(5, int), clusters, np.full(5, 3))[0, 0]
    totals = np.array([3.0, 12.0, 16.0])
    assert v == pytest.approx(3 * np.var(totals, ddof=1))


def test_stage_sample_sizes_counts_clusters_per_stratum():
    strata = np.array([0, 0, 0, 1, 1])
    clusters = np.array([5, 5, 6, 7, 8])
    np.testing.assert_array_equal(stage_sample_sizes(strata, clusters)[:, 0], [2, 2, 2, 2, 2])


def test_jackknife_of_a_mean_is_the_srs_variance(rng):
    """The delete-one jackknife variance of a sample mean is exactly s² / n."""
    y = rng.normal(size=25)
    reps = jk1_replicates(np.arange(25))
    thetas = replicate_means(y, reps.multipliers)
    v = replicate_vcov(thetas, [y.mean()], reps.scale, reps.rscales)
    assert v[0, 0] == pytest.approx(np.var(y, ddof=1) / 25, rel=1e-12)


def test_jkn_lonely_stratum_rules():
    strata = np.array([0, 0, 1])
    with pytest.raises(InputError, match="only one PSU"):
        jkn_replicates(strata, np.arange(3))
    removed = jkn_replicates(strata, np.arange(3), lonely_psu="remove")
    assert removed.n_replicates == 2
    averaged = jkn_replicates(strata, np.arange(3), lonely_psu="average")
    assert averaged.scale == pytest.approx(3 / 2)
    adjusted = jkn_replicates(strata, np.arange(3), lonely_psu="adjust")
    np.testing.assert_array_equal(adjusted.multipliers[:, 2], [2.0, 2.0, 0.0])


def test_trim_weights_one_pass_and_strict():
    w = np.array([1.0, 4.5, 10.0, 2.0])
    once, rounds = trim_weights(w, upper=5.0)
    # 5 trimmed from the 10, +5/3 to each of the other three (one of which then exceeds 5)
    np.testing.assert_allclose(once, [1 + 5 / 3, 4.5 + 5 / 3, 5.0, 2 + 5 / 3])
    assert rounds == 1
    strict, rounds = trim_weights(w, upper=5.0, strict=True)
    assert strict.max() <= 5.0 and strict.sum() == pytest.approx(w.sum())
    assert rounds > 1
    with pytest.raises(ConvergenceError, match="passes"):
        trim_weights(w, upper=5.0, strict=True, max_rounds=2)
    with pytest.raises(InputError, match="cannot all lie in"):
        trim_weights(w, upper=4.0, strict=True)  # 4 weights summing to 17.5 cannot all be <= 4
    with pytest.raises(InputError, match="every weight lies outside"):
        trim_weights(w, lower=20.0, upper=30.0)


def test_trim_g_spreads_in_proportion_to_d():
    g, trimmed = trim_g(np.array([0.5, 1.0, 3.0]), np.array([2.0, 2.0, 1.0]), 0.8, 2.0)
    # trimmed amount: (0.5 - 0.8)·2 + (3 - 2)·1 = 0.4, given to the middle unit (d = 2): +0.2
    np.testing.assert_allclose(g, [0.8, 1.2, 2.0])
    assert trimmed == 2


def test_unit_bounds_on_weights_divide_by_d():
    lo, hi = unit_bounds(10.0, [30.0, np.inf, 40.0], np.array([5.0, 0.0, 20.0]), on_weights=True)
    np.testing.assert_allclose(lo, [2.0, 10.0, 0.5])
    np.testing.assert_allclose(hi, [6.0, np.inf, 2.0])


def test_cluster_mean():
    np.testing.assert_allclose(cluster_mean(np.array([1.0, 3.0, 10.0]), np.array([0, 0, 1])), [2.0, 2.0, 10.0])


def test_closed_form_equals_newton_with_loose_bounds(rng):
    n = 300
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.gamma(2.0, 5.0, n)])
    d = rng.uniform(1, 3, n)
    totals = x.T @ (d * rng.uniform(0.8, 1.2, n))
    closed = calibrate_g(x, d, totals)
    newton = calibrate_g(x, d, totals, lower=-1e9, upper=1e9, tol=1e-13)
    np.testing.assert_allclose(closed.g, newton.g, rtol=1e-10)
    np.testing.assert_allclose(x.T @ (d * closed.g), totals, rtol=1e-12)


def test_negative_totals_calibrate(rng):
    n = 200
    x = np.column_stack([np.ones(n), rng.normal(-5.0, 1.0, n)])
    d = np.full(n, 2.0)
    totals = x.T @ (d * rng.uniform(0.9, 1.1, n))
    assert totals[1] < 0
    fit = calibrate_g(x, d, totals, calfun="raking", tol=1e-12)
    assert fit.converged
    np.testing.assert_allclose(x.T @ (d * fit.g), totals, rtol=1e-10)


def test_calibration_variables_have_zero_residual(rng):
    """After calibrating on x, the total of any linear combination of x has no variance left."""
    n = 120
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    d = rng.uniform(1, 2, n)
    fit = calibrate_g(x, d, x.T @ d * 1.1, calfun="raking", tol=1e-12)
    _, z = total_influence(x @ np.array([2.0, -3.0]), d * fit.g)
    assert np.abs(residualize(z, [fit.projection])).max() < 1e-9


def test_mean_influence_is_zero_outside_the_domain(rng):
    y = rng.normal(size=10)
    domain = np.arange(10) < 4
    mean, z = mean_influence(y, np.ones(10), domain)
    assert mean[0] == pytest.approx(y[:4].mean())
    assert (z[~domain] == 0).all() and z[domain].sum() == pytest.approx(0.0, abs=1e-12)


def test_poststratify_rejects_sample_strata_without_population():
    with pytest.raises(UnknownCategoryError, match=r"\['c'\]"):
        poststratify_weights(np.ones(3), np.array([0, 1, 2]), np.array([5.0, 5.0, np.nan]), labels=["a", "b", "c"])


def test_poststratify_zero_count_gives_weight_zero():
    """A listed count of 0 is a count (R reweights by 0/Σw); only a missing count is an error."""
    w = poststratify_weights(np.ones(4), np.array([0, 0, 1, 2]), np.array([6.0, 0.0, 3.0]))
    np.testing.assert_array_equal(w, [3.0, 3.0, 0.0, 3.0])
