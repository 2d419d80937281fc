"""Bad input gets a typed error that names the culprit; never a false "converged"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.calibrate import Margins, calibrate, ipf, min_distance, poststratify, rake, trim
from personacal.errors import (
    CalibrationError,
    CategoryTypeError,
    ConvergenceError,
    ConvergenceWarning,
    EmptyCategoryError,
    InfeasibleBoundsError,
    InputError,
    InvalidValueError,
    MarginTotalsError,
    MissingValueError,
    PersonacalError,
    StructuralInfeasibilityError,
    UnknownCategoryError,
)


@pytest.fixture
def sample():
    # 3 × 2 design with every cell occupied; hand-made so the cells are known.
    a = ["x"] * 5 + ["y"] * 3 + ["z"] * 2
    b = ["p", "q", "p", "q", "p", "q", "p", "q", "p", "q"]
    return pd.DataFrame({"a": a, "b": b})


@pytest.fixture
def margins():
    return Margins({"a": {"x": 30, "y": 30, "z": 40}, "b": {"p": 50, "q": 50}})


def test_errors_share_one_hierarchy_with_codes():
    for cls in (MarginTotalsError, EmptyCategoryError, UnknownCategoryError, InvalidValueError,
                MissingValueError, StructuralInfeasibilityError, InfeasibleBoundsError):
        assert issubclass(cls, CalibrationError) and issubclass(cls, ValueError)
        assert cls.code and cls.code != CalibrationError.code


def test_convergence_error_is_not_an_input_error():
    # a fit that stops short is not bad input: its own branch of PersonacalError
    assert issubclass(ConvergenceError, PersonacalError) and issubclass(ConvergenceError, RuntimeError)
    assert not issubclass(ConvergenceError, InputError) and not issubclass(ConvergenceError, ValueError)
    assert ConvergenceError.code == "not-converged"


def test_margin_totals_disagree():
    with pytest.raises(MarginTotalsError, match=r"'a' = 100.*'b' = 90.*rescale_to"):
        Margins({"a": {"x": 50, "y": 50}, "b": {"p": 45, "q": 45}})


def test_margin_totals_rescaled_explicitly():
    m = Margins({"a": {"x": 50, "y": 50}, "b": {"p": 45, "q": 45}}, rescale_to="a")
    assert m["b"].tolist() == [50.0, 50.0]


def test_shares_need_an_explicit_total_and_sum_to_one():
    m = Margins.from_shares({"a": {"x": 0.25, "y": 0.75}, "b": {"p": 0.5, "q": 0.5}}, total=200)
    assert m["a"].tolist() == [50.0, 150.0]
    with pytest.raises(MarginTotalsError, match=r"shares of margin 'a' sum to 0.9.*normalize=True"):
        Margins.from_shares({"a": {"x": 0.2, "y": 0.7}}, total=10)


def test_multiway_margin_must_agree_with_one_way():
    joint = pd.Series([20, 30, 25, 25], index=pd.MultiIndex.from_product([["x", "y"], ["p", "q"]], names=["a", "b"]))
    with pytest.raises(MarginTotalsError, match=r"'a:b' and 'a' disagree on a = 'x'"):
        Margins({("a", "b"): joint, "a": {"x": 40, "y": 60}})


@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf])
def test_invalid_target_values(bad):
    with pytest.raises(InvalidValueError, match=r"margin 'a' has NaN, negative or infinite totals: 'y'="):
        Margins({"a": {"x": 1.0, "y": bad}})


def test_target_category_without_sample_rows(sample):
    m = Margins({"a": {"x": 30, "y": 30, "z": 30, "w": 10}})
    with pytest.raises(EmptyCategoryError, match=r"margin 'a' has target\(s\) for \[\"a='w'\"\] but no sample rows"):
        rake(sample, m)


def test_sample_category_absent_from_targets(sample):
    m = Margins({"a": {"x": 50, "y": 50}})
    with pytest.raises(UnknownCategoryError, match=r"column 'a' has categories absent from the targets: 'z'"):
        rake(sample, m)


def test_string_one_does_not_silently_match_int_one():
    sample = pd.DataFrame({"k": [1, 2, 1, 2]})
    m = Margins({"k": {"1": 5.0, "2": 5.0}})
    with pytest.raises(CategoryTypeError, match=r"column 'k' holds number values such as 1 but the margins use str"):
        rake(sample, m)


def test_nan_in_calibration_column(margins):
    sample = pd.DataFrame({"a": ["x", "y", None, "z"], "b": ["p", "q", "p", "q"]})
    with pytest.raises(MissingValueError, match=r"column 'a' has 1 missing value"):
        rake(sample, margins)


def test_nan_in_categorical_column(margins):
    sample = pd.DataFrame({"a": pd.Categorical(["x", "y", None, "z"]), "b": ["p", "q", "p", "q"]})
    with pytest.raises(MissingValueError, match=r"column 'a' has 1 missing value"):
        rake(sample, margins)


@pytest.mark.parametrize("bad", [np.nan, -2.0, np.inf])
def test_bad_design_weights(sample, margins, bad):
    d = np.ones(len(sample))
    d[3] = bad
    with pytest.raises(InvalidValueError, match=r"`weights` of rake has 1 NaN, negative or infinite value"):
        rake(sample, margins, weights=d)


def test_structural_infeasibility_named(margins):
    # Only cells (x,p), (y,q), (z,q): 'p' can only come from 'x', but x = 30 and p = 50.
    sample = pd.DataFrame({"a": ["x", "y", "z"], "b": ["p", "q", "q"]})
    with pytest.raises(StructuralInfeasibilityError, match=r"Conflicting margin cells: .*'a' = 'x'|'b' = 'p'"):
        rake(sample, margins)


def test_ipf_zero_seed_support_is_structural():
    seed = pd.Series([1.0, 0.0, 0.0, 0.0], index=pd.MultiIndex.from_product([["x", "y"], ["p", "q"]], names=["a", "b"]))
    m = Margins({"a": {"x": 5, "y": 5}})
    with pytest.raises(StructuralInfeasibilityError, match=r"margin 'a' has positive targets for \(a='y'\)"):
        ipf(seed, m)


def test_infeasible_bounds_named(sample, margins):
    with pytest.raises(InfeasibleBoundsError, match=r"no weights with 0.9 <= g <= 1.1.*'a' = '") as info:
        calibrate(sample, margins, method="raking", bounds=(0.9, 1.1))
    assert info.value.conflicting


def test_bounds_need_not_contain_one_but_must_be_reachable(sample, margins):
    """R puts no L <= 1 <= U rule on g; bounds that no weights can meet are named with the cells they break."""
    with pytest.raises(InfeasibleBoundsError, match=r"no weights with 1.2 <= g <= 3 meet every target.*'a' = 'z'"):
        calibrate(sample, margins, bounds=(1.2, 3))


@pytest.mark.parametrize("bounds, match", [
    ((2, 1), r"`bounds` of calibrate must have L <= U"),
    ((np.nan, 2), r"must not be NaN"),
    ((0.5,), r"`bounds` of calibrate must be a pair"),
    (("a", 2), r"per-unit `bounds` of calibrate must hold numbers"),
    (("nope", 2), r"`bounds` of calibrate names column 'nope'"),
])
def test_malformed_bounds_are_input_errors(sample, margins, bounds, match):
    with pytest.raises(InputError, match=match) as info:
        calibrate(sample, margins, bounds=bounds)
    assert not isinstance(info.value, InfeasibleBoundsError)


def test_logit_needs_finite_bounds(sample, margins):
    with pytest.raises(InputError, match=r"method='logit' of calibrate needs finite bounds"):
        calibrate(sample, margins, method="logit")


def test_nonconvergence_raises_by_default(sample, margins):
    with pytest.raises(ConvergenceError, match=r"rake did not converge within 1 iterations.*worst cell") as info:
        rake(sample, margins, max_iter=1)
    assert info.value.result is not None and info.value.result.converged is False


def test_nonconvergence_warn_keeps_last_iterate(sample, margins):
    with pytest.warns(ConvergenceWarning, match=r"did not converge"):
        result = rake(sample, margins, max_iter=1, on_nonconvergence="warn")
    assert result.converged is False
    assert result.max_margin_error > result.tol
    assert "NOT CONVERGED" in str(result.summary())
    # The reported error is that of the returned weights, not of the start.
    assert result.max_margin_error == pytest.approx(result.margin_errors["rel_error"].max(), rel=1e-12)


@pytest.mark.parametrize("n", [30, 200])
def test_nonconvergence_error_describes_returned_weights_on_both_paths(n):
    """n=30 rows over a 4 × 10 grid rakes units (numba); n=200 collapses to cells.

    Row i falls in cell (i mod 4, i mod 10): a and b share parity, and the
    targets below give each parity class 500, so they are reachable.
    """
    i = np.arange(n)
    sample = pd.DataFrame({"a": np.array(list("xyzw"))[i % 4], "b": np.array(list("pqrstuvklm"))[i % 10]})
    targets = Margins({"a": {"x": 300, "y": 300, "z": 200, "w": 200},
                       "b": dict(zip("pqrstuvklm", [190, 10, 180, 20, 70, 130, 30, 170, 30, 170]))})
    d = 1.0 + i % 7  # uneven design weights: one sweep cannot finish
    with pytest.warns(ConvergenceWarning):
        result = rake(sample, targets, weights=d, max_iter=1, on_nonconvergence="warn")
    assert result.max_margin_error == pytest.approx(result.margin_errors["rel_error"].max(), rel=1e-12)


@pytest.mark.parametrize("method", ["raking", "logit"])
def test_a_newton_step_no_halving_rescues_stops_at_the_last_good_iterate(method):
    """Two units with design weight 1e-12 must carry 1e6 (g ~ 1e18, exp(u) with u ~ 41): the first
    Newton step in u is ~5e17, and even halved 40 times it overflows exp(). The kernel used to take
    the 41st halving without evaluating it, returning infinite weights and a NaN error after one
    iteration; now it keeps the last finite iterate (the design weights) and says it missed."""
    sample = pd.DataFrame({"a": ["x"] * 5 + ["y"] * 2, "b": ["u", "v", "u", "v", "u", "v", "u"]})
    d = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1e-12, 1e-12])
    targets = Margins({"a": {"x": 5.0, "y": 1e6}, "b": {"u": 5e5, "v": 5e5 + 5}})
    bounds = None if method == "raking" else (1e-3, 1e30)
    with pytest.raises(ConvergenceError, match=r"did not converge .*max relative margin error 1 > tol") as info:
        calibrate(sample, targets, method=method, weights=d, bounds=bounds, max_iter=100)
    result = info.value.result
    w = result.weights.to_numpy()
    assert np.isfinite(w).all() and result.n_iter < 100  # stopped, rather than spinning to max_iter
    # Reference: the error recomputed here from the returned weights, margin by margin.
    errors = []
    for variable in ("a", "b"):
        achieved = pd.Series(w).groupby(sample[variable].to_numpy()).sum()
        target = targets[variable]
        errors.append((achieved.reindex(target.index) - target).abs() / target)
    assert result.max_margin_error == pytest.approx(float(pd.concat(errors).max()), rel=1e-12)
    assert result.max_margin_error == pytest.approx(1.0, abs=1e-6)  # the y units still carry ~2e-12 of 1e6


def test_min_distance_names_conflicts_and_returns_closest(sample, margins):
    with pytest.raises(InfeasibleBoundsError, match=r"Conflicting margin cells"):
        min_distance(sample, margins, bounds=(0.95, 1.05))
    closest = min_distance(sample, margins, bounds=(0.95, 1.05), on_infeasible="closest")
    assert closest.converged is False
    assert "conflicting margin cells" in closest.notes[0]
    g = closest.g.to_numpy()
    assert g.min() >= 0.95 - 1e-9 and g.max() <= 1.05 + 1e-9


def test_trim_infeasible_cap_named(sample, margins):
    with pytest.raises(InfeasibleBoundsError, match=r"no weights in \[0, 11\] meet every target"):
        trim(sample, margins, max_weight=11)


def test_poststratify_empty_and_unknown_strata(sample):
    table = pd.Series({"x": 50.0, "y": 50.0}).rename_axis("a")
    with pytest.raises(UnknownCategoryError, match=r"'z'"):
        poststratify(sample, table)
    table = pd.Series({"x": 40.0, "y": 40.0, "z": 10.0, "w": 10.0}).rename_axis("a")
    with pytest.raises(EmptyCategoryError, match=r"a='w'"):
        poststratify(sample, table)


def test_missing_column(sample):
    with pytest.raises(InputError, match=r"margins name column\(s\) \['c'\] that the sample lacks"):
        rake(sample, Margins({"c": {"1": 3.0}}))


def test_by_region_unknown_and_empty_regions(sample, margins):
    sample = sample.assign(state=["CA"] * 5 + ["WY"] * 5)
    with pytest.raises(UnknownCategoryError, match=r"regions without margins: \['WY'\]"):
        rake(sample, {"CA": margins}, by="state")
    with pytest.raises(EmptyCategoryError, match=r"region\(s\) \['TX'\] that have no sample rows"):
        rake(sample, {"CA": margins, "WY": margins, "TX": margins}, by="state")


def test_bad_options(sample, margins):
    # One message shape: "`<param>` of <func> must be <constraint>; got <value>".
    with pytest.raises(InputError, match=r"^`tol` of rake must be a finite number > 0; got 0$"):
        rake(sample, margins, tol=0)
    with pytest.raises(InputError, match=r"^`max_iter` of ipf must be an int >= 1; got 2.5$"):
        ipf(pd.Series([1.0, 2.0], index=pd.Index(["x", "y"], name="a")), Margins({"a": {"x": 1, "y": 2}}),
            max_iter=2.5)
    with pytest.raises(InputError, match=r"^`on_nonconvergence` of rake must be one of 'raise', 'warn'; got 'ignore'$"):
        rake(sample, margins, on_nonconvergence="ignore")
    with pytest.raises(InputError, match=r"^`method` of calibrate must be one of 'linear', 'logit', 'raking'; "
                                         r"got 'probit'$"):
        calibrate(sample, margins, method="probit")
    with pytest.raises(InputError, match=r"^`sample` of rake must be a pandas DataFrame; got \[1, 2\]$"):
        rake([1, 2], margins)
    with pytest.raises(InputError, match=r"^`margins` of rake must be a personacal.calibrate.Margins \(wrap a dict "
                                         r"with Margins\(\{...\}\)\); got \{'a': \{'x': 1\}\}$"):
        rake(sample, {"a": {"x": 1}})
    with pytest.raises(InputError, match=r"^`distance` of min_distance must be one of 'chi2', 'entropy'; got 'l1'$"):
        min_distance(sample, margins, distance="l1")
    with pytest.raises(InputError, match=r"^`max_ratio` of trim must be a finite number > 1 or None; got 1$"):
        trim(sample, margins, max_ratio=1)
    with pytest.raises(InputError, match=r"^`table` of poststratify must be a pandas Series of population counts"):
        poststratify(sample, {"a": 1})


def test_input_is_never_modified(sample, margins):
    before = sample.copy()
    d = np.linspace(5, 15, len(sample))
    d_before = d.copy()
    rake(sample, margins, weights=d)
    calibrate(sample, margins, method="logit", bounds=(0.2, 5), weights=d)
    pd.testing.assert_frame_equal(sample, before)
    np.testing.assert_array_equal(d, d_before)
