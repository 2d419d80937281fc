"""The survey-design API beyond the R replays: Margins with numeric totals, inputs, errors, invariances.

Expected values come from R (tests/results/r_survey/), from hand computations, or
from an identity that two different code paths must satisfy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import r_survey as ref

from personacal.calibrate import Margins, SurveyDesign, calibrate, min_distance, poststratify, rake, trim
from personacal.errors import (
    InputError,
    InvalidValueError,
    MarginTotalsError,
    MissingValueError,
    SurveyDesignError,
)

STYPE = {"E": 4421, "H": 755, "M": 1018}
API99 = 3_914_069


@pytest.fixture(scope="module")
def clus1():
    return ref.load_design_data("clus1")


@pytest.fixture(scope="module")
def strat():
    return ref.load_design_data("strat")


@pytest.fixture(scope="module")
def margins():
    return Margins({"stype": STYPE}, totals={"api99": API99})


# ----------------------------------------------------------------- Margins with numeric totals
def test_margins_hold_numeric_totals_beside_categories(margins):
    assert list(margins.numeric.index) == ["api99"] and margins.numeric["api99"] == API99
    assert margins.auxiliaries == ("stype", "api99") and len(margins) == 1 and margins.total == 6194
    assert repr(margins) == "<Margins: stype, api99 (numeric); total 6,194>"
    back = Margins.from_long(margins.to_long())
    pd.testing.assert_series_equal(back.numeric, margins.numeric)
    pd.testing.assert_series_equal(back["stype"], margins["stype"])
    assert Margins(margins, name="CA").numeric.equals(margins.numeric)


def test_numeric_only_margins_and_population():
    ratio = Margins(totals={"enroll": 3_811_472})
    assert np.isnan(ratio.total) and ratio.population is None
    greg = Margins(totals={"api99": API99}, population=6194)
    assert greg.total == 6194
    assert Margins.from_long(greg.to_long()).population == 6194
    with pytest.raises(MarginTotalsError, match=r"`population` of Margins is 6,000 but the margins sum to 6,194"):
        Margins({"stype": STYPE}, population=6000)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(margins={"stype": STYPE}, totals={"stype": 1.0}), InputError, r"both a categorical margin and a numeric"),
    (dict(totals={"api99": np.inf}), InvalidValueError, r"`totals` of Margins must be finite"),
    (dict(totals={"api99": "many"}), InvalidValueError, r"non-numeric"),
    (dict(totals=[1, 2]), InputError, r"must be a mapping"),
    (dict(), InputError, r"non-empty mapping"),
])
def test_margins_reject_bad_numeric_totals(kwargs, error, match):
    with pytest.raises(error, match=match):
        Margins(**kwargs)


# ----------------------------------------------------------------- numeric auxiliaries without a design
def test_calibrate_a_dataframe_with_numeric_totals_equals_r(strat, margins):
    result = calibrate(strat, margins, weights="pw", tol=1e-13)
    np.testing.assert_allclose(result.weights, ref.load_weights("a01_strat_linear_stype_api99"), rtol=1e-8)
    table = result.to_frame().set_index(["margin", "category"])
    assert table.loc[("api99", "(total)"), "achieved"] == pytest.approx(API99, rel=1e-12)
    assert result.design is None


@pytest.mark.parametrize("with_design", [False, True])
def test_changing_a_result_s_weights_changes_neither_its_design_nor_the_input(strat, margins, with_design):
    frame = strat.copy()
    sample = SurveyDesign(frame, weights="pw") if with_design else frame
    result = calibrate(sample, margins, weights=None if with_design else "pw", method="logit", bounds=(0.5, 2.0))
    input_weights = frame["pw"].to_numpy().copy()
    weights, table = result.weights.to_numpy().copy(), result.to_frame()
    result.weights.iloc[:] = -1.0
    result.design_weights.iloc[:] = -1.0
    assert np.array_equal(frame["pw"].to_numpy(), input_weights)
    pd.testing.assert_frame_equal(result.to_frame(), table)
    if with_design:
        assert np.array_equal(result.design.weights.to_numpy(), weights)
        assert np.array_equal(sample.weights.to_numpy(), input_weights)


def test_min_distance_meets_numeric_totals_like_bounded_linear_calibration(clus1, margins):
    """chi-square distance with bounds (0.6, 1.6) is R's truncated linear calibration (a05)."""
    result = min_distance(clus1, margins, weights="pw", bounds=(0.6, 1.6))
    np.testing.assert_allclose(result.weights, ref.load_weights("a05_clus1_linear_bounded_stype_api99"), rtol=2e-6)
    assert result.margin_errors["rel_error"].max() < 1e-6


