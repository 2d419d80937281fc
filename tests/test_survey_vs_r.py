"""Survey-design kernels against R survey 4.1.1 (R 4.2.2).

Reference numbers: ``tests/results/r_survey_reference.R`` -> ``tests/results/r_survey/``
(see ``tests/results/README_survey.md``). Each case is replayed with the kernels by
``tests/_survey_cases.py``. Bars: weights and estimates 1e-8 relative, standard
errors 1e-6 relative. Standard errors that are zero by construction (the mean of a
variable the weights were calibrated on) are noise in R (1e-18 .. 1e-9 of the
estimate); there both sides must stay below 1e-8 of the estimate.
"""

from __future__ import annotations

import numpy as np
import pytest
import r_survey as ref
from _survey_cases import _codes, design_arrays, estimates, replay

from personacal.calibrate._design_variance import design_vcov, stage_sample_sizes
from personacal.calibrate._greg import calibrate_g, check_feasible, poststratify_weights, unit_bounds
from personacal.calibrate._replicates import bootstrap_replicates, jk1_replicates, jkn_replicates, make_replicates
from personacal.errors import EmptyCategoryError, InfeasibleBoundsError, InputError

WEIGHT_RTOL = 1e-8
ESTIMATE_RTOL = 1e-8
SE_RTOL = 1e-6
STRUCTURAL_ZERO = 1e-8  # SE below this fraction of |estimate|: zero by construction

#: R rescales badly scaled design weights before applying bounds (tested on its own below).
RESCALED = "a15_badcal_raking_bounded"
#: One JK1 replicate of this case does not converge in R (which only warns); tested on its own below.
REPLICATE_FAILURE = "r09_jk1_clus1_trim"
WEIGHT_CASES = [c for c in ref.list_cases() if c != RESCALED]
ESTIMATE_CASES = [c for c in ref.list_cases() if len(ref.load_estimates(c)) and c != REPLICATE_FAILURE]


def test_reference_suite_size():
    assert len(ref.list_cases()) + len(ref.list_cases(refusals=True)) >= 80
    assert len(ESTIMATE_CASES) >= 60


@pytest.mark.parametrize("case_id", WEIGHT_CASES)
def test_weights_match_r(case_id):
    state, _, _ = replay(case_id)
    np.testing.assert_allclose(state.weights, ref.load_weights(case_id), rtol=WEIGHT_RTOL, atol=0)


@pytest.mark.parametrize("case_id", ESTIMATE_CASES)
def test_estimates_and_standard_errors_match_r(case_id):
    table = estimates(case_id)
    np.testing.assert_allclose(table["ours"], table["estimate"], rtol=ESTIMATE_RTOL, atol=0)
    zero = table["se"] < STRUCTURAL_ZERO * table["estimate"].abs()
    np.testing.assert_allclose(table.loc[~zero, "our_se"], table.loc[~zero, "se"], rtol=SE_RTOL, atol=0)
    assert (table.loc[zero, "our_se"] < STRUCTURAL_ZERO * table.loc[zero, "estimate"].abs()).all()


def test_replicate_nonconvergence_is_reported_like_r():
    state, case, _ = replay(REPLICATE_FAILURE)
    assert case["replicate_nonconverged"] == 1
    assert len(state.replicate_failures) == case["replicate_nonconverged"]


def test_bounds_after_r_rescaling():
    """grake multiplies d by mean(T / X'd) when every ratio exceeds 20, then bounds g; so R's answer is
    ours on the rescaled design weights."""
    data = ref.load_design_data("badcal")
    x = ref.load_x(RESCALED).to_numpy(float)
    totals = ref.load_totals(RESCALED)["value"].to_numpy(float)
    d = data["weight"].to_numpy(float)
    ratios = totals / (x.T @ d)
    assert ratios.min() > 20
    scaled = d * ratios.mean()
    fit = calibrate_g(x, scaled, totals, calfun="raking", lower=0.8, upper=1.5, tol=1e-13, max_iter=200)
    assert fit.converged
    np.testing.assert_allclose(scaled * fit.g, ref.load_weights(RESCALED), rtol=WEIGHT_RTOL)


