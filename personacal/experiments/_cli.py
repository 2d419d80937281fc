"""``personacal experiment degradation|matrix|ablation``: the seed paper's experiments (a)-(c) from the shell.

A backend is named by a spec: ``demographic`` (the demographic respondent model; answers only
the questions it was fitted on), ``vllm:MODEL`` (offline engine; MODEL is an id or a folder) or
``openai:MODEL@BASE_URL`` (an OpenAI-compatible server; the key is read from $OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import InputError

_ELECTION = re.compile(r"^election-(\d{4})$")


def register(subparsers) -> None:
    parser = subparsers.add_parser("experiment", help="the seed paper's experiments: degradation, matrix, ablation",
                                   description=__doc__)
    commands = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    a = commands.add_parser("degradation", help="(a) alignment by tier, Meta -> Descriptive, paired with Meta")
    a.add_argument("--backend", required=True, help="writes the tiers and answers (spec; see above)")
    a.add_argument("--answerer", help="answers instead of --backend (spec), e.g. demographic")
    b = commands.add_parser("matrix", help="(b) generation x simulation: who writes the tiers vs who answers")
    b.add_argument("--generator", action="append", required=True, metavar="NAME=SPEC", help="repeatable")
    b.add_argument("--simulator", action="append", required=True, metavar="NAME=SPEC", help="repeatable")
    b.add_argument("--tier", default="Descriptive", help="the written tier the matrix scores (default Descriptive)")
    c = commands.add_parser("ablation", help="(c) hide one persona field at a time; change in lean with an interval")
    c.add_argument("--backend", required=True, help="answers (spec; see above)")
    c.add_argument("--fields", nargs="+", help="columns to drop one at a time (default: every attribute column)")
    for p in (a, b, c):
        p.add_argument("--personas", help="persona table (CSV/Parquet, with persona_id); default: Meta personas "
                                          "drawn from the shipped census joints of --states")
        p.add_argument("--states", default="WY", help="comma-separated postal codes for the drawn personas (default WY)")
        p.add_argument("--n", type=int, default=20, help="drawn personas per state (default 20)")
        p.add_argument("--question", default="election-2024",
                       help="election-2016/2020/2024 (default 2024) or BANK:QUESTION_ID, e.g. subpop-gss2022:natenvir")
        p.add_argument("--truth", default=None, help="election-YYYY (default: the question's election) or a file of "
                                                     "reference distributions (question_id, option, share, position)")
        p.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap replicates (default 1000)")
        p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
        p.add_argument("--seed", type=int, default=0, help="random seed")
        p.add_argument("--out", default="personacal-experiment", help="folder for table.csv (and figure.png)")
    a.set_defaults(handler=_run_degradation)
    b.set_defaults(handler=_run_matrix)
    c.set_defaults(handler=_run_ablation)


def backend_from_spec(spec: str, seed: int):
    """``demographic``, ``vllm:MODEL`` or ``openai:MODEL@BASE_URL`` -> a backend or respondent model."""
    if spec == "demographic":
        from ..simulate import DemographicModel

        return DemographicModel(random_state=seed, progress=False)
    kind, _, rest = spec.partition(":")
    if kind not in ("vllm", "openai") or not rest:
        raise InputError(f"backend spec must be 'demographic', 'vllm:MODEL' or 'openai:MODEL@BASE_URL'; got {spec!r}")
    from ..backends import make_backend

    if kind == "vllm":
        return make_backend("vllm", model=rest, random_state=seed)
    model, _, url = rest.partition("@")
    if not url:
        raise InputError(f"an openai backend spec needs @BASE_URL, e.g. openai:{model}@http://127.0.0.1:8000/v1")
    return make_backend("openai", model=model, base_url=url, random_state=seed)


def _named(items: list[str], flag: str, seed: int) -> dict:
    out = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name:
            raise InputError(f"{flag} takes NAME=SPEC, e.g. {flag} llama=vllm:meta-llama/Llama-3.1-8B; got {item!r}")
        out[name] = backend_from_spec(spec, seed)
    return out


def _inputs(args: argparse.Namespace):
    from .._tables import read_table
    from ..data import election_results
    from ..generate import sample_meta_personas, state_joints
    from ..simulate import load_question_bank

    if args.n_boot == 1 or args.n_boot < 0:
        raise InputError(f"--n-boot must be 0 or at least 2; got {args.n_boot}")
    if args.personas:
        personas = read_table(args.personas, what="personas file")
    else:
        states = [s.strip().upper() for s in args.states.split(",") if s.strip()]
        personas = sample_meta_personas(state_joints(states, progress=False), args.n, random_state=args.seed)
    election = _ELECTION.match(args.question)
    if election:
        question = load_question_bank(args.question)[0]
    else:
        bank, sep, qid = args.question.partition(":")
        found = [q for q in load_question_bank(bank) if q.id == qid] if sep else []
        if not found:
            raise InputError(f"--question must be election-YYYY or BANK:QUESTION_ID of a shipped bank; got "
                             f"{args.question!r}")
        question = found[0]
    truth_spec = args.truth or (args.question if election else None)
    if truth_spec is None:
        raise InputError("--truth is needed for a survey question: a file of reference distributions "
                         "(question_id, option, share, position)")
    match = _ELECTION.match(truth_spec)
    if match:
        truth = election_results(int(match.group(1)))[["state", "dem_two_party_share"]]
    else:
        truth = read_table(truth_spec, numeric=("share", "position"), what="truth file")
        if "is_refusal" in truth.columns and truth["is_refusal"].dtype != bool:
            text = truth["is_refusal"].astype("string").str.strip().str.lower()
            if not text.isin(["true", "false", "1", "0"]).all():
                raise InputError(f"column 'is_refusal' of truth file {truth_spec!r} must hold true/false")
            truth["is_refusal"] = text.isin(["true", "1"]).astype(bool)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return personas, [question], truth, out


def _finish(result, out: Path) -> int:
    result.to_frame().to_csv(out / "table.csv", index=False)
    print(result.summary())
    print(f"\nWrote {out / 'table.csv'}")
    return 0


def _run_degradation(args: argparse.Namespace) -> int:
    from . import progressive_degradation, write_tiers

    personas, questions, truth, out = _inputs(args)
    backend = backend_from_spec(args.backend, args.seed)
    answerer = backend_from_spec(args.answerer, args.seed) if args.answerer else backend
    tiers = write_tiers(personas, backend, random_state=args.seed, progress=True)
    result = progressive_degradation(tiers, questions, answerer, truth, n_boot=args.n_boot, level=args.level,
                                     random_state=args.seed, progress=True)
    ax = result.plot()
    ax.figure.savefig(out / "figure.png", dpi=120)
    print(f"Wrote {out / 'figure.png'}")
    return _finish(result, out)


def _run_matrix(args: argparse.Namespace) -> int:
    from . import generation_simulation

    personas, questions, truth, out = _inputs(args)
    result = generation_simulation(personas, _named(args.generator, "--generator", args.seed),
                                   _named(args.simulator, "--simulator", args.seed), questions, truth, tier=args.tier,
                                   n_boot=args.n_boot, level=args.level, random_state=args.seed, progress=True)
    return _finish(result, out)


def _run_ablation(args: argparse.Namespace) -> int:
    from . import attribute_ablation

    personas, questions, truth, out = _inputs(args)
    result = attribute_ablation(personas, questions, backend_from_spec(args.backend, args.seed), truth,
                                fields=args.fields, n_boot=args.n_boot, level=args.level, random_state=args.seed,
                                progress=True)
    return _finish(result, out)
