"""The known-truth validation study (benchmarks/validation_study.py) at a tiny scale.

The truth is worked out here from the demographic model and the census joint directly, not by
the study's own code; the study must find the injected composition error and left shift in the
raw personas and remove most of it by raking.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import known_truth as kt  # noqa: E402
import validation_study as study  # noqa: E402

from personacal.calibrate import Margins, rake  # noqa: E402
from personacal.generate import state_joints  # noqa: E402
from personacal.simulate import DemographicModel  # noqa: E402

STATES = ("WY",)


@pytest.fixture(scope="module")
def model():
    return DemographicModel(["gss-partyid"], holdout=0, progress=False, random_state=0)


@pytest.fixture(scope="module")
def pop(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the independence joint cannot meet the race x ethnicity cross-tab
        return kt.population(STATES, model=model)


def _truth_by_hand(model) -> float:
    joint = state_joints(list(STATES), progress=False).to_frame()
    question = model.questions[0]
    p = pd.DataFrame(model.predict_distributions(joint, question), columns=question.options)
    dem = p["Strong Democrat"] + p["Weak Democrat"]
    rep = p["Strong Republican"] + p["Weak Republican"]
    lean = p["Independent, lean Democrat"] / (p["Independent, lean Democrat"] + p["Independent, lean Republican"])
    vote = 0.92 * dem + 0.08 * rep + (1 - dem - rep) * lean
    return float((joint["count"].to_numpy() * vote).sum() / joint["count"].sum())


def test_truth_is_the_model_poststratified_over_the_census_joint(model, pop):
    assert pop.truth()["dem_two_party_share"].iloc[0] == pytest.approx(_truth_by_hand(model), abs=1e-12)


def test_raking_kernel_equals_personacal_rake(pop):
    personas = kt.draw_personas(pop, 150, np.random.default_rng(3), composition="overeducated", tilt=0.5)
    ours = kt.Calibrator(pop, personas).original
    census, party = pop.census_shares()["WY"], pop.party_shares()["WY"]
    margins = {v: pd.Series(census[j] * len(personas), index=sorted(pop.cells[v].astype(str).unique()))
               for j, v in enumerate(kt.RAKE_VARIABLES[:-1])}
    margins["party"] = pd.Series(party * len(personas), index=list(kt.PARTIES))
    theirs = np.asarray(rake(personas, Margins(margins)).weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_calibration_removes_an_injected_composition_error_and_left_shift(model, pop):
    truth = _truth_by_hand(model)
    raw, calibrated = [], []
    for rep in range(30):
        out = study.replicate(pop, 200, 500 + rep, composition="overeducated", tilt=0.7, shift=0.5, n_boot=0)
        raw.append(out["raw[share[WY]]"][0] - truth)
        calibrated.append(out["calibrated[share[WY]]"][0] - truth)
    raw_bias, cal_bias = np.mean(raw), np.mean(calibrated)
    assert raw_bias > 0.05  # the raw personas lean left by several points
    assert abs(cal_bias) < 0.3 * raw_bias
    assert np.sqrt(np.mean(np.square(calibrated))) < np.sqrt(np.mean(np.square(raw)))


def test_one_replication_gives_paired_intervals_around_the_estimates(pop):
    out = study.replicate(pop, 120, 7, composition="independent", tilt=0.0, shift=0.5, n_boot=30)
    for name in ("raw[share[WY]]", "calibrated[share[WY]]", "change[mean_signed_error]"):
        estimate, low, high = out[name]
        assert low <= estimate <= high and high > low
    assert out["change[mean_signed_error]"][0] < 0  # calibration moves the lean back towards 0
