"""``personacal calibrate {rake,calibrate,ipf,poststratify}``."""

from __future__ import annotations

import argparse


FORMAT_HELP = (
    "Margins file (CSV or Parquet), long format: columns margin, one column per variable, value "
    "(plus the --by column for many regions). 'margin' names the variables of the row's margin, "
    "joined by ':' for a multi-way margin (age:sex)."
)


def register(subparsers) -> None:
    parser = subparsers.add_parser("calibrate", help="weight a sample or fit a table to population margins")
    methods = parser.add_subparsers(dest="calibrate_method", metavar="METHOD", required=True)

    def common(p, *, weights=True):
        p.add_argument("--sample", required=True, help="sample rows (CSV or Parquet)")
        p.add_argument("--margins", required=True, help=FORMAT_HELP)
        p.add_argument("--out", required=True, help="output file (.csv or .parquet): the sample with a 'weight' column")
        if weights:
            p.add_argument("--weights", help="column of design weights (default: all 1)")
        p.add_argument("--by", help="region column of the sample; the margins file then needs a column of that name too")

    p = methods.add_parser("rake", help="raking (iterative proportional fitting of unit weights)")
    common(p)
    p.add_argument("--bounds", nargs=2, type=float, metavar=("L", "U"), help="bounds on g = w/d")
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--max-iter", type=int, default=1000)
    p.set_defaults(handler=_run_weighting)

    p = methods.add_parser("calibrate", help="GREG / raking / logit calibration (Deville-Särndal)")
    common(p)
    p.add_argument("--method", choices=["linear", "raking", "logit"], default="linear")
    p.add_argument("--bounds", nargs=2, type=float, metavar=("L", "U"), help="bounds on g = w/d")
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--max-iter", type=int, default=100)
    p.set_defaults(handler=_run_weighting)

    p = methods.add_parser("poststratify", help="post-stratify to one (multi-way) table of stratum counts")
    common(p)
    p.set_defaults(handler=_run_weighting)

    p = methods.add_parser("ipf", help="N-D IPF of a dense seed table")
    p.add_argument("--seed", required=True, help="seed table (CSV or Parquet): one column per variable and a value column")
    p.add_argument("--value-column", default="value")
    p.add_argument("--margins", required=True, help=FORMAT_HELP)
    p.add_argument("--out", required=True, help="output file: the seed's cells with a 'fitted' column")
    p.add_argument("--tol", type=float, default=1e-10)
    p.add_argument("--max-iter", type=int, default=1000)
    p.set_defaults(handler=_run_ipf)


def _run_weighting(args: argparse.Namespace) -> int:
    from . import calibrate, poststratify, rake
    from .._tables import read_table, write_table
    from ._io import read_margins

    numeric = (args.weights,) if args.weights else ()
    sample = read_table(args.sample, numeric=numeric, what="sample")
    margins = read_margins(args.margins, region_column=args.by)
    if args.calibrate_method == "poststratify":
        result = poststratify(sample, margins, weights=args.weights, by=args.by)
    elif args.calibrate_method == "rake":
        result = rake(sample, margins, weights=args.weights, bounds=args.bounds, tol=args.tol,
                      max_iter=args.max_iter, by=args.by)
    else:
        result = calibrate(sample, margins, method=args.method, bounds=args.bounds, weights=args.weights,
                           tol=args.tol, max_iter=args.max_iter, by=args.by)
    out = sample.copy()
    out["weight"] = result.weights.to_numpy()
    path = write_table(out, args.out)
    print(result.summary())
    print(f"\nWrote {len(out)} weighted rows to {path}")
    return 0


def _run_ipf(args: argparse.Namespace) -> int:
    from . import ipf
    from .._tables import read_table, write_table
    from ._io import read_margins

    seed = read_table(args.seed, numeric=(args.value_column,), what="seed table")
    margins = read_margins(args.margins)
    variables = [c for c in seed.columns if c != args.value_column]
    series = seed.set_index(variables)[args.value_column]
    result = ipf(series, margins, tol=args.tol, max_iter=args.max_iter)
    path = write_table(result.to_frame(), args.out)
    print(result.summary())
    print(f"\nWrote {len(result.table)} fitted cells to {path}")
    return 0
