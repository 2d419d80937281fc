"""The main job, end to end: ``personacal demo`` and ``personacal run config.toml``.

1. Rebuild every state's joint attribute distribution from ACS/PEP margins and
   the national ACS 2012 seed (IPF).
2. Sample Meta personas for every state from those joints.
3. Calibrate a paper-style pool (independent draws of the marginals) to each
   state's census targets, and compare composition raw vs calibrated, with the
   PEP age × sex table held out as a joint truth the raking never saw.
4. With an LLM backend: generate the persona tiers, simulate the 2024 election
   per state, post-stratify, and compare raw vs calibrated against the real
   results. Without one, say plainly what was skipped and how to run it.
5. Write an HTML report folder.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._summary import Summary, one_line_repr
from .calibrate import Margins, rake
from .data import coarsening
from .data import states as state_table
from .evaluate import Comparison, composition_error, write_report
from .generate import sample_meta_personas, state_joints, state_margins

__all__ = ["DemoResult", "run_pipeline", "HELD_OUT"]

logger = logging.getLogger(__name__)

#: The two-way margin held out of the raking: the PEP age × sex table, a real joint truth.
HELD_OUT = ("age", "sex")
#: race/ethnicity label -> its group of four (Hispanic, White, Black, Other non-Hispanic).
RACE_ETH4_OF = coarsening("race_eth4")[1]
LLM_STEPS = (
    "generate the Objective Tabular, Subjective Tabular and Descriptive tiers",
    "simulate the 2024 presidential election for every state and tier",
    "post-stratify the answers to each state's census targets",
    "compare raw vs calibrated alignment against the real 2024 results",
)


@dataclass(frozen=True)
class DemoResult:
    report: Path
    meta_personas: pd.DataFrame
    paper_pool: pd.DataFrame
    weights: pd.Series
    composition: pd.DataFrame
    timings: dict[str, float]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    answers: pd.DataFrame | None = None
    comparison: Comparison | None = None
    title: str = "personacal demo"

    def __repr__(self) -> str:
        return one_line_repr(self, title=self.title, regions=int(self.meta_personas["region"].nunique()),
                             personas=len(self.meta_personas), report=str(self.report), skipped=len(self.skipped))

    def to_frame(self) -> pd.DataFrame:
        return self.composition.copy()

    def summary(self) -> Summary:
        pivot = self.composition.pivot_table(index="margin", columns="pool", values="tvd", aggfunc="mean")
        facts = {"regions": self.meta_personas["region"].nunique()}
        if self.title == "personacal demo":
            facts |= {"Meta personas": len(self.meta_personas), "paper-style pool": len(self.paper_pool)}
        else:
            facts["personas"] = len(self.meta_personas)
        if self.answers is not None:
            facts["simulated answer rows"] = len(self.answers)
        facts["report"] = str(self.report)
        facts |= {f"time: {k}": f"{v:.1f} s" for k, v in self.timings.items()}
        notes = list(self.notes) + [f"skipped: {s}" for s in self.skipped]
        tables = {"Mean TVD from the census across regions (0 = exact)": pivot}
        if self.comparison is not None and self.comparison.kind != "composition":
            tables["Raw vs calibrated (headline)"] = self.comparison.changes()
        return Summary(self.title, facts, tables, notes)


def _timed(timings: dict, name: str):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            timings[name] = time.perf_counter() - self.start

    return _Timer()


def _composition_rows(pool: pd.DataFrame, margins: dict[str, Margins], label: str, weights=None) -> pd.DataFrame:
    rows = []
    for state, m in margins.items():
        part = pool[pool["region"] == state]
        w = None if weights is None else weights.loc[part.index].to_numpy()
        result = composition_error(part, m, weights=w)
        frame = result.to_frame("margin")
        rows.append(frame.assign(state=state, pool=label))
    return pd.concat(rows, ignore_index=True)


def run_pipeline(
    *,
    states="all",
    n_per_state: int = 200,
    n_llm_per_state: int = 20,
    method: str = "ipf",
    backend=None,
    out: str | Path = "personacal-report",
    random_state: int = 0,
    progress: bool | None = None,
    election_year: int = 2024,
) -> DemoResult:
    """Run the main job on the shipped data (see the module docstring)."""
    timings: dict[str, float] = {}
    notes: list[str] = []
    codes = state_table().query("has_acs_margins")["state"].tolist() if states == "all" else list(states)
    if states == "all":
        notes.append("DC has no ACS 2023 profile in the shipped data (only PEP age × sex), so the demo covers 50 states")

    with _timed(timings, "joint reconstruction"):
        joints = state_joints(codes, method=method, anchor="pep", progress=progress, random_state=random_state)
    with _timed(timings, "Meta personas"):
        meta = sample_meta_personas(joints, n_per_state, random_state=random_state)

    targets = {code: state_margins(code, anchor="pep") for code in codes}
    with _timed(timings, "paper-style pool"):
        independent = state_joints(codes, method="independent", anchor="pep", progress=progress)
        paper = sample_meta_personas(independent, n_per_state, random_state=random_state + 1, draw="multinomial")
        paper["race_eth4"] = paper["race_eth"].map(RACE_ETH4_OF)
    with _timed(timings, "raking the pool"):
        raking, merged = {}, []
        for code, m in targets.items():
            raking[code], merges = _merge_empty(paper[paper["region"] == code], _raking_margins(m))
            merged += [f"{code}: {what}" for what in merges]
        raked = rake(paper, raking, by="region", tol=1e-8, progress=progress)
    if merged:
        notes.append("categories with no one in a state's pool were merged into a neighbour for raking "
                     f"(raking cannot weight up an empty group): {'; '.join(merged)}")

    with _timed(timings, "composition"):
        composition = pd.concat(
            [
                _composition_rows(paper, targets, "paper-style, raw"),
                _composition_rows(paper, targets, "paper-style, raked", weights=raked.weights),
                _composition_rows(meta, targets, f"personacal Meta ({method} joint)"),
            ],
            ignore_index=True,
        )
    notes.append(
        "the pool was raked to sex, age, education, employment and race/ethnicity in 4 groups (Hispanic; White, "
        "Black, other non-Hispanic): a few hundred draws per state rarely hold every one of the 8 ACS groups, and "
        "raking cannot weight up a group with no one in it. PEP age × sex is held out of the raking: its error "
        "shows whether the pool carries the real joint structure (the Meta personas' joints were fitted to it). The "
        "race4 × race_eth cross-tab shows the paper-style pool's impossible combinations (race and Hispanic origin "
        "drawn separately), which weighting cannot repair"
    )
    skipped: tuple[str, ...] = ()
    pool_composition, diagnostics = _pool_composition(paper, raked, targets)
    if backend is None:
        skipped = LLM_STEPS
        notes.append(
            "no LLM backend configured, so no answers were simulated and none are reported. To run those steps: "
            "personacal demo --backend openai --base-url URL --model NAME, or --backend vllm --model PATH"
        )
        comparison = Comparison(
            kind="composition", tiers=(), results={}, composition=pool_composition, weight_diagnostics=diagnostics,
            truth_label="ACS 2023 / PEP 2023 census margins", n_boot=0, level=0.95, notes=(),
        )
        answers = None
    else:
        from ._pipeline_llm import run_llm_steps

        with _timed(timings, "LLM steps"):
            llm_personas = sample_meta_personas(joints, n_llm_per_state, random_state=random_state + 2)
            llm = run_llm_steps(
                llm_personas, {code: _raking_margins(m) for code, m in targets.items()}, backend,
                merge=_merge_empty, random_state=random_state, progress=progress, composition=pool_composition,
                election_year=election_year,
            )
        comparison, answers = llm.comparison, llm.answers
        notes += list(llm.notes)
    report = write_report(comparison, out, title="personacal demo: calibrating persona populations to 50 states",
                          notes=[*notes, *(f"skipped (needs an LLM): {s}" for s in skipped)])
    return DemoResult(report, meta, paper, raked.weights, composition, timings, skipped, tuple(notes), answers,
                      comparison)


def _pool_composition(paper, raked, targets):
    """National composition of the paper-style pool, raw and raked, and the raking's weight diagnostics."""
    # Pooled over states, each raw persona stands for its state's population / n (expansion weights),
    # as the raked weights do, so both pools weight states by their population.
    state_total = pd.Series({code: m.total for code, m in targets.items()})
    per_state = paper["region"].map(paper["region"].value_counts())
    expansion = (paper["region"].map(state_total) / per_state).to_numpy()
    raw = composition_error(paper, _pooled(targets), weights=expansion)
    calibrated = composition_error(paper, _pooled(targets), weights=raked.weights.to_numpy())
    diagnostics = raked.region_table().reset_index().assign(tier="all")
    return {"raw": raw, "calibrated": calibrated}, diagnostics


