"""The public survey API (SurveyDesign, calibrate/rake/poststratify/trim, design.mean/total) against R survey.

Same references as tests/test_survey_vs_r.py (R 4.2.2, survey 4.1.1, files under
tests/results/r_survey/), but every case is redone the way a user would do it
(tests/_survey_public.py): a SurveyDesign from the columns of R's ``svydesign``
call, Margins of categories and numeric totals, the weighting functions, and the
estimate methods. Bars: weights and estimates 1e-8 relative, SEs 1e-6 relative;
SEs that are zero by construction below 1e-8 of the estimate on both sides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import r_survey as ref
from _survey_public import NOT_PUBLIC, base_design, margins_from_r, public_design, public_estimates, sample_frame

from personacal.calibrate import Margins, SurveyDesign, calibrate, poststratify
from personacal.errors import (
    EmptyCategoryError,
    InfeasibleBoundsError,
    InputError,
    SurveyDesignError,
    UnknownCategoryError,
)

WEIGHT_RTOL = 1e-8
ESTIMATE_RTOL = 1e-8
SE_RTOL = 1e-6
STRUCTURAL_ZERO = 1e-8
RESCALED = "a15_badcal_raking_bounded"
REPLICATE_FAILURE = "r09_jk1_clus1_trim"
CASES = [c for c in ref.list_cases() if c not in NOT_PUBLIC and c != RESCALED]
ESTIMATE_CASES = [c for c in CASES if len(ref.load_estimates(c))]


def test_public_suite_covers_the_reference_suite():
    assert len(CASES) >= 75 and len(ESTIMATE_CASES) >= 65
    groups = {ref.case_spec(c)["group"] for c in ESTIMATE_CASES}
    assert groups >= {"numeric", "bounds", "trim", "poststratify", "cluster", "rake", "lonely", "replicate", "plain"}


@pytest.mark.parametrize("case_id", CASES)
def test_weights_match_r(case_id):
    design = public_design(case_id)
    np.testing.assert_allclose(design.weights.to_numpy(), ref.load_weights(case_id), rtol=WEIGHT_RTOL, atol=0)


@pytest.mark.parametrize("case_id", ESTIMATE_CASES)
def test_estimates_and_standard_errors_match_r(case_id):
    table = public_estimates(case_id)
    np.testing.assert_allclose(table["ours"], table["estimate"], rtol=ESTIMATE_RTOL, atol=0)
    if case_id == REPLICATE_FAILURE:
        return  # R keeps a non-converged replicate's last iterate; see the test below
    zero = table["se"] < STRUCTURAL_ZERO * table["estimate"].abs()
    np.testing.assert_allclose(table.loc[~zero, "our_se"], table.loc[~zero, "se"], rtol=SE_RTOL, atol=0)
    assert (table.loc[zero, "our_se"] < STRUCTURAL_ZERO * table.loc[zero, "estimate"].abs()).all()


def test_replicate_that_does_not_converge_is_reported():
    case = ref.case_spec(REPLICATE_FAILURE)
    with pytest.warns(Warning, match=r"1 of 15 replicates did not converge"):
        design = base_design(REPLICATE_FAILURE).with_replicates("JK1")
        data = design.data
        margins = margins_from_r(REPLICATE_FAILURE, data)
        design = calibrate(design, margins, bounds=(0.5, 2), trim=(2 / 3, 1.5), tol=1e-13, max_iter=1000).design
    assert case["replicate_nonconverged"] == 1
    assert "1 replicate(s) did not converge" in str(design.summary())
    estimate = design.mean("api00")
    assert estimate.interval_method == "JK1" and "did not converge" in estimate.notes[0]


def test_r_rescaling_case_is_named_and_reproducible():
    """R's grake rescales d by mean(T / X'd) before bounding g when every ratio exceeds 20; we name it."""
    data = sample_frame(RESCALED)
    margins = margins_from_r(RESCALED, data)
    with pytest.raises(InfeasibleBoundsError, match=r"over 20 times its design-weighted estimate"):
        calibrate(SurveyDesign(data, weights="weight"), margins, method="raking", bounds=(0.8, 1.5))
    x = ref.load_x(RESCALED).to_numpy(float)  # R's model matrix: the mean ratio is taken over its columns
    ratio = float(np.mean(ref.load_totals(RESCALED)["value"].to_numpy(float) / (x.T @ data["weight"].to_numpy())))
    assert ratio == pytest.approx(91.6667, rel=1e-5)
    fit = calibrate(SurveyDesign(data.assign(w=data["weight"] * ratio), weights="w"), margins, method="raking",
                    bounds=(0.8, 1.5), tol=1e-13, max_iter=200)
    np.testing.assert_allclose(fit.weights, ref.load_weights(RESCALED), rtol=WEIGHT_RTOL)


# ----------------------------------------------------------------- R's refusals: typed errors
def _refusal(case_id):
    case = ref.case_spec(case_id)
    return case, base_design(case_id), sample_frame(case_id)


@pytest.mark.parametrize("case_id", ["x01_strat_bounds_const_infeasible", "x04_clus1_linear_bounds_too_tight",
                                     "x11_kalton_upper_only_infeasible"])
def test_unreachable_bounds_raise_infeasible_bounds(case_id):
    case, design, data = _refusal(case_id)
    assert case["error"] == "Calibration failed"
    spec = case["steps"][0]
    bounds = (float(spec["bounds"]["lower"]), float(spec["bounds"]["upper"]))
    with pytest.raises(InfeasibleBoundsError, match=r"no weights within the bounds meet every population total") as e:
        calibrate(design, margins_from_r(case_id, data), method=spec["calfun"], bounds=bounds,
                  bounds_on="weights" if spec["bounds_const"] else "g")
    assert e.value.conflicting


def test_logit_with_infinite_bounds_refused():
    case, design, data = _refusal("x02_clus1_logit_infinite_bounds")
    assert "finite bounds" in case["error"]
    with pytest.raises(InputError, match=r"method='logit' of calibrate needs finite bounds"):
        calibrate(design, margins_from_r(case["id"], data), method="logit")
    with pytest.raises(InputError, match=r"needs finite bounds"):
        calibrate(design, margins_from_r(case["id"], data), method="logit", bounds=(0.5, None))


def test_poststratify_without_partial_refused():
    case, design, data = _refusal("x03_clus1_poststratify_missing_strata")
    rows = ref.load_totals(case["id"])
    table = pd.Series(rows["value"].to_numpy(float), index=pd.Index(rows["cell"], name="cname"))
    with pytest.raises(EmptyCategoryError, match=r"partial=True"):
        poststratify(design, table)
    partial = poststratify(design, table, partial=True)
    np.testing.assert_allclose(partial.weights, ref.load_weights("d03_clus1_poststratify_partial"), rtol=1e-12)
    assert "partial=True" in partial.notes[0]


def test_lonely_psu_fail_refused_at_estimation():
    case, design, _ = _refusal("x05_lonely_fail")
    assert "only one PSU" in case["error"]
    with pytest.raises(SurveyDesignError, match=r"has only one PSU at stage 1"):
        design.mean("api00")


@pytest.mark.parametrize("case_id, kind, match", [
    ("x06_jk1_stratified", "JK1", "unstratified designs"),
    ("x07_jkn_unstratified", "JKn", "need strata"),
])
def test_replicate_kind_refused(case_id, kind, match):
    _, design, _ = _refusal(case_id)
    with pytest.raises(SurveyDesignError, match=match):
        design.with_replicates(kind)


def test_raking_to_a_zero_total_refused():
    case, design, data = _refusal("x08_clus1_raking_zero_target")
    margins = margins_from_r(case["id"], data)
    assert margins["stype"]["H"] == 0
    with pytest.raises(InputError, match=r"keeps every weight positive.*stype = H"):
        calibrate(design, margins, method="raking")


def test_totals_missing_a_category_refused():
    """R: 'Population and sample totals are not the same length.' Here: the category without a total is named."""
    _, design, _ = _refusal("x09_clus1_wrong_length_totals")
    with pytest.raises(UnknownCategoryError, match=r"column 'stype' has categories absent from the targets: 'M'"):
        calibrate(design, Margins({"stype": {"E": 5439, "H": 755}}), method="raking")


def _readme_block(heading: str) -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index(heading):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```", start)]


def test_readme_example_mirrors_r_calibrate_help(monkeypatch):
    """README "Survey designs and standard errors" runs and gives R's ?calibrate numbers (dclus1g3 and friends)."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    namespace: dict = {}
    exec(_readme_block("## Survey designs and standard errors"), namespace)  # noqa: S102 - our own README
    r = ref.load_estimates("a02_clus1_linear_stype_api99")
    overall = r.query("variable == 'api00' and by == ''")
    assert namespace["api00"].estimate.iloc[0] == pytest.approx(overall["estimate"].iloc[0], rel=1e-10)
    assert namespace["api00"].se.iloc[0] == pytest.approx(overall["se"].iloc[0], rel=1e-8)
    assert round(namespace["api00"].estimate.iloc[0], 2) == 665.31 and round(namespace["api00"].se.iloc[0], 4) == 3.4418
    by_type = namespace["by_type"].set_index("stype")
    r_by = r.query("variable == 'api00' and by == 'stype'").set_index("group")
    np.testing.assert_allclose(by_type.loc[r_by.index, "se"], r_by["se"], rtol=1e-8)
    np.testing.assert_allclose(namespace["logit"].weights, ref.load_weights("a04_clus1_logit_stype_api99"), rtol=1e-8)
    r_jk1 = ref.load_estimates("r05_jk1_clus1_linear").query("variable == 'api00' and by == ''")
    assert namespace["jk1"].se.iloc[0] == pytest.approx(r_jk1["se"].iloc[0], rel=1e-8)