def test_calibrated_totals_have_zero_linearised_se():
    """The total of a calibration variable is fixed by the weights, so its variance is 0."""
    table = estimates("a01_strat_linear_stype_api99")
    stype = table[(table["variable"].str.startswith("stype")) & (table["by"] == "")]
    assert (stype["our_se"] < 1e-12).all()


@pytest.mark.parametrize("design", ["strat", "clus1", "clus2", "clus2a", "lonely"])
def test_stage_sample_sizes_match_r(design):
    data = ref.load_design_data(design)
    arrays = design_arrays(data)
    np.testing.assert_array_equal(stage_sample_sizes(arrays["strata"], arrays["clusters"]), arrays["sampsize"])


@pytest.mark.parametrize("name", ["jk1_clus1", "jk1_clus1_nofpc", "jk1_clus2"])
def test_jk1_replicates_match_r(name):
    mult, scale, rscales, meta = ref.load_replicates(name)
    data = ref.load_design_data(meta["design"])
    popsize = data["popsize1"].to_numpy(float) if "popsize1" in data else None
    ours = jk1_replicates(data["cluster1"].to_numpy(), popsize)
    np.testing.assert_allclose(ours.multipliers, mult, rtol=1e-15)
    assert ours.scale == pytest.approx(scale, rel=1e-15)
    np.testing.assert_array_equal(ours.rscales, rscales)


@pytest.mark.parametrize("name", ["jkn_strat", "jkn_strat_nofpc"])
def test_jkn_replicates_match_r(name):
    mult, scale, rscales, meta = ref.load_replicates(name)
    data = ref.load_design_data(meta["design"])
    popsize = data["popsize1"].to_numpy(float) if "popsize1" in data else None
    ours = jkn_replicates(data["strata1"].to_numpy(), data["cluster1"].to_numpy(), popsize)
    np.testing.assert_allclose(ours.multipliers, mult, rtol=1e-15)
    assert ours.scale == scale
    np.testing.assert_allclose(ours.rscales, rscales, rtol=1e-15)


@pytest.mark.parametrize("name", ["boot_clus1", "boot_clus1_nofpc", "boot_strat"])
def test_bootstrap_replicates_follow_r_rules(name):
    """R's draws cannot be reproduced (different RNG); its scale and the shape of its draws can."""
    mult, scale, _, meta = ref.load_replicates(name)
    data = ref.load_design_data(meta["design"])
    popsize = data["popsize1"].to_numpy(float) if "popsize1" in data else None
    strata, psu = data["strata1"].to_numpy(), data["cluster1"].to_numpy()
    ours = bootstrap_replicates(strata, psu, popsize, replicates=mult.shape[1], random_state=7)
    assert ours.scale == pytest.approx(scale, rel=1e-14)
    again = bootstrap_replicates(strata, psu, popsize, replicates=mult.shape[1], random_state=7)
    np.testing.assert_array_equal(ours.multipliers, again.multipliers)
    first = np.unique(_codes(strata.astype(str) + "|" + psu.astype(str)), return_index=True)[1]
    for table in (mult, ours.multipliers):
        per_psu = table[first]
        for h in np.unique(strata[first]):
            members = strata[first] == h
            # every replicate draws exactly n_h PSUs in stratum h
            np.testing.assert_array_equal(per_psu[members].sum(axis=0), members.sum())


def test_refusals_cover_r():
    assert len(ref.list_cases(refusals=True)) == 10


def _calibration_inputs(case_id):
    case = ref.case_spec(case_id)
    data = ref.load_design_data(case["design"])
    x = ref.load_x(case_id)
    totals = ref.load_totals(case_id).set_index("cell")["value"]
    return case, data, x, totals


@pytest.mark.parametrize("case_id", ["x01_strat_bounds_const_infeasible", "x04_clus1_linear_bounds_too_tight",
                                     "x11_kalton_upper_only_infeasible"])