def _raking_margins(margins: Margins) -> Margins:
    """Census targets for raking a small pool: 1-D margins, race/ethnicity in 4 groups, no held-out table."""
    kept = {m.key: m.values for m in margins if len(m.variables) == 1 and m.key != "race4"}
    race_eth = margins[("race4", "race_eth")].groupby(level="race_eth").sum()
    kept["race_eth4"] = race_eth.groupby(RACE_ETH4_OF).sum()
    return Margins(kept, name=margins.name)


#: Where an empty category's target goes; other variables use the preceding (or next) category.
MERGE_INTO = {"race_eth4": "Other non-Hispanic", "party_anes": "Independent"}


def _merge_empty(pool: pd.DataFrame, margins: Margins) -> tuple[Margins, list[str]]:
    """Move the targets of categories absent from ``pool`` onto a neighbour, and say which."""
    kept, merges = {}, []
    for m in margins:
        target = m.values.copy()
        (variable,) = m.variables
        present = set(pool[variable])
        for category in [c for c in target.index if c not in present and target[c] > 0]:
            order = [c for c in target.index if c in present]
            into = MERGE_INTO.get(variable)
            if into not in present:
                position = list(target.index).index(category)
                into = min(order, key=lambda c: abs(list(target.index).index(c) - position))
            target[into] += target[category]
            target[category] = 0.0
            merges.append(f"{variable} '{category}' into '{into}'")
        kept[m.key] = target
    return Margins(kept, name=margins.name), merges


def _pooled(targets: dict[str, Margins]) -> Margins:
    """National margins: the sum of the states' margins (for one national composition figure)."""
    first = next(iter(targets.values()))
    return Margins({m.key: sum(t[m.key] for t in targets.values()) for m in first}, name="US (50 states)")
