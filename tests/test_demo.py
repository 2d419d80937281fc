"""The main job end to end: ``personacal demo`` without an LLM, and with the real tiny vLLM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from personacal.workflow import run_demo
from personacal.cli import main
from personacal.data import election_results


def test_demo_without_llm_writes_report_and_says_what_was_skipped(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["demo", "--states", "CA,WY,TX", "--n", "120", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped: simulate the 2024 presidential election" in printed
    assert f"Report: {out / 'index.html'}" in printed
    html = (out / "index.html").read_text()
    assert "composition.png" in html and "weights.png" in html
    assert "the LLM steps need a backend" in html and "not an LLM" in html
    # No election figures may appear without election answers.
    assert not (out / "states.png").exists() and not (out / "lean.png").exists()


def test_demo_composition_numbers(tmp_path):
    result = run_demo(states=["CA", "WY"], n_per_state=150, out=tmp_path / "report", progress=False,
                      on_infeasible="collapse")
    tvd = result.composition.pivot_table(index="margin", columns="pool", values="tvd", aggfunc="max")
    raked = tvd["paper-style, raked"]
    # Raked margins are met exactly; the held-out age × sex table is not.
    for margin in ("sex", "age", "education3", "employment3"):
        assert raked[margin] < 1e-6
    assert raked["age:sex"] > 1e-3
    # Meta personas from the IPF joint: integer rounding only (≤ 1 person per cell of 150).
    meta = tvd[[c for c in tvd.columns if c.startswith("personacal Meta")][0]]
    assert meta["sex"] <= 1 / 150 + 1e-12
    # Independent draws put persons in impossible race × Hispanic-origin cells; IPF joints do not.
    assert tvd["paper-style, raw"]["race4:race_eth"] > 0.2 > meta["race4:race_eth"]
    assert len(result.meta_personas) == 300 and result.skipped
    # Every state's margins are recorded: met, or merged with what moved where.
    records = result.calibration.set_index(["region", "margin"])
    assert set(records.index.get_level_values("region")) == {"CA", "WY"}
    assert set(records["status"]) <= {"met", "merged"}
    merged = records[records["status"] == "merged"]
    assert (merged["detail"].str.contains("into")).all()


def test_demo_rejects_bad_arguments(capsys):
    assert main(["demo", "--states", "CA", "--model", "x"]) == 2
    assert "--model/--base-url/--cpu-fast-start need --backend" in capsys.readouterr().err
    assert main(["demo", "--states", "CA", "--replicas", "2"]) == 2
    assert "--replicas need --backend ray" in capsys.readouterr().err
    assert main(["demo", "--states", "CA", "--backend", "vllm", "--model", "m", "--address", "auto"]) == 2
    assert "--address apply to --backend ray only; got --backend vllm" in capsys.readouterr().err
    assert main(["demo", "--states", "ZZ"]) == 2
    assert "unknown-region" in capsys.readouterr().err


@pytest.mark.vllm
def test_demo_with_real_llm(vllm_backend, tmp_path):
    result = run_demo(states=["CA", "WY"], n_per_state=60, n_llm_per_state=2, backend=vllm_backend,
                      out=tmp_path / "report", progress=False, on_infeasible="drop", n_boot=50)
    answers = result.answers
    assert set(answers["tier"]) == {"Meta", "Objective Tabular", "Subjective Tabular", "Descriptive"}
    sums = answers.groupby(["tier", "persona_id"])["probability"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert (answers["weight"] > 0).all()
    assert not result.skipped
    for figure in ("states.png", "alignment_by_tier.png", "lean.png", "weights.png", "composition.png"):
        assert (tmp_path / "report" / figure).stat().st_size > 0
    # The comparison scores the simulated shares against the real 2024 results: recompute one state's
    # calibrated Democratic two-party share and error by hand from the persona-level answers.
    truth = election_results(2024).set_index("state")["dem_two_party_share"]
    meta_wy = answers[(answers["tier"] == "Meta") & (answers["state"] == "WY")]
    d = meta_wy[meta_wy["party"] == "D"].set_index("persona_id")
    r = meta_wy[meta_wy["party"] == "R"].set_index("persona_id")
    share = (d["weight"] * d["probability"]).sum() / (d["weight"] * (d["probability"] + r["probability"])).sum()
    states = result.comparison.to_frame("state")
    row = states[(states["tier"] == "Meta") & (states["version"] == "calibrated") & (states["state"] == "WY")].iloc[0]
    assert row["simulated"] == pytest.approx(share, rel=1e-9)
    assert row["actual"] == pytest.approx(truth["WY"], rel=1e-12)
    html = (tmp_path / "report" / "index.html").read_text()
    assert "MEDSL 2024 results" in html
    # The tiers that carry the recalled 2020 vote were raked on it (or, with 2 personas, recorded as dropped).
    records = result.calibration
    assert set(records["tier"]) == {"paper-style pool", "Meta", "Objective Tabular", "Subjective Tabular",
                                    "Descriptive"}
    assert set(records.loc[records["tier"] == "Subjective Tabular", "margin"]) >= {"vote_2020", "sex"}
    assert "vote_2020" not in set(records.loc[records["tier"] == "Meta", "margin"])
    # The report leads with the verdict; summary.json has the same numbers; the parse rate is reported.
    assert html.index("Verdict") < html.index("<h2>Summary</h2>") and "Parse rate" in html
    assert set(result.parse_rates) == set(answers["tier"])
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["sentences"] == result.verdict and summary["n_boot"] == 50
