"""The seed paper's experiments on a REAL vLLM CPU engine running the tiny random-weight model.

The model knows nothing, so these tests check the machinery: the tiers it writes are scored
in the paper's order and paired with Meta, the matrix crosses a writer with two answerers, and
a field the prompt never shows (a leading underscore: render_persona skips it) changes nothing
while one it shows changes the answers. One tier write (two personas) is shared by all tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from personacal.data import election_results
from personacal.errors import DiagnosticsWarning
from personacal.experiments import (
    TIERS,
    attribute_ablation,
    generation_simulation,
    progressive_degradation,
    write_tiers,
)
from personacal.simulate import election_question

pytestmark = pytest.mark.vllm

QUESTION = election_question(2024)


@pytest.fixture(scope="module")
def meta() -> pd.DataFrame:
    return pd.DataFrame({
        "persona_id": ["WY-000000", "WY-000001"],
        "region": "WY",
        "sex": ["Female", "Male"],
        "age": ["35-44", "65+"],
        "race_eth": ["White non-Hispanic", "Hispanic"],
        "education3": ["No college degree", "Graduate or professional degree"],
        "employment3": ["Employed (incl. Armed Forces)", "Not in labor force"],
    })


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return election_results(2024)[["state", "dem_two_party_share"]]


@pytest.fixture(scope="module")
def tiers(meta, vllm_backend) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticsWarning)
        return write_tiers(meta, vllm_backend, random_state=5)


def test_degradation_on_the_tiny_model(tiers, vllm_backend, truth):
    assert tuple(tiers) == TIERS and all(len(t) >= 1 for t in tiers.values())
    result = progressive_degradation(tiers, [QUESTION], vllm_backend, truth, n_boot=20, random_state=0)
    frame = result.to_frame()
    assert result.tiers == TIERS
    meta_rows = frame[frame["tier"] == "Meta"]
    np.testing.assert_array_equal(meta_rows["change"].dropna().to_numpy(), 0.0)
    lean = frame[frame["statistic"] == "mean_signed_error"].set_index("tier")
    np.testing.assert_allclose(lean["change"], lean["to_value"] - lean["from_value"], atol=1e-12)
    assert result.plot("mean_signed_error") is not None


def test_matrix_crosses_one_writer_with_two_answerers(meta, tiers, vllm_backend, truth):
    result = generation_simulation(meta, {"tiny": tiers}, {"tiny": vllm_backend, "tiny again": vllm_backend},
                                   [QUESTION], truth, tier="Subjective Tabular", n_boot=0, random_state=0)
    values = result.matrix("mean_signed_error")
    assert values.shape == (1, 2)
    # the same engine and seed answer the same personas the same way
    assert values.loc["tiny", "tiny"] == pytest.approx(values.loc["tiny", "tiny again"], abs=1e-12)


def test_ablation_changes_lean_only_for_fields_the_prompt_shows(tiers, vllm_backend, truth):
    personas = tiers["Subjective Tabular"].assign(_hidden="never rendered")
    result = attribute_ablation(personas, [QUESTION], vllm_backend, truth, fields=["_hidden", "sex", "age"],
                                n_boot=20, random_state=0)
    lean = result.lean_changes().set_index("field")
    assert lean.loc["_hidden", "change"] == 0
    assert (lean.loc[["sex", "age"], "change"].abs() > 0).any()
    assert (lean["change_ci_low"] <= lean["change"] + 1e-12).all()
