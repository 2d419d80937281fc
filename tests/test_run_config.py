"""``personacal run config.toml`` on a user's own margins, seed, personas, questions and backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personacal.cli import main
from personacal.data import census_margins, national_seed
from personacal.errors import InputError
from personacal.workflow import load_config, run_config

VARIABLES = ["sex", "age", "education3"]


@pytest.fixture
def user_files(tmp_path):
    """Margins for two states in the documented long format, a seed, and a skewed persona pool."""
    frames = []
    for state in ("CA", "WY"):
        long = census_margins(state, variables=VARIABLES).to_long()
        long.insert(0, "state", state)
        frames.append(long)
    pd.concat(frames).to_csv(tmp_path / "margins.csv", index=False)
    seed = national_seed()[VARIABLES]
    seed.to_csv(tmp_path / "seed.csv", index=False)
    old = seed[seed["age"].isin(["55-64", "65+"])]
    pool = pd.concat([seed.sample(200, random_state=1), old.sample(100, random_state=2)], ignore_index=True)
    pool["state"] = np.where(np.arange(len(pool)) % 3 == 0, "WY", "CA")
    pool.to_csv(tmp_path / "personas.csv", index=False)
    return tmp_path


def _write(path, text):
    path.write_text(text)
    return path


def test_own_margins_and_seed_build_meta_personas(user_files, capsys):
    config = _write(user_files / "a.toml", """
[population]
margins = "margins.csv"
region_column = "state"
seed = "seed.csv"
n_per_region = 80

[output]
folder = "out-a"
""")
    assert main(["run", str(config)]) == 0
    assert "personacal run" in capsys.readouterr().out
    personas = pd.read_parquet(user_files / "out-a" / "personas.parquet")
    assert personas.groupby("region").size().to_dict() == {"CA": 80, "WY": 80}
    # Weighted persona totals equal the margins file's totals.
    margins = pd.read_csv(user_files / "margins.csv", dtype=str).assign(value=lambda f: f["value"].astype(float))
    target = margins[(margins.state == "WY") & (margins.margin == "age")].set_index("age")["value"]
    got = personas[personas.region == "WY"].groupby("age")["weight"].sum()
    np.testing.assert_allclose(got.reindex(target.index), target, rtol=1e-7)


def test_own_persona_pool_is_raked_and_reported(user_files):
    config = load_config(_write(user_files / "b.toml", """
[population]
margins = "margins.csv"
region_column = "state"

[personas]
file = "personas.csv"

[output]
folder = "out-b"
"""))
    result = run_config(config, progress=False)
    tvd = result.composition.pivot_table(index="margin", columns="pool", values="tvd")
    # The pool over-represents people 55+; raking removes that skew exactly.
    assert tvd.loc["age", "raw"] > 0.05 and tvd.loc["age", "calibrated"] < 1e-7
    assert (user_files / "out-b" / "index.html").exists()
    assert result.skipped and "no [backend] configured" in " ".join(result.notes)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[population]\nstates = ['CA']\nmargns = 'x.csv'\n", r"\[population.margns\] Extra inputs are not permitted"),
        ("[population]\n", r"give exactly one of \[population\] states"),
        ("[population]\nstates = ['CA']\n[backend]\nkind = 'openai'\nmodel = 'm'\n", r"needs base_url"),
        ("[population\n", r"is not valid TOML"),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_config(_write(tmp_path / "bad.toml", text))


def test_ipf_without_seed_is_an_error(user_files):
    config = load_config(_write(user_files / "c.toml", """
[population]
margins = "margins.csv"
region_column = "state"
method = "ipf"
"""))
    with pytest.raises(InputError, match=r"method = 'ipf' needs a seed"):
        run_config(config, progress=False)


@pytest.mark.vllm
def test_own_pool_answers_opinion_questions_through_a_real_server(user_files, vllm_server):
    # A small pool (every sex × education cell in each state) so that all of it can answer quickly.
    margins = pd.read_csv(user_files / "margins.csv", dtype=str)
    margins[margins["margin"].isin(["sex", "education3"])].to_csv(user_files / "margins2.csv", index=False)
    cells = national_seed()[["sex", "education3"]].drop_duplicates()
    pool = pd.concat([cells.assign(state="CA"), cells.assign(state="WY"), cells.head(2).assign(state="CA")])
    pool.to_csv(user_files / "personas2.csv", index=False)
    config = load_config(_write(user_files / "d.toml", f"""
[population]
margins = "margins2.csv"
region_column = "state"

[personas]
file = "personas2.csv"

[questions]
bank = "opinionqa-curated"
limit = 2

[backend]
kind = "openai"
model = "{vllm_server.model}"
base_url = "{vllm_server.base_url}"
api_key_env = "PERSONACAL_TEST_NO_KEY"

[output]
folder = "out-d"
"""))
    result = run_config(config, progress=False)
    answers = pd.read_parquet(user_files / "out-d" / "answers.parquet")
    assert answers["persona_id"].nunique() == len(pool) and answers["question_id"].nunique() == 2
    sums = answers.groupby(["persona_id", "question_id"])["probability"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    distributions = pd.read_parquet(user_files / "out-d" / "distributions.parquet")
    assert {"probability_raw", "probability_weighted"} <= set(distributions.columns)
    assert result.comparison.kind == "opinion"
    assert "Pew ATP" in (user_files / "out-d" / "index.html").read_text()
