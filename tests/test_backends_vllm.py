"""VLLMBackend against a REAL vLLM CPU engine running a tiny random-weight model."""

from __future__ import annotations

import math
import string
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, Field

from personacal.backends import ChatMessage, ResponseCache, SamplingParams, VLLMBackend
from personacal.errors import BackendCapabilityError, InputError, SchemaValidationError
from personacal.testing import build_tiny_model

pytestmark = pytest.mark.vllm

PROMPT = "Question: Do you trust the government?\nA) Yes B) No C) Unsure\nAnswer:"


# -- the tiny model ---------------------------------------------------------------------------
def test_tiny_model_is_deterministic(tiny_model_dir, tmp_path):
    again = build_tiny_model(tmp_path / "again", random_state=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    other = build_tiny_model(tmp_path / "other", random_state=1)
    assert (other / "model.safetensors").read_bytes() != (tiny_model_dir / "model.safetensors").read_bytes()


def test_tiny_model_loads_offline_with_transformers(tiny_model_dir, llm_env):
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = AutoConfig.from_pretrained(tiny_model_dir)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (2, 128, 2)
    for letter in string.ascii_uppercase:
        assert len(tok.encode(letter, add_special_tokens=False)) == 1, letter
        assert len(tok.encode(" " + letter, add_special_tokens=False)) == 1, " " + letter
    rendered = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert rendered == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_model_rejects_generator_seed(tmp_path):
    with pytest.raises(InputError, match=r"`random_state` of build_tiny_model must be an int >= 0; got Generator"):
        build_tiny_model(tmp_path / "m", random_state=np.random.default_rng(0))


# -- generation ---------------------------------------------------------------------------------
def test_outputs_keep_input_order(vllm_backend):
    # Longest first, so requests finish in the reverse of input order.
    lengths = [24, 3, 17, 1, 9]
    prompts = [f"Persona {i}: lives in the north." for i in range(len(lengths))]
    outs = vllm_backend.generate(prompts, [SamplingParams(max_tokens=n) for n in lengths])
    assert [o.n_generated_tokens for o in outs] == lengths
    assert all(o.finish_reasons == ("length",) for o in outs)
    assert not any(o.cached for o in outs)


def test_params_length_must_match_prompts(vllm_backend):
    with pytest.raises(InputError, match=r"`params` of VLLMBackend.generate must be one SamplingParams or one per prompt; got 2 for 3 prompts"):
        vllm_backend.generate(["a", "b", "c"], [SamplingParams(), SamplingParams()])


def test_bad_prompt_is_named(vllm_backend):
    with pytest.raises(InputError, match=r"`prompts\[1\]` of VLLMBackend.generate must be a str"):
        vllm_backend.generate(["ok", 42], SamplingParams())
    with pytest.raises(InputError, match="`prompts` of VLLMBackend.generate must be a list of prompts"):
        vllm_backend.generate("just one string", SamplingParams())


def test_explicit_seed_reproduces_and_different_seeds_differ(vllm_backend):
    p = SamplingParams(temperature=0.95, max_tokens=12)
    a = vllm_backend.generate(["Hello there"], [p.model_copy(update={"seed": 7})])[0].text
    b = vllm_backend.generate(["Hello there"], [p.model_copy(update={"seed": 7})])[0].text
    c = vllm_backend.generate(["Hello there"], [p.model_copy(update={"seed": 8})])[0].text
    assert a == b
    assert a != c


def test_run_seed_derives_per_request_seeds(vllm_engine, tiny_model_dir):
    p = SamplingParams(temperature=1.0, max_tokens=12)
    prompts = ["Same prompt", "Same prompt", "Other prompt"]
    run1 = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=11, progress=False).generate(prompts, p)
    run2 = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=11, progress=False).generate(prompts, p)
    run3 = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=12, progress=False).generate(prompts, p)
    assert [o.texts for o in run1] == [o.texts for o in run2]
    assert [o.meta["seed"] for o in run1] == [o.meta["seed"] for o in run2]
    # a repeated prompt in one call is a fresh draw, not a copy
    assert run1[0].meta["seed"] != run1[1].meta["seed"] and run1[0].text != run1[1].text
    assert [o.text for o in run1] != [o.text for o in run3]


def test_n_replies_per_prompt(vllm_backend):
    out = vllm_backend.generate(["Hi"], SamplingParams(temperature=1.0, max_tokens=6, n=3))[0]
    assert len(out.texts) == 3 and len(set(out.texts)) == 3
    assert out.n_generated_tokens == 18


def test_chat_prompts_use_the_models_chat_template(vllm_backend, tiny_model_dir):
    from transformers import AutoTokenizer

    messages = [ChatMessage("system", "You are a nurse from Ohio."), ChatMessage("user", "How are you?")]
    outs = vllm_backend.generate([messages, "plain text prompt"], SamplingParams(max_tokens=2))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages], tokenize=True, add_generation_prompt=True
    )
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert outs[0].n_prompt_tokens == len(ids)
    assert outs[1].n_prompt_tokens == len(tok.encode("plain text prompt", add_special_tokens=False))


