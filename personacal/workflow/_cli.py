"""``personacal demo`` and ``personacal run config.toml``."""

from __future__ import annotations

import argparse

from ..backends import add_ray_arguments, ray_options
from ..errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="the main job on the shipped data: joints, personas, calibration, report")
    p.add_argument("--states", default="all", help="'all' (50 states) or comma-separated postal codes, e.g. CA,WY")
    p.add_argument("--n", type=int, default=200, help="personas per state (default 200); with a backend, each of them also goes through "
                                                        "the LLM steps (tiers, the election)")
    p.add_argument("--method", choices=["ipf", "bayes", "independent"], default="ipf", help="joint reconstruction")
    p.add_argument("--out", default="personacal-report", help="report folder (default personacal-report)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--on-infeasible", choices=["raise", "collapse", "drop"], default="drop",
                   help="where a state's personas cannot meet every margin: raise, collapse (merge categories "
                        "nobody is in into a neighbour) or drop (default here: collapse, then drop margins, the "
                        "partisan one first); the report lists what happened per state")
    p.add_argument("--partisan", choices=["past_vote", "party_id", "none"], default="past_vote",
                   help="partisan margin of the tiers that carry it (default: recalled 2020 vote to the 2020 result)")
    p.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap replicates of the verdict (default "
                                                            "1000; 0: no intervals)")
    group = p.add_argument_group("LLM backend (optional: without it the LLM steps are skipped, and said so)")
    group.add_argument("--backend", choices=["openai", "vllm", "ray"], default=None,
                       help="vllm (offline engine), openai (HTTP server) or ray (vLLM engines on a Ray cluster)")
    group.add_argument("--model", default=None, help="model name on the server (openai) or model folder (vllm)")
    group.add_argument("--base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    group.add_argument("--cache", default=None, help="SQLite answer cache (re-runs and resumes are free)")
    group.add_argument("--cpu-fast-start", action="store_true",
                       help="vllm on a CPU: eager single-process engine, chunked prefill off (see VLLMBackend)")
    add_ray_arguments(group)
    p.set_defaults(handler=_run_demo)

    p = subparsers.add_parser("run", help="the main job on your own margins, personas, questions and backend (TOML)")
    p.add_argument("config", help="a TOML file; see the README's worked example")
    p.set_defaults(handler=_run_config)


def _backend(args: argparse.Namespace):
    if args.backend is None:
        ray_flags = [f"--{k.replace('_', '-')}" for k in ("replicas", "resources_per_replica", "address", "replica_set")
                     if getattr(args, k) is not None]
        if args.model or args.base_url or args.cpu_fast_start or ray_flags:
            raise InputError(f"{'/'.join(ray_flags) or '--model/--base-url/--cpu-fast-start'} need --backend "
                             f"{'ray' if ray_flags else 'openai, vllm or ray'}")
        return None
    if not args.model:
        raise InputError(f"--backend {args.backend} needs --model")
    from ..backends import make_backend

    if args.backend == "openai":
        if not args.base_url:
            raise InputError("--backend openai needs --base-url, e.g. http://127.0.0.1:8000/v1")
        return make_backend("openai", model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                            cache=args.cache, random_state=args.seed)
    return make_backend(args.backend, model=args.model, cache=args.cache, random_state=args.seed,
                        cpu_fast_start=args.cpu_fast_start, **ray_options(args))


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    if args.n < 1:
        raise InputError(f"--n must be at least 1; got {args.n}")
    if args.n_boot == 1 or args.n_boot < 0:
        raise InputError(f"--n-boot must be 0 or at least 2; got {args.n_boot}")
    states = "all" if args.states.lower() == "all" else [s.strip().upper() for s in args.states.split(",") if s.strip()]
    backend = _backend(args)
    try:
        result = run_demo(states=states, n_per_state=args.n, method=args.method, backend=backend, out=args.out,
                          random_state=args.seed, on_infeasible=args.on_infeasible, partisan=args.partisan,
                          n_boot=args.n_boot)
    finally:
        if backend is not None:
            backend.close()  # shuts a vLLM engine down, so the command exits when it is done
    print(result.summary())
    print(f"\nReport: {result.report}")
    return 0


def _run_config(args: argparse.Namespace) -> int:
    from ._config import load_config
    from ._custom import run_config

    result = run_config(load_config(args.config))
    print(result.summary())
    print(f"\nReport: {result.report}")
    return 0