def test_numeric_column_problems_are_named(clus1, margins):
    with pytest.raises(InputError, match=r"column 'api99' has a numeric total but holds str"):
        calibrate(clus1.assign(api99="x"), margins, weights="pw")
    with pytest.raises(MissingValueError, match=r"column 'api99' has 1 missing"):
        calibrate(clus1.assign(api99=clus1["api99"].where(clus1.index != 3)), margins, weights="pw")
    with pytest.raises(InputError, match=r"rake takes categorical margins only"):
        rake(clus1, margins)
    with pytest.raises(InputError, match=r"`cluster=True` of calibrate means the PSUs of a SurveyDesign"):
        calibrate(clus1, margins, cluster=True)


def test_one_sided_bounds_are_accepted_and_hold(clus1, margins):
    result = calibrate(clus1, margins, weights="pw", bounds=(None, 1.6))  # unbounded g reaches 1.83
    assert result.g.max() == pytest.approx(1.6) and result.g.min() < 0.5 and result.converged
    on_weights = calibrate(clus1, margins, weights="pw", bounds=(20, 60), bounds_on="weights")
    assert on_weights.weights.between(20 - 1e-9, 60 + 1e-9).all()
    assert "on w" in str(on_weights.summary())


# ----------------------------------------------------------------- building designs
def test_design_weights_from_fpc_equal_r(clus1):
    data = ref.load_design_data("clus2")
    design = SurveyDesign(data, clusters=["dnum", "snum"], fpc=["popsize1", "popsize2"])
    np.testing.assert_allclose(design.weights, data["weight"], rtol=1e-14)
    assert design.stages == 2 and design.n_psu == 40


def test_fpc_as_fraction_or_population_size_agree(clus1):
    size = SurveyDesign(clus1, weights="pw", clusters="dnum", fpc="popsize1")
    fraction = SurveyDesign(clus1.assign(f=15 / clus1["popsize1"]), weights="pw", clusters="dnum", fpc="f")
    a, b = size.total("api.stu").table, fraction.total("api.stu").table
    assert a["se"].iloc[0] == pytest.approx(b["se"].iloc[0], rel=1e-12)
    plain = SurveyDesign(clus1, weights="pw", clusters="dnum").total("api.stu").table
    assert plain["se"].iloc[0] > a["se"].iloc[0]  # no finite population correction


@pytest.mark.parametrize("change, kwargs, error, match", [
    (None, dict(strata="stype", clusters="cname"), SurveyDesignError, r"clusters are not nested in strata"),
    ("vary", dict(strata="stype", fpc="popsize1"), SurveyDesignError, r"varies within a stratum"),
    ("small", dict(strata="stype", fpc="popsize1"), SurveyDesignError, r"implies a population of 10 PSUs"),
    ("missing", dict(strata="stype"), MissingValueError, r"strata column 'stype' has 1 missing"),
    (None, dict(strata="nope"), SurveyDesignError, r"`strata` of SurveyDesign names column 'nope'"),
    (None, dict(lonely_psu="drop"), InputError, r"`lonely_psu` of SurveyDesign must be one of"),
])
def test_design_problems_are_typed_errors(strat, change, kwargs, error, match):
    data = strat.copy()
    if change == "vary":
        data.loc[data.index[0], "popsize1"] += 1
    elif change == "small":
        data["popsize1"] = 10.0
    elif change == "missing":
        data["stype"] = data["stype"].where(data.index != 5)
    with pytest.raises(error, match=match):
        SurveyDesign(data, weights="pw", **kwargs)


def test_nest_makes_repeated_cluster_labels_distinct(strat):
    design = SurveyDesign(strat, weights="pw", strata="stype", clusters="cname", nest=True)
    assert design.n_psu == strat.groupby("stype")["cname"].nunique().sum()


# ----------------------------------------------------------------- estimates
def test_estimate_table_labels_and_intervals(clus1, margins):
    design = calibrate(SurveyDesign(clus1, weights="pw", clusters="dnum", fpc="popsize1"), margins).design
    result = design.mean(["api00", "sch.wide"], group="stype", level=0.9)
    table = result.to_frame()
    assert list(table.columns) == ["statistic", "variable", "category", "stype", "estimate", "se", "ci_low",
                                   "ci_high"]
    assert len(table) == 9 and result.labels[1] == "sch.wide=No | stype=E"
    np.testing.assert_allclose(table["ci_high"] - table["estimate"], 1.6448536269514722 * table["se"], rtol=1e-12)
    assert repr(result).startswith("<SurveyEstimate statistic='mean', estimates=9, interval_method='linearization'")
    text = str(result.summary())
    assert "Taylor linearisation" in text and "15 PSUs" in text
    assert "survey design" in str(calibrate(design, margins).summary())