def test_guided_choice_returns_one_of_the_choices(vllm_backend):
    choices = ("strongly agree", "agree", "disagree")
    outs = vllm_backend.generate(["Opinion?"] * 6, SamplingParams(temperature=1.0, max_tokens=30, choices=choices))
    assert all(o.text in choices for o in outs)
    assert len({o.text for o in outs}) > 1  # sampled, not stuck on one


def test_guided_choice_cut_short_is_an_error(vllm_backend):
    choices = ("strongly agree", "strongly disagree")
    with pytest.raises(SchemaValidationError, match="cut short at `max_tokens`=1 before completing one of the `choices`"):
        vllm_backend.generate(["Opinion?"], SamplingParams(max_tokens=1, choices=choices))


class Persona(BaseModel):
    age: int = Field(ge=18, le=99)
    sex: Literal["female", "male"]
    state: str = Field(pattern=r"^[A-Z]{2}$")


def test_guided_json_is_schema_valid(vllm_backend):
    params = SamplingParams(temperature=1.0, max_tokens=120, json_schema=Persona.model_json_schema())
    outs = vllm_backend.generate([f"Persona {i} as JSON:" for i in range(5)], params)
    for o in outs:
        assert o.finish_reasons == ("stop",)
        persona = Persona.model_validate_json(o.text)
        assert 18 <= persona.age <= 99


# -- option scoring -------------------------------------------------------------------------------
def _full_distribution(engine, prompt: str) -> dict[int, float]:
    """Every token's first-position logprob, straight from vLLM (logprobs=-1)."""
    import vllm

    out = engine.generate([prompt], vllm.SamplingParams(max_tokens=1, logprobs=-1), use_tqdm=False)[0]
    return {t: lp.logprob for t, lp in out.outputs[0].logprobs[0].items()}


def test_option_logprobs_combine_both_tokenisations(vllm_backend, vllm_engine, tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    full = _full_distribution(vllm_engine, PROMPT)
    assert math.isclose(sum(math.exp(v) for v in full.values()), 1.0, abs_tol=1e-4)
    options = ["A", "B", "C"]
    expected = [
        np.logaddexp(full[tok.convert_tokens_to_ids(o)], full[tok.convert_tokens_to_ids("Ġ" + o)]) for o in options
    ]
    (scores,) = vllm_backend.score_options([PROMPT], [options])
    np.testing.assert_allclose(scores.logprobs, expected, atol=1e-5)
    # The engine scores exactly the option tokens; the mass of every other first token is measured, not 0.
    option_tokens = {tok.convert_tokens_to_ids(f) for o in options for f in (o, "Ġ" + o)}
    assert scores.unseen_mass == pytest.approx(1 - sum(math.exp(full[t]) for t in option_tokens), abs=1e-5)
    assert scores.unseen_mass > 0.5  # a random model rarely wants to start with an option letter
    assert math.isclose(scores.probs.sum(), 1.0)
    np.testing.assert_allclose(vllm_backend.option_logprobs([PROMPT], [options])[0], expected, atol=1e-5)


def test_option_logprobs_match_a_transformers_forward_pass(vllm_backend, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids = torch.tensor([tok.encode(PROMPT, add_special_tokens=False)])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, -1].double(), dim=-1).numpy()
    letters = list(string.ascii_uppercase)
    expected = [np.logaddexp(logp[tok.convert_tokens_to_ids(x)], logp[tok.convert_tokens_to_ids("Ġ" + x)]) for x in letters]
    (scores,) = vllm_backend.score_options([PROMPT], [letters])
    np.testing.assert_allclose(scores.logprobs, expected, atol=2e-3)
    assert math.isclose(scores.probs.sum(), 1.0)
    assert 0.0 < scores.option_mass < 1.0


def test_scoring_chat_prompts_and_order(vllm_backend):
    prompts = [[ChatMessage("user", f"Pick one, persona {i}")] for i in range(4)] + [PROMPT]
    options = [["A", "B"], ["A", "B", "C", "D"], ["X", "Y"], ["A"], ["B", "A"]]
    scores = vllm_backend.score_options(prompts, options)
    assert [s.options for s in scores] == [tuple(o) for o in options]
    for s in scores:
        assert np.isfinite(s.logprobs).all() and (s.logprobs < 0).all()
        assert math.isclose(s.probs.sum(), 1.0)
    (a_first,) = vllm_backend.score_options([PROMPT], [["A", "B"]])
    np.testing.assert_allclose(scores[4].logprobs[::-1], a_first.logprobs, atol=1e-5)


def test_multi_token_option_is_rejected(vllm_backend):
    with pytest.raises(InputError, match="option 'Strongly agree' of VLLMBackend.score_options is not a single token"):
        vllm_backend.score_options([PROMPT], [["Strongly agree", "A"]])


