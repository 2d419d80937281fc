"""Build a backend from a kind name and keyword arguments, or from CLI flags."""

from __future__ import annotations

import argparse
from typing import Any

from .._validation import Options, check_param
from ._base import BaseBackend
from ._ray_cli import add_ray_arguments, ray_options

__all__ = ["make_backend", "add_backend_arguments", "backend_from_args"]

KINDS = ("vllm", "openai", "ray")


def make_backend(kind: str, **kwargs: Any) -> BaseBackend:
    """``make_backend("vllm", model=PATH)``, ``make_backend("openai", model=M, base_url=URL)`` or
    ``make_backend("ray", model=PATH, replicas=2)``."""
    check_param("make_backend", "kind", kind, Options(KINDS))
    if kind == "vllm":
        from ._vllm import VLLMBackend

        return VLLMBackend(**kwargs)
    if kind == "ray":
        from ._ray_backend import RayBackend

        return RayBackend(**kwargs)
    from ._openai import OpenAIBackend

    return OpenAIBackend(**kwargs)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend --model --base-url --endpoint --api-key-env --cache --seed --cpu-fast-start --no-progress``."""
    group = parser.add_argument_group("LLM backend")
    group.add_argument("--backend", choices=KINDS, required=True,
                       help="vllm (offline engine), openai (HTTP server) or ray (vLLM engines on a Ray cluster)")
    group.add_argument("--model", required=True, help="model id or folder (vllm), or model name on the server (openai)")
    group.add_argument("--base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--endpoint", choices=("chat", "completions"), default="chat", help="openai endpoint")
    group.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key (never pass keys as flags)"
    )
    group.add_argument("--max-concurrency", type=int, default=8, help="openai: requests in flight")
    group.add_argument("--cache", default=None, help="SQLite answer cache file (re-runs and resumes are free)")
    group.add_argument("--seed", type=int, default=0, help="run seed for per-request seeds")
    group.add_argument("--cpu-fast-start", action="store_true", help="vllm: eager, single-process start on CPU")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_ray_arguments(group)


def backend_from_args(args: argparse.Namespace) -> BaseBackend:
    """The backend that flags added by :func:`add_backend_arguments` describe."""
    common = {"random_state": args.seed, "cache": args.cache, "progress": not args.no_progress}
    ray = ray_options(args)  # {} unless --backend ray (Ray flags with another backend are an error)
    if args.backend == "vllm":
        return make_backend("vllm", model=args.model, cpu_fast_start=args.cpu_fast_start, **common)
    if args.backend == "ray":
        return make_backend("ray", model=args.model, cpu_fast_start=args.cpu_fast_start, **ray, **common)
    return make_backend(
        "openai",
        model=args.model,
        base_url=args.base_url,
        endpoint=args.endpoint,
        api_key_env=args.api_key_env,
        max_concurrency=args.max_concurrency,
        **common,
    )
