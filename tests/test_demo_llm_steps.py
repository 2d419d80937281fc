"""The demo's LLM steps follow ``--n`` and show their progress (issue 14, item 5)."""

from __future__ import annotations

import pytest

from personacal._pipeline import run_pipeline

pytestmark = pytest.mark.vllm


def test_llm_steps_use_n_personas_per_state_with_progress_bars(vllm_backend, tmp_path, capsys):
    result = run_pipeline(states=["WY"], n_per_state=3, backend=vllm_backend, out=tmp_path / "report")
    per_tier = result.answers.groupby("tier")["persona_id"].nunique()
    # every tier that kept its personas has the 3 that --n asked for (a tier may drop a failed one)
    assert per_tier["Meta"] == 3 and (per_tier <= 3).all()
    shown = capsys.readouterr().err
    assert "vllm:generate" in shown and "vllm:score" in shown  # the LLM steps' progress bars
    assert "personacal demo: calibrating persona populations to WY" in (tmp_path / "report" / "index.html").read_text()
