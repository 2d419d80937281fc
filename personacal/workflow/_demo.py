"""The main job on the shipped data: ``personacal demo`` (and ``personacal run`` with shipped states).

1. Rebuild every state's joint attribute distribution from ACS/PEP margins and the national
   ACS 2012 seed (IPF, or the Bayesian model).
2. Sample Meta personas for every state from those joints.
3. Rake a paper-style pool (independent draws of the marginals) to each state's census margins
   (:func:`census_targets`), with the ``on_infeasible`` policy, and compare composition raw vs
   calibrated, with the PEP age x sex table held out as a joint truth the raking never saw.
4. With an LLM backend: generate the persona tiers, simulate the election per state, rake each
   tier to the census margins and, where the tier carries it, the partisan margin (default: the
   recalled 2020 vote to the 2020 result), and judge raw vs calibrated against the real results
   with the paired bootstrap. Without a backend, say plainly what was skipped and how to run it,
   and judge raw vs calibrated with the demographic respondent model instead (:mod:`._offline`).
5. Write the report folder: the verdict first, then the targets and their sources, the margins
   each region was raked to (met / merged / dropped), figures and tables; and summary.json.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import pandas as pd

from ..data import states as state_table
from ..errors import ConvergenceWarning
from ..evaluate import DEFAULT_INTERVAL_METHOD, composition_error, write_report
from ..generate import sample_meta_personas, state_joints, state_margins
from ._policy import calibrate_regions
from ._result import WorkflowResult
from ._targets import CENSUS_KEYS, RACE_ETH4_OF, census_targets, partisan_targets, target_sources

__all__ = ["run_demo", "HELD_OUT", "LLM_STEPS", "report_context", "pooled", "weights_by_region"]

logger = logging.getLogger(__name__)

#: The two-way margin held out of the raking: the PEP age x sex table, a real joint truth.
HELD_OUT = ("age", "sex")
LLM_STEPS = (
    "generate the Objective Tabular, Subjective Tabular and Descriptive tiers",
    "simulate the 2024 presidential election for every state and tier",
    "rake each tier to its state's census margins and recalled 2020 vote",
    "judge raw vs calibrated against the real 2024 results (paired bootstrap)",
)
POOL = "paper-style pool"
#: Tier labels of the offline answers: the respondent is named in the row, not only in a note.
META_ANSWERS, POOL_ANSWERS = "demographic model: Meta personas", "demographic model: paper-style pool"


class _Timer:
    def __init__(self, timings: dict, name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = time.perf_counter() - self.start


def _composition_rows(pool: pd.DataFrame, margins: dict, label: str, weights=None) -> pd.DataFrame:
    rows = []
    for state, m in margins.items():
        part = pool[pool["region"] == state]
        w = None if weights is None else weights.loc[part.index].to_numpy()
        rows.append(composition_error(part, m, weights=w).to_frame("margin").assign(state=state, pool=label))
    return pd.concat(rows, ignore_index=True)


def pooled(targets: dict) -> object:
    """National margins: the sum of the regions' margins (for one national composition figure)."""
    from ..calibrate import Margins

    first = next(iter(targets.values()))
    return Margins({m.key: sum(t[m.key] for t in targets.values()) for m in first}, name="all regions")


def report_context(targets: pd.DataFrame, records: pd.DataFrame, on_infeasible: str,
                   parse_rates: dict[str, float] | None = None) -> dict:
    """What the report shows under the verdict: targets and sources, the policy, margins per region."""
    index = [c for c in ("tier", "region") if c in records.columns]
    grid = records.pivot_table(index=index, columns="margin", values="status", aggfunc="first").reset_index()
    grid.columns.name = None
    context = {"Targets and truth: sources, years, method, weighting": targets,
               "Calibration policy (on_infeasible)": on_infeasible,
               "Margins per region: met, merged or dropped": grid}
    changed = records[records["status"] != "met"]
    if len(changed):
        context["What was merged or dropped, and what it cost (max relative error against the original target)"] = \
            changed
    if parse_rates:
        context["Parse rate (share of the model's output that became an answer)"] = {
            tier: f"{rate:.1%}" for tier, rate in parse_rates.items()}
    return context


