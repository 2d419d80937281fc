"""``personacal generate {meta,tier}``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate personas (Meta from census joints; LLM-written tiers)")
    kinds = parser.add_subparsers(dest="generate_kind", metavar="KIND", required=True)

    p = kinds.add_parser("meta", help="Meta personas drawn from each state's reconstructed joint")
    p.add_argument("--state", required=True, help="postal code (CA), several comma-separated (CA,WY), or 'all'")
    p.add_argument("--n", type=int, required=True, help="personas per state")
    p.add_argument("--method", choices=["ipf", "bayes", "independent"], default="ipf")
    p.add_argument("--draw", choices=["integerize", "multinomial"], default="integerize",
                   help="integerize: margins as close to the targets as integers allow; multinomial: iid draws")
    p.add_argument("--anchor", choices=["acs", "pep"], default="acs", help="population totals from ACS or PEP")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    p.set_defaults(handler=_run_meta)
    try:
        from ._tiers_cli import register_tier
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}._tiers_cli":
            raise
    else:
        register_tier(kinds)


def _run_meta(args: argparse.Namespace) -> int:
    from .._tables import write_table
    from . import sample_meta_personas, state_joints

    states = args.state if args.state.lower() == "all" else [s.strip() for s in args.state.split(",") if s.strip()]
    joint = state_joints(states, method=args.method, anchor=args.anchor, random_state=args.seed)
    personas = sample_meta_personas(joint, args.n, random_state=args.seed, draw=args.draw)
    path = write_table(personas, args.out)
    print(joint.summary())
    print(f"\nWrote {len(personas)} Meta personas ({len(joint.regions)} state(s) × {args.n}) to {path}")
    return 0
