"""Meta personas drawn from a joint: whole persons, stable ids, margins as close as integers allow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.calibrate import Margins, controlled_round, reconstruct_joint
from personacal.calibrate._integerize import largest_remainder
from personacal.errors import InputError, InvalidValueError
from personacal.generate import sample_meta_personas


@pytest.fixture
def joint():
    margins = {
        "CA": Margins({"age": {"18-29": 300, "30-64": 450, "65+": 250}, "sex": {"F": 505, "M": 495}}),
        "WY": Margins({"age": {"18-29": 200, "30-64": 400, "65+": 400}, "sex": {"F": 490, "M": 510}}),
    }
    return reconstruct_joint(margins, method="independent")


def test_largest_remainder_by_hand():
    # 2.6, 3.3, 4.1 → floors 2, 3, 4 (sum 9) → one more to the largest remainder (2.6).
    assert largest_remainder(np.array([2.6, 3.3, 4.1]), 10).tolist() == [3, 3, 4]


def test_every_margin_is_the_rounded_target(joint):
    personas = sample_meta_personas(joint, 333, random_state=7)
    assert personas.groupby("region").size().to_dict() == {"CA": 333, "WY": 333}
    # CA age shares .30/.45/.25 of 333 → 99.9, 149.85, 83.25 → largest remainder: 100, 150, 83.
    ca = personas[personas.region == "CA"]
    assert ca["age"].value_counts().to_dict() == {"18-29": 100, "30-64": 150, "65+": 83}
    # CA sex .505/.495 of 333 → 168.165, 164.835 → 168, 165.
    assert ca["sex"].value_counts().to_dict() == {"F": 168, "M": 165}


def test_cells_are_floor_or_ceil_of_expected(joint):
    personas = sample_meta_personas(joint, 101, random_state=1)
    for region in joint.regions:
        table = joint.for_region(region)
        expected = table / table.sum() * 101
        got = personas[personas.region == region].groupby(["age", "sex"]).size().reindex(expected.index, fill_value=0)
        assert ((got == np.floor(expected)) | (got == np.ceil(expected))).all()


def test_ids_are_stable_and_unique(joint):
    first = sample_meta_personas(joint, 50, random_state=3)
    again = sample_meta_personas(joint, 50, random_state=3)
    pd.testing.assert_frame_equal(first, again)
    assert first["persona_id"].is_unique
    assert first["persona_id"].iloc[0] == "CA-000000" and first["persona_id"].iloc[-1] == "WY-000049"


def test_multinomial_draw_is_the_papers_iid_sampling(joint):
    personas = sample_meta_personas(joint, 20_000, random_state=5, draw="multinomial", regions=["CA"])
    share = personas["age"].value_counts(normalize=True)
    assert share["30-64"] == pytest.approx(0.45, abs=0.015)
    assert personas["region"].unique().tolist() == ["CA"]


def test_controlled_round_hits_every_grouping():
    rng = np.random.default_rng(0)
    expected = rng.dirichlet(np.ones(60)) * 500
    index = pd.MultiIndex.from_product([range(5), range(3), range(4)])
    groups = [index.codes[i].astype(np.int64) for i in range(3)]
    counts = controlled_round(expected, groups, random_state=rng)
    assert counts.sum() == 500
    for codes in groups:
        assert (np.bincount(codes, weights=counts) == largest_remainder(np.bincount(codes, weights=expected), 500)).all()
    assert (np.abs(counts - expected) < 1).all()  # every cell at its floor or its ceiling
    assert (controlled_round(expected, groups, random_state=5) == controlled_round(expected, groups, random_state=5)).all()


def test_controlled_round_checks_its_arguments():
    with pytest.raises(InvalidValueError, match=r"`expected` of controlled_round must be a 1-D array of finite"):
        controlled_round([1.5, -0.5], [np.array([0, 1])])
    with pytest.raises(InputError, match=r"`groups\[0\]` of controlled_round must hold one category code \(an int "
                                         r">= 0\) per cell \(2\); got shape \(3,\)"):
        controlled_round([1.5, 0.5], [np.array([0, 1, 1])])
    with pytest.raises(InputError, match=r"`time_limit` of controlled_round must be a finite number > 0; got 0"):
        controlled_round([1.5, 0.5], [np.array([0, 1])], time_limit=0)


def test_bad_arguments(joint):
    with pytest.raises(InputError, match=r"^`n` of sample_meta_personas must be an int >= 1; got 0$"):
        sample_meta_personas(joint, 0)
    with pytest.raises(InputError, match=r"^`draw` of sample_meta_personas must be one of 'integerize', "
                                         r"'multinomial'; got 'round'$"):
        sample_meta_personas(joint, 5, draw="round")
    with pytest.raises(InputError, match=r"^`joint` of sample_meta_personas must be a JointResult or a joint Series; "
                                         r"got 3$"):
        sample_meta_personas(3, 5)
    with pytest.raises(InputError, match=r"`regions` \['TX'\] are not in the joint"):
        sample_meta_personas(joint, 5, regions=["TX"])
