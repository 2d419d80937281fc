"""What every backend shares: input checks, per-request seeds, the cache and the progress bar.

A concrete backend only implements ``_run_generate`` and ``_run_scoring``:
given the requests still to do, it calls ``on_result(j, answer)`` as soon as
request ``j`` is answered (so the cache can store it at once) and returns.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._random import RandomState, check_random_state, derive_seed
from .._validation import InstanceOf, check_param
from ..errors import BackendError, InputError, SchemaValidationError
from ._cache import ResponseCache, request_key
from ._progress import BatchProgress
from ._protocol import ChatMessage, GenerationOutput, OptionScores, Prompt, SamplingParams

__all__ = ["BaseBackend", "GenRequest", "ScoreRequest"]

#: A normalised prompt: raw text, or a tuple of chat messages.
NormPrompt = str | tuple[ChatMessage, ...]


@dataclass(frozen=True)
class GenRequest:
    prompt: NormPrompt
    params: SamplingParams  # with the seed filled in when sampling


@dataclass(frozen=True)
class ScoreRequest:
    prompt: NormPrompt
    options: tuple[str, ...]


def _prompt_json(prompt: NormPrompt) -> Any:
    if isinstance(prompt, str):
        return prompt
    return [[m.role, m.content] for m in prompt]


def _normalise_prompt(prompt: Any, i: int, func: str) -> NormPrompt:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence) and len(prompt) > 0:
        messages = []
        for m in prompt:
            if isinstance(m, ChatMessage):
                messages.append(m)
            elif isinstance(m, Mapping) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str):
                messages.append(ChatMessage(m["role"], m["content"]))
            else:
                break
        else:
            return tuple(messages)
    raise InputError(
        f"`prompts[{i}]` of {func} must be a str or a non-empty list of ChatMessage "
        f"(or {{'role': str, 'content': str}} dicts); got {type(prompt).__name__}"
    )


def _check_choices(texts, finish_reasons, params: SamplingParams, who: str) -> None:
    """Guided choice must return one of the choices; say why when it did not."""
    for text, reason in zip(texts, finish_reasons):
        if text in params.choices:
            continue
        if reason == "length":
            raise SchemaValidationError(
                f"{who} returned {text!r}, cut short at `max_tokens`={params.max_tokens} before completing one of "
                f"the `choices` {list(params.choices)}; raise `max_tokens`"
            )
        raise SchemaValidationError(
            f"{who} returned {text!r}, not one of the allowed `choices` {list(params.choices)}; "
            "it may not support guided choice (OpenAI-compatible servers: a vLLM extension)"
        )


def _output_to_json(out: GenerationOutput) -> dict[str, Any]:
    return {
        "texts": list(out.texts),
        "finish_reasons": list(out.finish_reasons),
        "n_prompt_tokens": out.n_prompt_tokens,
        "n_generated_tokens": out.n_generated_tokens,
        "meta": out.meta,
    }


def _output_from_json(d: Mapping[str, Any]) -> GenerationOutput:
    return GenerationOutput(
        texts=tuple(d["texts"]),
        finish_reasons=tuple(d["finish_reasons"]),
        n_prompt_tokens=d["n_prompt_tokens"],
        n_generated_tokens=d["n_generated_tokens"],
        cached=True,
        meta=dict(d["meta"]),
    )


def _scores_to_json(s: OptionScores) -> dict[str, Any]:
    return {
        "options": list(s.options),
        "logprobs": [float(x) for x in s.logprobs],
        "unseen_mass": s.unseen_mass,
        "meta": s.meta,
    }


def _scores_from_json(d: Mapping[str, Any]) -> OptionScores:
    return OptionScores(
        options=tuple(d["options"]),
        logprobs=np.asarray(d["logprobs"], dtype=float),
        unseen_mass=None if d["unseen_mass"] is None else float(d["unseen_mass"]),
        cached=True,
        meta=dict(d["meta"]),
    )


class BaseBackend:
    """Shared machinery; subclasses set ``kind`` and implement the two ``_run_*`` methods."""

    kind = "base"
    model: str
    score_format = 1  # raised when what a backend's cached scores mean changes

    def __init__(
        self,
        *,
        random_state: RandomState = None,
        cache: str | os.PathLike | ResponseCache | None = None,
        progress: bool = True,
    ):
        func = f"{type(self).__name__}"
        if isinstance(random_state, np.random.Generator):
            self.run_seed = derive_seed(random_state)
        elif random_state is None:
            self.run_seed = derive_seed(check_random_state(None, func=func))
        else:
            check_random_state(random_state, func=func)  # validates the type and sign
            self.run_seed = int(random_state)
        if cache is None or isinstance(cache, ResponseCache):
            self.cache = cache
        else:
            self.cache = ResponseCache(cache)
        self.progress = bool(progress)

    # -- what subclasses provide -------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """Everything about this backend that changes its answers (cache key part). No secrets."""
        return {"kind": self.kind, "model": self.model}

    def _run_generate(
        self, requests: list[GenRequest], on_result: Callable[[int, GenerationOutput], None], bar: BatchProgress
    ) -> None:
        raise NotImplementedError

    def _run_scoring(
        self, requests: list[ScoreRequest], on_result: Callable[[int, OptionScores], None], bar: BatchProgress
    ) -> None:
        raise NotImplementedError

    # -- public API ---------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams | Sequence[SamplingParams] | None = None,
        *,
        progress: bool | None = None,
    ) -> list[GenerationOutput]:
        """Generate replies for a batch; one :class:`GenerationOutput` per prompt, in input order.

        ``params`` is one :class:`SamplingParams` for every prompt or one per
        prompt. Sampled requests (``temperature > 0``) without an explicit
        ``seed`` get one derived from the backend's run seed, the request and
        its occurrence number within the call, so a re-run reproduces (and
        re-uses cached) answers, while repeated identical prompts in one call
        still get independent replies.
        """
        self._check_open()
        requests = self._prepare_generate(prompts, params)
        return self._run_batch(
            requests, "generate", self._gen_payload, _output_to_json, _output_from_json, self._run_generate, progress
        )

    def score_options(
        self,
        prompts: Sequence[Prompt],
        options: Sequence[Sequence[str]],
        *,
        progress: bool | None = None,
    ) -> list[OptionScores]:
        """First-token option log-probabilities with diagnostics; one :class:`OptionScores` per prompt."""
        self._check_open()
        requests = self._prepare_scoring(prompts, options)
        return self._run_batch(
            requests, "score", self._score_payload, _scores_to_json, _scores_from_json, self._run_scoring, progress
        )

    def option_logprobs(
        self, prompts: Sequence[Prompt], options: Sequence[Sequence[str]], *, progress: bool | None = None
    ) -> list[np.ndarray]:
        """Log-probability arrays aligned with each prompt's ``options`` (see :meth:`score_options`)."""
        return [s.logprobs for s in self.score_options(prompts, options, progress=progress)]

    def close(self) -> None:
        """Release what the backend holds: its engine (if it built one) and its cache. Safe to call twice."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self._release()
        finally:
            if self.cache is not None:
                self.cache.close()

    def _release(self) -> None:
        """Subclasses free their engine or connections here (called once, by :meth:`close`)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------
    def _check_open(self) -> None:
        if getattr(self, "_closed", False):
            raise BackendError(f"{type(self).__name__} is closed (its engine was shut down); build a new one")

    def _gen_payload(self, r: GenRequest) -> dict[str, Any]:
        return {"prompt": _prompt_json(r.prompt), "params": r.params.model_dump(mode="json")}

    def _score_payload(self, r: ScoreRequest) -> dict[str, Any]:
        payload = {"prompt": _prompt_json(r.prompt), "options": list(r.options)}
        if self.score_format > 1:  # a backend whose scores changed meaning keys them apart from older ones
            payload["scores"] = self.score_format
        return payload

    def _prepare_generate(self, prompts, params) -> list[GenRequest]:
        func = f"{type(self).__name__}.generate"
        prompts = self._check_prompts(prompts, func)
        if params is None:
            params = SamplingParams()
        if isinstance(params, SamplingParams):
            per = [params] * len(prompts)
        elif isinstance(params, Sequence) and all(isinstance(p, SamplingParams) for p in params):
            per = list(params)
            if len(per) != len(prompts):
                raise InputError(
                    f"`params` of {func} must be one SamplingParams or one per prompt; "
                    f"got {len(per)} for {len(prompts)} prompts"
                )
        else:
            check_param(func, "params", params, InstanceOf(SamplingParams, name="a SamplingParams or a list of them"))
        seen: Counter[str] = Counter()
        requests = []
        for prompt, p in zip(prompts, per):
            if p.seed is None and p.temperature > 0:
                blob = json.dumps(
                    [self.run_seed, _prompt_json(prompt), p.model_dump(mode="json")], sort_keys=True, allow_nan=True
                )
                occurrence = seen[blob]
                seen[blob] += 1
                digest = hashlib.blake2b(f"{blob}#{occurrence}".encode(), digest_size=8).digest()
                p = p.model_copy(update={"seed": int.from_bytes(digest, "little") % (2**31 - 1)})
            requests.append(GenRequest(prompt, p))
        return requests

    def _prepare_scoring(self, prompts, options) -> list[ScoreRequest]:
        func = f"{type(self).__name__}.score_options"
        prompts = self._check_prompts(prompts, func)
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or len(options) != len(prompts):
            got = len(options) if isinstance(options, Sequence) else type(options).__name__
            raise InputError(
                f"`options` of {func} must hold one list of option labels per prompt; "
                f"got {got} for {len(prompts)} prompts"
            )
        requests = []
        for i, (prompt, opts) in enumerate(zip(prompts, options)):
            if isinstance(opts, str) or not all(isinstance(o, str) and o for o in opts) or len(opts) == 0:
                raise InputError(
                    f"`options[{i}]` of {func} must be a non-empty list of non-empty strings "
                    f"such as ['A', 'B', 'C']; got {opts!r}"
                )
            if len(set(opts)) != len(opts):
                raise InputError(f"`options[{i}]` of {func} must not repeat a label; got {list(opts)!r}")
            requests.append(ScoreRequest(prompt, tuple(opts)))
        return requests

    @staticmethod
    def _check_prompts(prompts, func: str) -> list[NormPrompt]:
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
            raise InputError(
                f"`prompts` of {func} must be a list of prompts (str or chat messages); "
                f"got {type(prompts).__name__}"
            )
        return [_normalise_prompt(p, i, func) for i, p in enumerate(prompts)]

    def _cache_key(self, request_type: str, payload: dict[str, Any]) -> str:
        if request_type == "generate" and payload["params"].get("temperature") == 0:
            # greedy replies do not depend on the seed; share them across run seeds
            payload = {**payload, "params": {**payload["params"], "seed": None}}
        return request_key(request_type, self.identity(), payload)

    def _run_batch(self, requests, request_type, payload_of, to_json, from_json, run, progress):
        n = len(requests)
        results: list[Any] = [None] * n
        keys: list[str] = []
        if self.cache is not None:
            keys = [self._cache_key(request_type, payload_of(r)) for r in requests]
            stored = self.cache.get_many(keys)
            for i, k in enumerate(keys):
                if k in stored:
                    results[i] = from_json(stored[k])
        todo = [i for i in range(n) if results[i] is None]
        enabled = self.progress if progress is None else bool(progress)
        bar = BatchProgress(n, f"{self.kind}:{request_type}", enabled and n > 0, cached=n - len(todo))

        def on_result(j: int, answer) -> None:
            i = todo[j]
            results[i] = answer
            if self.cache is not None:
                self.cache.put(keys[i], request_type, to_json(answer))
            bar.done(getattr(answer, "n_generated_tokens", None))

        try:
            if todo:
                run([requests[i] for i in todo], on_result, bar)
        finally:
            bar.close()
        missing = [i for i in range(n) if results[i] is None]
        if missing:
            raise BackendError(
                f"{type(self).__name__} returned no answer for request(s) {missing[:10]} of {n}; "
                "this is a bug in the backend, please report it"
            )
        return results
