"""``reconstruct_joint(..., method="bayes", bayes_options={...})``, the call its docstring names (issue 14, item 11)."""

from __future__ import annotations

import pandas as pd
import pytest

from personacal.calibrate import Margins, reconstruct_joint
from personacal.errors import InputError

SEED = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.MultiIndex.from_tuples(
    [("a1", "b1"), ("a1", "b2"), ("a2", "b1"), ("a2", "b2")], names=["a", "b"]))
MARGINS = Margins({"a": {"a1": 40.0, "a2": 60.0}, "b": {"b1": 50.0, "b2": 50.0}}, name="R")
ADVI = {"sampler": "advi", "advi_iterations": 300, "draws": 40, "chains": 1, "joint_draws": 40, "level": 0.8}


@pytest.mark.filterwarnings("ignore::personacal.errors.DiagnosticsWarning")  # 300 ADVI steps: a quick fit
def test_the_dict_form_is_the_keyword_form():
    as_dict = reconstruct_joint(MARGINS, seed=SEED, method="bayes", bayes_options=ADVI, random_state=3, progress=False)
    as_keywords = reconstruct_joint(MARGINS, seed=SEED, method="bayes", random_state=3, progress=False, **ADVI)
    assert as_dict.level == 0.8  # the options were used, not dropped
    pd.testing.assert_series_equal(as_dict.table, as_keywords.table)


def test_option_mistakes_are_typed_and_named():
    with pytest.raises(InputError, match=r"`bayes_options` of reconstruct_joint has unknown option\(s\) \['drawz'\]; "
                                         r"the options are \[.*'draws'"):
        reconstruct_joint(MARGINS, seed=SEED, method="bayes", bayes_options={"drawz": 10})
    with pytest.raises(InputError, match=r"`bayes_options` of reconstruct_joint repeats option\(s\) \['draws'\]"):
        reconstruct_joint(MARGINS, seed=SEED, method="bayes", bayes_options={"draws": 10}, draws=20)
    with pytest.raises(InputError, match=r"`bayes_options` of reconstruct_joint must be a dict of options; got \['draws'\]"):
        reconstruct_joint(MARGINS, seed=SEED, method="bayes", bayes_options=["draws"])
    with pytest.raises(InputError, match=r"options \['sampler'\] are only for method='bayes'"):
        reconstruct_joint(MARGINS, seed=SEED, method="ipf", bayes_options={"sampler": "advi"})
