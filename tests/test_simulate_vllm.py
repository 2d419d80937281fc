"""simulate() against a REAL vLLM CPU engine / server running the tiny random-weight model.

The model knows nothing, so these tests check the machinery (distributions,
letter mapping, seeds, counting), not the answers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from personacal.cli import main as cli_main
from personacal.errors import DiagnosticsWarning
from personacal.simulate import election_question, load_question_bank, simulate
from personacal.simulate._question import LETTERS

pytestmark = pytest.mark.vllm

PERSONAS = pd.DataFrame(
    {
        "persona_id": ["p1", "p2", "p3"],
        "region": ["CA", "WY", "TX"],
        "age": ["25 to 34 years", "65 to 74 years", "45 to 54 years"],
        "sex": ["Female", "Male", "Female"],
        "description": [None, "A retired rancher who reads the news every morning.", None],
    }
)
QUESTIONS = [election_question(2024)] + load_question_bank("opinionqa-curated")[:2]


@pytest.fixture(scope="module")
def logprob_run(vllm_backend):
    return simulate(PERSONAS, QUESTIONS, vllm_backend, random_state=11, progress=False)


def pair_sums(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby(["persona_id", "question_id"])[column].sum()


def test_logprobs_frame_and_distributions(logprob_run, tiny_model_dir):
    f = logprob_run.to_frame()
    assert list(f.columns) == [
        "persona_id", "region", "question_id", "option_index", "option", "letter", "position", "is_refusal",
        "party", "probability", "logprob", "letter_missing", "option_mass", "method", "prompt_version", "model",
    ]
    assert len(f) == 3 * sum(q.n_options for q in QUESTIONS)
    np.testing.assert_allclose(pair_sums(f, "probability"), 1.0, atol=1e-9)
    assert (f["probability"] > 0).all()
    assert not f["letter_missing"].any()  # offline vLLM scores every letter exactly
    assert ((f["option_mass"] > 0) & (f["option_mass"] <= 1 + 1e-9)).all()
    assert set(f["method"]) == {"logprobs"} and set(f["prompt_version"]) == {"survey-v1"}
    assert set(f["model"]) == {str(tiny_model_dir)}
    assert f.loc[f.persona_id == "p2", "region"].unique().tolist() == ["WY"]
    e = f[f.question_id == "election-2024"]
    assert set(e.loc[e.party == "D", "option"]) == {"Kamala Harris"}
    assert logprob_run.failures.empty


def test_probability_of_an_option_is_the_backends_probability_of_its_letter(logprob_run, vllm_backend):
    f = logprob_run.to_frame()
    prompts, letters, expected = [], [], []
    for (pid, qid), rows in f.groupby(["persona_id", "question_id"], sort=False):
        n = len(rows)
        prompts.append(logprob_run.prompt(pid, qid))
        letters.append(LETTERS[:n])
        expected.append(rows.set_index("letter").loc[list(LETTERS[:n]), "probability"].to_numpy())
    again = vllm_backend.option_logprobs(prompts, letters)
    for lp, want in zip(again, expected):
        np.testing.assert_allclose(softmax(lp), want, rtol=1e-4, atol=1e-7)


def test_recorded_prompt_shows_each_option_under_its_letter(logprob_run):
    f = logprob_run.to_frame()
    rows = f[(f.persona_id == "p2") & (f.question_id == "election-2024")]
    system, user = logprob_run.prompt("p2", "election-2024")
    assert "A retired rancher" in system.content
    for letter, option in zip(rows["letter"], rows["option"]):
        assert f"\n{letter}. {option}\n" in user.content + "\n"


def test_seeded_runs_repeat_and_do_not_depend_on_the_other_personas(logprob_run, vllm_backend):
    again = simulate(PERSONAS, QUESTIONS, vllm_backend, random_state=11, progress=False).to_frame()
    first = logprob_run.to_frame()
    pd.testing.assert_frame_equal(again.drop(columns="probability"), first.drop(columns="probability"))
    np.testing.assert_allclose(again["probability"], first["probability"], rtol=1e-5)
    alone = simulate(PERSONAS.iloc[[1]], QUESTIONS, vllm_backend, random_state=11, progress=False).to_frame()
    p2 = first[first.persona_id == "p2"].reset_index(drop=True)
    assert alone["letter"].tolist() == p2["letter"].tolist()
    np.testing.assert_allclose(alone["probability"], p2["probability"], rtol=1e-5)
    other_seed = simulate(PERSONAS, QUESTIONS, vllm_backend, random_state=12, progress=False).to_frame()
    assert other_seed["letter"].tolist() != first["letter"].tolist()


def test_shuffle_off_shows_the_questionnaire_order_and_keeps_refusals_last(logprob_run, vllm_backend):
    fixed = simulate(PERSONAS, QUESTIONS, vllm_backend, shuffle_options=False, random_state=11, progress=False)
    f = fixed.to_frame()
    assert (f["letter"] == [LETTERS[i] for i in f["option_index"]]).all()
    np.testing.assert_allclose(pair_sums(f, "probability"), 1.0, atol=1e-9)
    shuffled = logprob_run.to_frame()
    refusals = shuffled[shuffled.is_refusal]
    n_opts = {q.id: q.n_options for q in QUESTIONS}
    assert (refusals["letter"] == [LETTERS[n_opts[q] - 1] for q in refusals["question_id"]]).all()
    # shown in another order, the same option gets a different letter for some persona
    assert (shuffled["letter"] != f["letter"]).any()


def test_sample_counts_every_reply(vllm_backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticsWarning)  # a random model rarely answers parseably
        run = simulate(PERSONAS, QUESTIONS, vllm_backend, method="sample", n_samples=4, max_tokens=6,
                       random_state=5, progress=False)
        again = simulate(PERSONAS, QUESTIONS, vllm_backend, method="sample", n_samples=4, max_tokens=6,
                         random_state=5, progress=False)
    f = run.to_frame()
    pairs = f.drop_duplicates(["persona_id", "question_id"])
    assert (pairs["n_replies"] == 4).all()
    np.testing.assert_array_equal(pair_sums(f, "count") + pairs.set_index(["persona_id", "question_id"])[
        "n_unparseable"], 4)
    assert (pairs["unparseable_share"] == pairs["n_unparseable"] / 4).all()
    ok = pairs[pairs.n_unparseable < 4]
    sums = pair_sums(f, "probability")
    np.testing.assert_allclose(sums.loc[list(zip(ok.persona_id, ok.question_id))], 1.0)
    failed = set(zip(run.failures.persona_id, run.failures.question_id))
    assert failed == set(zip(pairs.loc[pairs.n_unparseable == 4, "persona_id"],
                             pairs.loc[pairs.n_unparseable == 4, "question_id"]))
    # the replies table accounts for every count
    r = run.replies
    assert len(r) == 4 * len(pairs)
    recount = r.dropna(subset=["option"]).groupby(["persona_id", "question_id", "option"]).size()
    counts = f[f["count"] > 0].set_index(["persona_id", "question_id", "option"])["count"]
    pd.testing.assert_series_equal(recount.sort_index(), counts.sort_index(), check_names=False, check_dtype=False)
    # per-request seeds derived from the run seed: the same replies again
    assert r["text"].tolist() == again.replies["text"].tolist()
    assert set(f["method"]) == {"sample"}
    # As the docstring says: shares renormalised over the parsed replies, the parse rate reported first.
    parsed = f.merge(pairs[["persona_id", "question_id"]]).query("n_unparseable < 4")
    np.testing.assert_allclose(parsed["probability"] * (4 - parsed["n_unparseable"]), parsed["count"], atol=1e-12)
    assert run.parse_rate == pytest.approx(1 - pairs["n_unparseable"].sum() / (4 * len(pairs)))
    assert r["option"].notna().mean() == pytest.approx(run.parse_rate)
    assert next(iter(run.summary().facts)) == "parse rate"


def test_constrained_sample_maps_each_reply_letter_to_the_option_shown(vllm_backend):
    run = simulate(PERSONAS, QUESTIONS, vllm_backend, method="sample", n_samples=3, constrain_replies=True,
                   random_state=8, progress=False)
    f = run.to_frame()
    assert (f["n_unparseable"] == 0).all() and run.failures.empty
    np.testing.assert_allclose(pair_sums(f, "probability"), 1.0)
    r = run.replies
    assert r["text"].isin(list(LETTERS)).all() and (r["letter"] == r["text"]).all()
    letter_of = f.set_index(["persona_id", "question_id", "option"])["letter"]
    for pid, qid, letter, option in zip(r.persona_id, r.question_id, r.letter, r.option):
        assert letter_of[(pid, qid, option)] == letter
    # the prompt recorded for the pair lists that option under that letter
    pid, qid, letter, option = r.iloc[0][["persona_id", "question_id", "letter", "option"]]
    assert f"\n{letter}. {option}\n" in run.prompt(pid, qid)[1].content


def test_openai_server_logprobs_apply_the_missing_option_rule(openai_backend):
    run = simulate(PERSONAS.iloc[:2], QUESTIONS, openai_backend, random_state=3, progress=False)
    f = run.to_frame()
    np.testing.assert_allclose(pair_sums(f, "probability"), 1.0, atol=1e-9)
    # a letter the server did not return among its top-20 has logprob -inf and is scored by the rule
    assert (np.isneginf(f["logprob"]) == f["letter_missing"]).all()
    assert (f["option_mass"] < 1).all()


def test_cli_writes_parquet(tmp_path, vllm_server, monkeypatch, capsys):
    personas = tmp_path / "personas.parquet"
    PERSONAS.to_parquet(personas)
    out = tmp_path / "answers.parquet"
    monkeypatch.setenv("TINY_KEY", "not-a-secret")
    code = cli_main([
        "simulate", "--personas", str(personas), "--questions", "election-2024", "election-2020",
        "--backend", "openai", "--model", vllm_server.model, "--base-url", vllm_server.base_url,
        "--api-key-env", "TINY_KEY", "--out", str(out), "--seed", "4", "--no-progress",
    ])
    assert code == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 3 * 4 * 2
    assert set(frame["question_id"]) == {"election-2024", "election-2020"}
    np.testing.assert_allclose(pair_sums(frame, "probability"), 1.0, atol=1e-9)
    assert "Persona survey simulation" in capsys.readouterr().out


def test_cli_sample_writes_answers_and_replies(tmp_path, vllm_server, monkeypatch):
    personas = tmp_path / "personas.csv"
    PERSONAS.to_csv(personas, index=False)
    out, replies = tmp_path / "answers.csv", tmp_path / "replies.parquet"
    monkeypatch.setenv("TINY_KEY", "not-a-secret")
    code = cli_main([
        "simulate", "--personas", str(personas), "--questions", "election-2016-paper", "--method", "sample",
        "--n-samples", "2", "--max-tokens", "4", "--backend", "openai", "--model", vllm_server.model,
        "--base-url", vllm_server.base_url, "--api-key-env", "TINY_KEY", "--out", str(out),
        "--replies-out", str(replies), "--seed", "4", "--no-progress",
    ])
    assert code == 0
    answers = pd.read_csv(out)
    assert len(answers) == 3 * 2
    pairs = answers.drop_duplicates("persona_id")
    assert (answers.groupby("persona_id")["count"].sum() + pairs.set_index("persona_id")["n_unparseable"] == 2).all()
    assert len(pd.read_parquet(replies)) == 3 * 2
