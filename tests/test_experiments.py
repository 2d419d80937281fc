"""The seed paper's experiments (a)-(c) with the demographic respondent model as the backend.

The model answers from demographics only, so the effects are known in advance: a tier that
changes nobody's demographics changes nothing (change exactly 0), and a tier that makes every
persona a graduate moves the answers away from a truth set to the Meta personas' own mean
prediction (computed here from the model directly), which the Meta tier matches exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.cli import main
from personacal.errors import InputError
from personacal.experiments import attribute_ablation, generation_simulation, progressive_degradation
from personacal.generate import sample_meta_personas, state_joints
from personacal.simulate import DemographicModel, load_question_bank

GRAD = "Graduate or professional degree"


@pytest.fixture(scope="module")
def model():
    return DemographicModel(["natenvir"], holdout=0, progress=False, random_state=0)


@pytest.fixture(scope="module")
def question():
    return next(q for q in load_question_bank("subpop-gss2022") if q.id == "natenvir")


@pytest.fixture(scope="module")
def meta():
    return sample_meta_personas(state_joints(["WY"], progress=False), 40, random_state=1)


@pytest.fixture(scope="module")
def truth(model, meta, question):
    """The Meta personas' mean predicted distribution: the truth the Meta tier matches exactly."""
    mean = model.predict_distributions(meta, question).mean(axis=0)
    refusal = np.array(question.is_refusal)
    return pd.DataFrame({"question_id": question.id, "option": list(question.options), "share": mean / mean.sum(),
                         "position": np.where(refusal, np.nan, np.arange(1.0, len(refusal) + 1)),
                         "is_refusal": refusal})


def test_degradation_pairs_each_tier_with_meta(model, meta, question, truth, tmp_path):
    graduates = meta.assign(education3=GRAD)
    result = progressive_degradation({"Descriptive": graduates, "Meta": meta, "Objective Tabular": meta.copy()},
                                     [question], model, truth, n_boot=100, random_state=3)
    assert result.tiers == ("Meta", "Objective Tabular", "Descriptive")  # the paper's order
    assert result.value("Meta") == pytest.approx(1.0, abs=1e-12)
    rows = result.to_frame().set_index(["tier", "statistic"])
    same = rows.loc[("Objective Tabular", "alignment")]
    assert same["change"] == 0 and same["change_ci_low"] == 0 and same["change_ci_high"] == 0
    worse = rows.loc[("Descriptive", "alignment")]
    assert worse["change"] < 0 and worse["change_ci_high"] < 0 and worse["verdict"] == "worse"
    assert worse["change"] == pytest.approx(worse["to_value"] - worse["from_value"], abs=1e-12)
    ax = result.plot()
    ax.figure.savefig(tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 0
    assert "Progressive degradation" in str(result.summary()) and repr(result).startswith("<DegradationResult tiers=3")


def test_matrix_separates_what_the_generator_wrote(model, meta, question, truth):
    generators = {"faithful": {"Descriptive": meta.copy()}, "over-educating": {"Descriptive": meta.assign(
        education3=GRAD)}}
    result = generation_simulation(meta, generators, {"demographic": model}, [question], truth, n_boot=50,
                                   random_state=0)
    change = result.matrix("alignment", "change")
    assert change.shape == (2, 1)
    assert change.loc["faithful", "demographic"] == 0
    assert change.loc["over-educating", "demographic"] < 0
    assert "generators" in repr(result)


def test_ablation_of_a_field_the_backend_ignores_changes_nothing(model, meta, question, truth):
    result = attribute_ablation(meta.assign(note="likes hiking"), [question], model, truth, fields=["note"],
                                n_boot=50, random_state=0)
    row = result.to_frame().set_index("statistic").loc["alignment"]
    assert row["change"] == 0 and row["from_value"] == row["to_value"]
    assert result.fields == ("note",)


def test_ablation_refuses_bad_fields(model, meta, question, truth):
    with pytest.raises(InputError, match="persona_id"):
        attribute_ablation(meta, [question], model, truth, fields=["persona_id"], n_boot=0)
    with pytest.raises(InputError, match="nonexistent"):
        attribute_ablation(meta, [question], model, truth, fields=["nonexistent"], n_boot=0)
    with pytest.raises(InputError, match="n_boot"):
        attribute_ablation(meta, [question], model, truth, n_boot=1)


def test_cli_ablation_with_the_demographic_model(meta, truth, tmp_path):
    personas, reference = tmp_path / "personas.csv", tmp_path / "truth.csv"
    meta.assign(note="x").to_csv(personas, index=False)
    truth.to_csv(reference, index=False)
    code = main(["experiment", "ablation", "--backend", "demographic", "--personas", str(personas),
                 "--question", "subpop-gss2022:natenvir", "--truth", str(reference), "--fields", "note",
                 "--n-boot", "20", "--out", str(tmp_path / "out")])
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert set(table["field"]) == {"note"}
    np.testing.assert_array_equal(table["change"].to_numpy(), 0.0)


def test_cli_rejects_a_bad_backend_spec(tmp_path):
    code = main(["experiment", "ablation", "--backend", "gpt", "--out", str(tmp_path / "o"), "--n-boot", "0"])
    assert code == 2
