"""Backend policies that need no LLM: when to retry, what to hide, how to start, stop and show progress."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from personacal.backends import OpenAIBackend, ResponseCache
from personacal.backends._progress import BatchProgress
from personacal.backends._retry import Secret, decide_retry, redact
from personacal.backends._vllm_engine import (
    apply_cpu_fast_start_env, check_model_source, cpu_fast_start_env, deferred_interrupt,
)
from personacal.errors import InputError

URL = "http://127.0.0.1:9/v1"
RULES = {"max_retries": 3, "max_retry_after": 60.0, "backoff_base": 0.5, "backoff_max": 8.0}


def _decide(status, headers=None, attempt=0, **rules):
    return decide_retry(status, headers, attempt, jitter=np.random.default_rng(0), **{**RULES, **rules})


# -- retries (issue 15, item 4) -----------------------------------------------------------------------
def test_status_decides_unless_the_server_says_otherwise():
    assert _decide(503).retry and _decide(429).retry and _decide(None).retry  # None: timeout or connection
    assert not _decide(400).retry and _decide(400).reason == "(not retryable)"
    # x-should-retry wins both ways, as in openai-python
    assert _decide(400, {"x-should-retry": "true"}).retry
    refused = _decide(503, {"x-should-retry": "false"})
    assert not refused.retry and "x-should-retry: false" in refused.reason


def test_retry_after_is_honoured_up_to_the_ceiling_then_the_run_stops():
    assert _decide(429, {"retry-after": "2"}).delay == 2.0
    assert _decide(429, {"retry-after-ms": "250"}).delay == 0.25
    assert _decide(429, {"retry-after": "60"}).retry  # at the ceiling: still waits
    long_wait = _decide(429, {"retry-after": "3600"})
    assert not long_wait.retry
    assert "asked to wait 3,600 s before a retry, longer than `max_retry_after`=60 s" in long_wait.reason


def test_backoff_and_giving_up():
    delays = [_decide(500, attempt=k).delay for k in range(3)]
    assert all(0 <= d <= min(8.0, 0.5 * 2**k) for k, d in enumerate(delays))
    assert _decide(500, attempt=3).reason == "after 4 attempt(s)"


def test_max_retry_after_is_the_new_name_of_retry_after_cap():
    with pytest.warns(DeprecationWarning, match=r"`retry_after_cap` of OpenAIBackend is deprecated.*"
                                                r"use `max_retry_after`"):
        b = OpenAIBackend("m", base_url=URL, retry_after_cap=30)
    assert b.max_retry_after == 30.0
    with pytest.raises(InputError, match=r"`max_retry_after` of OpenAIBackend must be"):
        OpenAIBackend("m", base_url=URL, max_retry_after=-1)


# -- secrets (issue 14, item 7) -------------------------------------------------------------------------
def test_redact_hides_the_key_and_its_fragments():
    secret = Secret("sk-proj-0123456789abcdefXYZ")
    text = "auth=Bearer sk-proj-0123456789abcdefXYZ, hint: ...89abcdefXYZ, short sk-proj is fine"
    assert redact(text, secret) == "auth=Bearer [redacted], hint: ...[redacted], short sk-proj is fine"
    assert redact("nothing here", secret) == "nothing here"
    assert redact("EMPTY everywhere", Secret("EMPTY")) == "EMPTY everywhere"  # placeholders are not secrets


# -- progress (issue 14, item 5) ------------------------------------------------------------------------
def test_cached_answers_do_not_count_towards_the_rate(capsys):
    bar = BatchProgress(100_000, "vllm:generate", True, cached=100_000)
    bar.close()
    shown = capsys.readouterr().err
    assert "100000/100000" in shown and "cached=100000" in shown
    assert "?req/s" in shown  # no rate at all: nothing was asked of the backend
    bar = BatchProgress(10, "vllm:generate", True, cached=8)
    bar.done(3)
    bar.done(3)
    assert bar._bar.format_dict["n"] - bar._bar.format_dict["initial"] == 2  # the rate's numerator
    bar.close()


# -- starting vLLM (issue 14, items 1 and 6) -------------------------------------------------------------
def test_cpu_fast_start_environment(monkeypatch):
    env = cpu_fast_start_env()
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert 1 <= int(env["VLLM_CPU_KVCACHE_SPACE"]) <= 4
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")  # the user's own setting is kept
    applied = apply_cpu_fast_start_env()
    assert applied == {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "3" and os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


def test_model_source_checks(tmp_path):
    assert check_model_source("meta-llama/Llama-3.1-8B-Instruct") == "meta-llama/Llama-3.1-8B-Instruct"
    for missing in ("/no/such/dir", "./model", "models/a/b"):
        with pytest.raises(InputError, match=f"`model` folder '{missing}' does not exist"):
            check_model_source(missing)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="is a file; give the model's folder"):
        check_model_source(tmp_path / "weights.bin")
    with pytest.raises(InputError, match="has no config.json"):
        check_model_source(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert check_model_source(tmp_path) == str(tmp_path)


# -- stopping (issue 14, item 3) -----------------------------------------------------------------------
def test_ctrl_c_during_an_engine_step_waits_for_the_step():
    with deferred_interrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)  # delivered at once: the handler only records it
        assert interrupt.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C does not wait
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_caches_opened_in_this_process_are_counted(tmp_path):
    path = tmp_path / "answers.sqlite"
    with ResponseCache(path) as cache:
        cache.put("k1", "generate", {"a": 1})
        cache.put("k2", "generate", {"a": 2})
    found = {p: (total, written) for p, total, written in ResponseCache.opened_in_this_process()}
    assert found[path.resolve()] == (2, 2)
    bad = tmp_path / "not_a_cache.sqlite"
    bad.write_text("hello, I am text")
    with pytest.raises(InputError, match="is not a personacal cache"):
        ResponseCache(bad)
