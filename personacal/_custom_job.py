"""The config-file form of the main job: your margins, your personas, your questions, your backend.

Shipped states with Meta personas and an election question run the demo
pipeline itself (:func:`personacal._pipeline.run_pipeline`). Anything else runs
here: build or read a persona pool, rake it to the margins per region, report
its composition raw vs calibrated, and with a backend have it answer the
questions, post-stratify the answers and compare them with a truth when one
exists (the real election results, or Pew's distributions for the curated
OpinionQA bank). Outputs: the report, ``personas.parquet`` (with weights) and,
with a backend, ``answers.parquet`` and ``distributions.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._config import RAY_KEYS, RunConfig
from ._pipeline import DemoResult, _pooled, run_pipeline
from .calibrate import Margins, rake, read_margins, reconstruct_joint
from ._tables import read_table, write_table
from .data import election_results, states as state_table
from .errors import InputError
from .evaluate import Comparison, compare, composition_error, poststratify_answers, write_report
from .generate import sample_meta_personas, state_joints, state_margins
from .simulate import election_question, load_question_bank, reference_distributions

__all__ = ["run_config"]

REGION = "region"


def _backend(config: RunConfig):
    if config.backend is None:
        return None
    from .backends import make_backend

    b = config.backend
    cache = str(b.cache) if b.cache else None
    if b.kind == "openai":
        return make_backend("openai", model=b.model, base_url=b.base_url, api_key_env=b.api_key_env, cache=cache,
                            random_state=config.output.seed)
    if b.kind == "ray":
        ray = {k: getattr(b, k) for k in RAY_KEYS if getattr(b, k) is not None}
        return make_backend("ray", model=b.model, cache=cache, random_state=config.output.seed,
                            cpu_fast_start=b.cpu_fast_start, **ray)
    return make_backend("vllm", model=b.model, cache=cache, random_state=config.output.seed,
                        cpu_fast_start=b.cpu_fast_start)


def _election_year(bank: str) -> int | None:
    parts = bank.split("-")
    if len(parts) == 2 and parts[0] == "election" and parts[1] in {"2016", "2020", "2024"}:
        return int(parts[1])
    return None


def _questions(bank: str, limit: int | None):
    year = _election_year(bank)
    questions = [election_question(year)] if year else list(load_question_bank(bank))
    return questions[:limit] if limit else questions


def _shipped_codes(states) -> list[str]:
    if states == "all":
        table = state_table()
        return table.loc[table["has_acs_margins"], "state"].tolist()
    return [s.upper() for s in states]


def run_config(config: RunConfig, *, progress: bool | None = None):
    """Run the job a :class:`~personacal._config.RunConfig` describes; returns the demo result type."""
    pop, out, seed = config.population, config.output.folder, config.output.seed
    backend = _backend(config)
    year = _election_year(config.questions.bank)
    if pop.states is not None and config.personas is None and year is not None and not config.questions.limit:
        return run_pipeline(
            states=pop.states if pop.states == "all" else [s.upper() for s in pop.states],
            n_per_state=pop.n_per_region, n_llm_per_state=config.backend.n_per_region if backend else 20,
            method=pop.method, backend=backend, out=out, random_state=seed, progress=progress, election_year=year,
        )
    notes: list[str] = []
    if pop.margins is not None:
        margins = read_margins(pop.margins, region_column=pop.region_column)
    else:
        margins = {code: state_margins(code, anchor="pep") for code in _shipped_codes(pop.states)}
    if config.personas is not None:
        pool = read_table(config.personas.file, numeric=(config.personas.weights,) if config.personas.weights else (),
                          what="persona file")
        if pop.region_column not in pool.columns:
            raise InputError(f"persona file {str(config.personas.file)!r} has no region column "
                             f"{pop.region_column!r} ([population] region_column); it has {list(pool.columns)}")
        pool = pool.rename(columns={pop.region_column: REGION})
        design = config.personas.weights
        notes.append(f"persona pool read from {config.personas.file}")
    else:
        pool, design = _meta_pool(margins, pop, seed, progress), None
        notes.append(f"Meta personas: {pop.n_per_region} per region from the {pop.method} joint")
    if "persona_id" not in pool.columns:
        pool.insert(0, "persona_id", [f"p{i:07d}" for i in range(len(pool))])
    raked = rake(pool, margins, by=REGION, weights=design, tol=1e-8, progress=progress)
    pool = pool.assign(weight=raked.weights.to_numpy())
    raw = composition_error(pool, _pooled(margins), weights=_expansion(pool, margins, design))
    calibrated = composition_error(pool, _pooled(margins), weights=pool["weight"].to_numpy())
    diagnostics = raked.region_table().reset_index().assign(tier="all")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(pool, out / "personas.parquet")
    answers = comparison = None
    skipped: tuple[str, ...] = ()
    if backend is None:
        skipped = ("answer the questions", "post-stratify the answers", "compare with a truth")
        notes.append("no [backend] configured: no answers were simulated and none are reported")
    else:
        answers, comparison, more = _answer(pool, margins, config, backend, year, raw, calibrated, progress)
        notes += more
    if comparison is None:
        comparison = Comparison(kind="composition", tiers=(), results={}, composition={"raw": raw, "calibrated": calibrated},
                                weight_diagnostics=diagnostics, truth_label="your margins", n_boot=0, level=0.95, notes=())
    report = write_report(comparison, out, title="personacal run", notes=notes)
    composition = pd.concat([raw.per_margin.assign(pool="raw"), calibrated.per_margin.assign(pool="calibrated")],
                            ignore_index=True)
    return DemoResult(report, pool, pool, pool["weight"], composition, {}, skipped, tuple(notes), answers, comparison,
                      title="personacal run")


def _meta_pool(margins: dict[str, Margins], pop, seed: int, progress) -> pd.DataFrame:
    if pop.margins is None:
        joint = state_joints(list(margins), method=pop.method, anchor="pep", smoothing=pop.smoothing,
                             progress=progress, random_state=seed)
    else:
        if pop.method != "independent" and pop.seed is None:
            raise InputError(f"[population] method = {pop.method!r} needs a seed (microdata with the margins' "
                             "variables); add seed = 'file.csv' or use method = 'independent'")
        microdata = read_table(pop.seed, numeric=(pop.seed_weights,) if pop.seed_weights else (), what="seed file") \
            if pop.seed else None
        joint = reconstruct_joint(margins, seed=microdata, method=pop.method, seed_weights=pop.seed_weights,
                                  smoothing=pop.smoothing if microdata is not None else 0.0, progress=progress,
                                  random_state=seed)
    return sample_meta_personas(joint, pop.n_per_region, random_state=seed)


def _expansion(pool: pd.DataFrame, margins: dict[str, Margins], design: str | None):
    """Raw weights pooled over regions: design weights scaled so each region sums to its population."""
    base = pool[design].astype(float) if design else pd.Series(1.0, index=pool.index)
    totals = pool[REGION].map({r: m.total for r, m in margins.items()})
    return (base * totals / base.groupby(pool[REGION]).transform("sum")).to_numpy()


def _answer(pool, margins, config, backend, year, raw, calibrated, progress):
    from .simulate import simulate

    notes = []
    n = config.backend.n_per_region
    asked = pool.groupby(REGION, sort=False).head(n).reset_index(drop=True)
    questions = _questions(config.questions.bank, config.questions.limit)
    persona_columns = [c for c in asked.columns if c not in ("persona_id", REGION, "weight")]
    result = simulate(asked.drop(columns="weight"), questions, backend, method=config.backend.method,
                      random_state=config.output.seed, keep_columns=[REGION], persona_columns=persona_columns,
                      progress=bool(progress))
    answers = result.to_frame()
    post = poststratify_answers(answers, asked.drop(columns="weight"), margins, method="rake", by=REGION,
                                progress=progress)
    out = Path(config.output.folder)
    write_table(answers, out / "answers.parquet")
    write_table(post.distributions, out / "distributions.parquet")
    notes.append(f"{len(asked)} personas ({n} per region) answered {len(questions)} question(s); answers.parquet and "
                 "distributions.parquet hold the raw and post-stratified distributions")
    weights = answers["persona_id"].map(post.weights)
    calibrated_answers = answers.assign(weight=weights.to_numpy())
    if year is not None:
        truth = election_results(year)[["state", "dem_two_party_share"]]
        comparison = compare(answers.rename(columns={REGION: "state"}),
                             calibrated_answers.rename(columns={REGION: "state"}), truth, weights="weight",
                             question=questions[0].id, composition={"raw": raw, "calibrated": calibrated},
                             truth_label=f"MEDSL {year} results", random_state=config.output.seed, progress=progress)
    elif config.questions.bank == "opinionqa-curated":
        reference = reference_distributions("opinionqa-curated")
        reference = reference[reference["group_variable"] == "Overall"]
        reference = reference[reference["question_id"].isin([q.id for q in questions])]
        comparison = compare(answers, calibrated_answers, reference, weights="weight",
                             composition={"raw": raw, "calibrated": calibrated}, truth_label="Pew ATP (OpinionQA)",
                             random_state=config.output.seed, progress=progress)
    else:
        comparison = None
        notes.append(f"no truth ships for the questions of {config.questions.bank!r}: the post-stratified "
                     "distributions are written, not scored")
    return answers, comparison, notes
