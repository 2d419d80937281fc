"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, ...) as a backend.

Requests run concurrently on an asyncio loop (bounded by a semaphore); the
sync methods run that loop for you. Retries are ours alone (the ``openai``
client's own are switched off) so they show up in the progress bar and logs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from .._random import RandomState
from .._validation import Interval, NonEmptyStr, Options, check_params, renamed_parameters
from ..errors import BackendCapabilityError, BackendError, BackendRequestError, InputError
from ._base import BaseBackend, GenRequest, ScoreRequest, _check_choices
from ._cache import ResponseCache
from ._options import combine_token_logprobs, unseen_mass
from ._progress import BatchProgress
from ._protocol import GenerationOutput, OptionScores, SamplingParams
from ._retry import Secret, decide_retry, one_line, redact, safe_url

__all__ = ["OpenAIBackend"]

logger = logging.getLogger(__name__)

_POSITIVE = Interval("real", 0, None, closed="neither")
#: What each setting of :class:`OpenAIBackend` may be.
SETTINGS = {
    "model": NonEmptyStr, "endpoint": Options(("chat", "completions")),
    "max_concurrency": Interval("int", 1, None), "max_retries": Interval("int", 0, None),
    "top_logprobs": Interval("int", 1, None), "timeout": _POSITIVE, "backoff_base": _POSITIVE,
    "backoff_max": _POSITIVE, "max_retry_after": Interval("real", 0, None),
}
#: What vLLM's CPU build says when a seeded request meets chunked prefill (and its engine dies).
CPU_SEED_BUG = "CPU Generator does not use offset"
SEED_FIX = ("vLLM's CPU build crashes on seeded requests unless the server runs with --no-enable-chunked-prefill "
            "--max-num-batched-tokens 8192 (>= --max-model-len): restart it with those flags (see the README's "
            "server command)")


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # A loop is already running in this thread: run ours in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="personacal-openai") as pool:
        return pool.submit(asyncio.run, factory()).result()


class OpenAIBackend(BaseBackend):
    """Chat or completions requests to an OpenAI-compatible HTTP server.

    Parameters
    ----------
    model
        Model name as the server knows it.
    base_url
        Server URL, e.g. ``"http://127.0.0.1:8000/v1"``; ``None`` means OpenAI itself.
    api_key
        The key; default: the environment variable named by ``api_key_env``.
        Local servers that need none get the placeholder ``"EMPTY"``. The key
        never appears in reprs, logs, the cache or outputs.
    endpoint
        ``"chat"`` (``/chat/completions``, the server applies the chat template)
        or ``"completions"`` (``/completions``, raw text prompts only).
    max_concurrency
        Requests in flight at once.
    max_retries
        Retries after the first try, on 408/409/429/5xx, timeouts and connection errors,
        unless the server's ``x-should-retry`` header says otherwise (it wins both ways).
    timeout
        Seconds allowed for each HTTP request before it counts as timed out.
    backoff_base, backoff_max
        Exponential backoff with full jitter: the k-th retry waits
        ``uniform(0, min(backoff_max, backoff_base * 2**k))`` seconds, unless the
        server sent ``retry-after`` (or ``retry-after-ms``), which is honoured.
    max_retry_after
        The longest ``retry-after`` honoured, in seconds (default 120, openai-python's
        ceiling); a server asking for longer ends the run with a one-line
        :class:`~personacal.errors.BackendRequestError` instead of a long silent wait.
        It was ``retry_after_cap`` (a cap that then retried anyway) before.
    idempotency_header
        Header carrying one key per request, the same on every retry of it, so that
        a server that honours it never runs a retried request twice
        (``"Idempotency-Key"``; ``None`` sends none).
    top_logprobs
        How many top tokens to ask for when scoring options (OpenAI allows up to 20).
    extra_body
        Extra JSON fields sent with every request (server-specific options).
    """

    kind = "openai"

    @renamed_parameters(retry_after_cap="max_retry_after")
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        endpoint: str = "chat",
        max_concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        idempotency_header: str | None = "Idempotency-Key",
        top_logprobs: int = 20,
        extra_body: dict[str, Any] | None = None,
        random_state: RandomState = None,
        cache: str | os.PathLike | ResponseCache | None = None,
        progress: bool = True,
    ):
        super().__init__(random_state=random_state, cache=cache, progress=progress)
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise BackendError("OpenAIBackend needs the `openai` package: `pip install openai`") from exc
        self._openai = openai
        check_params("OpenAIBackend", SETTINGS, {
            "model": model, "endpoint": endpoint, "max_concurrency": max_concurrency, "max_retries": max_retries,
            "top_logprobs": top_logprobs, "timeout": timeout, "backoff_base": backoff_base,
            "backoff_max": backoff_max, "max_retry_after": max_retry_after})
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if key is None:
            if base_url is None:
                raise BackendError(
                    f"OpenAIBackend has no API key: pass `api_key=` or set the environment variable {api_key_env}"
                )
            key = "EMPTY"  # self-hosted servers (vLLM, llama.cpp) usually need none
        self._api_key = Secret(key)
        self.model = model
        self.base_url = base_url
        self.endpoint = endpoint
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_retry_after = float(max_retry_after)
        self.idempotency_header = idempotency_header
        self.top_logprobs = top_logprobs
        self.extra_body = dict(extra_body or {})
        self._jitter = np.random.default_rng()  # backoff jitter only; never affects answers

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.model!r}, base_url={safe_url(self.base_url)!r}, "
            f"endpoint={self.endpoint!r}, run_seed={self.run_seed})"
        )

    def identity(self) -> dict[str, Any]:
        # The URL is left out on purpose: the same model moved to another port keeps its cache.
        return {
            "kind": self.kind,
            "model": self.model,
            "endpoint": self.endpoint,
            "top_logprobs": self.top_logprobs,
            "extra_body": self.extra_body,
        }

    # -- async API ----------------------------------------------------------------
    async def agenerate(self, prompts, params=None) -> list[GenerationOutput]:
        """Async twin of :meth:`generate` for callers with their own event loop (no cache, no bar)."""
        requests = self._prepare_generate(prompts, params)
        return await self._gather(requests, self._generate_one, None)

    # -- backend hooks ------------------------------------------------------------
    def _run_generate(self, requests: list[GenRequest], on_result, bar: BatchProgress) -> None:
        _run_coroutine(lambda: self._gather(requests, self._generate_one, bar, on_result))

    def _run_scoring(self, requests: list[ScoreRequest], on_result, bar: BatchProgress) -> None:
        _run_coroutine(lambda: self._gather(requests, self._score_one, bar, on_result))

    async def _gather(self, requests, one, bar: BatchProgress | None, on_result=None) -> list:
        client = self._openai.AsyncOpenAI(
            api_key=self._api_key.reveal(), base_url=self.base_url, max_retries=0, timeout=self.timeout
        )
        semaphore = asyncio.Semaphore(self.max_concurrency)
        results: list[Any] = [None] * len(requests)

        async def run(j: int):
            async with semaphore:
                return j, await self._with_retries(one, client, requests[j], bar, j)

        tasks = [asyncio.create_task(run(j)) for j in range(len(requests))]
        try:
            for next_done in asyncio.as_completed(tasks):
                j, answer = await next_done
                results[j] = answer
                if on_result is not None:
                    on_result(j, answer)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            await client.close()
        return results

    async def _with_retries(self, one, client, request, bar: BatchProgress | None, j: int):
        openai = self._openai
        # One key for every try of this request: a server that honours it runs the request once.
        headers = {self.idempotency_header: f"personacal-{uuid.uuid4()}"} if self.idempotency_header else None
        attempt, first_status = 0, "unset"
        while True:
            try:
                return await one(client, request, headers)
            except (openai.APIConnectionError, openai.APIStatusError) as exc:  # APITimeoutError included
                status = getattr(exc, "status_code", None)
                first_status = status if first_status == "unset" else first_status
                response_headers = getattr(getattr(exc, "response", None), "headers", None)
                decision = decide_retry(
                    status, response_headers, attempt, max_retries=self.max_retries,
                    max_retry_after=self.max_retry_after, backoff_base=self.backoff_base,
                    backoff_max=self.backoff_max, jitter=self._jitter)
                what = f"HTTP {status}" if status is not None else type(exc).__name__
                if not decision.retry:
                    if bar is not None:
                        bar.failure()
                    raise self._request_error(j, request, exc, what, decision.reason, first_status) from None
                attempt += 1
                if bar is not None:
                    bar.retry()
                logger.info("request %d got %s; retry %d/%d in %.2fs", j, what, attempt, self.max_retries,
                            decision.delay)
                await asyncio.sleep(decision.delay)

    def _request_error(self, j: int, request, exc, what: str, reason: str, first_status) -> BackendRequestError:
        """One line that says what failed and what to do; the server's words are redacted first.

        The cause is not chained: the openai exception holds the request, headers included.
        """
        detail = one_line(getattr(exc, "message", None) or str(exc), self._api_key)
        where = f"{safe_url(self.base_url) or 'OpenAI'} (model {self.model!r})"
        if CPU_SEED_BUG in detail:
            return BackendRequestError(f"request {j} to {where} failed: {SEED_FIX} (server said: {detail})")
        hint = ""
        seeded = getattr(getattr(request, "params", None), "seed", None) is not None
        if seeded and isinstance(first_status, int) and first_status >= 500:
            # vLLM's CPU server answers 500 to the requests in flight when a seeded one kills its engine,
            # then stops listening: the last error is a connection error that says nothing
            hint = f" (first try: HTTP {first_status}); if that server is vLLM on a CPU: {SEED_FIX}"
        elif first_status is None and what == "APIConnectionError":
            hint = "; is the server running at that address?"
        return BackendRequestError(f"request {j} to {where} failed {reason}: {what}: {detail}{hint}")

    # -- one request --------------------------------------------------------------
    def _common(self, p: SamplingParams) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.model,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_tokens,
            "n": p.n,
            "timeout": self.timeout,
        }
        if p.seed is not None:
            kw["seed"] = p.seed
        if p.stop:
            kw["stop"] = list(p.stop)
        return kw

    def _messages(self, prompt) -> list[dict[str, str]]:
        if isinstance(prompt, str):
            return [{"role": "user", "content": prompt}]
        return [{"role": m.role, "content": m.content} for m in prompt]

    def _text_prompt(self, prompt, func: str) -> str:
        if not isinstance(prompt, str):
            raise InputError(
                f"`prompts` of {func} must be plain strings with endpoint='completions'; "
                "got chat messages (use endpoint='chat')"
            )
        return prompt

    async def _generate_one(self, client, r: GenRequest, headers=None) -> GenerationOutput:
        p = r.params
        kw = self._common(p)
        kw["extra_headers"] = headers
        extra = dict(self.extra_body)
        if self.endpoint == "chat":
            if p.json_schema is not None:
                kw["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": p.json_schema, "strict": True},
                }
            elif p.choices is not None:
                extra["structured_outputs"] = {"choice": list(p.choices)}
            resp = await client.chat.completions.create(
                messages=self._messages(r.prompt), extra_body=extra or None, **kw
            )
            choices = sorted(resp.choices, key=lambda c: c.index)
            texts = tuple(redact(c.message.content or "", self._api_key) for c in choices)
        else:
            if p.json_schema is not None:
                extra["structured_outputs"] = {"json": p.json_schema}
            elif p.choices is not None:
                extra["structured_outputs"] = {"choice": list(p.choices)}
            resp = await client.completions.create(
                prompt=self._text_prompt(r.prompt, "OpenAIBackend.generate"), extra_body=extra or None, **kw
            )
            choices = sorted(resp.choices, key=lambda c: c.index)
            texts = tuple(redact(c.text, self._api_key) for c in choices)
        if p.choices is not None:
            _check_choices(texts, [c.finish_reason for c in choices], p, "the server")
        usage = resp.usage
        return GenerationOutput(
            texts=texts,
            finish_reasons=tuple(c.finish_reason for c in choices),
            n_prompt_tokens=getattr(usage, "prompt_tokens", None),
            n_generated_tokens=getattr(usage, "completion_tokens", None),
            meta={"seed": p.seed, "id": redact(resp.id, self._api_key)},
        )

    def _no_logprobs(self) -> BackendCapabilityError:
        return BackendCapabilityError(
            f"the server at {safe_url(self.base_url) or 'OpenAI'} returned no logprobs for model {self.model!r} "
            f"on the {self.endpoint!r} endpoint; option scoring needs a server that returns top logprobs "
            f"(for vLLM start it with --max-logprobs >= {self.top_logprobs}), or lower `top_logprobs`"
        )

    async def _score_one(self, client, r: ScoreRequest, headers=None) -> OptionScores:
        kw = self._common(SamplingParams(temperature=0.0, max_tokens=1))
        kw["extra_headers"] = headers
        if self.endpoint == "chat":
            resp = await client.chat.completions.create(
                messages=self._messages(r.prompt),
                logprobs=True,
                top_logprobs=self.top_logprobs,
                extra_body=self.extra_body or None,
                **kw,
            )
            lp = resp.choices[0].logprobs
            if lp is None or not lp.content or not lp.content[0].top_logprobs:
                raise self._no_logprobs()
            pairs = [(t.token, t.logprob) for t in lp.content[0].top_logprobs]
        else:
            resp = await client.completions.create(
                prompt=self._text_prompt(r.prompt, "OpenAIBackend.score_options"),
                logprobs=self.top_logprobs,
                extra_body=self.extra_body or None,
                **kw,
            )
            lp = resp.choices[0].logprobs
            if lp is None or not lp.top_logprobs or not lp.top_logprobs[0]:
                raise self._no_logprobs()
            pairs = list(lp.top_logprobs[0].items())
        pairs = [(redact(t, self._api_key), v) for t, v in pairs]
        tokens = [t for t, _ in pairs]
        values = np.array([v for _, v in pairs], dtype=float)
        return OptionScores(
            options=r.options,
            logprobs=combine_token_logprobs(r.options, tokens, values),
            unseen_mass=unseen_mass(values),
            meta={
                "top_k": len(pairs),
                # OpinionQA's missing-option rule needs the smallest reported probability
                "min_reported_logprob": float(values.min()),
                "top_logprobs": [[t, float(v)] for t, v in pairs],
            },
        )