def run_demo(
    *,
    states="all",
    n_per_state: int = 200,
    n_llm_per_state: int | None = None,
    method: str = "ipf",
    backend=None,
    out: str | Path = "personacal-report",
    random_state: int = 0,
    progress: bool | None = None,
    election_year: int = 2024,
    partisan: str = "past_vote",
    on_infeasible: str = "raise",
    n_boot: int = 1000,
    interval_method: str = DEFAULT_INTERVAL_METHOD,
    level: float = 0.95,
) -> WorkflowResult:
    """Run the main job on the shipped data (see the module docstring).

    Parameters
    ----------
    states
        "all" (the 50 states with ACS profiles) or a list of postal codes.
    n_per_state, n_llm_per_state
        Personas per state in the pools, and in the LLM steps (default: ``n_per_state``).
    method
        Joint reconstruction of the Meta personas: "ipf", "bayes" or "independent".
    backend
        An LLM backend (``personacal.backends.make_backend``); None skips the LLM steps.
    partisan
        The partisan margin of the tiers that carry it: "past_vote" (default; the recalled 2020
        vote to the 2020 result), "party_id" (ANES MRP targets; not a default, see
        :mod:`personacal.workflow._targets`) or "none".
    on_infeasible
        What to do where a region's personas cannot meet every margin: "raise" (default),
        "collapse" or "drop" (:func:`calibrate_regions`). Every region's outcome is recorded.
    n_boot, interval_method, level
        The paired bootstrap of the verdict (each replicate redoes every tier's raking).
    """
    timings: dict[str, float] = {}
    notes: list[str] = []
    codes = state_table().query("has_acs_margins")["state"].tolist() if states == "all" else list(states)
    if states == "all":
        notes.append("DC has no ACS 2023 profile in the shipped data (only PEP age × sex), so the demo covers 50 states")
    n_llm = n_per_state if n_llm_per_state is None else n_llm_per_state

    with _Timer(timings, "joint reconstruction"):
        joints = state_joints(codes, method=method, anchor="pep", progress=progress, random_state=random_state)
    with _Timer(timings, "Meta personas"):
        meta = sample_meta_personas(joints, n_per_state, random_state=random_state)
    truth_margins = {code: state_margins(code, anchor="pep") for code in codes}
    census = {code: census_targets(code) for code in codes}
    with _Timer(timings, "paper-style pool"), warnings.catch_warnings():
        # The product of the marginals misses the multi-way margins by design: the paper's baseline.
        warnings.simplefilter("ignore", ConvergenceWarning)
        independent = state_joints(codes, method="independent", anchor="pep", progress=progress)
        paper = sample_meta_personas(independent, n_per_state, random_state=random_state + 1, draw="multinomial")
        paper["race_eth4"] = paper["race_eth"].map(RACE_ETH4_OF)
    with _Timer(timings, "raking the pool"):
        raked = calibrate_regions(paper, census, by="region", on_infeasible=on_infeasible, priority=CENSUS_KEYS)
    records = raked.records.assign(tier=POOL)
    notes += [f"{POOL}: {n}" for n in raked.notes]
    with _Timer(timings, "composition"):
        composition = pd.concat([
            _composition_rows(paper, truth_margins, "paper-style, raw"),
            _composition_rows(paper, truth_margins, "paper-style, raked", weights=raked.weights),
            _composition_rows(meta, truth_margins, f"personacal Meta ({method} joint)"),
        ], ignore_index=True)
    notes.append(
        "the pool was raked to sex, age, education, employment and race/ethnicity in 4 groups (Hispanic; White, "
        "Black, other non-Hispanic): a few hundred draws per state rarely hold every one of the 8 ACS groups, and "
        "raking cannot weight up a group with no one in it. PEP age × sex is held out of the raking: its error "
        "shows whether the pool carries the real joint structure (the Meta personas' joints were fitted to it). The "
        "race4 × race_eth cross-tab shows the paper-style pool's impossible combinations (race and Hispanic origin "
        "drawn separately), which weighting cannot repair"
    )
    pool_composition, diagnostics = _pool_composition(paper, raked, truth_margins)
    skipped: tuple[str, ...] = ()
    answers, parse_rates = None, {}
    if backend is None:
        from ._offline import RESPONDENT, run_offline_steps

        skipped = LLM_STEPS
        with _Timer(timings, "answers (demographic model)"):
            offline = run_offline_steps(
                {META_ANSWERS: meta, POOL_ANSWERS: paper}, census, calibrated={POOL_ANSWERS: raked},
                on_infeasible=on_infeasible, random_state=random_state, progress=progress,
                composition=pool_composition, n_boot=n_boot, interval_method=interval_method, level=level)
        comparison, answers = offline.comparison, offline.answers
        records = pd.concat([records, offline.calibration], ignore_index=True)
        notes += [*offline.notes,
                  f"answers without an LLM: party identification (ANES 7-point, folded to Democrat / Independent / "
                  f"Republican) from the {RESPONDENT}, scored per state against ANES MRP party ID; the LLM "
                  "steps need a backend: personacal demo --backend openai --base-url URL --model NAME, or "
                  "--backend vllm --model PATH"]
    else:
        from ._llm import parse_rate_note, run_llm_steps

        with _Timer(timings, "LLM steps"):
            llm_personas = sample_meta_personas(joints, n_llm, random_state=random_state + 2)
            totals = {code: m.total for code, m in census.items()}
            llm = run_llm_steps(
                llm_personas, census, backend, partisan=partisan,
                partisan_margins=partisan_targets(codes, partisan, totals=totals), on_infeasible=on_infeasible,
                random_state=random_state, progress=progress, composition=pool_composition,
                election_year=election_year, n_boot=n_boot, interval_method=interval_method, level=level)
        comparison, answers, parse_rates = llm.comparison, llm.answers, llm.parse_rates
        records = pd.concat([records, llm.calibration], ignore_index=True)
        notes += [*llm.notes, parse_rate_note(parse_rates)]
    records = records[["tier", *[c for c in records.columns if c != "tier"]]]
    targets = target_sources(partisan if backend is not None else "none",
                             election_year=election_year if backend is not None else None)
    where = f"{len(codes)} states" if len(codes) > 5 else ", ".join(codes)
    title = f"personacal demo: calibrating persona populations to {where}"
    report = write_report(comparison, out, title=title,
                          notes=[*notes, *(f"skipped (needs an LLM): {s}" for s in skipped)],
                          context=report_context(targets, records, on_infeasible, parse_rates),
                          region_composition=composition)
    return WorkflowResult(report, meta, paper, raked.weights, composition, timings, skipped, tuple(notes), answers,
                          comparison, calibration=records, targets=targets, parse_rates=parse_rates,
                          on_infeasible=on_infeasible)


