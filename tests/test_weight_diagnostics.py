"""Kish's design effect counts the units that carry weight; every summary uses the same convention.

Expected values are worked by hand here (n Σw² / (Σw)² over the units with w ≠ 0, which equals
1 + CV² of those units' weights with the population variance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.calibrate import Margins, design_effect, kish_ess, poststratify, weight_diagnostics
from personacal.evaluate import compare


def test_zero_weights_do_not_count_in_n():
    # Units carrying weight: 2, 2, 4 (n = 3, Σw = 8, Σw² = 24). Mean 8/3, population variance 8/9,
    # CV² = 1/8: design effect 1 + 1/8 = 9/8 = 3 · 24 / 64 (counting the two zeros would give 15/8).
    w = np.array([2.0, 0.0, 2.0, 4.0, 0.0])
    assert design_effect(w) == pytest.approx(9 / 8, rel=1e-15)
    assert kish_ess(w) == pytest.approx(8 / 3, rel=1e-15)
    facts = weight_diagnostics(w)
    assert facts["rows"] == 5 and facts["rows_zero"] == 2
    assert facts["ess_ratio"] == pytest.approx(8 / 9, rel=1e-15)  # ESS per weighted unit = 1 / deff
    assert facts["design_effect"] == pytest.approx(9 / 8, rel=1e-15)
    # Zero rows change nothing: the same facts as the positive weights alone.
    alone = weight_diagnostics(w[w > 0])
    assert {k: facts[k] for k in ("ess", "ess_ratio", "design_effect", "weight_ratio")} == pytest.approx(
        {k: alone[k] for k in ("ess", "ess_ratio", "design_effect", "weight_ratio")}, rel=1e-15)


def test_negative_weights_carry_weight():
    # Unbounded linear calibration can return negative weights; they enter the estimator, so they
    # count: n = 2, Σw = 2, Σw² = 10, deff = 2 · 10 / 4 = 5.
    assert design_effect(np.array([-1.0, 3.0, 0.0])) == pytest.approx(5.0, rel=1e-15)


def test_every_summary_uses_the_weighted_units():
    # Post-stratification with an empty-target stratum gives its rows weight 0. Region A: strata x
    # (2 rows, target 60) and y (1 row, target 40) and z (1 row, target 0): weights 30, 30, 40, 0,
    # n = 3, Σw = 100, Σw² = 3400, deff = 3 · 3400 / 10000 = 1.02 (with the zero row: 1.36).
    sample = pd.DataFrame({"region": ["A", "A", "A", "A", "B", "B"], "s": ["x", "x", "y", "z", "x", "y"]})
    margins = {"A": Margins({"s": {"x": 60.0, "y": 40.0, "z": 0.0}}, name="A"),
               "B": Margins({"s": {"x": 50.0, "y": 50.0, "z": 0.0}}, name="B")}
    result = poststratify(sample, margins, by="region")
    assert result.weights.tolist() == pytest.approx([30.0, 30.0, 40.0, 0.0, 50.0, 50.0])
    expected = 3 * 3400 / 100**2
    region_a = result["A"]
    assert region_a.design_effect == pytest.approx(expected, rel=1e-12)
    assert region_a.summary().facts["design effect (1 + CV², rows with weight ≠ 0)"] == pytest.approx(expected)
    table = result.region_table()
    assert table.loc["A", "design_effect"] == pytest.approx(expected, rel=1e-12)
    assert table.loc["A", "ess_ratio"] == pytest.approx(1 / expected, rel=1e-12)
    # evaluate's weight table reads the same facts
    truth = pd.DataFrame({"state": ["A", "B"], "dem_two_party_share": [0.5, 0.5]})
    votes = pd.DataFrame({"state": ["A", "B"], "dem_two_party_share": [0.5, 0.5]})
    diag = compare(votes, votes, truth, weight_diagnostics=result).to_frame("weights").set_index("region")
    assert diag.loc["A", "design_effect"] == pytest.approx(expected, rel=1e-12)
    assert diag.loc["A", "ess_ratio"] == pytest.approx(1 / expected, rel=1e-12)
