"""``personacal poststratify-answers``: simulated answers weighted to population margins, with intervals.

Job 2 in one command: the personas' answers (from ``personacal simulate``) are
post-stratified per region with :func:`personacal.evaluate.poststratify_answers`
(raking or post-stratification to a margins file, or MRP over a joint table), and
the raw and weighted answer distributions are written with bootstrap (or posterior)
intervals.
"""

from __future__ import annotations

import argparse

METHODS = ("rake", "poststratify", "mrp")
INTERVALS = ("recompute", "fixed", "none")


MARGINS_HELP = ("margins file (CSV or Parquet) in the long format of `personacal calibrate`: margin, one column per "
                "variable, value (and the --by column)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "poststratify-answers",
        help="weight simulated answers to population margins (rake, poststratify or MRP), with intervals",
        description="Weight the personas to the margins per region and write the raw and weighted answer "
                    "distributions of every question, with confidence intervals.",
    )
    p.add_argument("--answers", required=True, help="persona-level answers (CSV or Parquet) as written by "
                                                    "`personacal simulate`: persona_id, question_id, option, "
                                                    "probability")
    p.add_argument("--personas", help="personas (CSV or Parquet): persona_id, the --by column and the margins' "
                                      "variables (default: read them from --answers)")
    p.add_argument("--margins", help="rake / poststratify: " + MARGINS_HELP)
    p.add_argument("--joint", help="mrp: joint population counts (CSV or Parquet): the --by column, one column per "
                                   "variable and a value column")
    p.add_argument("--by", help="region column of the personas (and of --margins / --joint)")
    p.add_argument("--method", choices=METHODS, default="rake")
    p.add_argument("--group", nargs="+", help="persona columns whose groups get their own distributions")
    p.add_argument("--weights", help="design weight column of the personas (rake / poststratify)")
    p.add_argument("--interval", choices=INTERVALS, default="recompute",
                   help="rake / poststratify: bootstrap over personas, re-calibrating the weights on every "
                        "replicate (recompute, default) or keeping them (fixed); none for no intervals. "
                        "MRP always gives its posterior interval")
    p.add_argument("--n-boot", type=int, default=500, help="bootstrap replicates (default 500)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap or the sampler")
    p.add_argument("--out", required=True, help="distributions file (.csv or .parquet)")
    p.add_argument("--weights-out", help="also write each persona's weight here (.csv or .parquet)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=_run)


def _targets(args: argparse.Namespace):
    from .._tables import read_table
    from ..calibrate import read_margins
    from ..errors import InputError

    if args.method == "mrp":
        if not args.joint or args.margins:
            raise InputError("--method mrp of personacal poststratify-answers needs --joint (and no --margins)")
        table = read_table(args.joint, numeric=("value",), what="joint file")
        levels = [c for c in table.columns if c != "value"]
        return table.set_index(levels)["value"]
    if not args.margins or args.joint:
        raise InputError(f"--method {args.method} of personacal poststratify-answers needs --margins (and no --joint)")
    return read_margins(args.margins, region_column=args.by)


def _run(args: argparse.Namespace) -> int:
    from .._tables import read_table, write_table
    from . import poststratify_answers

    answers = read_table(args.answers, numeric=("probability",), what="answers file")
    numeric = (args.weights,) if args.weights else ()
    personas = read_table(args.personas, numeric=numeric, what="personas") if args.personas else None
    mrp = args.method == "mrp"
    result = poststratify_answers(
        answers, personas, _targets(args), method=args.method, by=args.by, group=args.group,
        weights=args.weights, interval_method=None if mrp or args.interval == "none" else args.interval,
        n_boot=args.n_boot, level=args.level, random_state=args.seed, progress=not args.no_progress,
    )
    path = write_table(result.to_frame(), args.out)
    print(result.summary())
    print(f"\nWrote {len(result.distributions)} distribution rows to {path}")
    if args.weights_out and result.weights is not None:
        weights = result.weights.reset_index()
        print(f"Wrote {len(weights)} persona weights to {write_table(weights, args.weights_out)}")
    return 0
