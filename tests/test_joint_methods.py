"""reconstruct_joint: independence and IPF on hand-computable tables; seed mapping errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from personacal.calibrate import Margins, reconstruct_joint
from personacal.errors import InputError, MappingError


def _margins(name="R1"):
    return Margins({"sex": {"M": 60.0, "F": 40.0}, "age": {"young": 30.0, "old": 70.0}}, name=name)


def test_independent_is_the_product_of_the_marginals():
    result = reconstruct_joint(_margins(), method="independent")
    expected = {("M", "young"): 18.0, ("M", "old"): 42.0, ("F", "young"): 12.0, ("F", "old"): 28.0}
    assert result.table.to_dict() == pytest.approx(expected)
    assert result.method == "independent" and result.regions == ("R1",)


def test_independent_per_region_keeps_each_region_apart():
    other = Margins({"sex": {"M": 10.0, "F": 90.0}, "age": {"young": 50.0, "old": 50.0}}, name="R2")
    result = reconstruct_joint({"R1": _margins(), "R2": other}, method="independent")
    assert result.for_region("R2")[("F", "old")] == pytest.approx(45.0)
    assert result.for_region("R1")[("F", "old")] == pytest.approx(28.0)


def test_ipf_keeps_the_seed_odds_ratio_on_a_2x2_table():
    # Seed [[1, 2], [3, 4]] has odds ratio 4/6. With rows (40, 60) and columns (50, 50)
    # the fit is x11 = x, x12 = 40 - x, x21 = 50 - x, x22 = 10 + x with
    # x (10 + x) / ((40 - x)(50 - x)) = 2/3, i.e. x^2 + 210 x - 4000 = 0.
    seed = pd.Series([1.0, 2.0, 3.0, 4.0],
                     index=pd.MultiIndex.from_tuples([("a1", "b1"), ("a1", "b2"), ("a2", "b1"), ("a2", "b2")],
                                                     names=["a", "b"]))
    margins = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0}})
    result = reconstruct_joint(margins, seed=seed, method="ipf", tol=1e-12)
    x = (-210 + math.sqrt(210**2 + 4 * 4000)) / 2
    assert result.table[("a1", "b1")] == pytest.approx(x, rel=1e-9)
    assert result.table[("a2", "b2")] == pytest.approx(10 + x, rel=1e-9)
    assert result.table[("a1", "b2")] == pytest.approx(40 - x, rel=1e-9)
    assert result.converged


def _microdata():
    return pd.DataFrame({"sex": ["M", "F", "F", "M", "X"], "age": ["young", "old", "young", "old", "old"]})


def test_unmapped_seed_category_raises_mapping_error():
    with pytest.raises(MappingError, match=r"seed column 'sex' has categories with no entry in mapping\['sex'\]: \['X'\]"):
        reconstruct_joint(_margins(), seed=_microdata(), method="ipf", mapping={"sex": {"M": "M", "F": "F"}})


def test_mapping_collapses_seed_categories():
    mapping = {"sex": {"M": "M", "F": "F", "X": "F"}}
    result = reconstruct_joint(_margins(), seed=_microdata(), method="ipf", mapping=mapping, smoothing=0.01)
    assert result.table.groupby(level="sex").sum().to_dict() == pytest.approx({"M": 60.0, "F": 40.0})


def test_seed_category_outside_the_targets_needs_a_mapping():
    with pytest.raises(MappingError, match=r"seed cell .*'sex': 'X'.* pass `mapping`"):
        reconstruct_joint(_margins(), seed=_microdata(), method="ipf")


def test_bad_method_and_options_are_rejected():
    with pytest.raises(InputError, match=r"`method` of reconstruct_joint must be one of"):
        reconstruct_joint(_margins(), method="magic")
    with pytest.raises(InputError, match=r"options \['draws'\] are only for method='bayes'"):
        reconstruct_joint(_margins(), seed=_microdata(), method="ipf", draws=10)
    with pytest.raises(InputError, match=r"method='ipf' of reconstruct_joint needs a `seed`"):
        reconstruct_joint(_margins(), method="ipf")
