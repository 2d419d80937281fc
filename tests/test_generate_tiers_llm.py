"""generate_tier() against a REAL vLLM CPU engine running a tiny random-weight model.

The model is random: these tests check the machinery (guided decoding, validation, retries,
regeneration bookkeeping, seeds, prompts, metadata), never what the text says. Generations
are shared through module fixtures to keep the LLM time small (guided JSON costs ~45 ms a
decoding step on the CPU build, so one objective round is ~8 s, one subjective round ~20 s).
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pyarrow.parquet as pq
import pytest

from personacal.cli import main
from personacal.errors import DiagnosticsWarning, InputError
from personacal.generate import TierResult, generate_tier
from personacal.generate._prompts_tiers import describe_problems
from personacal.generate._schemas import Descriptive, ObjectiveTabular, SubjectiveTabular
from personacal.generate._tier_result import field_columns, read_tier_metadata

pytestmark = pytest.mark.vllm

#: A persona the random model (practically) cannot satisfy: census age 0 rules out any
#: years_at_current_address > 0, and "not in labor force" any commute but "not working".
IMPOSSIBLE = "CA-000003"


@pytest.fixture(scope="module")
def meta() -> pd.DataFrame:
    return pd.DataFrame({
        "persona_id": ["CA-000000", "CA-000001", "CA-000002", IMPOSSIBLE],
        "region": "CA",
        "sex": ["Female", "Male", "Female", "Male"],
        "age": ["18-24", "65+", "35-44", "0"],
        "race_eth": ["White non-Hispanic", "Asian non-Hispanic", "Hispanic", "Black non-Hispanic"],
        "education3": ["No college degree", "Graduate or professional degree", "Associate's or bachelor's degree",
                       "No college degree"],
        "employment3": ["Employed (incl. Armed Forces)", "Not in labor force", "Unemployed", "Not in labor force"],
        "note": ["passes through", "", "", ""],
    })


def _run(*args, **kwargs) -> TierResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticsWarning)
        return generate_tier(*args, progress=False, **kwargs)


@pytest.fixture(scope="module")
def objective(meta, vllm_backend) -> TierResult:
    return _run(meta, "objective", vllm_backend, random_state=7, max_retries=1)


@pytest.fixture(scope="module")
def subjective(meta, objective, vllm_backend) -> TierResult:
    previous = objective.to_frame()
    # pretend the objective tier failed for one persona: the subjective tier must not invent its basis
    failed = previous["persona_id"] == "CA-000001"
    previous.loc[failed, field_columns("objective")] = None
    previous.loc[failed, "status"] = "failed"
    return _run(meta[meta["persona_id"] != IMPOSSIBLE], "subjective", vllm_backend, previous=previous,
                random_state=7, max_retries=0)


def _fields(row: pd.Series, tier: str) -> dict:
    values = {c: (v.item() if hasattr(v, "item") else v) for c, v in row[field_columns(tier)].items()}
    if tier == "subjective":
        values["big_five"] = {k.removeprefix("big_five_"): values.pop(k) for k in list(values) if k.startswith("big_five_")}
        values["core_values"], values["interests"] = json.loads(values["core_values"]), json.loads(values["interests"])
    return values


# -- guided JSON tiers ---------------------------------------------------------------------------
def test_objective_rows_are_schema_valid(objective, meta, vllm_backend):
    frame = objective.to_frame()
    assert frame["persona_id"].tolist() == meta["persona_id"].tolist()
    assert frame.columns.tolist() == [*meta.columns, *field_columns("objective"),
                                      "status", "n_attempts", "prompt_version", "model"]
    assert frame["note"].tolist() == meta["note"].tolist()  # unknown columns pass through
    assert set(frame["prompt_version"]) == {"objective-v1"} and set(frame["model"]) == {vllm_backend.model}
    assert str(frame["household_size"].dtype) == "Int64" and str(frame["owns_home"].dtype) == "boolean"
    produced = frame[frame["status"] != "failed"]
    assert len(produced) >= 2  # guided decoding gives valid JSON nearly always
    for _, row in produced.iterrows():
        ObjectiveTabular.model_validate(_fields(row, "objective"))
    assert sorted(objective.failures["persona_id"]) == sorted(frame.loc[frame["status"] == "failed", "persona_id"])


def test_census_facts_are_stated_as_authoritative(objective):
    system, user = objective.prompt("CA-000000")
    assert "census facts below" in system.content and "authoritative" in system.content
    for line in ("- Sex: Female", "- Age group (years): 18-24", "- Race and Hispanic origin: White non-Hispanic",
                 "- Education: No college degree", "- Employment status: Employed (incl. Armed Forces)",
                 "- Note: passes through"):
        assert line in system.content
    assert '- commute: how the person gets to work' in user.content and '"not working"' in user.content
    assert "A previous draft" not in user.content


def test_regeneration_bookkeeping(objective):
    attempts, contradictions = objective.attempts, objective.contradictions
    table = objective.to_frame().set_index("persona_id")
    rounds = 1 + objective.settings["max_retries"]
    # the impossible persona was regenerated (after a contradiction or an invalid reply)
    assert table.loc[IMPOSSIBLE, "n_attempts"] == rounds
    assert attempts.loc[(attempts["persona_id"] == IMPOSSIBLE) & (attempts["attempt"] == 1), "outcome"].item() == "contradiction"
    for pid, rows in attempts.groupby("persona_id"):
        rows = rows.sort_values("attempt")
        assert rows["attempt"].tolist() == list(range(1, table.loc[pid, "n_attempts"] + 1))
        assert rows["seed"].is_unique  # every attempt samples afresh
        status, last = table.loc[pid, "status"], rows.iloc[-1]
        valid = rows[rows["outcome"] != "invalid"]
        if status == "ok":
            assert last["outcome"] == "ok"
        elif status == "failed":
            assert valid.empty and len(rows) == rounds
        else:
            kept = valid.iloc[-1]["attempt"]
            mine = contradictions[contradictions["persona_id"] == pid]
            assert set(mine.loc[mine["kept"], "attempt"]) == {kept}
        for k in rows.loc[rows["outcome"] == "contradiction", "attempt"]:
            found = contradictions[(contradictions["persona_id"] == pid) & (contradictions["attempt"] == k)]
            assert len(found) and rows.loc[rows["attempt"] == k, "reason"].item() == describe_problems(
                [_C(**r) for r in found.to_dict("records")])
            if k < rounds:  # regenerated, telling the model what it got wrong
                nxt = rows[rows["attempt"] == k + 1]
                assert nxt["correction"].item() == rows.loc[rows["attempt"] == k, "reason"].item()
                assert "A previous draft contradicted the census facts" in objective.prompt(pid, k + 1)[1].content


class _C:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_contradiction_rates_agree_with_the_tables(objective):
    attempts, contradictions = objective.attempts, objective.contradictions
    rates = objective.contradiction_rates.set_index("attribute")
    assert rates.index.tolist() == ["age", "employment", "household"]
    first_valid = attempts[attempts["outcome"] != "invalid"].groupby("persona_id")["attempt"].min()
    final = objective.to_frame().set_index("persona_id")
    for attribute in rates.index:
        mine = contradictions[contradictions["attribute"] == attribute]
        first = sum(((mine["persona_id"] == p) & (mine["attempt"] == a)).any() for p, a in first_valid.items())
        kept = mine.loc[mine["kept"] & mine["persona_id"].map(final["status"]).ne("ok"), "persona_id"].nunique()
        regenerated = mine.loc[~mine["kept"], "persona_id"].nunique()
        assert rates.loc[attribute, ["n_checked", "n_first", "n_final", "n_regenerated"]].tolist() == [
            len(first_valid), first, kept, regenerated]
    text = objective.summary().as_text()
    counts = objective.status_counts
    assert f"status contradiction_flagged             {counts['contradiction_flagged']}" in text
    assert f"requests                                 {len(attempts)}" in text


def test_subjective_builds_on_the_objective_tier(subjective, objective):
    frame = subjective.to_frame().set_index("persona_id")
    # the persona whose objective tier failed is failed here too, without a request
    assert frame.loc["CA-000001", "status"] == "failed" and frame.loc["CA-000001", "n_attempts"] == 0
    assert subjective.failures.set_index("persona_id").loc["CA-000001", "reason"] == (
        "previous tier objective has no output for this persona")
    for pid, row in frame[frame["status"] != "failed"].iterrows():
        SubjectiveTabular.model_validate(_fields(row, "subjective"))
        system = subjective.prompt(pid)[0].content
        occupation = objective.to_frame().set_index("persona_id").loc[pid, "occupation"]
        assert "### ALREADY ESTABLISHED ABOUT THIS PERSON ###" in system
        assert f"- Occupation: {' '.join(str(occupation).split())}"[:30] in " ".join(system.split())
    assert frame["ideology"].dropna().isin(["very liberal", "liberal", "moderate", "conservative",
                                            "very conservative"]).all()
    assert subjective.contradiction_rates.empty
    assert "has no fields the census consistency checks read" in subjective.summary().as_text()


# -- the descriptive tier: seeds, order, truncation ---------------------------------------------
def test_descriptive_is_reproducible_and_independent_of_order(meta, objective, subjective, vllm_backend):
    kw = dict(previous=[objective, subjective], max_tokens=20, allow_truncated=True, max_retries=0)
    personas = meta[meta["persona_id"] != IMPOSSIBLE]
    first = _run(personas, "descriptive", vllm_backend, random_state=3, **kw)
    again = _run(personas.iloc[::-1], "descriptive", vllm_backend, random_state=3, **kw)
    other = _run(personas, "descriptive", vllm_backend, random_state=4, **kw)
    a, b, c = (r.to_frame().set_index("persona_id")["narrative"] for r in (first, again, other))
    produced = first.to_frame().query("status != 'failed'")["persona_id"].tolist()
    assert produced and set(first.to_frame().query("status == 'failed'")["persona_id"]) == {"CA-000001"}
    assert again.to_frame()["persona_id"].tolist() == personas["persona_id"].iloc[::-1].tolist()
    assert a[produced].tolist() == b[produced].tolist()
    assert a[produced].tolist() != c[produced].tolist()
    for text in a[produced]:
        Descriptive.model_validate({"narrative": text})
    persona = first.to_personas()
    assert persona["description"].tolist() == a[produced].tolist()
    assert "status" not in persona.columns and "big_five_openness" not in persona.columns
    system = first.prompt(produced[0])[0].content
    assert "- Occupation:" in system and "- Ideology:" in system  # both earlier tiers


def test_truncated_replies_are_retried_then_failed_with_reason(meta, vllm_backend):
    personas = meta.iloc[:2]
    with pytest.warns(DiagnosticsWarning, match=r"of 2 personas, 2 failed and 0 still contradict"):
        result = generate_tier(personas, "objective", vllm_backend, random_state=1, max_tokens=6, max_retries=2,
                               progress=False)
    assert result.status_counts == {"ok": 0, "contradiction_flagged": 0, "failed": 2}
    assert result.to_frame()["n_attempts"].tolist() == [3, 3]
    assert result.failures["n_attempts"].tolist() == [3, 3]
    assert result.failures["reason"].str.startswith("truncated: ").all()
    assert result.failures["reason"].str.endswith("(cut off at max_tokens=6)").all()
    assert len(result.attempts) == 6 and set(result.attempts["outcome"]) == {"invalid"}
    assert set(result.attempts["finish_reason"]) == {"length"}
    assert result.to_frame()["occupation"].isna().all()
    assert "failure reasons" in result.summary().as_text()
    narrative = _run(personas.iloc[:1], "descriptive", vllm_backend, random_state=1, max_tokens=5, max_retries=0)
    assert narrative.failures["reason"].item() == (
        "truncated: narrative cut off at max_tokens=5 (raise max_tokens or pass allow_truncated=True)")


def test_without_regeneration_a_contradiction_is_flagged_at_once(meta, objective, vllm_backend):
    result = _run(meta[meta["persona_id"] == IMPOSSIBLE], "objective", vllm_backend, random_state=7, max_retries=1,
                  regenerate_contradictions=False)
    row = result.to_frame().iloc[0]
    assert (row["status"], row["n_attempts"]) == ("contradiction_flagged", 1)
    # same run seed, persona and attempt -> the same request as in the shared run (other personas do not matter)
    before = objective.attempts.query("persona_id == @IMPOSSIBLE and attempt == 1")
    assert result.attempts["text"].item() == before["text"].item()
    assert result.attempts["seed"].item() == before["seed"].item()
    assert result.contradictions["kept"].all() and result.contradiction_rates.set_index("attribute")["n_regenerated"].sum() == 0


def test_input_errors(meta, objective, vllm_backend):
    with pytest.raises(InputError, match=r"^`tier` of generate_tier must be one of 'objective', 'subjective', "
                                         r"'descriptive'; got 'meta'$"):
        generate_tier(meta, "meta", vllm_backend)
    with pytest.raises(InputError, match=r"^`template` of generate_tier\(tier='objective'\) must be one of "
                                         r"'objective-v1'; got 'descriptive-v1'$"):
        generate_tier(meta, "objective", vllm_backend, template="descriptive-v1")
    with pytest.raises(InputError, match="`max_retries` of generate_tier must be an int >= 0; got -1"):
        generate_tier(meta, "objective", vllm_backend, max_retries=-1)
    with pytest.raises(InputError, match=r"^`max_tokens` of generate_tier must be an int >= 1 or None; got 0$"):
        generate_tier(meta, "objective", vllm_backend, max_tokens=0)
    with pytest.raises(InputError, match="decoding settings of generate_tier are invalid: temperature: Input should be less"):
        generate_tier(meta, "objective", vllm_backend, temperature=9.0)
    with pytest.raises(InputError, match=r"^`backend` of generate_tier must be an implementation of "
                                         r"personacal.backends.Backend \(model, generate\); got <object"):
        generate_tier(meta, "objective", object())
    with pytest.raises(InputError, match="must have a `persona_id` column"):
        generate_tier(meta.drop(columns="persona_id"), "objective", vllm_backend)
    with pytest.raises(InputError, match=r"must be unique; duplicated: \['CA-000000'\]"):
        generate_tier(pd.concat([meta, meta.iloc[:1]]), "objective", vllm_backend)
    with pytest.raises(InputError, match=r"holds LLM-tier columns \['occupation'"):
        generate_tier(objective.to_frame(), "subjective", vllm_backend)
    with pytest.raises(InputError, match=r"may hold the tiers \['objective'\] for the subjective tier; got the subjective tier"):
        generate_tier(meta, "subjective", vllm_backend, previous=pd.DataFrame(
            {"persona_id": meta["persona_id"], **{c: 1 for c in field_columns("subjective")}}))
    with pytest.raises(InputError, match=r"the objective tier passed as `previous` to generate_tier lacks persona_id \['CA-000003'\]"):
        generate_tier(meta, "descriptive", vllm_backend, previous=objective.to_frame().iloc[:3])
    with pytest.raises(InputError, match=r"`census_columns` of generate_tier names columns the personas do not have: \['income'\]"):
        generate_tier(meta, "objective", vllm_backend, census_columns=["income"])


# -- output files and the CLI -------------------------------------------------------------------
def test_parquet_keeps_metadata(objective, tmp_path):
    path = objective.to_parquet(tmp_path / "objective.parquet")
    meta = read_tier_metadata(path)
    assert (meta["tier"], meta["prompt_version"], meta["model"]) == ("objective", "objective-v1", objective.model)
    assert meta["settings"]["run_seed"] == objective.settings["run_seed"]
    assert meta["status_counts"] == objective.status_counts
    pd.testing.assert_frame_equal(pd.read_parquet(path), objective.to_frame())


def test_cli_writes_a_tier_with_metadata(meta, objective, vllm_server, tmp_path, capsys):
    meta.iloc[:2].to_parquet(tmp_path / "meta.parquet")
    objective.to_parquet(tmp_path / "objective.parquet")
    out = tmp_path / "descriptive.parquet"
    args = ["generate", "tier", "--tier", "descriptive", "--personas", str(tmp_path / "meta.parquet"),
            "--previous", str(tmp_path / "objective.parquet"), "--backend", "openai", "--base-url",
            vllm_server.base_url, "--model", vllm_server.model, "--seed", "5", "--max-tokens", "16",
            "--allow-truncated", "--max-retries", "0", "--no-progress", "--out", str(out),
            "--contradictions-out", str(tmp_path / "contradictions.csv")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Persona tier: descriptive" in printed and "Wrote 2 descriptive-tier personas (descriptive-v1, tiny)" in printed
    frame = pd.read_parquet(out)
    assert frame["persona_id"].tolist() == ["CA-000000", "CA-000001"]
    assert set(frame["prompt_version"]) == {"descriptive-v1"} and set(frame["model"]) == {"tiny"}
    stored = json.loads(pq.read_schema(out).metadata[b"personacal.tier"])
    assert (stored["tier"], stored["prompt_version"], stored["model"]) == ("descriptive", "descriptive-v1", "tiny")
    assert stored["settings"]["max_tokens"] == 16 and stored["census_columns"] == [c for c in meta.columns if c != "persona_id"]
    assert (tmp_path / "contradictions.csv").exists()
    # the persona whose objective tier is missing would fail; a wrong previous tier is refused up front
    bad = args[:]
    bad[bad.index("descriptive")] = "objective"
    assert main(bad) == 2
    assert "may hold the tiers none for the objective tier; got the objective tier" in capsys.readouterr().err
