"""poststratify_answers: hand-checked weighted shares, recovery of a known truth from a skewed ANES panel, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _anes_panel import anes_panel, with_truth

from personacal.calibrate import Margins
from personacal.errors import DistributionError, InputError, MismatchError, MissingValueError
from personacal.evaluate import PoststratifiedAnswers, poststratify_answers


def _answers(rows):
    return pd.DataFrame(rows, columns=["persona_id", "question_id", "option", "probability"])


@pytest.fixture
def two_regions():
    """Region A: a1 (M, group x, yes=1), a2 (F, y, yes=.2); region B: b1 (M, x, yes=.5), b2 (F, x, yes=0)."""
    personas = pd.DataFrame({
        "persona_id": ["a1", "a2", "b1", "b2"],
        "region": ["A", "A", "B", "B"],
        "sex": ["M", "F", "M", "F"],
        "grp": ["x", "y", "x", "x"],
    })
    answers = _answers([
        ("a1", "q", "yes", 1.0),  # a1 has no "no" row: it counts as 0
        ("a2", "q", "yes", 0.2), ("a2", "q", "no", 0.8),
        ("b1", "q", "yes", 0.5), ("b1", "q", "no", 0.5),
        ("b2", "q", "yes", 0.0), ("b2", "q", "no", 1.0),
    ])
    targets = {"A": Margins({"sex": {"M": 3.0, "F": 1.0}}), "B": Margins({"sex": {"M": 1.0, "F": 1.0}})}
    return answers, personas, targets


def _share(result, region, option="yes", **groups):
    d = result.distributions
    mask = (d["region"] == region) & (d["option"] == option)
    for column, value in groups.items():
        mask &= d[column] == value
    (value,) = d.loc[mask, "probability_weighted"].to_numpy()
    (raw,) = d.loc[mask, "probability_raw"].to_numpy()
    return value, raw


def test_weighted_shares_by_hand(two_regions):
    answers, personas, targets = two_regions
    res = poststratify_answers(answers, personas, targets)
    assert isinstance(res, PoststratifiedAnswers)
    # Raking on sex gives weights a1=3, a2=1, b1=1, b2=1.
    np.testing.assert_allclose(res.weights.loc[["a1", "a2", "b1", "b2"]], [3, 1, 1, 1], rtol=1e-9)
    np.testing.assert_allclose(_share(res, "A"), ((3 * 1 + 1 * 0.2) / 4, 0.6))
    np.testing.assert_allclose(_share(res, "A", option="no"), ((1 * 0.8) / 4, 0.4))
    np.testing.assert_allclose(_share(res, "B"), (0.25, 0.25))
    np.testing.assert_allclose(_share(res, "(all)"), ((3 + 0.2 + 0.5) / 6, (1 + 0.2 + 0.5) / 4))
    diag = res.diagnostics.set_index("region")
    np.testing.assert_allclose(diag.loc[["A", "B", "(all)"], "ess"], [16 / 10, 2, 36 / 12])
    np.testing.assert_allclose(diag.loc[["A", "B", "(all)"], "weight_ratio"], [3, 1, 3])
    assert diag["converged"].all()


def test_groups_by_hand(two_regions):
    answers, personas, targets = two_regions
    res = poststratify_answers(answers, personas, targets, group="grp")
    np.testing.assert_allclose(_share(res, "A", grp="x"), (1.0, 1.0))
    np.testing.assert_allclose(_share(res, "A", grp="y"), (0.2, 0.2))
    np.testing.assert_allclose(_share(res, "A", grp="(all)"), (0.8, 0.6))
    np.testing.assert_allclose(_share(res, "(all)", grp="x"), ((3 + 0.5) / 5, 1.5 / 3))
    np.testing.assert_allclose(_share(res, "(all)", grp="y"), (0.2, 0.2))
    d = res.distributions
    # B has no persona in group y: no row for it (rather than a made-up 0 or NaN).
    assert d[(d["region"] == "B") & (d["grp"] == "y")].empty
    assert d.loc[(d["region"] == "(all)") & (d["grp"] == "x") & (d["option"] == "yes"), "n_personas"].item() == 3


def test_failed_answers_leave_the_base_only(two_regions):
    answers, personas, targets = two_regions
    personas = pd.concat([personas, pd.DataFrame({"persona_id": ["a3"], "region": ["A"], "sex": ["M"], "grp": ["x"]})])
    answers = pd.concat([answers, _answers([("a3", "q", "yes", np.nan), ("a3", "q", "no", np.nan)])])
    res = poststratify_answers(answers, personas, targets)
    # Weights: a1 = a3 = 1.5, a2 = 1; a3's failed answer leaves only a1 and a2 in the base.
    np.testing.assert_allclose(_share(res, "A"), ((1.5 * 1 + 1 * 0.2) / 2.5, 0.6))
    assert res.failed.to_dict("records") == [{"persona_id": "a3", "question_id": "q"}]
    assert "failed" in res.summary().as_text()


def test_design_weights_and_poststratify_by_hand(two_regions):
    answers, personas, _ = two_regions
    personas = personas.assign(d=[2.0, 1.0, 1.0, 1.0])
    strata = {"A": pd.Series({"M": 3.0, "F": 1.0}).rename_axis("sex"),
              "B": pd.Series({"M": 1.0, "F": 1.0}).rename_axis("sex")}
    res = poststratify_answers(answers, personas, strata, method="poststratify", weights="d")
    np.testing.assert_allclose(_share(res, "A"), (0.8, (2 * 1 + 1 * 0.2) / 3))
    np.testing.assert_allclose(res.weights.to_numpy(), [3, 1, 1, 1])


def test_single_pool_and_personas_from_answers():
    answers = _answers([("p1", "q", "yes", 1.0), ("p1", "q", "no", 0.0),
                        ("p2", "q", "yes", 0.0), ("p2", "q", "no", 1.0)])
    answers["sex"] = ["M", "M", "F", "F"]
    res = poststratify_answers(answers, None, Margins({"sex": {"M": 1.0, "F": 4.0}}), by=None)
    np.testing.assert_allclose(_share(res, "(all)"), (0.2, 0.5))
    assert list(res.diagnostics["region"]) == ["(all)"]


def test_summary_and_frame_show_diagnostics_beside_estimates(two_regions):
    answers, personas, targets = two_regions
    res = poststratify_answers(answers, personas, targets)
    frame = res.to_frame()
    assert {"ess", "design_effect", "weight_ratio", "probability_raw", "probability_weighted"} <= set(frame.columns)
    np.testing.assert_allclose(frame.loc[frame["region"] == "A", "ess"], 1.6)
    text = res.summary().as_text()
    assert "Diagnostics of the weights per region" in text and "design_effect" in text


# ------------------------------------------------------------------ recovery of a known truth
@pytest.fixture(scope="module")
def panel():
    return anes_panel()


@pytest.mark.parametrize("method", ["rake", "poststratify"])
def test_recovers_full_sample_party_shares(panel, method):
    targets = panel.rake_targets() if method == "rake" else panel.strata_targets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # replicates that lose a rare stratum are reported, not errors
        res = poststratify_answers(panel.answers, panel.personas, targets, method=method, interval_method="bootstrap",
                                   n_boot=150, random_state=11)
    d = with_truth(res.distributions, panel.truth)
    national = d[d["region"] == "(all)"]
    regional = d[d["region"] != "(all)"]
    # The panel over-represents White and college respondents: raw shares lean Republican.
    dem = national.set_index("option")
    assert dem.loc["Democrat", "probability_raw"] < dem.loc["Democrat", "truth"] - 0.04
    assert national["error_weighted"].mean() < national["error_raw"].mean() / 3
    assert regional["error_weighted"].mean() < regional["error_raw"].mean() / 2
    covered = (d["ci_low"] <= d["truth"]) & (d["truth"] <= d["ci_high"])
    assert covered[national.index].all()
    assert covered[regional.index].sum() >= 10  # of 12 region x option intervals at 95%
    # Weighting costs precision: the effective sample is smaller than the panel.
    diag = res.diagnostics.set_index("region")
    assert (diag["ess"] < diag["n_personas"]).all()
    assert (diag["design_effect"] > 1).all()


def test_fixed_weight_bootstrap_covers_truth(panel):
    res = poststratify_answers(panel.answers, panel.personas, panel.rake_targets(), interval_method="fixed", n_boot=300,
                               random_state=5)
    d = with_truth(res.distributions, panel.truth)
    national = d[d["region"] == "(all)"]
    assert ((national["ci_low"] <= national["truth"]) & (national["truth"] <= national["ci_high"])).all()
    assert (d["ci_low"] <= d["probability_weighted"]).all() and (d["probability_weighted"] <= d["ci_high"]).all()
    assert "held fixed" in res.summary().as_text()


# ------------------------------------------------------------------------------- errors
def test_unknown_persona_raises(two_regions):
    answers, personas, targets = two_regions
    extra = pd.concat([answers, _answers([("zz", "q", "yes", 1.0)])])
    with pytest.raises(MismatchError, match=r"persona_id\(s\) missing from `personas`: \['zz'\]"):
        poststratify_answers(extra, personas, targets)


def test_partial_nan_and_bad_sums_raise(two_regions):
    answers, personas, targets = two_regions
    partial = answers.copy()
    partial.loc[1, "probability"] = np.nan
    with pytest.raises(DistributionError, match="NaN probabilities for some options only"):
        poststratify_answers(partial, personas, targets)
    off = answers.copy()
    off.loc[1, "probability"] = 0.5
    with pytest.raises(DistributionError, match=r"persona_id='a2', question_id='q' sums to 1.3"):
        poststratify_answers(off, personas, targets)


def test_argument_errors(two_regions):
    answers, personas, targets = two_regions
    with pytest.raises(InputError, match=r"`method` of poststratify_answers must be one of"):
        poststratify_answers(answers, personas, targets, method="ipw")
    with pytest.raises(InputError, match=r"`interval_method` of poststratify_answers must be one of 'auto', "
                                         r"'linearization', 'bootstrap', 'fixed' or None; got 'bca'"):
        poststratify_answers(answers, personas, targets, interval_method="bca")
    with pytest.raises(InputError, match=r"mapping of regions but `by` is None"):
        poststratify_answers(answers, personas, targets, by=None)
    with pytest.raises(InputError, match=r"`weights` of poststratify_answers are not used by method='mrp'"):
        poststratify_answers(answers, personas, pd.Series(dtype=float), method="mrp", weights="d")
    with pytest.raises(InputError, match=r"`personas` of poststratify_answers lacks column\(s\) \['sex'\]"):
        poststratify_answers(answers, personas.drop(columns="sex"), targets)
    with pytest.raises(InputError, match=r"lists persona_id \['a1'\] more than once"):
        poststratify_answers(answers, pd.concat([personas, personas.iloc[:1]]), targets)
    with pytest.raises(InputError, match=r"has two rows for persona_id='a1', question_id='q', option='yes'"):
        poststratify_answers(pd.concat([answers, answers.iloc[:1]]), personas, targets)
    missing = personas.assign(sex=["M", None, "M", "F"])
    with pytest.raises(MissingValueError, match=r"column 'sex' of `personas`"):
        poststratify_answers(answers, missing, targets)


def test_domain_whose_personas_all_weigh_zero_is_nan(two_regions):
    answers, personas, _ = two_regions
    strata = {"A": pd.Series({"M": 4.0, "F": 0.0}).rename_axis("sex"),
              "B": pd.Series({"M": 1.0, "F": 1.0}).rename_axis("sex")}
    res = poststratify_answers(answers, personas, strata, method="poststratify", group="grp")
    # a2 (the only persona of group y in A) gets weight 0: no weighted answer there, raw one kept.
    value, raw = _share(res, "A", grp="y")
    assert np.isnan(value) and raw == pytest.approx(0.2)
    d = res.distributions
    assert d.loc[d["grp"] == "y", "standard_error"].isna().all()
    assert np.isfinite(d.loc[(d["region"] == "B") & (d["grp"] == "x"), "standard_error"]).all()
    assert res.estimate("q", region="A")["n_personas"].max() == 2
    with pytest.raises(KeyError, match="no question 'nope'"):
        res.estimate("nope")


# ------------------------------------------------------------------ design-based (linearised) intervals
def _deterministic(personas, column):
    """Every persona answers its own value of ``column`` with probability 1."""
    return pd.DataFrame({"persona_id": personas["persona_id"], "question_id": column,
                         "option": personas[column].astype(str), "probability": 1.0})


@pytest.fixture(scope="module")
def schools():
    """R survey's apistrat as personas: region = school type, answers = sch.wide (deterministic)."""
    import r_survey as ref

    data = ref.load_design_data("strat")
    return data.assign(persona_id=[f"s{i}" for i in range(len(data))], region=data["stype"],
                       size=np.where(data["enroll"] > 500, "big", "small"))


