"""LLM backends: an offline vLLM engine, vLLM engine replicas on a Ray cluster, or any OpenAI-compatible server,
with a persistent answer cache."""

from ._factory import add_backend_arguments, backend_from_args, make_backend
from ._openai import OpenAIBackend
from ._ray_backend import RayBackend
from ._cache import ResponseCache
from ._protocol import Backend, ChatMessage, GenerationOutput, OptionScores, Prompt, SamplingParams
from ._tiny_model import build_tiny_model
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
    "build_tiny_model",
]
