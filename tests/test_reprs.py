"""Every result class outside evaluate has a compact one-line repr with its key facts (statsmodels style)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personacal.workflow import WorkflowResult
from personacal._summary import one_line_repr
from personacal.calibrate import Margins, integerize, ipf, rake, reconstruct_joint
from personacal.data import census_margins
from personacal.generate import TierResult, find_contradictions

from test_simulate_result import make_result

SAMPLE = pd.DataFrame({"age": ["18-34", "35-64", "65+", "35-64"], "sex": ["F", "M", "F", "F"]})
MARGINS = Margins({"age": {"18-34": 300, "35-64": 500, "65+": 200}, "sex": {"F": 520, "M": 480}})


def _check(obj, *facts: str) -> str:
    text = repr(obj)
    assert len(text) < 200, text
    assert "\n" not in text and text.startswith(f"<{type(obj).__name__} ") and text.endswith(">"), text
    for fact in facts:
        assert fact in text, (fact, text)
    return text


def test_one_line_repr_formats_floats_like_summaries_and_quotes_text():
    class Thing:
        pass

    assert one_line_repr(Thing(), method="rake", converged=True, n_iter=7, error=3.0827e-6, ess=2.5) == \
        "<Thing method='rake', converged=True, n_iter=7, error=3.083e-06, ess=2.5>"
    assert one_line_repr(Thing()) == "<Thing>"


def test_calibration_results():
    weighted = rake(SAMPLE, MARGINS, on_nonconvergence="warn")
    text = _check(weighted, "method='rake'", "rows=4", f"converged={weighted.converged}", "n_iter=", "ess=")
    assert re.search(r"max_margin_error=[0-9.e+-]+", text)
    two = pd.concat([SAMPLE.assign(state="CA"), SAMPLE.assign(state="WY")], ignore_index=True)
    _check(rake(two, {"CA": MARGINS, "WY": MARGINS}, by="state", on_nonconvergence="warn"),
           "method='rake'", "regions=2", "rows=8")
    seed = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.MultiIndex.from_product([["a1", "a2"], ["b1", "b2"]],
                                                                           names=["a", "b"]))
    table = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0}})
    _check(ipf(seed, table), "method='ipf'", "cells=4", "converged=True")
    _check(integerize(pd.Series([0.4, 1.6, 2.0]), random_state=0), "entries=3", "total=4", "max_abs_rounding=")
    joint = reconstruct_joint({"R1": table, "R2": table}, seed=seed, method="ipf")
    _check(joint, "method='ipf'", "regions=2", "variables=2", "cells=8", "converged=True")


def test_a_4850_character_repr_is_gone():
    # The example: a 4-row rake printed 4,850 characters (whole Series in the dataclass repr).
    assert len(repr(rake(SAMPLE, MARGINS, on_nonconvergence="warn"))) < 200


def test_census_margins_with_every_margin():
    margins = census_margins("CA", variables="all")
    _check(margins, "state='CA'", "universe='adult'", "anchor='acs'", f"margins={len(margins)}")


def test_simulation_tier_and_consistency_results():
    _check(make_result(), "method='logprobs'", "model='hand-made'", "personas=3", "questions=1", "failures=0")
    personas = pd.DataFrame({"persona_id": ["p1", "p2"], "age": ["25-34", "65+"], "sex": ["Female", "Male"]})
    report = find_contradictions(personas, ["I am a 70-year-old grandmother.", "A retired man of 70."])
    _check(report, "personas=2", "contradictions=", "personas_contradicted=")
    table = personas.assign(status=["ok", "failed"], n_attempts=[1, 3], prompt_version="objective-v1", model="m")
    tier = TierResult(
        tier="objective", table=table, failures=pd.DataFrame({"persona_id": ["p2"], "n_attempts": [3], "reason": ["x"]}),
        contradictions=pd.DataFrame(), contradiction_rates=pd.DataFrame(), attempts=pd.DataFrame(),
        prompt_version="objective-v1", model="m", settings={}, census_columns=("age", "sex"))
    _check(tier, "tier='objective'", "personas=2", "ok=1", "failed=1", "contradiction_flagged=0")


def test_demo_result():
    meta = pd.DataFrame({"region": ["CA"] * 300, "age": "18-24"})
    result = WorkflowResult(report=Path("report/index.html"), meta_personas=meta, paper_pool=meta,
                            weights=pd.Series(np.ones(300)), composition=pd.DataFrame(), timings={"joint": 1.0},
                            skipped=("LLM steps",))
    _check(result, "title='personacal demo'", "regions=1", "personas=300", "skipped=1")


@pytest.mark.parametrize("size", [10, 10_000])
def test_repr_does_not_grow_with_the_data(size):
    sample = pd.DataFrame({"age": np.resize(["18-34", "35-64", "65+"], size), "sex": np.resize(["F", "M"], size)})
    assert len(repr(rake(sample, MARGINS, on_nonconvergence="warn"))) < 200


def test_survey_design_and_estimate():
    from personacal.calibrate import SurveyDesign

    data = SAMPLE.assign(w=[10.0, 20.0, 30.0, 40.0], psu=[1, 1, 2, 2], y=[1.0, 2.0, 3.0, 4.0])
    design = SurveyDesign(data, weights="w", clusters="psu")
    _check(design, "rows=4", "strata=1", "psus=2", "stages=1", "fpc=False", "steps=[]", "replicates=None")
    _check(design.mean("y"), "statistic='mean'", "estimates=1", "estimate=3", "se=", "interval_method='linearization'")
    _check(rake(design, MARGINS, on_nonconvergence="warn").design, "steps=['rake']")
