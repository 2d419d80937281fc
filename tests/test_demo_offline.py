"""``personacal demo`` without an LLM: the demographic respondent model answers, raw vs calibrated is judged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from personacal.data import psychographic_targets
from personacal.simulate import DemographicModel
from personacal.workflow import run_demo
from personacal.workflow._offline import PARTY3_OF, party_id_truth

TIERS = {"demographic model: Meta personas", "demographic model: paper-style pool"}


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    out = tmp_path_factory.mktemp("offline") / "report"
    return run_demo(states=["CA", "WY"], n_per_state=80, out=out, progress=False, on_infeasible="drop",
                    n_boot=200, random_state=3)


def test_the_fold_matches_the_targets_source_codes():
    # The MRP targets say which pid7 codes make each category ("pid7 1-2", "pid7 3-5", "pid7 6-7").
    codes = psychographic_targets("party_id", geography="state", area="CA").set_index("category")["source_codes"]
    table = DemographicModel.question_map()
    options = table.loc[table["question_id"] == "anes-pid7"].sort_values("option_index")["option"].tolist()
    assert len(options) == 7
    for category, code in codes.items():
        lo, hi = (int(x) for x in code.removeprefix("pid7 ").split("-"))
        assert {PARTY3_OF[o] for o in options[lo - 1:hi]} == {category}
    truth = party_id_truth(["CA", "WY"])
    assert np.allclose(truth.groupby("state")["share"].sum(), 1.0)


def test_offline_demo_scores_model_answers_raw_and_calibrated(offline):
    comparison = offline.comparison
    assert comparison.kind == "opinion" and set(comparison.tiers) == TIERS
    verdict = comparison.to_frame("change")
    assert set(verdict["tier"]) == TIERS
    assert verdict["change_ci_low"].notna().all() and (verdict["change_ci_low"] <= verdict["change_ci_high"]).all()
    # Every persona's folded distribution is a distribution over the three categories.
    answers = offline.answers
    assert set(answers["option"]) == {"Democrat", "Independent", "Republican"}
    assert np.allclose(answers.groupby(["tier", "persona_id"])["probability"].sum(), 1.0)
    # Raw Meta answers in CA, recomputed from the model directly (7 options folded by position).
    meta = offline.meta_personas
    ca = meta[meta["region"] == "CA"]
    model = DemographicModel(["anes-pid7"], progress=False, random_state=3)
    probs = model.predict_distributions(ca, model.questions[0]).mean(axis=0)
    expected = {"Democrat": probs[:2].sum(), "Independent": probs[2:5].sum(), "Republican": probs[5:].sum()}
    got = answers[(answers["tier"] == "demographic model: Meta personas") & (answers["state"] == "CA")]
    got = got.groupby("option")["probability"].sum() / got["persona_id"].nunique()
    assert got.to_dict() == pytest.approx(expected, abs=1e-9)
    # The paper-style pool is raked to the census margins: its calibrated weights differ from uniform.
    pool = answers[answers["tier"] == "demographic model: paper-style pool"].drop_duplicates("persona_id")
    assert pool.groupby("state")["weight"].std().min() > 0


def test_offline_report_names_the_respondent_and_writes_the_verdict(offline):
    html = offline.report.read_text()
    assert "not an LLM" in html and "multinomial logit on ANES 2012" in html
    summary = json.loads((offline.report.parent / "summary.json").read_text())
    assert summary["kind"] == "opinion"
    assert set(summary["pairing"]) == TIERS
    assert any(s.startswith("demographic model: paper-style pool: calibrated alignment") for s in summary["sentences"])
    # The Meta tier's raking is recorded beside the pool's.
    assert {"demographic model: Meta personas", "paper-style pool"} <= set(offline.calibration["tier"])


def test_recomputed_weights_pin_the_calibrated_answers():
    # The model's answers are a function of demographics, and raking fixes the demographic margins:
    # redone on every replicate, the calibrated alignment barely moves, while the raw one does.
    from personacal.generate import sample_meta_personas, state_joints
    from personacal.workflow import census_targets
    from personacal.workflow._offline import run_offline_steps

    meta = sample_meta_personas(state_joints(["WY"], progress=False, random_state=0), 80, random_state=1)
    widths = {}
    for recompute in (False, True):
        run = run_offline_steps({"Meta": meta}, {"WY": census_targets("WY")}, on_infeasible="drop", random_state=2,
                                progress=False, composition=None, n_boot=60, recompute_weights=recompute)
        row = run.comparison.to_frame("change").set_index("statistic").loc["alignment"]
        widths[recompute] = (row["raw_ci_high"] - row["raw_ci_low"],
                             row["calibrated_ci_high"] - row["calibrated_ci_low"])
    assert widths[True][1] < 0.5 * widths[True][0]
    assert widths[False][1] > 0.5 * widths[False][0]
