"""``personacal simulate``: personas answer question banks through an LLM backend."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from ..backends import add_backend_arguments

    parser = subparsers.add_parser(
        "simulate",
        help="ask personas survey questions through an LLM (first-token logprobs or sampled replies)",
        description="Ask every persona every question; write one row per persona x question x option.",
    )
    parser.add_argument("--personas", required=True, help="personas (CSV or Parquet); persona_id column or row number")
    parser.add_argument(
        "--questions", required=True, nargs="+",
        help="bank names (elections, election-2024, opinionqa-curated, subpop-opinionqa, subpop-gss2022) or bank files",
    )
    parser.add_argument("--out", required=True, help="answers file (.parquet or .csv)")
    parser.add_argument("--method", choices=("logprobs", "sample"), default="logprobs")
    parser.add_argument("--n-samples", type=int, default=1, help="sample: replies per persona x question")
    parser.add_argument("--temperature", type=float, default=0.95, help="sample: temperature (paper: 0.95)")
    parser.add_argument("--top-p", type=float, default=1.0, help="sample: nucleus mass")
    parser.add_argument("--max-tokens", type=int, default=16, help="sample: reply length limit")
    parser.add_argument("--constrain-replies", action="store_true",
                        help="sample: guided decoding limits replies to the option letters")
    parser.add_argument("--no-shuffle", action="store_true", help="show options in questionnaire order")
    parser.add_argument("--missing-option", choices=("opinionqa", "zero"), default="opinionqa")
    parser.add_argument("--prompt-format", choices=("chat", "text"), default="chat")
    parser.add_argument("--replies-out", help="sample: also write every reply and its parsed option here")
    add_backend_arguments(parser)  # --backend --model --base-url --api-key-env --seed --cache ...
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ..backends import backend_from_args
    from .._tables import read_table, write_table
    from ..errors import InputError
    from ._banks import load_question_bank
    from ._simulate import simulate

    personas = read_table(args.personas, what="personas")
    questions = [q for name in args.questions for q in load_question_bank(name)]
    if args.replies_out and args.method != "sample":
        raise InputError("`--replies-out` of personacal simulate needs --method sample")
    backend = backend_from_args(args)
    try:
        result = simulate(
            personas, questions, backend,
            method=args.method, n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p,
            max_tokens=args.max_tokens, constrain_replies=args.constrain_replies, shuffle_options=not args.no_shuffle, missing_option=args.missing_option,
            prompt_format=args.prompt_format, random_state=args.seed, progress=not args.no_progress,
        )
    finally:
        backend.close()
    path = write_table(result.to_frame(), args.out)
    print(result.summary())
    print(f"\nWrote {len(result.answers)} answer rows to {path}")
    if args.replies_out:
        print(f"Wrote {len(result.replies)} replies to {write_table(result.replies, args.replies_out)}")
    return 0
