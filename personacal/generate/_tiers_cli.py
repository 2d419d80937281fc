"""``personacal generate tier``: an LLM writes one persona tier on top of Meta personas."""

from __future__ import annotations

import argparse
from pathlib import Path

TIER_CHOICES = ("objective", "subjective", "descriptive")


def register_tier(kinds) -> None:
    from ..backends import add_backend_arguments

    p = kinds.add_parser(
        "tier",
        help="LLM-written persona tier (objective, subjective or descriptive) checked against the census attributes",
        description="Write one LLM persona tier for every Meta persona; one row per persona.",
    )
    p.add_argument("--tier", required=True, choices=TIER_CHOICES)
    p.add_argument("--personas", required=True, help="Meta personas (.parquet or .csv) with a persona_id column")
    p.add_argument("--out", required=True, help="tier table (.parquet keeps the metadata; .csv has the columns only)")
    p.add_argument("--previous", nargs="+", default=None, metavar="FILE",
                   help="earlier tiers this one builds on (objective for subjective; objective and/or subjective "
                        "for descriptive), as written by this command")
    p.add_argument("--max-retries", type=int, default=2, help="extra attempts per persona (invalid or contradicting)")
    p.add_argument("--no-regenerate", action="store_true",
                   help="flag personas that contradict their census attributes instead of regenerating them")
    p.add_argument("--temperature", type=float, default=0.9)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=None, help="reply length limit (default per tier)")
    p.add_argument("--allow-truncated", action="store_true", help="descriptive: accept narratives cut at --max-tokens")
    p.add_argument("--template", default=None, help="prompt template version, e.g. descriptive-v1")
    p.add_argument("--prompt-format", choices=("chat", "text"), default="chat")
    p.add_argument("--contradictions-out", default=None, help="also write every contradiction found to this file")
    add_backend_arguments(p)  # --backend --model --base-url --api-key-env --seed --cache --no-progress ...
    p.set_defaults(handler=_run_tier)


def _run_tier(args: argparse.Namespace) -> int:
    from ..backends import backend_from_args
    from .._tables import read_table, write_table
    from ._tiers import generate_tier

    personas = read_table(args.personas, what="personas")
    previous = [read_table(path, what="previous tier") for path in args.previous or []]
    backend = backend_from_args(args)
    try:
        result = generate_tier(
            personas, args.tier, backend, previous=previous or None, random_state=args.seed,
            max_retries=args.max_retries, regenerate_contradictions=not args.no_regenerate,
            temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
            allow_truncated=args.allow_truncated, template=args.template, prompt_format=args.prompt_format,
            progress=not args.no_progress,
        )
    finally:
        backend.close()
    out = Path(args.out)
    if out.suffix.lower() in (".parquet", ".pq"):
        path = result.to_parquet(out)
    else:
        path = write_table(result.to_frame(), out)
    print(result.summary())
    print(f"\nWrote {len(result.table)} {args.tier}-tier personas ({result.prompt_version}, {result.model}) to {path}")
    if args.contradictions_out:
        written = write_table(result.contradictions, args.contradictions_out)
        print(f"Wrote {len(result.contradictions)} contradictions to {written}")
    return 0
