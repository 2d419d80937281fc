"""LLM backends: an offline vLLM engine, vLLM engine replicas on a Ray cluster, or any OpenAI-compatible
server, with a persistent answer cache.

simulate/ and generate/ depend only on the :class:`Backend` protocol and its typed values
(:class:`SamplingParams`, :class:`GenerationOutput`, :class:`ChatMessage`, :class:`Prompt`,
:class:`OptionScores`). :class:`BaseBackend` is the shared machinery of the two backends
(batching, per-request seeds, the cache, progress bars); a new backend subclasses it, and
callers use its extra ``score_options`` / ``progress=`` where a backend has them.
"""

import warnings as _warnings

from ._base import BaseBackend
from ._cache import ResponseCache
from ._factory import add_backend_arguments, backend_from_args, make_backend
from ._openai import OpenAIBackend
from ._ray_backend import RayBackend
from ._protocol import Backend, ChatMessage, GenerationOutput, OptionScores, Prompt, SamplingParams
from ._vllm import CPU_FAST_START, VLLMBackend

__all__ = [
    "Backend",
    "SamplingParams",
    "GenerationOutput",
    "ChatMessage",
    "Prompt",
    "OptionScores",
    "VLLMBackend",
    "OpenAIBackend",
    "RayBackend",
    "ResponseCache",
    "CPU_FAST_START",
    "make_backend",
    "add_backend_arguments",
    "backend_from_args",
    "BaseBackend",
]


def __getattr__(name: str):
    if name == "build_tiny_model":  # moved to personacal.testing; kept here for one release
        _warnings.warn("`personacal.backends.build_tiny_model` is deprecated and will be removed in the next "
                       "release; use `personacal.testing.build_tiny_model`", DeprecationWarning, stacklevel=2)
        from ..testing import build_tiny_model

        return build_tiny_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
