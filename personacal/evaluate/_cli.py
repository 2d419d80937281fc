"""``personacal evaluate``: raw vs calibrated answers against the truth, as an HTML report."""

from __future__ import annotations

import argparse
import re
import sys

#: Columns that hold numbers in the tidy formats of compare(); CSVs are read as text first.
NUMERIC_COLUMNS = ("dem_two_party_share", "probability", "share", "position", "rows", "ess", "ess_ratio",
                   "design_effect", "weight_ratio")
BUILTIN_TRUTH = re.compile(r"^election-(\d{4})$")
#: Column names that look like weights: a calibrated file holding one without --weights is a likely mistake.
WEIGHT_LIKE = re.compile(r"^(w|wt|wgt|weights?|.*[_ ]weights?|weights?[_ ].*|.*[_ ]wt)$", re.IGNORECASE)
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare raw and calibrated simulated answers with the truth; write an HTML report",
        description="Score the raw and the calibrated personas' simulated answers against actual election results "
                    "or reference survey distributions (per persona tier) and write index.html + PNG figures.",
    )
    parser.add_argument("--raw", required=True,
                        help="raw personas' answers (CSV or Parquet): per-state shares (state, dem_two_party_share), "
                             "vote distributions (state, party, probability) or persona-level answers (persona_id, ...)")
    parser.add_argument("--calibrated", required=True, help="calibrated personas' answers, same formats as --raw")
    parser.add_argument("--truth", required=True,
                        help="election-2016, election-2020 or election-2024 (shipped MEDSL results), or a file: "
                             "election results (state, dem_two_party_share) or reference distributions "
                             "(question_id, option, share, position[, is_refusal])")
    parser.add_argument("--out", required=True, help="report folder (index.html and PNG figures are written there)")
    parser.add_argument("--tier-column", default="tier",
                        help="persona-tier column (default: 'tier', used when the files have it)")
    parser.add_argument("--no-tiers", action="store_true", help="ignore any tier column")
    parser.add_argument("--state-column", default="state", help="state column of the answers (simulate writes 'region')")
    parser.add_argument("--question", help="election question_id to keep when the answers hold several")
    parser.add_argument("--weights", help="calibration weight column of --calibrated (persona-level answers)")
    parser.add_argument("--no-weights", action="store_true",
                        help="score --calibrated unweighted even though it has a weight-like column")
    parser.add_argument("--raw-weights", help="weight column of --raw, if the raw personas are weighted")
    parser.add_argument("--group", nargs="+", help="opinions: group columns present in the answers and the reference")
    parser.add_argument("--n-boot", type=int, default=0, help="bootstrap replicates over personas (default 0: none)")
    parser.add_argument("--level", type=float, default=0.95,
                        help="confidence level of the bootstrap intervals (default 0.95)")
    # The old names of --group and --level, kept for one release.
    parser.add_argument("--by", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--ci", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help="random seed of the bootstrap")
    parser.add_argument("--weight-diagnostics",
                        help="file with region, design_effect, weight_ratio, ess_ratio (or ess and rows)[, tier]")
    parser.add_argument("--note", action="append", default=[], help="a note for the report (repeatable)")
    parser.add_argument("--title", help="report title")
    parser.set_defaults(handler=_run)
    from ._poststratify_cli import register as register_poststratify

    register_poststratify(subparsers)


def _read(path: str, what: str, extra_numeric=()):
    import pandas as pd

    from .._tables import read_table
    from ..errors import InputError, InvalidValueError

    frame = read_table(path, what=what)
    for column in [*NUMERIC_COLUMNS, *extra_numeric]:
        if column is None or column not in frame.columns:
            continue
        converted = pd.to_numeric(frame[column], errors="coerce")
        bad = converted.isna() & frame[column].notna()
        if bad.any():
            raise InvalidValueError(f"column {column!r} of {what} {path!r} has non-numeric value(s) such as "
                                    f"{frame[column][bad].iloc[0]!r}")
        frame[column] = converted
    if "is_refusal" in frame.columns and frame["is_refusal"].dtype != bool:
        text = frame["is_refusal"].astype("string").str.strip().str.lower()
        unknown = ~text.isin(_TRUE | _FALSE)
        if unknown.any():
            raise InputError(f"column 'is_refusal' of {what} {path!r} must hold true/false; got "
                             f"{frame['is_refusal'][unknown].iloc[0]!r}")
        frame["is_refusal"] = text.isin(_TRUE).astype(bool)
    return frame


def _truth(spec: str, state_column: str):
    from ..data import election_results

    match = BUILTIN_TRUTH.match(spec)
    if match:
        year = int(match.group(1))
        table = election_results(year)[["state", "dem_two_party_share"]].rename(columns={"state": state_column})
        return table, f"{year} presidential results by state (MEDSL, personacal.data.election_results)"
    return _read(spec, "truth file"), f"file {spec}"


def _renamed_options(args: argparse.Namespace) -> None:
    """Map the deprecated --by / --ci onto --group / --level, saying so on stderr."""
    for old, new in (("by", "group"), ("ci", "level")):
        value = getattr(args, old)
        if value is not None:
            print(f"personacal evaluate: --{old} is deprecated and will be removed in the next release; "
                  f"use --{new}", file=sys.stderr)
            setattr(args, new, value)


def _check_weights_named(calibrated, args: argparse.Namespace) -> None:
    """Unweighted calibrated answers score exactly as the raw ones: a weight column left unnamed is a mistake."""
    from ..errors import InputError

    if args.weights and args.no_weights:
        raise InputError("personacal evaluate takes --weights or --no-weights, not both")
    if args.weights or args.no_weights:
        return
    found = [str(c) for c in calibrated.columns if WEIGHT_LIKE.match(str(c))]
    if found:
        raise InputError(
            f"calibrated answers file {args.calibrated!r} has a weight-like column {found[0]!r} but no --weights "
            f"was given, so its answers would count equally and could score exactly as the raw ones; pass "
            f"--weights {found[0]} (or --no-weights to score them unweighted on purpose)")


def _run(args: argparse.Namespace) -> int:
    from . import compare, write_report

    _renamed_options(args)

    raw = _read(args.raw, "raw answers file", [args.raw_weights])
    calibrated = _read(args.calibrated, "calibrated answers file", [args.weights])
    _check_weights_named(calibrated, args)
    truth, label = _truth(args.truth, args.state_column)
    diagnostics = None if args.weight_diagnostics is None else _read(args.weight_diagnostics, "weight diagnostics file")
    comparison = compare(
        raw, calibrated, truth,
        tier_column=None if args.no_tiers else args.tier_column, state_col=args.state_column,
        question=args.question, group=args.group, weights=args.weights, raw_weights=args.raw_weights,
        n_boot=args.n_boot, level=args.level, random_state=args.seed, weight_diagnostics=diagnostics,
        truth_label=label, notes=args.note,
    )
    path = write_report(comparison, args.out, title=args.title)
    print(comparison.summary())
    print(f"\nWrote the report to {path}")
    return 0
