"""personacal.workflow: per-region calibration policy as data, the targets, the verdict report, the config keys.

Expected weights and shares are worked out by hand in the comments (raking a 1-D margin on its own is
post-stratification: each category's personas share its target equally).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import _verdict_sim as sim
from personacal.calibrate import Margins
from personacal.errors import ConvergenceError, EmptyCategoryError, InputError, StructuralInfeasibilityError
from personacal.evaluate import compare, write_report
from personacal.workflow import (
    calibrate_regions,
    census_targets,
    load_config,
    partisan_targets,
    run_demo,
    target_sources,
)

# Region A lacks 'Black' personas and 'Other' voters; region B lacks 'Other' voters. After the merges both
# can be raked (a positive solution exists: e.g. A's six cells 25, 25, 5, 15, 5, 25).
OTHER = "Other non-Hispanic"
POOL = pd.DataFrame({
    "region": ["A"] * 6 + ["B"] * 8,
    "race_eth4": ["White", "White", "Hispanic", "Hispanic", OTHER, OTHER,
                  "White", "White", "White", "Black", "Hispanic", "Hispanic", OTHER, OTHER],
    "vote_2020": ["Biden", "Trump", "Biden", "Did not vote", "Trump", "Did not vote",
                  "Biden", "Trump", "Did not vote", "Did not vote", "Trump", "Did not vote", "Biden", "Trump"],
})
RACE = {"Hispanic": 20.0, "White": 50.0, "Black": 10.0, "Other non-Hispanic": 20.0}
VOTE = {"Biden": 30.0, "Trump": 30.0, "Other": 5.0, "Did not vote": 35.0}


def _targets():
    return {r: Margins({"race_eth4": RACE, "vote_2020": VOTE}, name=r) for r in ("A", "B")}


def test_raise_names_region_margin_categories_and_the_options():
    with pytest.raises(EmptyCategoryError, match=r"region 'A' has 6 personas and none in 'race_eth4': \['Black'\]; "
                                                 r"'vote_2020': \['Other'\].*on_infeasible='collapse'"):
        calibrate_regions(POOL, _targets())


def test_collapse_merges_into_the_named_neighbour_and_records_it():
    result = calibrate_regions(POOL, _targets(), on_infeasible="collapse")
    records = result.records.set_index(["region", "margin"])
    assert records.loc[("A", "race_eth4"), "status"] == "merged"
    assert records.loc[("A", "race_eth4"), "detail"] == "'Black' into 'Other non-Hispanic'"
    assert records.loc[("A", "vote_2020"), "detail"] == "'Other' into 'Did not vote'"
    assert records.loc[("B", "race_eth4"), "status"] == "met" and records.loc[("B", "race_eth4"), "detail"] == ""
    assert records.loc[("B", "race_eth4"), "max_rel_error"] < 1e-8
    # A meets the merged targets: 'Other non-Hispanic' 20 + 10 = 30, 'Did not vote' 35 + 5 = 40
    a = POOL["region"] == "A"
    w = result.weights
    assert w[a].sum() == pytest.approx(100.0)
    assert w[a & (POOL["race_eth4"] == OTHER)].sum() == pytest.approx(30.0)
    assert w[a & (POOL["vote_2020"] == "Did not vote")].sum() == pytest.approx(40.0)
    # What the merge cost, against the ORIGINAL targets: 'Black' got 0 of 10 -> 100% off
    assert records.loc[("A", "race_eth4"), "max_rel_error"] == pytest.approx(1.0)
    assert "merged" in result.notes[0]


def test_drop_gives_up_the_partisan_margin_first():
    # In C every Biden voter is White and every Trump voter Hispanic: race 50/50 and vote 80/20 conflict.
    pool = pd.DataFrame({"region": "C", "race_eth4": ["White", "Hispanic"] * 3, "vote_2020": ["Biden", "Trump"] * 3})
    targets = {"C": Margins({"race_eth4": {"White": 50.0, "Hispanic": 50.0},
                             "vote_2020": {"Biden": 80.0, "Trump": 20.0}}, name="C")}
    with pytest.raises((StructuralInfeasibilityError, ConvergenceError), match="on_infeasible='drop'"):
        calibrate_regions(pool, targets, on_infeasible="collapse", priority=["race_eth4", "vote_2020"])
    result = calibrate_regions(pool, targets, on_infeasible="drop", priority=["race_eth4", "vote_2020"])
    status = result.records.set_index("margin")["status"]
    assert status.to_dict() == {"race_eth4": "met", "vote_2020": "dropped"}
    # census margin met exactly; the dropped vote margin is off: Biden 50 of a target 80
    assert result.records.set_index("margin").loc["vote_2020", "max_rel_error"] == pytest.approx(1.5)
    np.testing.assert_allclose(result.weights, 100 / 6)


def test_recalibrate_reproduces_the_weights_and_survives_an_emptied_category():
    result = calibrate_regions(POOL, _targets(), on_infeasible="collapse")
    # (replicates are raked to a relative 1e-6: far below sampling noise, and faster)
    np.testing.assert_allclose(result.recalibrate(np.ones(len(POOL))), result.weights.to_numpy(), rtol=1e-5)
    # A replicate that never drew B's only Black persona: its target moves to 'Other non-Hispanic' for that
    # replicate, and B is raked again (White 50 = 15 + 5 + 30, ...).
    design = np.ones(len(POOL))
    design[9] = 0
    w = result.recalibrate(design)
    b = (POOL["region"] == "B").to_numpy()
    assert w[9] == 0 and w[b].sum() == pytest.approx(100.0)
    assert w[b & (POOL["race_eth4"] == OTHER).to_numpy()].sum() == pytest.approx(30.0, rel=1e-5)
    with pytest.raises(EmptyCategoryError, match="no persona drawn"):
        result.recalibrate(np.r_[np.zeros(6), np.ones(8)])


def test_regions_without_personas():
    targets = {**_targets(), "Z": Margins({"race_eth4": RACE}, name="Z")}
    with pytest.raises(EmptyCategoryError, match="region 'Z' has margins but no personas"):
        calibrate_regions(POOL, targets, on_infeasible="collapse")
    records = calibrate_regions(POOL, targets, on_infeasible="drop").records
    assert (records.loc[records["region"] == "Z", "status"] == "dropped").all()
    with pytest.raises(InputError, match=r"`on_infeasible` of calibrate_regions must be one of"):
        calibrate_regions(POOL, _targets(), on_infeasible="ignore")


def test_partisan_targets_are_the_2020_result_scaled_to_the_census_total():
    census = census_targets("WY")
    assert set(census.variables) == {"sex", "age", "race_eth4", "education3", "employment3"}
    vote = partisan_targets(["WY"], "past_vote", totals={"WY": census.total})["WY"]["vote_2020"]
    assert vote.sum() == pytest.approx(census.total)
    # MEDSL 2020 Wyoming: Biden 73,491, Trump 193,559, other 9,715
    assert vote["Trump"] / vote["Biden"] == pytest.approx(193_559 / 73_491)
    assert vote["Other"] / vote["Biden"] == pytest.approx(9_715 / 73_491)
    assert partisan_targets(["WY"], "none", totals={"WY": 1.0}) == {}
    sources = target_sources("past_vote").set_index("role")
    assert "MEDSL" in sources.loc["partisan margin (default)", "source"]
    assert sources.loc["truth (evaluation)", "years"] == "2024"


def test_report_leads_with_the_verdict_and_summary_json_holds_its_numbers(tmp_path):
    pop = sim.population(4, lean=0.05, seed=2)
    answers = sim.sample(pop, 100, np.random.default_rng(0))
    c = compare(answers.drop(columns="weight"), answers, pop.truth, weights="weight", n_boot=100, random_state=0,
                progress=False)
    context = {"Calibration policy (on_infeasible)": "collapse",
               "Margins per region: met, merged or dropped": pd.DataFrame({"region": ["S00"], "group": ["met"]})}
    index = write_report(c, tmp_path, title="t", context=context)
    page = index.read_text()
    assert page.index("<h2>Verdict</h2>") < page.index("<h2>Summary</h2>")
    lean = c.changes().set_index("statistic").loc["mean_signed_error"]
    sentence = (f"calibrated lean {100 * lean['calibrated']:+.1f} pp (95% CI {100 * lean['calibrated_ci_low']:+.1f} "
                f"to {100 * lean['calibrated_ci_high']:+.1f}) vs raw {100 * lean['raw']:+.1f} pp; change "
                f"{100 * lean['change']:+.1f} pp (95% CI {100 * lean['change_ci_low']:+.1f} to "
                f"{100 * lean['change_ci_high']:+.1f}): ")
    assert sentence in page
    summary = json.loads((tmp_path / "summary.json").read_text())
    row = next(s for s in summary["statistics"] if s["statistic"] == "mean_signed_error")
    assert row["change"]["estimate"] == pytest.approx(lean["change"])
    assert row["change"]["ci_low"] == pytest.approx(lean["change_ci_low"])
    assert row["improved"] == (lean["improved"] if lean["improved"] is not True else True)
    assert summary["interval_method"] == "bca" and summary["pairing"] == {"all": "paired"}
    assert any(s.startswith("calibrated lean") for s in summary["sentences"])
    assert summary["context"]["Calibration policy (on_infeasible)"] == "collapse"


def test_demo_default_policy_raises_on_a_state_it_cannot_rake(tmp_path):
    with pytest.raises(EmptyCategoryError, match=r"region 'WY'.*on_infeasible='collapse'"):
        run_demo(states=["WY"], n_per_state=15, out=tmp_path / "r", progress=False)


@pytest.mark.parametrize("text, message", [
    ("[population]\nstates = ['CA']\n[calibration]\non_infeasible = 'ignore'\n",
     r"\[calibration.on_infeasible\] Input should be 'raise', 'collapse' or 'drop'"),
    ("[population]\nstates = ['CA']\n[calibration]\npartisan = 'pid'\n", r"\[calibration.partisan\]"),
    ("[population]\nstates = ['CA']\n[evaluation]\nn_boot = 1\n", r"n_boot must be 0 \(no bootstrap\) or at least 2"),
    ("[population]\nstates = ['CA']\n[evaluation]\nintervals = 'bca'\n", r"\[evaluation.intervals\] Extra inputs"),
])
def test_config_keys_are_checked(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_config_defaults_are_the_documented_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[population]\nstates = ['CA']\n")
    config = load_config(path)
    assert config.calibration.on_infeasible == "raise" and config.calibration.partisan == "past_vote"
    assert (config.evaluation.n_boot, config.evaluation.interval_method, config.evaluation.level) == (1000, "bca",
                                                                                                      0.95)