def test_infeasible_bounds_raise_like_r_refuses(case_id):
    case, data, x, totals = _calibration_inputs(case_id)
    assert case["error"] == "Calibration failed"
    spec = case["steps"][0]
    d = data["weight"].to_numpy(float)
    lo, hi = unit_bounds(float(spec["bounds"]["lower"]), float(spec["bounds"]["upper"]), d,
                         on_weights=spec["bounds_const"])
    target = totals.reindex(x.columns).to_numpy(float)
    fit = calibrate_g(x.to_numpy(float), d, target, calfun=spec["calfun"], lower=lo, upper=hi, tol=1e-10,
                      max_iter=200)
    assert not fit.converged
    with pytest.raises(InfeasibleBoundsError, match="no weights within the bounds meet"):
        check_feasible(x.to_numpy(float), d, target, lo, hi, names=list(x.columns))


def test_feasible_bounds_pass_the_check():
    case, data, x, totals = _calibration_inputs("a05_clus1_linear_bounded_stype_api99")
    check_feasible(x.to_numpy(float), data["weight"].to_numpy(float), totals.reindex(x.columns).to_numpy(float),
                   0.6, 1.6)


def test_logit_without_finite_bounds_refused():
    case, data, x, totals = _calibration_inputs("x02_clus1_logit_infinite_bounds")
    assert "finite bounds" in case["error"]
    with pytest.raises(InputError, match="needs finite bounds"):
        calibrate_g(x.to_numpy(float), data["weight"].to_numpy(float), totals.reindex(x.columns).to_numpy(float),
                    calfun="logit")


def test_raking_to_a_zero_total_refused():
    case, data, x, totals = _calibration_inputs("x08_clus1_raking_zero_target")
    with pytest.raises(InputError, match=r"keeps every weight positive.*stypeH"):
        calibrate_g(x.to_numpy(float), data["weight"].to_numpy(float), totals.reindex(x.columns).to_numpy(float),
                    calfun="raking", names=list(x.columns))


def test_wrong_number_of_totals_refused():
    case, data, x, totals = _calibration_inputs("x09_clus1_wrong_length_totals")
    assert "not the same length" in case["error"]
    with pytest.raises(InputError, match="needs x"):
        calibrate_g(x.to_numpy(float), data["weight"].to_numpy(float), totals.to_numpy(float), calfun="raking")


def test_poststratify_missing_strata_refused_unless_partial():
    case = ref.case_spec("x03_clus1_poststratify_missing_strata")
    assert "partial=TRUE" in case["error"]
    data = ref.load_design_data("clus1")
    table = ref.load_totals(case["id"])
    position = {c: i for i, c in enumerate(table["cell"])}
    codes = data["cname"].astype(str).map(position).to_numpy()
    w = data["weight"].to_numpy(float)
    with pytest.raises(EmptyCategoryError, match="partial=True"):
        poststratify_weights(w, codes, table["value"].to_numpy(float), labels=list(table["cell"]))
    partial = poststratify_weights(w, codes, table["value"].to_numpy(float), partial=True)
    np.testing.assert_allclose(partial, ref.load_weights("d03_clus1_poststratify_partial"), rtol=1e-12)


def test_lonely_psu_fail_refused():
    case = ref.case_spec("x05_lonely_fail")
    assert "only one PSU" in case["error"]
    data = ref.load_design_data("lonely")
    w = data["weight"].to_numpy(float)
    z = (w * (data["api00"].to_numpy(float) - np.average(data["api00"], weights=w)) / w.sum())[:, None]
    with pytest.raises(InputError, match="has only one PSU at stage 1"):
        design_vcov(z, **design_arrays(data), lonely_psu="fail")


@pytest.mark.parametrize("case_id, kind, stratified, message", [
    ("x06_jk1_stratified", "JK1", True, "unstratified designs"),
    ("x07_jkn_unstratified", "JKn", False, "need strata"),
])
def test_replicate_kind_refused_like_r(case_id, kind, stratified, message):
    case = ref.case_spec(case_id)
    data = ref.load_design_data(case["design"])
    strata = data["strata1"].to_numpy() if stratified else None
    with pytest.raises(InputError, match=message):
        make_replicates(kind, data["cluster1"].to_numpy(), strata=strata)
