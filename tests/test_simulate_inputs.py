"""simulate() rejects bad inputs with messages that name the parameter (no backend call is made)."""

import pandas as pd
import pytest

from personacal.errors import InputError
from personacal.simulate import election_question, simulate

PERSONAS = pd.DataFrame({"persona_id": ["p1", "p2"], "age": [30, 60], "region": ["CA", "WY"]})
Q = [election_question(2024)]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(method="vote"), r"^`method` of simulate must be one of 'logprobs', 'sample'; got 'vote'$"),
        (dict(missing_option="uniform"), r"^`missing_option` of simulate must be one of 'opinionqa', 'zero'; got"),
        (dict(prompt_format="xml"), r"^`prompt_format` of simulate must be one of 'chat', 'text'; got 'xml'$"),
        (dict(template="v0"), r"^`template` of simulate must be one of 'survey-v1'; got 'v0'$"),
        (dict(n_samples=0), r"^`n_samples` of simulate must be an int >= 1; got 0$"),
        (dict(n_samples=2.5), r"^`n_samples` of simulate must be an int >= 1; got 2.5$"),
        (dict(temperature=-0.1), r"^`temperature` of simulate must be a finite number in \[0, 5\]; got -0.1$"),
        (dict(top_p=0), r"^`top_p` of simulate must be a finite number in \(0, 1\]; got 0$"),
        (dict(max_tokens=0), r"^`max_tokens` of simulate must be an int >= 1; got 0$"),
        (dict(keep_columns=["state"]), r"`keep_columns` of simulate names columns the personas do not have"),
        (dict(random_state=-1), r"^`random_state` of simulate must be a non-negative int; got -1$"),
    ],
)
def test_bad_settings(kw, message):
    with pytest.raises(InputError, match=message):
        simulate(PERSONAS, Q, object(), **kw)


def test_backend_must_follow_the_protocol():
    with pytest.raises(InputError, match=r"^`backend` of simulate must be an implementation of "
                                         r"personacal.backends.Backend \(model, generate, option_logprobs\); got <object"):
        simulate(PERSONAS, Q, object())


def test_bad_personas():
    with pytest.raises(InputError, match=r"^`personas` of simulate must be a pandas DataFrame; got \[\{'age': 3\}\]$"):
        simulate([{"age": 3}], Q, object())
    with pytest.raises(InputError, match=r"`personas` of simulate must have at least one row"):
        simulate(PERSONAS.iloc[:0], Q, object())
    dupes = pd.DataFrame({"persona_id": ["p1", "p1"], "age": [1, 2]})
    with pytest.raises(InputError, match=r"`persona_id` .* must be unique; duplicated: \['p1'\]"):
        simulate(dupes, Q, object())
    missing = pd.DataFrame({"persona_id": ["p1", None], "age": [1, 2]})
    with pytest.raises(InputError, match=r"`persona_id` .* must not be missing"):
        simulate(missing, Q, object())


def test_bad_questions():
    with pytest.raises(InputError, match=r"`questions` of simulate must not be empty"):
        simulate(PERSONAS, [], object())
    with pytest.raises(InputError, match=r"`questions` of simulate must be Question objects or a bank name"):
        simulate(PERSONAS, ["election-2024"], object())
    with pytest.raises(InputError, match=r"must have unique ids; duplicated: \['election-2024'\]"):
        simulate(PERSONAS, Q + Q, object())


def test_cli_errors_before_any_backend_is_built(tmp_path, capsys):
    from personacal.cli import main

    personas = tmp_path / "p.csv"
    PERSONAS.to_csv(personas, index=False)
    base = ["simulate", "--personas", str(personas), "--out", str(tmp_path / "a.parquet"),
            "--backend", "vllm", "--model", str(tmp_path / "no-model")]
    assert main(base + ["--questions", "gss"]) == 2
    assert "error [data]: `name_or_path` of load_question_bank must be a shipped bank" in capsys.readouterr().err
    assert main(base + ["--questions", "election-2024", "--replies-out", str(tmp_path / "r.csv")]) == 2
    assert "`--replies-out` of personacal simulate needs --method sample" in capsys.readouterr().err