def _pool_composition(paper, raked, targets):
    """National composition of the paper-style pool, raw and raked, and the raking's weight diagnostics."""
    # Pooled over states, each raw persona stands for its state's population / n (expansion weights),
    # as the raked weights do, so both pools weight states by their population.
    state_total = pd.Series({code: m.total for code, m in targets.items()})
    per_state = paper["region"].map(paper["region"].value_counts())
    expansion = (paper["region"].map(state_total) / per_state).to_numpy()
    national = pooled(targets)
    raw = composition_error(paper, national, weights=expansion)
    calibrated = composition_error(paper, national, weights=raked.weights.to_numpy())
    return {"raw": raw, "calibrated": calibrated}, weights_by_region(raked.weights, paper["region"])


def weights_by_region(weights: pd.Series, regions: pd.Series) -> pd.DataFrame:
    """Per region: rows, ess, ess_ratio, design_effect and weight_ratio of the calibrated weights."""
    from ..calibrate import weight_diagnostics

    rows = []
    for region, part in weights.groupby(regions.to_numpy()):
        facts = weight_diagnostics(part.dropna().to_numpy())
        rows.append({"region": region, "rows": facts["rows"], "ess": facts["ess"],
                     "design_effect": facts["design_effect"], "weight_ratio": facts["weight_ratio"]})
    diagnostics = pd.DataFrame(rows).assign(tier="all")
    diagnostics["ess_ratio"] = diagnostics["ess"] / diagnostics["rows"]
    return diagnostics

