"""MRP: hand-checked kernels, recovery of a known truth from a skewed ANES panel (PyMC NUTS), errors."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

# PyTensor compiles C on first use (about a minute); keep the compiled modules between runs.
os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={Path.home() / '.cache' / 'personacal-pytensor'}")

import numpy as np
import pandas as pd
import pytest
from _anes_panel import anes_panel, with_truth
from scipy.special import expit, log_expit

from personacal.errors import DiagnosticsWarning, InputError, MismatchError, UnknownCategoryError
from personacal.evaluate import mrp, poststratify_answers
from personacal.calibrate import Margins, reconstruct_joint
from personacal.evaluate._mrp import _joint_series
from personacal.evaluate._mrp_model import cell_probabilities, poststratify_draws, soft_counts


def test_soft_counts_by_hand():
    # Units 0, 1 in cell 0, unit 2 in cell 1; rows (unit, category, p).
    y = soft_counts(np.array([0, 0, 1]), np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 0, 1]),
                    np.array([0.7, 0.3, 1.0, 0.5, 0.5]), n_cells=2, n_categories=2)
    np.testing.assert_allclose(y, [[0.7, 1.3], [0.5, 0.5]])


def test_poststratified_draw_by_hand():
    # One draw; intercept 0; one factor with effects +1 / -1 (category 1 vs baseline 0); cells N = 3 and 1.
    intercept = np.zeros((1, 1))
    effects = [np.array([[[1.0], [-1.0]]])]
    levels = np.array([[0], [1]])
    e = np.e
    pi = cell_probabilities(intercept, effects, levels)
    np.testing.assert_allclose(pi[0], [[1 / (1 + e), e / (1 + e)], [e / (1 + e), 1 / (1 + e)]])
    theta = poststratify_draws(intercept, effects, levels, np.array([3.0, 1.0]), np.array([[0], [0]]), 1)
    np.testing.assert_allclose(theta[0, 0], [(3 + e) / (4 * (1 + e)), (3 * e + 1) / (4 * (1 + e))])
    # Two domains, one cell each, plus an empty domain: NaN rather than a made-up value.
    theta = poststratify_draws(intercept, effects, levels, np.array([3.0, 1.0]), np.array([[0], [1]]), 3)
    np.testing.assert_allclose(theta[0, :2, 1], [e / (1 + e), 1 / (1 + e)])
    assert np.isnan(theta[0, 2]).all()


@pytest.fixture(scope="module")
def panel():
    return anes_panel()


def test_mrp_recovers_full_sample_party_shares(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MCMC diagnostics are checked below, not through warnings
        res = poststratify_answers(panel.answers, panel.personas, panel.joint(), method="mrp", draws=500, tune=500,
                                   chains=2, random_state=3)
    d = with_truth(res.distributions, panel.truth)
    national = d[d["region"] == "(all)"]
    regional = d[d["region"] != "(all)"]
    assert national["error_weighted"].mean() < national["error_raw"].mean() / 2
    assert regional["error_weighted"].mean() < regional["error_raw"].mean() / 2
    assert ((national["ci_low"] <= national["truth"]) & (national["truth"] <= national["ci_high"])).all()
    # Shares of a domain sum to 1 over the options.
    sums = d.groupby(["region"])["probability_weighted"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-9)
    diag = res.diagnostics.iloc[0]
    assert diag["inference"] == "nuts" and diag["max_rhat"] < 1.05 and diag["divergences"] == 0
    assert diag["n_cells_observed"] == 24 and diag["n_personas"] == len(panel.personas)
    text = res.summary().as_text()
    assert "Diagnostics per question (MCMC)" in text and "max_rhat" in text


def _two_region_posterior_means(n_draws: int = 1_000_000, seed: int = 0) -> tuple[float, float]:
    """Posterior mean two-party D share of regions A and B in the binomial model of
    personacal.evaluate._mrp_model, computed independently by importance sampling from the prior.

    The model, written out for this data: cells (region, sex) = A-M, A-F, B-M, B-F; logit P(D) =
    alpha + sigma_r * u_r * (+1 A / -1 B) + sigma_s * u_s * (+1 M / -1 F), alpha ~ N(0, 2.5),
    sigma ~ HalfNormal(1), and a two-level ZeroSumNormal(1) is (u, -u) with u ~ N(0, sqrt(1/2)).
    Soft counts per cell (two personas of 0.9 two-party mass each): A 1.44 D / 0.36 R, B the reverse.
    Each region's cells have census counts 10 and 10 (A), 5 and 5 (B): equal weights within a region.
    """
    rng = np.random.default_rng(seed)
    d_counts = np.array([1.44, 1.44, 0.36, 0.36])
    region, sex = np.array([1.0, 1.0, -1.0, -1.0]), np.array([1.0, -1.0, 1.0, -1.0])
    alpha = rng.normal(0.0, 2.5, n_draws)
    region_effect = np.abs(rng.normal(0.0, 1.0, n_draws)) * rng.normal(0.0, np.sqrt(0.5), n_draws)
    sex_effect = np.abs(rng.normal(0.0, 1.0, n_draws)) * rng.normal(0.0, np.sqrt(0.5), n_draws)
    eta = alpha[:, None] + region_effect[:, None] * region + sex_effect[:, None] * sex
    loglik = (d_counts * log_expit(eta) + d_counts[::-1] * log_expit(-eta)).sum(axis=1)
    weight = np.exp(loglik - loglik.max())
    weight /= weight.sum()
    share = expit(eta)
    return float(weight @ share[:, :2].mean(axis=1)), float(weight @ share[:, 2:].mean(axis=1))


# NUTS: 2 x 1,000 draws, Monte Carlo SE of a region's mean ~0.005. ADVI is mean-field: on this
# hierarchical model its means sat 0.01-0.03 closer to 0.5 than the exact ones over seeds.
@pytest.mark.parametrize(("inference", "options", "tolerance"), [
    ("nuts", dict(draws=1000, tune=1000, chains=2), 0.02),
    ("advi", dict(advi_iterations=10_000, draws=200), 0.05),
])
def test_binomial_two_party_shares_match_the_exact_posterior(inference, options, tolerance):
    personas = pd.DataFrame({"persona_id": [f"p{i}" for i in range(8)], "region": ["A"] * 4 + ["B"] * 4,
                             "sex": ["M", "F"] * 4})
    rows = []
    for i, pid in enumerate(personas["persona_id"]):
        d = 0.8 if i < 4 else 0.2  # region A leans D, region B leans R
        rows += [(pid, "vote", "Dem", "D", d * 0.9), (pid, "vote", "Rep", "R", (1 - d) * 0.9),
                 (pid, "vote", "None", "none", 0.1)]
    answers = pd.DataFrame(rows, columns=["persona_id", "question_id", "option", "party", "probability"])
    joint = pd.Series([10.0, 10, 5, 5], index=pd.MultiIndex.from_product([["A", "B"], ["M", "F"]],
                                                                          names=["region", "sex"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticsWarning)  # the sampler must have converged
        res = mrp(answers, personas, joint, family="binomial", inference=inference, random_state=1, **options)
    d = res.distributions.set_index(["region", "option"])
    assert set(res.distributions["option"]) == {"Dem", "Rep"}
    # probability_raw is the two-party share: 0.8 * 0.9 / 0.9 in A.
    np.testing.assert_allclose(d.loc[("A", "Dem"), "probability_raw"], 0.8)
    np.testing.assert_allclose(d.loc[("(all)", "Dem"), "probability_raw"], 0.5)
    # Four personas per region: the exact posterior shrinks A's 0.8 to ~0.60 and B's 0.2 to ~0.40.
    exact_a, exact_b = _two_region_posterior_means()
    assert d.loc[("A", "Dem"), "probability_weighted"] == pytest.approx(exact_a, abs=tolerance)
    assert d.loc[("B", "Dem"), "probability_weighted"] == pytest.approx(exact_b, abs=tolerance)
    # The pooled share weights the regions by their census counts (20 and 10).
    pooled = (20 * d.loc[("A", "Dem"), "probability_weighted"] + 10 * d.loc[("B", "Dem"), "probability_weighted"]) / 30
    assert d.loc[("(all)", "Dem"), "probability_weighted"] == pytest.approx(pooled, rel=1e-10)
    np.testing.assert_allclose(d.loc[("A", "Dem"), "probability_weighted"] + d.loc[("A", "Rep"),
                               "probability_weighted"], 1.0)
    if inference == "advi":
        assert np.isnan(res.diagnostics.loc[0, "max_rhat"])
        assert any("ADVI" in n for n in res.notes)
    else:
        assert res.diagnostics.loc[0, "max_rhat"] <= 1.01 and res.diagnostics.loc[0, "divergences"] == 0


# ------------------------------------------------------------------------------- errors
def test_mrp_input_errors(panel):
    answers, personas, joint = panel.answers, panel.personas, panel.joint()
    with pytest.raises(InputError, match=r"`group` \['sex'\] of mrp must be covariates of the model"):
        mrp(answers, personas.assign(sex="M"), joint, group="sex")
    with pytest.raises(InputError, match=r"`joint` of mrp has no region level"):
        mrp(answers, personas, joint.droplevel("region").groupby(level=[0, 1]).sum())
    bad = personas.copy()
    bad.loc[0, "race"] = "Martian"
    with pytest.raises(UnknownCategoryError, match=r"persona column 'race' has categories that the joint does not "
                                                   r"list: \['Martian'\]"):
        mrp(answers, bad, joint)
    moved = personas.assign(region=personas["region"].replace({"West": "Pacific"}))
    with pytest.raises(MismatchError, match=r"region\(s\) \['Pacific'\] that the joint does not cover"):
        mrp(answers, moved, joint)
    with pytest.raises(InputError, match=r"`interactions` of mrp must be tuples of at least two of"):
        mrp(answers, personas, joint, interactions=[("race", "age")])
    with pytest.raises(InputError, match=r"`family` of mrp must be one of"):
        mrp(answers, personas, joint, family="poisson")
    with pytest.raises(InputError, match=r"`inference` of mrp must be one of"):
        mrp(answers, personas, joint, inference="laplace")
    with pytest.raises(InputError, match=r"family='binomial' of mrp needs a 'party' column"):
        mrp(answers, personas, joint, family="binomial")
    with pytest.raises(InputError, match=r"`joint` of mrp must be a JointResult"):
        mrp(answers, personas, joint.to_frame())
    with pytest.raises(InputError, match=r"`interval_method` of poststratify_answers\(method='mrp'\) is the posterior"):
        poststratify_answers(answers, personas, joint, method="mrp", interval_method="recompute")


def test_mrp_group_estimates_with_interaction(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MCMC diagnostics are checked below
        res = mrp(panel.answers, panel.personas, panel.joint(), group="race", interactions=[("race", "college")],
                  draws=300, tune=300, random_state=8)
    assert res.diagnostics.loc[0, "max_rhat"] < 1.05
    d = res.distributions
    assert set(d["race"]) == {"White non-Hispanic", "Black non-Hispanic", "Other", "(all)"}
    assert len(d) == 5 * 4 * 3  # (4 regions + all) x (3 races + all) x 3 options
    # Direct post-stratification of the panel's race x college x region cell means, per race.
    dem = panel.personas.merge(panel.answers[panel.answers["option"] == "Democrat"], on="persona_id")
    cell = dem.groupby(["region", "race", "college"])["probability"].mean()
    counts = panel.joint()
    direct = (cell * counts).groupby(level="race").sum() / counts.groupby(level="race").sum()
    national = d[(d["region"] == "(all)") & (d["option"] == "Democrat")].set_index("race")
    for race, value in direct.items():
        assert abs(national.loc[race, "probability_weighted"] - value) < 0.03, race
    # A group's pooled estimate weights the regions by their census counts of that group.
    black = counts.xs("Black non-Hispanic", level="race").groupby(level="region").sum()
    regional = d[(d["race"] == "Black non-Hispanic") & (d["option"] == "Democrat") & (d["region"] != "(all)")]
    pooled = np.average(regional.set_index("region")["probability_weighted"].reindex(black.index), weights=black)
    np.testing.assert_allclose(national.loc["Black non-Hispanic", "probability_weighted"], pooled, rtol=1e-10)
    assert any("race:college" in n for n in res.notes)


def test_joint_result_becomes_a_region_indexed_series():
    margins = {r: Margins({"sex": {"M": 1.0, "F": 3.0}, "age": {"young": 2.0, "old": 2.0}}) for r in ("A", "B")}
    joint = reconstruct_joint(margins, method="independent")
    table = _joint_series(joint, "state")
    assert list(table.index.names) == ["state", "sex", "age"]
    np.testing.assert_allclose(table.loc[("A", "F", "old")], 3.0 * 2.0 / 4.0)
    single = _joint_series(reconstruct_joint(margins["A"], method="independent"), "region")
    assert list(single.index.names) == ["region", "sex", "age"] and len(single) == 4