def test_options_must_be_one_list_per_prompt(vllm_backend):
    with pytest.raises(InputError, match="`options` of VLLMBackend.score_options must hold one list of option labels per prompt; got 1 for 2"):
        vllm_backend.score_options([PROMPT, PROMPT], [["A", "B"]])
    with pytest.raises(InputError, match=r"`options\[0\]` of VLLMBackend.score_options must not repeat a label"):
        vllm_backend.score_options([PROMPT], [["A", "A"]])


# -- cache ------------------------------------------------------------------------------------------
def test_cache_serves_reruns(vllm_engine, tiny_model_dir, tmp_path):
    path = tmp_path / "answers.sqlite"
    params = SamplingParams(temperature=0.9, max_tokens=8)
    prompts = [f"Persona {i}" for i in range(4)]
    first_backend = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=3, cache=path, progress=False)
    first = first_backend.generate(prompts, params)
    first_scores = first_backend.score_options([PROMPT], [["A", "B"]])
    first_backend.close()
    again = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=3, cache=path, progress=False)
    second = again.generate(prompts, params)
    assert all(o.cached for o in second) and not any(o.cached for o in first)
    assert [o.texts for o in second] == [o.texts for o in first]
    scores = again.score_options([PROMPT], [["A", "B"]])
    assert scores[0].cached
    np.testing.assert_array_equal(scores[0].logprobs, first_scores[0].logprobs)
    # another run seed is another set of answers
    other = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=4, cache=path, progress=False)
    assert not any(o.cached for o in other.generate(prompts, params))


class _CrashingCache(ResponseCache):
    """Stores `limit` answers, then fails like a process killed mid-batch."""

    def __init__(self, path, limit):
        super().__init__(path)
        self.limit = limit

    def put(self, key, request_type, value):
        if self.limit == 0:
            raise KeyboardInterrupt("simulated crash")
        self.limit -= 1
        super().put(key, request_type, value)


def test_interrupted_batch_keeps_finished_answers(vllm_engine, tiny_model_dir, tmp_path):
    path = tmp_path / "answers.sqlite"
    params = SamplingParams(temperature=0.9, max_tokens=6)
    prompts = [f"Respondent {i}" for i in range(8)]
    crashing = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=5, cache=_CrashingCache(path, 3), progress=False)
    with pytest.raises(KeyboardInterrupt):
        crashing.generate(prompts, params)
    crashing.close()
    assert len(ResponseCache(path)) == 3
    resumed = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=5, cache=path, progress=False)
    outs = resumed.generate(prompts, params)
    assert sum(o.cached for o in outs) == 3
    # the engine was left clean: a cache-free run gives the same answers
    fresh = VLLMBackend(tiny_model_dir, llm=vllm_engine, random_state=5, progress=False).generate(prompts, params)
    assert [o.texts for o in outs] == [o.texts for o in fresh]


def test_missing_chat_template_is_a_capability_error(vllm_backend, vllm_engine, monkeypatch):
    tokenizer = vllm_engine.get_tokenizer()
    monkeypatch.setattr(tokenizer, "chat_template", None)
    with pytest.raises(BackendCapabilityError, match="has no chat template; pass `chat_template=` to VLLMBackend"):
        vllm_backend.generate(["plain text first", [ChatMessage("user", "hi")]], SamplingParams(max_tokens=2))
    # the plain-text request queued before the failure was withdrawn
    assert vllm_engine.llm_engine.get_num_unfinished_requests() == 0
    monkeypatch.undo()
    assert vllm_backend.generate([[ChatMessage("user", "hi")]], SamplingParams(max_tokens=2))[0].n_generated_tokens == 2


def test_factory_and_engine_argument_errors(vllm_engine, tiny_model_dir):
    from personacal.backends import make_backend

    b = make_backend("vllm", model=str(tiny_model_dir), llm=vllm_engine, random_state=0, progress=False)
    assert isinstance(b, VLLMBackend) and b.model == str(tiny_model_dir)
    assert b.generate(["Hi"], SamplingParams(max_tokens=2))[0].n_generated_tokens == 2
    with pytest.raises(InputError, match="`engine_kwargs` of VLLMBackend apply only when it builds the engine"):
        VLLMBackend(tiny_model_dir, llm=vllm_engine, dtype="float32")
    with pytest.raises(InputError, match="`model` of VLLMBackend must name a model id or folder"):
        VLLMBackend()


def test_seeded_sampling_of_a_batch_larger_than_one_step(vllm_backend):
    # 30 x ~400 prompt tokens exceed one step's 8192-token budget. With chunked prefill on,
    # vLLM 0.32's CPU build crashes here ("CPU Generator does not use offset").
    persona = " ".join(f"fact {k}: this person lives in the north and works as a teacher." for k in range(30))
    prompts = [f"Respondent {i}. {persona}\nAnswer:" for i in range(30)]
    outs = vllm_backend.generate(prompts, SamplingParams(temperature=1.0, max_tokens=2))
    assert sum(o.n_prompt_tokens for o in outs) > 8192
    assert all(o.n_generated_tokens == 2 for o in outs)


def test_vllm_backend_satisfies_the_protocol(vllm_backend):
    from personacal.backends import Backend

    assert isinstance(vllm_backend, Backend)
