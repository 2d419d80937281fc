"""Backend machinery that needs no LLM: option kernels, retry-after parsing, the cache, input checks."""

from __future__ import annotations

import argparse
import email.utils
import math
import pickle
import sqlite3
import sys
import time

import numpy as np
import pytest

from personacal.backends import (
    OpenAIBackend,
    OptionScores,
    ResponseCache,
    SamplingParams,
    add_backend_arguments,
    backend_from_args,
    make_backend,
)
from personacal.backends._cache import request_key
from personacal.backends._openai import _retry_after_seconds, _safe_url
from personacal.backends._options import combine_token_logprobs, unseen_mass
from personacal.errors import BackendCapabilityError, BackendError, InputError

URL = "http://127.0.0.1:9/v1"  # nothing listens there; these tests never send a request


# -- option kernels -------------------------------------------------------------------------------------
def test_both_tokenisations_add_up():
    tokens = ["A", " A", " B", "x"]
    logprobs = np.log([0.1, 0.2, 0.3, 0.4])
    out = combine_token_logprobs(["A", "B", "C"], tokens, logprobs)
    np.testing.assert_allclose(np.exp(out[:2]), [0.3, 0.3])
    assert out[2] == -np.inf  # the missing-option rule: absent means -inf, not renormalised away


def test_duplicate_token_strings_all_count():
    out = combine_token_logprobs(["A"], ["A", "A", " A"], np.log([0.1, 0.05, 0.05]))
    assert math.isclose(math.exp(out[0]), 0.2)


def test_unseen_mass_is_what_topk_misses():
    assert math.isclose(unseen_mass(np.log([0.5, 0.25, 0.125])), 0.125)
    assert unseen_mass(np.array([])) == 1.0
    assert unseen_mass(np.log([0.6, 0.4000001])) == 0.0  # rounding never goes negative


def test_option_scores_distribution():
    s = OptionScores(options=("A", "B", "C"), logprobs=np.log([0.2, 0.1, 0.1]))
    np.testing.assert_allclose(s.probs, [0.5, 0.25, 0.25])
    assert math.isclose(s.option_mass, 0.4)
    missing = OptionScores(options=("A", "B"), logprobs=np.array([np.log(0.3), -np.inf]))
    np.testing.assert_allclose(missing.probs, [1.0, 0.0])


def test_option_scores_with_no_option_seen():
    s = OptionScores(options=("A", "B"), logprobs=np.array([-np.inf, -np.inf]), unseen_mass=0.7)
    assert s.option_mass == 0.0
    with pytest.raises(BackendCapabilityError, match=r"none of the options \['A', 'B'\] was among the tokens"):
        s.probs


# -- sampling params ---------------------------------------------------------------------------------------
def test_sampling_params_take_one_guide():
    with pytest.raises(ValueError, match="takes json_schema or choices, not both"):
        SamplingParams(json_schema={"type": "object"}, choices=("a",))
    with pytest.raises(ValueError, match="choices must not be empty"):
        SamplingParams(choices=())


# -- retry-after ------------------------------------------------------------------------------------------
def test_retry_after_forms():
    assert _retry_after_seconds({"retry-after": "7"}) == 7.0
    assert _retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert _retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert _retry_after_seconds({}) is None
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds({"retry-after": "soon"}) is None
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= _retry_after_seconds({"retry-after": date}) <= 30
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert _retry_after_seconds({"retry-after": past}) == 0.0


def test_safe_url_drops_credentials():
    assert _safe_url("https://user:pw@example.org:8443/v1") == "https://example.org:8443/v1"
    assert _safe_url(None) is None


# -- cache ------------------------------------------------------------------------------------------------
def test_cache_roundtrip_and_persistence(tmp_path):
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        cache.put("k1", "generate", {"texts": ["hi"], "x": float("-inf")})
        assert cache.get_many(["k1", "k2"]) == {"k1": {"texts": ["hi"], "x": float("-inf")}}
    with ResponseCache(path) as cache:
        assert len(cache) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_cache_key_depends_on_every_part():
    ident = {"kind": "openai", "model": "m"}
    payload = {"prompt": "p", "params": {"temperature": 1.0, "seed": 3}}
    base = request_key("generate", ident, payload)
    assert base == request_key("generate", dict(reversed(list(ident.items()))), payload)  # order-free
    assert base != request_key("score", ident, payload)
    assert base != request_key("generate", {**ident, "model": "m2"}, payload)
    assert base != request_key("generate", ident, {**payload, "prompt": "q"})
    assert base != request_key("generate", ident, {**payload, "params": {"temperature": 1.0, "seed": 4}})


def test_cache_path_must_be_a_file(tmp_path):
    with pytest.raises(InputError, match="`path` of ResponseCache must be a file, not a folder"):
        ResponseCache(tmp_path)


# -- OpenAIBackend construction (no request is sent) --------------------------------------------------------
def test_key_is_hidden_from_repr_and_pickle():
    b = OpenAIBackend("m", base_url="http://u:pw@127.0.0.1:9/v1", api_key="sk-secret-123", progress=False)
    assert "sk-secret-123" not in repr(b) and "sk-secret-123" not in repr(vars(b))
    assert "pw" not in repr(b)
    with pytest.raises(TypeError, match="the API key holder cannot be pickled"):
        pickle.dumps(b._api_key)


