"""personacal's weights against R survey 4.1.1 and base R loglin (R 4.2.2).

The reference numbers were written by ``tests/results/r_reference.R``; see
``tests/results/README.md`` for the calls, the R versions and the stopping
rules. Bar: relative 1e-8 on every weight / fitted cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import r_reference as ref

from personacal.calibrate import Margins, calibrate, ipf, kish_ess, min_distance, poststratify, rake

RTOL = 1e-8
PROBLEMS = ref.list_problems()


def _problem(name):
    sample, targets, d = ref.load_problem(name)
    return sample.set_index("id"), Margins.from_long(targets), d


def _assert_matches(ours: pd.Series, theirs: pd.Series, rtol=RTOL):
    theirs = theirs.reindex(ours.index)
    assert not theirs.isna().any()
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("name", PROBLEMS)
def test_rake_matches_r_rake(name):
    sample, margins, d = _problem(name)
    result = rake(sample, margins, weights=d, tol=1e-13)
    assert result.converged
    _assert_matches(result.weights, ref.load_r_weights(name, "rake"))


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize(
    "method, r_name, bounded",
    [
        ("linear", "linear", False),
        ("linear", "linear_bounded", True),
        ("raking", "raking", False),
        ("raking", "raking_bounded", True),
        ("logit", "logit_bounded", True),
    ],
)
def test_calibrate_matches_r_calibrate(name, method, r_name, bounded):
    sample, margins, d = _problem(name)
    bounds = ref.load_bounds(name, r_name) if bounded else None
    result = calibrate(sample, margins, method=method, bounds=bounds, weights=d, tol=1e-13)
    assert result.converged
    _assert_matches(result.weights, ref.load_r_weights(name, r_name))
    if bounded:
        g = result.g.to_numpy()
        assert g.min() >= bounds[0] - 1e-12 and g.max() <= bounds[1] + 1e-12


def test_bounds_bind_in_p3():
    """P3 was built so that bounds bind; otherwise the bounded tests would prove little."""
    sample, margins, d = _problem("P3")
    lower, upper = ref.load_bounds("P3", "linear_bounded")
    g = calibrate(sample, margins, method="linear", bounds=(lower, upper), weights=d, tol=1e-13).g
    assert (np.isclose(g, lower)).sum() > 0 and (np.isclose(g, upper)).sum() > 0


@pytest.mark.parametrize("name", PROBLEMS)
def test_bounded_rake_equals_r_bounded_raking(name):
    sample, margins, d = _problem(name)
    bounds = ref.load_bounds(name, "raking_bounded")
    result = rake(sample, margins, weights=d, bounds=bounds, tol=1e-13)
    _assert_matches(result.weights, ref.load_r_weights(name, "raking_bounded"))


@pytest.mark.parametrize("name", [p for p in PROBLEMS if "poststratify" in ref.list_methods(p)])
def test_poststratify_matches_r(name):
    sample, _, d = _problem(name)
    table = Margins.from_long(ref.load_poststrat_targets(name))
    result = poststratify(sample, table, weights=d)
    _assert_matches(result.weights, ref.load_r_weights(name, "poststratify"))


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("distance, r_name", [("chi2", "linear_bounded"), ("entropy", "raking_bounded")])
def test_min_distance_matches_r_bounded_calibration(name, distance, r_name):
    """Convex min-distance with bounds solves the same problem as R's bounded calibration.

    The interior-point solver is accurate to about 1e-7, not 1e-13, hence the looser bar.
    """
    sample, margins, d = _problem(name)
    result = min_distance(sample, margins, distance=distance, bounds=ref.load_bounds(name, r_name), weights=d)
    _assert_matches(result.weights, ref.load_r_weights(name, r_name), rtol=1e-5)


@pytest.mark.parametrize("variant", ["dense", "zeros"])
def test_ipf_matches_r_loglin(variant):
    case = ref.load_loglin(variant)
    seed = case.seed.set_index(list(ref.LOGLIN_VARIABLES))["value"]
    result = ipf(seed, Margins.from_long(case.margins), tol=1e-13)
    assert result.converged
    expected = case.fit.set_index(list(ref.LOGLIN_VARIABLES))["value"]
    _assert_matches(result.table, expected)
    assert (result.table[seed == 0] == 0).all()


def test_ipf_accepts_ndarray_with_axis_names():
    case = ref.load_loglin("dense")
    seed = case.seed.set_index(list(ref.LOGLIN_VARIABLES))["value"]
    levels = {v: sorted(case.seed[v].unique()) for v in ref.LOGLIN_VARIABLES}
    dense = seed.reindex(pd.MultiIndex.from_product(levels.values(), names=list(levels))).to_numpy()
    result = ipf(dense.reshape([len(v) for v in levels.values()]), Margins.from_long(case.margins), dims=levels, tol=1e-13)
    expected = case.fit.set_index(list(ref.LOGLIN_VARIABLES))["value"]
    _assert_matches(result.table, expected)


def test_kish_ess_matches_r():
    sample, margins, d = _problem("P1")
    kish = ref.load_kish()
    result = rake(sample, margins, weights=d, tol=1e-13)
    assert kish_ess(sample[d].to_numpy()) == pytest.approx(kish["design_weights"]["kish_ess"], rel=1e-10)
    assert result.ess == pytest.approx(kish["rake_weights"]["kish_ess"], rel=1e-10)
    assert result.design_effect == pytest.approx(kish["rake_weights"]["deff_kish"], rel=1e-10)
