"""The demo's LLM steps follow ``--n`` and show their progress (issue 14, item 5)."""

from __future__ import annotations

import pytest

from personacal.workflow import run_demo

pytestmark = pytest.mark.vllm


def test_the_llm_step_count_defaults_to_n_per_state():
    # it was a fixed 20 whatever --n said; now unset means "the same as n_per_state" (--n)
    assert run_demo.__kwdefaults__["n_llm_per_state"] is None


def test_llm_steps_use_the_personas_asked_for_with_progress_bars(vllm_backend, tmp_path, capsys):
    # 40 per state: fewer cannot meet WY's margins when the paper-style pool is raked (structural-infeasible);
    # the LLM steps get 3 of them so that the test stays short
    result = run_demo(states=["WY"], n_per_state=40, n_llm_per_state=3, backend=vllm_backend,
                      out=tmp_path / "report", on_infeasible="drop", n_boot=50)
    per_tier = result.answers.groupby("tier")["persona_id"].nunique()
    # every tier that kept its personas has the 3 asked for (a tier may drop a failed one)
    assert per_tier["Meta"] == 3 and (per_tier <= 3).all()
    shown = capsys.readouterr().err
    assert "vllm:generate" in shown and "vllm:score" in shown  # the LLM steps' progress bars
    assert "personacal demo: calibrating persona populations to WY" in (tmp_path / "report" / "index.html").read_text()
