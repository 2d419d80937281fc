"""OpenAIBackend against a REAL vLLM OpenAI-compatible server (tiny model), with a fault-injecting proxy."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, Field

from personacal.backends import ChatMessage, OpenAIBackend, SamplingParams
from personacal.errors import BackendCapabilityError, BackendError, BackendRequestError, InputError, SchemaValidationError

pytestmark = pytest.mark.vllm

PROMPT = "Question: Do you trust the government?\nA) Yes B) No C) Unsure\nAnswer:"
KEY = "sk-test-DO-NOT-LEAK-7f3a9c"


def _backend(url: str, **kw) -> OpenAIBackend:
    kw = {"random_state": 0, "progress": False, "max_retries": 3, "timeout": 60, **kw}
    return OpenAIBackend("tiny", base_url=url, **kw)


def _retry_delays(caplog) -> list[float]:
    return [
        float(m.group(1))
        for r in caplog.records
        if r.name == "personacal.backends._openai" and (m := re.search(r"in ([0-9.]+)s$", r.getMessage()))
    ]


# -- generation -------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_generate_keeps_order_and_counts_tokens(vllm_server, endpoint):
    backend = _backend(vllm_server.base_url, endpoint=endpoint, max_concurrency=4)
    lengths = [20, 2, 11, 1, 7, 15]
    prompts = [f"Persona {i}: a teacher." for i in range(len(lengths))]
    outs = backend.generate(prompts, [SamplingParams(max_tokens=n) for n in lengths])
    assert [o.n_generated_tokens for o in outs] == lengths
    assert all(o.finish_reasons == ("length",) for o in outs)


def test_chat_and_completions_agree_with_offline_engine(vllm_server, vllm_backend):
    # Same weights, same dtype, greedy: the server and the offline engine give the same text.
    params = SamplingParams(max_tokens=10)
    chat = [ChatMessage("system", "You are a farmer."), ChatMessage("user", "Hello?")]
    offline = vllm_backend.generate([chat, "Once upon a time"], params)
    assert _backend(vllm_server.base_url).generate([chat], params)[0].text == offline[0].text
    comp = _backend(vllm_server.base_url, endpoint="completions").generate(["Once upon a time"], params)
    assert comp[0].text == offline[1].text


def test_completions_endpoint_rejects_chat_prompts(vllm_server):
    backend = _backend(vllm_server.base_url, endpoint="completions")
    with pytest.raises(InputError, match="must be plain strings with endpoint='completions'"):
        backend.generate([[ChatMessage("user", "hi")]], SamplingParams(max_tokens=2))


def test_seeds_reproduce_through_the_server(openai_backend, vllm_server):
    p = SamplingParams(temperature=1.0, max_tokens=12)
    a = openai_backend.generate(["Hi", "Hi"], p)
    b = _backend(vllm_server.base_url, random_state=0).generate(["Hi", "Hi"], p)
    c = _backend(vllm_server.base_url, random_state=1).generate(["Hi", "Hi"], p)
    assert [o.text for o in a] == [o.text for o in b]
    assert a[0].text != a[1].text  # repeated prompt: independent draws
    assert [o.text for o in a] != [o.text for o in c]


def test_guided_choice(openai_backend, vllm_server):
    choices = ("yes", "no", "it depends")
    for backend in (openai_backend, _backend(vllm_server.base_url, endpoint="completions")):
        outs = backend.generate(["Agree?"] * 4, SamplingParams(temperature=1.0, max_tokens=30, choices=choices))
        assert all(o.text in choices for o in outs)


class Persona(BaseModel):
    age: int = Field(ge=18, le=99)
    sex: Literal["female", "male"]
    state: str = Field(pattern=r"^[A-Z]{2}$")


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_guided_json_is_schema_valid(vllm_server, endpoint):
    backend = _backend(vllm_server.base_url, endpoint=endpoint)
    params = SamplingParams(temperature=1.0, max_tokens=120, json_schema=Persona.model_json_schema())
    for o in backend.generate([f"Persona {i}:" for i in range(4)], params):
        assert o.finish_reasons == ("stop",)
        Persona.model_validate_json(o.text)


def test_ignored_guided_choice_is_an_error(vllm_server, fault_proxy):
    fault_proxy.add_faults({"replace_text": "something else"})
    with pytest.raises(SchemaValidationError, match="not one of the allowed `choices`"):
        _backend(fault_proxy.base_url).generate(["Agree?"], SamplingParams(max_tokens=20, choices=("yes", "no")))


# -- option scoring -------------------------------------------------------------------------------------
def _reference(vllm_engine, prompt, chat: bool) -> list[tuple[str, float]]:
    """Full first-token distribution from the offline engine (logprobs=-1) as (token text, logprob), best first."""
    import vllm

    params = vllm.SamplingParams(max_tokens=1, logprobs=-1)
    if chat:
        out = vllm_engine.chat([[{"role": "user", "content": prompt}]], params, use_tqdm=False)[0]
    else:
        out = vllm_engine.generate([prompt], params, use_tqdm=False)[0]
    tok = vllm_engine.get_tokenizer()
    pairs = [(tok.decode([t]), lp.logprob) for t, lp in out.outputs[0].logprobs[0].items()]
    return sorted(pairs, key=lambda kv: -kv[1])


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_option_logprobs_from_top_logprobs(vllm_server, vllm_engine, endpoint):
    ranked = _reference(vllm_engine, PROMPT, chat=endpoint == "chat")
    assert math.isclose(sum(math.exp(lp) for _, lp in ranked), 1.0, abs_tol=1e-4)
    k = 5
    top = ranked[:k]
    top_texts = {t for t, _ in top}
    # one option whose token is in the top-k, one that certainly is not
    option_in = next(t.strip() for t, _ in top if t.strip().isalnum())
    option_out = next(x for x in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if x not in top_texts and " " + x not in top_texts)
    backend = _backend(vllm_server.base_url, endpoint=endpoint, top_logprobs=k)
    (scores,) = backend.score_options([PROMPT], [[option_in, option_out]])
    expected_in = np.logaddexp.reduce([lp for t, lp in top if t in (option_in, " " + option_in)])
    assert scores.logprobs[0] == pytest.approx(expected_in, abs=1e-4)
    assert scores.logprobs[1] == -np.inf
    assert scores.unseen_mass == pytest.approx(1 - sum(math.exp(lp) for _, lp in top), abs=1e-4)
    assert scores.meta["min_reported_logprob"] == pytest.approx(top[-1][1], abs=1e-4)
    assert scores.probs.tolist() == [1.0, 0.0]


def test_many_options_agree_with_offline_engine(openai_backend, vllm_engine):
    ranked = _reference(vllm_engine, PROMPT, chat=True)
    top20 = ranked[:20]
    in_top = list(dict.fromkeys(t.strip() for t, _ in top20 if t.strip().isalnum()))
    outside = [x for x in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if all(t not in (x, " " + x) for t, _ in top20)][:3]
    options = in_top + outside
    expected = np.full(len(options), -np.inf)
    for k, x in enumerate(options):
        hits = [lp for t, lp in top20 if t in (x, " " + x)]
        if hits:
            expected[k] = np.logaddexp.reduce(hits)
    assert len(in_top) >= 3 and len(outside) == 3  # the case worth testing
    (online,) = openai_backend.score_options([PROMPT], [options])
    assert online.meta["top_k"] == 20
    np.testing.assert_allclose(online.logprobs, expected, atol=1e-4)


def test_missing_logprobs_is_a_capability_error(vllm_server, fault_proxy):
    fault_proxy.add_faults({"strip_logprobs": True})
    backend = _backend(fault_proxy.base_url)
    with pytest.raises(BackendCapabilityError, match="returned no logprobs for model 'tiny'"):
        backend.score_options([PROMPT], [["A", "B"]])


# -- retries, timeouts ------------------------------------------------------------------------------------
def test_retries_429_and_5xx_honouring_retry_after(vllm_server, fault_proxy, caplog):
    caplog.set_level(logging.INFO, logger="personacal.backends._openai")
    fault_proxy.add_faults(
        {"status": 429, "headers": {"retry-after": "0.3"}},
        {"status": 503, "headers": {"retry-after-ms": "200"}},
        {"status": 500},
    )
    backend = _backend(fault_proxy.base_url, max_concurrency=1, backoff_base=0.01, backoff_max=0.05)
    out = backend.generate(["Hello"], SamplingParams(max_tokens=3))
    assert out[0].n_generated_tokens == 3
    assert fault_proxy.count(forwarded=False) == 4 and fault_proxy.count() == 1
    delays = _retry_delays(caplog)
    assert delays[:2] == [0.3, 0.2]
    assert 0.0 <= delays[2] <= 0.05  # backoff with jitter when no retry-after


def test_retry_after_beyond_the_ceiling_stops_at_once(vllm_server, fault_proxy):
    # openai-python's rule: a server that asks for a longer wait than the ceiling is not retried.
    fault_proxy.add_faults({"status": 429, "headers": {"retry-after": "3600"}})
    backend = _backend(fault_proxy.base_url, max_retry_after=30)
    start = time.monotonic()
    with pytest.raises(BackendRequestError, match=r"asked to wait 3,600 s before a retry, longer than "
                                                  r"`max_retry_after`=30 s.*: HTTP 429"):
        backend.generate(["Hello"], SamplingParams(max_tokens=2))
    assert time.monotonic() - start < 5 and fault_proxy.count(forwarded=False) == 1


def test_x_should_retry_wins_over_the_status(vllm_server, fault_proxy):
    fault_proxy.add_faults({"status": 503, "headers": {"x-should-retry": "false"}})
    backend = _backend(fault_proxy.base_url, backoff_base=0.01)
    with pytest.raises(BackendRequestError, match=r"x-should-retry: false\): HTTP 503"):
        backend.generate(["Hello"], SamplingParams(max_tokens=2))
    assert fault_proxy.count(forwarded=False) == 1
    fault_proxy.reset()
    fault_proxy.add_faults({"status": 400, "headers": {"x-should-retry": "true"}})
    assert backend.generate(["Hello"], SamplingParams(max_tokens=2))[0].n_generated_tokens == 2
    assert fault_proxy.count(forwarded=False) == 2


def test_one_idempotency_key_per_request_reused_on_retries(vllm_server, fault_proxy):
    fault_proxy.add_faults({"status": 500}, {"status": 502})
    backend = _backend(fault_proxy.base_url, max_concurrency=1, backoff_base=0.01)
    backend.generate(["first", "second"], SamplingParams(max_tokens=2))
    keys = [r["headers"].get("idempotency-key") for r in fault_proxy.seen]
    prompts = [r["body"]["messages"][0]["content"] for r in fault_proxy.seen]
    assert prompts == ["first", "first", "first", "second"] and all(keys)
    assert keys[0] == keys[1] == keys[2] != keys[3]
    fault_proxy.reset()
    _backend(fault_proxy.base_url, idempotency_header=None).generate(["third"], SamplingParams(max_tokens=2))
    assert "idempotency-key" not in fault_proxy.seen[0]["headers"]


def test_a_server_that_crashes_on_seeded_requests_is_named(vllm_server, fault_proxy):
    # vLLM's CPU server with chunked prefill: 500 to the requests in flight, then it stops listening.
    fault_proxy.add_faults({"status": 500, "message": "EngineCore encountered an issue. See stack trace"})
    fault_proxy.drop_after(0)
    backend = _backend(fault_proxy.base_url, max_retries=1, backoff_base=0.01)
    with pytest.raises(BackendRequestError, match=r"failed after 2 attempt\(s\): APIConnectionError: .*"
                                                  r"\(first try: HTTP 500\); if that server is vLLM on a CPU: .*"
                                                  r"--no-enable-chunked-prefill"):
        backend.generate(["Hello"], SamplingParams(temperature=1.0, max_tokens=2))
    fault_proxy.reset()
    fault_proxy.add_faults({"status": 500, "message": "RuntimeError: CPU Generator does not use offset"})
    with pytest.raises(BackendRequestError, match=r"failed: vLLM's CPU build crashes on seeded requests unless the "
                                                  r"server runs with --no-enable-chunked-prefill"):
        _backend(fault_proxy.base_url, max_retries=0).generate(["Hello"], SamplingParams(temperature=1.0, max_tokens=2))


def test_gives_up_after_max_retries(vllm_server, fault_proxy):
    fault_proxy.add_faults(*[{"status": 502}] * 3)
    backend = _backend(fault_proxy.base_url, max_retries=2, backoff_base=0.01)
    with pytest.raises(BackendRequestError, match=r"failed after 3 attempt\(s\): HTTP 502"):
        backend.generate(["Hello"], SamplingParams(max_tokens=2))
    assert fault_proxy.count(forwarded=False) == 3


def test_client_errors_are_not_retried(vllm_server, fault_proxy):
    fault_proxy.add_faults({"status": 400})
    backend = _backend(fault_proxy.base_url)
    with pytest.raises(BackendRequestError, match=r"\(not retryable\): HTTP 400"):
        backend.generate(["Hello"], SamplingParams(max_tokens=2))
    assert fault_proxy.count(forwarded=False) == 1


def test_per_request_timeout(vllm_server, fault_proxy):
    fault_proxy.add_faults({"delay": 3.0}, {"delay": 3.0})
    backend = _backend(fault_proxy.base_url, timeout=0.5, max_retries=1, backoff_base=0.01)
    with pytest.raises(BackendRequestError, match=r"after 2 attempt\(s\): APITimeoutError"):
        backend.generate(["Hello"], SamplingParams(max_tokens=2))
    fault_proxy.reset()
    fault_proxy.add_faults({"delay": 3.0})
    out = backend.generate(["Hello"], SamplingParams(max_tokens=2))  # second try is in time
    assert out[0].n_generated_tokens == 2


# -- cache and resume ------------------------------------------------------------------------------------
def test_cache_hits_do_not_reach_the_server(vllm_server, fault_proxy, tmp_path):
    path = tmp_path / "cache.sqlite"
    prompts = [f"Persona {i}" for i in range(5)]
    params = SamplingParams(temperature=0.9, max_tokens=6)
    first = _backend(fault_proxy.base_url, cache=path).generate(prompts, params)
    scores = _backend(fault_proxy.base_url, cache=path).score_options([PROMPT], [["A", "B"]])
    assert fault_proxy.count("/chat/completions") == 6
    again = _backend(fault_proxy.base_url, cache=path)
    second = again.generate(prompts + ["Persona 5"], params)
    rescored = again.score_options([PROMPT], [["A", "B"]])
    assert fault_proxy.count("/chat/completions") == 7  # only the new prompt
    assert [o.cached for o in second] == [True] * 5 + [False]
    assert [o.texts for o in second[:5]] == [o.texts for o in first]
    assert rescored[0].cached
    np.testing.assert_array_equal(rescored[0].logprobs, scores[0].logprobs)


def test_resume_after_server_dies_mid_batch(vllm_server, fault_proxy, tmp_path):
    path = tmp_path / "cache.sqlite"
    prompts = [f"Respondent {i}" for i in range(8)]
    params = SamplingParams(temperature=0.9, max_tokens=5)
    fault_proxy.drop_after(3)  # the server "dies" after answering three requests
    dying = _backend(fault_proxy.base_url, cache=path, max_concurrency=1, max_retries=1, backoff_base=0.01)
    with pytest.raises(BackendRequestError, match="APIConnectionError"):
        dying.generate(prompts, params)
    answered = fault_proxy.count("/chat/completions")
    assert answered == 3
    fault_proxy.heal()
    resumed = _backend(fault_proxy.base_url, cache=path).generate(prompts, params)
    assert fault_proxy.count("/chat/completions") == 3 + (len(prompts) - answered)
    assert sum(o.cached for o in resumed) == answered
    # the resumed batch is exactly what an uninterrupted run gives
    direct = _backend(vllm_server.base_url).generate(prompts, params)
    assert [o.texts for o in resumed] == [o.texts for o in direct]
    # the completed answers were never asked for twice
    bodies = [r["body"]["messages"][0]["content"] for r in fault_proxy.forwarded]
    assert sorted(bodies) == sorted(prompts)


# -- secrets and sync facade ---------------------------------------------------------------------------------
def test_api_key_never_leaks(vllm_server, fault_proxy, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "cache.sqlite"
    backend = OpenAIBackend("tiny", base_url=fault_proxy.base_url, api_key=KEY, cache=path, random_state=0, progress=True)
    outs = backend.generate(["Hello", [ChatMessage("user", "Hi")]], SamplingParams(temperature=0.5, max_tokens=4))
    scores = backend.score_options([PROMPT], [["A", "B"]])
    fault_proxy.add_faults({"status": 401})
    with pytest.raises(BackendRequestError) as err:
        backend.generate(["Other"], SamplingParams(max_tokens=2))
    backend.close()
    # the key was really used ...
    assert any(r["headers"].get("authorization") == f"Bearer {KEY}" for r in fault_proxy.seen)
    # ... and shows up nowhere else
    captured = capsys.readouterr()
    places = {
        "repr": repr(backend),
        "str": str(backend),
        "vars": repr(vars(backend)),
        "outputs": repr(outs) + repr(scores),
        "error": str(err.value) + repr(err.value.__cause__),
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
    }
    for name, text in places.items():
        assert KEY not in text, name
    for file in tmp_path.iterdir():  # the database and its WAL/SHM files
        assert KEY.encode() not in file.read_bytes(), file.name
    assert "openai:generate" in captured.err  # the progress bar did print


def test_api_key_from_environment(vllm_server, fault_proxy, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", KEY)
    _backend(fault_proxy.base_url, api_key_env="MY_LLM_KEY").generate(["Hi"], SamplingParams(max_tokens=1))
    assert fault_proxy.seen[-1]["headers"].get("authorization") == f"Bearer {KEY}"


def test_missing_key_for_openai_itself(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OpenAIBackend has no API key: pass `api_key=` or set the environment variable OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o-mini")


def test_sync_generate_inside_a_running_event_loop(openai_backend):
    async def notebook_cell():
        return openai_backend.generate(["Hi"], SamplingParams(max_tokens=2))

    outs = asyncio.run(notebook_cell())
    assert outs[0].n_generated_tokens == 2


def test_async_generate(openai_backend):
    outs = asyncio.run(openai_backend.agenerate(["Hi", "Bye"], SamplingParams(max_tokens=3)))
    assert [o.n_generated_tokens for o in outs] == [3, 3]
