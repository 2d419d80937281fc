"""``personacal demo`` and ``personacal run config.toml``."""

from __future__ import annotations

import argparse

from .errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="the main job on the shipped data: joints, personas, calibration, report")
    p.add_argument("--states", default="all", help="'all' (50 states) or comma-separated postal codes, e.g. CA,WY")
    p.add_argument("--n", type=int, default=200, help="personas per state (default 200); with a backend, each of them also goes through "
                                                        "the LLM steps (tiers, the election)")
    p.add_argument("--method", choices=["ipf", "bayes", "independent"], default="ipf", help="joint reconstruction")
    p.add_argument("--out", default="personacal-report", help="report folder (default personacal-report)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    group = p.add_argument_group("LLM backend (optional: without it the LLM steps are skipped, and said so)")
    group.add_argument("--backend", choices=["openai", "vllm"], default=None)
    group.add_argument("--model", default=None, help="model name on the server (openai) or model folder (vllm)")
    group.add_argument("--base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    group.add_argument("--cache", default=None, help="SQLite answer cache (re-runs and resumes are free)")
    group.add_argument("--cpu-fast-start", action="store_true",
                       help="vllm on a CPU: eager single-process engine, chunked prefill off (see VLLMBackend)")
    p.set_defaults(handler=_run_demo)

    p = subparsers.add_parser("run", help="the main job on your own margins, personas, questions and backend (TOML)")
    p.add_argument("config", help="a TOML file; see the README's worked example")
    p.set_defaults(handler=_run_config)


def _backend(args: argparse.Namespace):
    if args.backend is None:
        if args.model or args.base_url or args.cpu_fast_start:
            raise InputError("--model/--base-url/--cpu-fast-start need --backend openai or --backend vllm")
        return None
    if not args.model:
        raise InputError(f"--backend {args.backend} needs --model")
    from .backends import make_backend

    if args.backend == "openai":
        if not args.base_url:
            raise InputError("--backend openai needs --base-url, e.g. http://127.0.0.1:8000/v1")
        return make_backend("openai", model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                            cache=args.cache, random_state=args.seed)
    return make_backend("vllm", model=args.model, cache=args.cache, random_state=args.seed,
                        cpu_fast_start=args.cpu_fast_start)


def _run_demo(args: argparse.Namespace) -> int:
    from ._pipeline import run_pipeline

    states = "all" if args.states.lower() == "all" else [s.strip().upper() for s in args.states.split(",") if s.strip()]
    backend = _backend(args)
    try:
        result = run_pipeline(states=states, n_per_state=args.n, method=args.method, backend=backend,
                              out=args.out, random_state=args.seed)
    finally:
        if backend is not None:
            backend.close()  # shuts a vLLM engine down, so the command exits when it is done
    print(result.summary())
    print(f"\nReport: {result.report}")
    return 0


def _run_config(args: argparse.Namespace) -> int:
    from ._config import load_config
    from ._custom_job import run_config

    result = run_config(load_config(args.config))
    print(result.summary())
    print(f"\nReport: {result.report}")
    return 0
