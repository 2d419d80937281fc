"""evaluate's one vocabulary (issue 9): renamed parameters keep working for one release, results print on one line.

``level`` is the confidence level (default 0.95), ``interval_method`` how an interval is made,
``by`` the region column and ``group`` the grouping columns. Each old name must warn and
still reach the new parameter; the numbers checked here come from the calls with the new
names, never from the code under test's own bookkeeping.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import personacal.evaluate as ev
from personacal.calibrate import Margins
from personacal.errors import InputError
from personacal.evaluate import (
    AlignmentResult,
    BootstrapResult,
    Comparison,
    CompositionResult,
    ElectionResult,
    PoststratifiedAnswers,
    TextDiagnosticsResult,
    TierCalibrationResult,
    alignment,
    bootstrap,
    calibrate_tier,
    compare,
    composition_error,
    text_diagnostics,
    election_errors,
    mrp,
    poststratify_answers,
)

EVALUATE = Path(ev.__file__).parent
# Two personas per group resample into empty groups now and then; that warning is tested elsewhere.
pytestmark = pytest.mark.filterwarnings("ignore::personacal.errors.DiagnosticsWarning")

# Two personas per party answering one three-option question; the reference is given per party.
SIM = pd.DataFrame({"persona_id": ["d1", "d1", "d2", "r1", "r2"], "party": ["D", "D", "D", "R", "R"],
                    "question_id": "q", "option": ["lo", "mid", "lo", "hi", "mid"],
                    "probability": [0.5, 0.5, 1.0, 1.0, 1.0]})
REF = pd.DataFrame({"party": ["D"] * 3 + ["R"] * 3, "question_id": "q", "option": ["lo", "mid", "hi"] * 2,
                    "position": [1, 2, 3] * 2, "share": [0.6, 0.4, 0.0, 0.0, 0.3, 0.7]})
TRUTH = pd.DataFrame({"state": ["AA", "BB"], "dem_two_party_share": [0.6, 0.4]})
VOTES = pd.DataFrame({"persona_id": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"],
                      "state": ["AA"] * 4 + ["BB"] * 4, "party": ["D", "R"] * 4,
                      "probability": [0.7, 0.3, 0.6, 0.4, 0.3, 0.7, 0.5, 0.5]})
PERSONAS = pd.DataFrame({"sex": ["M", "F", "F", "M", "F"], "region": ["A", "A", "B", "B", "B"]})
MARGINS = Margins({"sex": {"M": 2.0, "F": 3.0}})


@pytest.fixture
def answers():
    """Four personas in two regions answering yes/no; targets by sex per region."""
    personas = pd.DataFrame({"persona_id": ["a1", "a2", "b1", "b2"], "region": ["A", "A", "B", "B"],
                             "sex": ["M", "F", "M", "F"]})
    answers = pd.DataFrame({"persona_id": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"], "question_id": "q",
                            "option": ["yes", "no"] * 4, "probability": [1, 0, 0.2, 0.8, 0.5, 0.5, 0, 1]})
    targets = {"A": Margins({"sex": {"M": 3.0, "F": 1.0}}), "B": Margins({"sex": {"M": 1.0, "F": 1.0}})}
    return answers, personas, targets


def _deprecated(old: str, owner: str):
    return pytest.warns(DeprecationWarning, match=rf"`{old}` of {owner} is deprecated.*use `")


# --------------------------------------------------------------------------- renamed parameters
def test_alignment_by_is_group_and_ci_is_level():
    new = alignment(SIM, REF, group="party", n_boot=50, level=0.8, random_state=3)
    with _deprecated("by", "alignment"), _deprecated("ci", "alignment"):
        old = alignment(SIM, REF, by="party", n_boot=50, ci=0.8, random_state=3)
    assert old.group == new.group == ("party",)
    assert old.bootstrap.level == new.bootstrap.level == 0.8
    assert old.confidence_interval == new.confidence_interval
    pd.testing.assert_frame_equal(old.per_group, new.per_group)


def test_compare_by_and_ci():
    reference = REF.drop(columns="party").iloc[:3]
    new = compare(SIM.drop(columns="party"), SIM.drop(columns="party"), reference, n_boot=20, level=0.9,
                  random_state=1)
    with _deprecated("ci", "compare"):
        old = compare(SIM.drop(columns="party"), SIM.drop(columns="party"), reference, n_boot=20, ci=0.9,
                      random_state=1)
    assert old.level == new.level == 0.9
    pd.testing.assert_frame_equal(old.headline(), new.headline())
    with _deprecated("by", "compare"):
        grouped = compare(SIM, SIM, REF, by="party")
    assert grouped.result("raw").group == ("party",)


def test_election_composition_and_bootstrap_ci_is_level():
    with _deprecated("ci", "election_errors"):
        res = election_errors(VOTES, TRUTH, n_boot=30, ci=0.7, random_state=0)
    assert res.bootstrap.level == 0.7
    with _deprecated("ci", "composition_error"):
        comp = composition_error(PERSONAS, MARGINS, n_boot=30, ci=0.6, random_state=0)
    assert comp.bootstrap.level == 0.6
    with _deprecated("ci", "bootstrap"):
        boot = bootstrap(lambda idx, w: float(np.mean(idx)), 5, n_boot=20, ci=0.5, random_state=0)
    # A 50% percentile interval is the inter-quartile range of the replicates.
    low, high = np.quantile(boot.distribution[:, 0], [0.25, 0.75])
    assert boot.level == 0.5 and (boot.ci_low[0], boot.ci_high[0]) == pytest.approx((low, high))


def test_poststratify_ci_names_the_method_or_the_level(answers):
    new = poststratify_answers(*answers, interval_method="fixed", n_boot=40, level=0.8, random_state=2)
    with _deprecated("ci", "poststratify_answers"), _deprecated("ci_level", "poststratify_answers"):
        old = poststratify_answers(*answers, ci="fixed", n_boot=40, ci_level=0.8, random_state=2)
    assert (old.interval_method, old.level) == (new.interval_method, new.level) == ("fixed", 0.8)
    pd.testing.assert_frame_equal(old.distributions, new.distributions)
    # A number passed as `ci` meant a level: it goes to `level`, not to the method.
    with pytest.warns(DeprecationWarning, match=r"`ci` of poststratify_answers is deprecated.*use `level`"):
        as_level = poststratify_answers(*answers, interval_method="fixed", ci=0.8, n_boot=40, random_state=2)
    assert as_level.level == 0.8
    pd.testing.assert_frame_equal(as_level.distributions, new.distributions)


def test_mrp_ci_level_reaches_level_before_any_fit(answers):
    # An out-of-range level is refused under its new name: the old name was mapped onto it.
    with _deprecated("ci_level", "mrp"), pytest.raises(InputError, match=r"`level` of mrp must be a finite number"):
        mrp(answers[0], answers[1], pd.Series([1.0]), ci_level=1.5)


def test_old_and_new_name_together_is_an_error(answers):
    with pytest.raises(InputError, match=r"got both `ci` and `level`"):
        alignment(SIM, REF, ci=0.9, level=0.9)
    with pytest.raises(InputError, match=r"got both `ci` and `interval_method`"):
        poststratify_answers(*answers, ci="fixed", interval_method="fixed")


def test_old_attribute_names_still_read():
    res = alignment(SIM, REF, group="party", n_boot=20, random_state=0)
    with _deprecated("by", "AlignmentResult"):
        assert res.by == ("party",)
    with _deprecated("ci", "AlignmentResult"):
        assert res.ci == res.confidence_interval
    with _deprecated("ci", "BootstrapResult"):
        assert res.bootstrap.ci == 0.95
    # The pipeline builds population-only comparisons directly; `ci=` there was the level.
    with _deprecated("ci", "Comparison"):
        c = Comparison(kind="composition", tiers=(), results={}, composition={}, weight_diagnostics=None,
                       truth_label="t", n_boot=0, ci=0.9, notes=())
    assert c.level == 0.9
    with _deprecated("ci", "Comparison"):
        assert c.ci == 0.9


def test_old_attribute_names_of_poststratified_answers(answers):
    res = poststratify_answers(*answers, interval_method="fixed", n_boot=20, random_state=0)
    with _deprecated("ci", "PoststratifiedAnswers"):
        assert res.ci == "fixed"
    with _deprecated("ci_level", "PoststratifiedAnswers"):
        assert res.ci_level == 0.95


def test_cli_old_options_map_to_new_ones(capsys):
    from personacal.evaluate._cli import _renamed_options

    args = argparse.Namespace(by=["party"], group=None, ci=0.8, level=0.95)
    _renamed_options(args)
    assert (args.group, args.level) == (["party"], 0.8)
    err = capsys.readouterr().err
    assert "--by is deprecated" in err and "--ci is deprecated" in err


def test_level_defaults_to_095_everywhere():
    functions = [alignment, bootstrap, compare, composition_error, election_errors, mrp, poststratify_answers]
    for fn in functions:
        assert inspect.signature(fn).parameters["level"].default == 0.95, fn.__name__
        assert not {"ci", "ci_level", "interval"} & set(inspect.signature(fn).parameters), fn.__name__


def test_new_names_raise_no_deprecation(answers):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        alignment(SIM, REF, group="party", n_boot=10, level=0.9, random_state=0).summary()
        poststratify_answers(*answers, interval_method="fixed", n_boot=10, level=0.9, random_state=0).summary()
        compare(VOTES, VOTES, TRUTH, n_boot=10, level=0.9, random_state=0).summary()


# --------------------------------------------------------------------------- compact repr
def _results(answers):
    tier = pd.DataFrame({"persona_id": [f"p{i}" for i in range(6)],
                         "ideology": ["liberal", "moderate", "conservative"] * 2})
    shares = {"ideology": {"liberal": 0.3, "moderate": 0.4, "conservative": 0.3}}
    boot = bootstrap(lambda idx, w: float(np.mean(idx)), 5, n_boot=20, random_state=0)
    return {
        AlignmentResult: alignment(SIM, REF, group="party", n_boot=20, random_state=0),
        ElectionResult: election_errors(VOTES, TRUTH, n_boot=20, random_state=0),
        CompositionResult: composition_error(PERSONAS, MARGINS),
        BootstrapResult: boot,
        Comparison: compare(VOTES, VOTES, TRUTH, weights=pd.Series(1.0, index=["a1", "a2", "b1", "b2"])),
        PoststratifiedAnswers: poststratify_answers(*answers, interval_method="fixed", n_boot=20, random_state=0),
        TierCalibrationResult: calibrate_tier(tier, shares),
        TextDiagnosticsResult: text_diagnostics({"meta": ["A 40-year-old woman.", "A 70-year-old man."],
                                                 "llm": ["I love my garden!", "Life has been hard."]},
                                                progress=False),
    }


def test_every_result_prints_on_one_short_line(answers):
    results = _results(answers)
    assert set(results) == {getattr(ev, name) for name in ev.__all__ if name.endswith(("Result", "Answers"))
                            or name == "Comparison"}
    for cls, result in results.items():
        text = repr(result)
        assert text.startswith(f"<{cls.__name__} ") and "\n" not in text, text
        assert len(text) < 200, text


def test_repr_carries_the_key_facts(answers):
    res = alignment(SIM, REF, group="party")
    # d: (.75, .25, 0) vs (.6, .4, 0) -> W1 .15, /2 = .075; r: (0, .5, .5) vs (0, .3, .7) -> .2, /2 = .1
    assert re.search(r"representativeness='?0\.9125'?,", repr(res))
    assert "n_questions=1" in repr(res) and "groups=2" in repr(res)


# --------------------------------------------------------------------------- house rules
def test_evaluate_reaches_other_subpackages_only_through_their_faces():
    subpackages = {p.name for p in EVALUATE.parent.iterdir() if (p / "__init__.py").exists()} - {"evaluate"}
    reach_ins = []
    for path in EVALUATE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                parts = node.module.split(".")
                if parts[0] in subpackages and any(p.startswith("_") for p in parts[1:]):
                    reach_ins.append(f"{path.name}: from ..{node.module}")
    assert reach_ins == []


def test_evaluate_modules_stay_under_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in EVALUATE.glob("*.py")}
    assert max(sizes.values()) <= 500, sizes