def test_proportion_reads_numbers_as_categories_and_na_rm_makes_a_domain(clus1):
    design = SurveyDesign(clus1, weights="pw", clusters="dnum", fpc="popsize1")
    shares = design.proportion("stype").table
    np.testing.assert_allclose(shares["estimate"].sum(), 1.0)
    assert design.proportion("dnum").table["estimate"].sum() == pytest.approx(1.0)
    holes = clus1.assign(api00=clus1["api00"].where(clus1["stype"] != "H"))
    gappy = SurveyDesign(holes, weights="pw", clusters="dnum", fpc="popsize1")
    with pytest.raises(MissingValueError, match=r"pass na_rm=True"):
        gappy.mean("api00")
    domain = design.mean("api00", group="stype").table
    not_h = gappy.mean("api00", na_rm=True).table
    subset = SurveyDesign(clus1, weights=clus1["pw"].where(clus1["stype"] != "H", 0.0), clusters="dnum",
                          fpc="popsize1")
    assert not_h["estimate"].iloc[0] == pytest.approx(subset.mean("api00").table["estimate"].iloc[0], rel=1e-12)
    assert domain.shape[0] == 3


def test_replicates_made_after_weighting_equal_replicates_weighted_along(clus1, margins):
    design = SurveyDesign(clus1, weights="pw", clusters="dnum", fpc="popsize1")
    before = calibrate(design.with_replicates("JK1"), margins, method="raking").design
    after = calibrate(design, margins, method="raking").design.with_replicates("JK1")
    np.testing.assert_allclose(before.replicate_weights, after.replicate_weights, rtol=1e-10)
    assert before.mean("api00").interval_method == "JK1"
    assert after.mean("api00", interval_method="linearization").interval_method == "linearization"
    with pytest.raises(SurveyDesignError, match=r"needs replicate weights"):
        design.mean("api00", interval_method="replicate")


def test_bootstrap_replicates_are_reproducible(strat):
    design = SurveyDesign(strat, weights="pw", strata="stype", fpc="popsize1")
    a = design.with_replicates("bootstrap", replicates=30, random_state=3).mean("api00").table
    b = design.with_replicates("bootstrap", replicates=30, random_state=3).mean("api00").table
    pd.testing.assert_frame_equal(a, b)
    linear = design.mean("api00").table["se"].iloc[0]
    assert 0.6 * linear < a["se"].iloc[0] < 1.6 * linear


def test_linearized_vcov_of_mean_influence_is_the_mean_se(clus1, margins):
    design = calibrate(SurveyDesign(clus1, weights="pw", clusters="dnum", fpc="popsize1"), margins).design
    w, y = design.weights.to_numpy(), clus1["api00"].to_numpy(float)
    z = w * (y - np.average(y, weights=w)) / w.sum()
    assert np.sqrt(design.linearized_vcov(z)[0, 0]) == pytest.approx(design.mean("api00").se.iloc[0], rel=1e-12)


# ----------------------------------------------------------------- trimming and post-stratification
def test_additive_trim_by_hand():
    data = pd.DataFrame({"w": [1.0, 2.0, 3.0, 10.0]})
    result = trim(data, rule="additive", upper=6, weights="w")
    # 4 over the limit, shared equally by the three others
    np.testing.assert_allclose(result.weights, [1 + 4 / 3, 2 + 4 / 3, 3 + 4 / 3, 6])
    assert result.method == "trim (additive, one pass)"
    strict = trim(data, rule="additive", upper=4, weights="w", strict=True)
    assert strict.weights.max() <= 4 + 1e-12 and strict.weights.sum() == pytest.approx(16)


def test_trim_rule_arguments_are_checked(clus1, margins):
    design = SurveyDesign(clus1, weights="pw", clusters="dnum")
    with pytest.raises(InputError, match=r"rule='recalibrate' of trim does not record a design step"):
        trim(design, margins, max_ratio=2)
    with pytest.raises(InputError, match=r"rule='additive' of trim .* drop \['margins'\]"):
        trim(design, margins, rule="additive", upper=40)
    with pytest.raises(InputError, match=r"needs `lower` and/or `upper`"):
        trim(design, rule="additive")
    with pytest.raises(InputError, match=r"`rule` of trim must be one of"):
        trim(design, rule="proportional")


def test_by_is_refused_with_a_design(clus1, margins):
    with pytest.raises(SurveyDesignError, match=r"`by` of calibrate is not available with a SurveyDesign"):
        calibrate(SurveyDesign(clus1, weights="pw"), {"x": margins}, by="cname")


def test_poststratify_design_matches_dataframe_weights(clus1):
    table = pd.Series(STYPE, dtype=float).rename_axis("stype")
    plain = poststratify(clus1, table, weights="pw")
    designed = poststratify(SurveyDesign(clus1, weights="pw", clusters="dnum"), table)
    np.testing.assert_allclose(plain.weights, designed.weights, rtol=0)
    assert designed.design.steps == ("poststratify",)