def test_linearised_se_equals_the_survey_design_estimate(schools):
    """The shares' SEs are those of SurveyDesign(strata=region).poststratify(region x size).mean(...):
    two code paths (sparse share influence by region vs the public estimator) must agree."""
    from personacal.calibrate import SurveyDesign

    counts = schools.groupby(["region", "size"])["pw"].sum() * 1.1  # population counts off the sample's
    targets = {r: counts.loc[r].rename_axis("size") for r in ["E", "H", "M"]}
    res = poststratify_answers(_deterministic(schools, "sch.wide"), schools, targets, method="poststratify",
                               weights="pw")
    assert res.interval_method == "linearization" and "Taylor linearisation" in res.summary().as_text()
    design = SurveyDesign(schools, weights="pw", strata="region").poststratify(counts)
    for region, group in [("E", "E"), ("(all)", None)]:
        ours = res.estimate("sch.wide", region=region).set_index("option")
        ref_table = design.mean("sch.wide", group="region" if group else None).table
        if group:
            ref_table = ref_table[ref_table["region"] == group]
        ref_table = ref_table.set_index("category")
        np.testing.assert_allclose(ours.loc[["No", "Yes"], "probability_weighted"], ref_table.loc[["No", "Yes"],
                                   "estimate"], rtol=1e-12)
        np.testing.assert_allclose(ours.loc[["No", "Yes"], "standard_error"], ref_table.loc[["No", "Yes"], "se"],
                                   rtol=1e-10)
    assert (res.distributions["ci_low"] >= 0).all() and (res.distributions["ci_high"] <= 1).all()


