"""calibrate_within (R's calibrate(stage=1)) beyond the R case of test_survey_design_vs_r: its totals,
its result object and its refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _survey_public import base_design, margins_by_cluster

from personacal.calibrate import Margins, SurveyDesign, calibrate_within
from personacal.errors import InputError, SurveyDesignError

CASE = "e06_clus2a_stage1_greg"


@pytest.fixture(scope="module")
def design():
    return base_design(CASE)


@pytest.fixture(scope="module")
def margins():
    return margins_by_cluster(CASE)


def test_every_cluster_hits_its_own_totals_on_within_cluster_weights(design, margins):
    result = calibrate_within(design, margins)
    data = design.data
    # within-cluster weight: w divided by the first stage's inverse sampling fraction (one stratum here)
    stage_weight = data["popsize1"].to_numpy(float) / data["dnum"].nunique()
    within = result.weights.to_numpy() / stage_weight
    for label, m in margins.items():
        rows = (data["dnum"].astype(str) == str(label)).to_numpy()
        assert within[rows].sum() == pytest.approx(m.population, rel=1e-9)
        assert within[rows] @ data.loc[rows, "api99"].to_numpy(float) == pytest.approx(m.numeric["api99"], rel=1e-9)
    table = result.to_frame()
    assert len(table) == 2 * len(margins) and table["rel_error"].max() < 1e-9
    assert table["margin"].str.startswith("dnum=").all()
    assert "within stage-1 clusters" in str(result.summary())
    assert result.design.calibrated and result.design.steps == ("calibrate within stage-1 clusters (linear)",)


def test_linearised_se_shrinks_only_the_within_cluster_part(design, margins):
    """api99 is calibrated inside every cluster, so its estimated total has no second-stage variance
    left: its SE equals the SE from the first-stage variance of the cluster totals alone."""
    calibrated = calibrate_within(design, margins).design
    se = calibrated.total("api99").table["se"].iloc[0]
    w = calibrated.weights.to_numpy()
    data = design.data
    cluster_totals = pd.Series(w * data["api99"].to_numpy(float)).groupby(data["dnum"].to_numpy()).sum()
    n, big_n = len(cluster_totals), float(data["popsize1"].iloc[0])
    first_stage = (1 - n / big_n) * n / (n - 1) * ((cluster_totals - cluster_totals.mean()) ** 2).sum()
    assert se == pytest.approx(np.sqrt(first_stage), rel=1e-9)
    uncalibrated = base_design(CASE).total("api99").table["se"].iloc[0]
    assert se != pytest.approx(uncalibrated, rel=1e-3)  # the second-stage part is really gone


def test_refuses_a_one_stage_design(design, margins):
    one_stage = SurveyDesign(design.data, clusters="dnum", fpc="popsize1")
    with pytest.raises(SurveyDesignError, match="two-stage design"):
        calibrate_within(one_stage, margins)


def test_refuses_a_design_without_first_stage_fpc(design, margins):
    no_fpc = SurveyDesign(design.data, weights=design.weights.to_numpy(), clusters=["dnum", "snum"])
    with pytest.raises(SurveyDesignError, match="first stage's fpc"):
        calibrate_within(no_fpc, margins)


def test_names_clusters_without_totals_and_unknown_ones(design, margins):
    missing = dict(list(margins.items())[1:])
    with pytest.raises(InputError, match=f"no totals for cluster.*{list(margins)[0]}"):
        calibrate_within(design, missing)
    with pytest.raises(InputError, match="'no-such-district'"):
        calibrate_within(design, {**margins, "no-such-district": next(iter(margins.values()))})


def test_refuses_clusters_with_different_auxiliaries(design, margins):
    labels = list(margins)
    changed = {**margins, labels[1]: Margins(totals={"api99": 1.0, "api00": 1.0}, population=1.0)}
    with pytest.raises(InputError, match=f"dnum={labels[1]} give .*same variables"):
        calibrate_within(design, changed)


def test_replicates_after_it_are_refused(design, margins):
    calibrated = calibrate_within(design, margins).design
    with pytest.raises(SurveyDesignError, match="replicate weights cannot redo calibrate_within"):
        calibrated.with_replicates("JK1")
