"""``personacal poststratify-answers``: job 2 (weight the answers to the margins, with intervals) in one command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.cli import main


@pytest.fixture
def job(tmp_path):
    """Two regions; in each, women answer "yes" and men "no" (probability 1), in known numbers.

    Region A: 2 women, 6 men; its margins say 70% women. Region B: 3 women, 3 men; 20% women.
    Raking to sex alone must give P(yes) = share of women: 0.7 in A, 0.2 in B (raw: 0.25 and 0.5).
    """
    personas = pd.DataFrame({
        "persona_id": [f"a{i}" for i in range(8)] + [f"b{i}" for i in range(6)],
        "state": ["A"] * 8 + ["B"] * 6,
        "sex": ["F", "F"] + ["M"] * 6 + ["F"] * 3 + ["M"] * 3,
    })
    yes = (personas["sex"] == "F").astype(float)
    answers = pd.concat([
        pd.DataFrame({"persona_id": personas["persona_id"], "question_id": "q1", "option": "yes", "probability": yes}),
        pd.DataFrame({"persona_id": personas["persona_id"], "question_id": "q1", "option": "no",
                      "probability": 1 - yes}),
    ], ignore_index=True)
    margins = pd.DataFrame({"state": ["A", "A", "B", "B"], "margin": "sex", "sex": ["F", "M", "F", "M"],
                            "value": [700.0, 300.0, 200.0, 800.0]})
    paths = {name: tmp_path / f"{name}.csv" for name in ("personas", "answers", "margins")}
    personas.to_csv(paths["personas"], index=False)
    answers.to_csv(paths["answers"], index=False)
    margins.to_csv(paths["margins"], index=False)
    return paths


@pytest.mark.parametrize("method", ["rake", "poststratify"])
def test_weights_answers_to_the_margins_with_intervals(job, tmp_path, method, capsys):
    out, weights_out = tmp_path / "dist.csv", tmp_path / "weights.parquet"
    code = main(["poststratify-answers", "--answers", str(job["answers"]), "--personas", str(job["personas"]),
                 "--margins", str(job["margins"]), "--by", "state", "--method", method, "--n-boot", "200",
                 "--seed", "1", "--out", str(out), "--weights-out", str(weights_out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"post-stratified answers ({method})" in printed and "Wrote" in printed
    dist = pd.read_csv(out)
    yes = dist[dist["option"] == "yes"].set_index("region")
    np.testing.assert_allclose(yes.loc[["A", "B"], "probability_weighted"], [0.7, 0.2], atol=1e-9)
    np.testing.assert_allclose(yes.loc[["A", "B"], "probability_raw"], [0.25, 0.5], atol=1e-12)
    # bootstrap intervals are there and hold the estimate
    assert (yes["ci_low"] <= yes["probability_weighted"] + 1e-12).all()
    assert (yes["ci_high"] >= yes["probability_weighted"] - 1e-12).all()
    # region A: the 2 women stand for 700 people, the 6 men for 300
    weights = pd.read_parquet(weights_out).set_index("persona_id")["weight"]
    assert weights["a0"] == pytest.approx(350.0) and weights["a2"] == pytest.approx(50.0)


def test_no_intervals_and_wrong_targets_are_one_line(job, tmp_path, capsys):
    base = ["poststratify-answers", "--answers", str(job["answers"]), "--personas", str(job["personas"]),
            "--by", "state", "--out", str(tmp_path / "d.csv")]
    assert main([*base, "--margins", str(job["margins"]), "--interval", "none"]) == 0
    assert "ci_low" not in pd.read_csv(tmp_path / "d.csv").columns
    capsys.readouterr()
    assert main(base) == 2
    assert capsys.readouterr().err.strip() == ("personacal: error [bad-input]: --method rake of personacal "
                                               "poststratify-answers needs --margins (and no --joint)")
    assert main([*base, "--method", "mrp", "--margins", str(job["margins"])]) == 2
    assert "needs --joint" in capsys.readouterr().err