def test_linearised_intervals_cover_the_panel_truth(panel):
    res = poststratify_answers(panel.answers, panel.personas, panel.rake_targets())
    d = with_truth(res.distributions, panel.truth)
    national = d[d["region"] == "(all)"]
    assert ((national["ci_low"] <= national["truth"]) & (national["truth"] <= national["ci_high"])).all()
    covered = (d["ci_low"] <= d["truth"]) & (d["truth"] <= d["ci_high"])
    assert covered[d["region"] != "(all)"].sum() >= 10  # of 12 region x option intervals at 95%
    boot = poststratify_answers(panel.answers, panel.personas, panel.rake_targets(), interval_method="bootstrap",
                                n_boot=200, random_state=3)
    ratio = res.distributions["standard_error"] / boot.distributions["standard_error"]
    assert 0.7 < float(np.median(ratio)) < 1.3  # two estimators of the same sampling variance


def test_recompute_is_the_old_name_of_bootstrap(two_regions):
    answers, personas, targets = two_regions
    with pytest.warns(DeprecationWarning, match=r"'recompute' of poststratify_answers is now called 'bootstrap'"):
        res = poststratify_answers(answers, personas, targets, interval_method="recompute", n_boot=20, random_state=1)
    assert res.interval_method == "bootstrap" and res.n_boot == 20
    assert poststratify_answers(answers, personas, targets, interval_method=None).interval_method is None
