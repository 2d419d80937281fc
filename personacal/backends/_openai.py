"""Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, ...) as a backend.

Requests run concurrently on an asyncio loop (bounded by a semaphore); the
sync methods run that loop for you. Retries are ours alone (the ``openai``
client's own are switched off) so they show up in the progress bar and logs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .._random import RandomState
from .._validation import Interval, NonEmptyStr, Options, check_params
from ..errors import BackendCapabilityError, BackendError, BackendRequestError, InputError, SchemaValidationError
from ._base import BaseBackend, GenRequest, ScoreRequest, _check_choices
from ._cache import ResponseCache
from ._options import combine_token_logprobs, unseen_mass
from ._progress import BatchProgress
from ._protocol import GenerationOutput, OptionScores, SamplingParams

__all__ = ["OpenAIBackend"]

logger = logging.getLogger(__name__)

_POSITIVE = Interval("real", 0, None, closed="neither")
#: What each setting of :class:`OpenAIBackend` may be.
SETTINGS = {
    "model": NonEmptyStr, "endpoint": Options(("chat", "completions")),
    "max_concurrency": Interval("int", 1, None), "max_retries": Interval("int", 0, None),
    "top_logprobs": Interval("int", 1, None), "timeout": _POSITIVE, "backoff_base": _POSITIVE,
    "backoff_max": _POSITIVE, "retry_after_cap": _POSITIVE,
}
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class _Secret:
    """Holds the API key so that no repr, log line or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("the API key holder cannot be pickled")


def _safe_url(url: str | None) -> str | None:
    """The URL without any user:password part."""
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _retry_after_seconds(headers) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), if it did."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        Retries after the first try, on 408/409/429/5xx, timeouts and connection errors.
    timeout
        Seconds allowed for each HTTP request before it counts as timed out.
    backoff_base, backoff_max
        Exponential backoff with full jitter: the k-th retry waits
        ``uniform(0, min(backoff_max, backoff_base * 2**k))`` seconds, unless the
        server sent ``retry-after``, which is honoured up to ``retry_after_cap``.
    top_logprobs
        How many top tokens to ask for when scoring options (OpenAI allows up to 20).
    extra_body
        Extra JSON fields sent with every request (server-specific options).
    """

    kind = "openai"

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
        retry_after_cap: float = 120.0,
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
            "backoff_max": backoff_max, "retry_after_cap": retry_after_cap})
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if key is None:
            if base_url is None:
                raise BackendError(
                    f"OpenAIBackend has no API key: pass `api_key=` or set the environment variable {api_key_env}"
                )
            key = "EMPTY"  # self-hosted servers (vLLM, llama.cpp) usually need none
        self._api_key = _Secret(key)
        self.model = model
        self.base_url = base_url
        self.endpoint = endpoint
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_cap = float(retry_after_cap)
        self.top_logprobs = top_logprobs
        self.extra_body = dict(extra_body or {})
        self._jitter = np.random.default_rng()  # backoff jitter only; never affects answers

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.model!r}, base_url={_safe_url(self.base_url)!r}, "
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
                return j, await self._with_retries(lambda: one(client, requests[j]), bar, j)

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

    async def _with_retries(self, call, bar: BatchProgress | None, j: int):
        openai = self._openai
        attempt = 0
        while True:
            try:
                return await call()
            except (openai.APIConnectionError, openai.APIStatusError) as exc:  # APITimeoutError included
                status = getattr(exc, "status_code", None)
                retryable = status is None or status in RETRY_STATUS
                what = f"HTTP {status}" if status is not None else type(exc).__name__
                if not retryable or attempt >= self.max_retries:
                    if bar is not None:
                        bar.failure()
                    tries = f"after {attempt + 1} attempt(s)" if retryable else "(not retryable)"
                    detail = getattr(exc, "message", str(exc))
                    raise BackendRequestError(
                        f"request {j} to {_safe_url(self.base_url) or 'OpenAI'} (model {self.model!r}) "
                        f"failed {tries}: {what}: {detail}"
                    ) from exc
                delay = self._retry_delay(exc, attempt)
                attempt += 1
                if bar is not None:
                    bar.retry()
                logger.info("request %d got %s; retry %d/%d in %.2fs", j, what, attempt, self.max_retries, delay)
                await asyncio.sleep(delay)

    def _retry_delay(self, exc, attempt: int) -> float:
        response = getattr(exc, "response", None)
        asked = _retry_after_seconds(getattr(response, "headers", None))
        if asked is not None:
            return min(asked, self.retry_after_cap)
        return float(self._jitter.uniform(0.0, min(self.backoff_max, self.backoff_base * 2**attempt)))

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

    async def _generate_one(self, client, r: GenRequest) -> GenerationOutput:
        p = r.params
        kw = self._common(p)
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
            texts = tuple(c.message.content or "" for c in choices)
        else:
            if p.json_schema is not None:
                extra["structured_outputs"] = {"json": p.json_schema}
            elif p.choices is not None:
                extra["structured_outputs"] = {"choice": list(p.choices)}
            resp = await client.completions.create(
                prompt=self._text_prompt(r.prompt, "OpenAIBackend.generate"), extra_body=extra or None, **kw
            )
            choices = sorted(resp.choices, key=lambda c: c.index)
            texts = tuple(c.text for c in choices)
        if p.choices is not None:
            _check_choices(texts, [c.finish_reason for c in choices], p, "the server")
        usage = resp.usage
        return GenerationOutput(
            texts=texts,
            finish_reasons=tuple(c.finish_reason for c in choices),
            n_prompt_tokens=getattr(usage, "prompt_tokens", None),
            n_generated_tokens=getattr(usage, "completion_tokens", None),
            meta={"seed": p.seed, "id": resp.id},
        )

    def _no_logprobs(self) -> BackendCapabilityError:
        return BackendCapabilityError(
            f"the server at {_safe_url(self.base_url) or 'OpenAI'} returned no logprobs for model {self.model!r} "
            f"on the {self.endpoint!r} endpoint; option scoring needs a server that returns top logprobs "
            f"(for vLLM start it with --max-logprobs >= {self.top_logprobs}), or lower `top_logprobs`"
        )

    async def _score_one(self, client, r: ScoreRequest) -> OptionScores:
        kw = self._common(SamplingParams(temperature=0.0, max_tokens=1))
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