def test_identity_has_no_url_or_key():
    b = OpenAIBackend("m", base_url=URL, api_key="sk-secret-123", progress=False)
    ident = repr(b.identity())
    assert "sk-secret-123" not in ident and "127.0.0.1" not in ident


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "responses"}, "`endpoint` of OpenAIBackend must be one of 'chat', 'completions'; got 'responses'"),
        ({"max_concurrency": 0}, "`max_concurrency` of OpenAIBackend must be an int >= 1; got 0"),
        ({"max_retries": -1}, "`max_retries` of OpenAIBackend must be an int >= 0; got -1"),
        ({"timeout": 0}, "`timeout` of OpenAIBackend must be a finite number > 0; got 0"),
        ({"top_logprobs": 0}, "`top_logprobs` of OpenAIBackend must be an int >= 1; got 0"),
        ({"random_state": -3}, "`random_state` of OpenAIBackend must be a non-negative int; got -3"),
    ],
)
def test_openai_backend_argument_errors(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OpenAIBackend("m", base_url=URL, **kwargs)


def test_openai_backend_needs_a_model_name():
    with pytest.raises(InputError, match=r"^`model` of OpenAIBackend must be a non-empty string; got ' '$"):
        OpenAIBackend(" ", base_url=URL)


def test_openai_backend_input_errors_before_any_request():
    b = OpenAIBackend("m", base_url=URL, progress=False)
    with pytest.raises(InputError, match=r"^`params` of OpenAIBackend.generate must be a SamplingParams or a list of them; got \{'temperature': 1\}$"):
        b.generate(["a"], {"temperature": 1})
    with pytest.raises(InputError, match=r"`options\[0\]` of OpenAIBackend.score_options must be a non-empty list"):
        b.score_options(["a"], [[]])


def test_make_backend_rejects_unknown_kind():
    with pytest.raises(InputError, match=r"^`kind` of make_backend must be one of 'vllm', 'openai', 'ray'; got 'llamacpp'$"):
        make_backend("llamacpp", model="m")


def test_cli_flags_build_an_openai_backend(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    args = parser.parse_args(
        ["--backend", "openai", "--base-url", URL, "--model", "tiny", "--api-key-env", "MY_KEY",
         "--cache", str(tmp_path / "c.sqlite"), "--seed", "5", "--no-progress"]
    )  # fmt: skip
    b = backend_from_args(args)
    assert isinstance(b, OpenAIBackend)
    assert (b.model, b.base_url, b.run_seed, b.progress) == ("tiny", URL, 5, False)
    assert b.cache is not None and b.cache.path == tmp_path / "c.sqlite"
    b.close()


def test_generator_random_state_is_used_once():
    a = OpenAIBackend("m", base_url=URL, random_state=np.random.default_rng(1), progress=False)
    b = OpenAIBackend("m", base_url=URL, random_state=np.random.default_rng(1), progress=False)
    assert a.run_seed == b.run_seed
    with pytest.raises(BackendError, match="no API key"):
        OpenAIBackend("m", api_key_env="PERSONACAL_TEST_UNSET_KEY")


def test_missing_vllm_says_how_to_install(monkeypatch):
    from personacal.backends import VLLMBackend

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(BackendError, match=r"VLLMBackend needs vLLM, which is not installed: run `pip install personacal\[vllm\]`"):
        VLLMBackend("some/model")


def test_tiny_model_vocab_floor(tmp_path):
    from personacal.testing import build_tiny_model

    with pytest.raises(InputError, match=r"^`vocab_size` of build_tiny_model must be an int >= 600; got 100$"):
        build_tiny_model(tmp_path / "m", vocab_size=100)


def test_the_tiny_model_moved_to_personacal_testing():
    import personacal.backends as backends
    import personacal.testing as testing

    with pytest.warns(DeprecationWarning, match=r"`personacal.backends.build_tiny_model` is deprecated.*"
                                                r"use `personacal.testing.build_tiny_model`"):
        assert backends.build_tiny_model is testing.build_tiny_model
    assert "build_tiny_model" not in backends.__all__
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        backends.no_such_name  # noqa: B018


def test_the_tiny_model_command_line_checks_its_seed(capsys):
    from personacal.backends import tiny_model
    from personacal.testing import main

    with pytest.raises(InputError, match=r"`random_state` of build_tiny_model must be an int >= 0; got -1"):
        main(["somewhere", "--seed", "-1"])
    with pytest.warns(DeprecationWarning, match=r"use `python -m personacal.testing`"):
        with pytest.raises(InputError, match=r"`random_state` of build_tiny_model must be an int >= 0; got -1"):
            tiny_model.main(["somewhere", "--seed", "-1"])


def test_backends_satisfy_the_protocol():
    from personacal.backends import Backend

    assert isinstance(OpenAIBackend("m", base_url=URL, progress=False), Backend)
