"""Experiment (b): generation x simulation. One model writes the persona tiers, another answers as them.

Rows are generators, columns simulators. Reading along a row holds the written personas fixed
and changes who answers (simulation-driven bias); down a column holds the answering model fixed
and changes who wrote the personas (generation-driven bias). Each cell is paired with the
Meta personas answered by the same simulator, so the change from Meta isolates what the
generator's text did for that simulator, with an interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._summary import Summary, one_line_repr
from .._validation import Options, check_param
from ..errors import InputError
from ._common import ROW_COLUMNS, TIERS, answer, as_tier_tables, check_common, election_question_of, paired_rows
from ._common import write_tiers

__all__ = ["GenerationSimulationResult", "generation_simulation"]

_FUNC = "generation_simulation"


@dataclass(frozen=True)
class GenerationSimulationResult:
    """One row per (generator, simulator, statistic): the tier's value and its paired change from Meta."""

    table: pd.DataFrame  # generator, simulator, tier, ROW_COLUMNS (from = Meta under the same simulator)
    tier: str
    n_boot: int
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def matrix(self, statistic: str = "alignment", value: str = "to_value") -> pd.DataFrame:
        """Generators x simulators of ``value`` (``to_value`` or ``change``) for ``statistic``."""
        rows = self.table[self.table["statistic"] == statistic]
        if rows.empty:
            raise InputError(f"`statistic` must be one of {sorted(self.table['statistic'].unique())}; got {statistic!r}")
        return rows.pivot(index="generator", columns="simulator", values=value)

    def summary(self) -> Summary:
        stat = "alignment" if "alignment" in set(self.table["statistic"]) else self.table["statistic"].iloc[0]
        return Summary(
            f"Generation x simulation ({self.tier} tier)",
            facts={"generators": ", ".join(pd.unique(self.table["generator"])),
                   "simulators": ", ".join(pd.unique(self.table["simulator"])),
                   "bootstrap": f"{self.n_boot} paired replicates, {self.level:.0%} intervals" if self.n_boot
                   else "none"},
            tables={f"{stat}: generator (rows) x simulator (columns)": self.matrix(stat),
                    f"{stat}: change from Meta under the same simulator": self.matrix(stat, "change"),
                    "every cell": self.table[["generator", "simulator", "statistic", "to_value", "to_ci_low",
                                              "to_ci_high", "change", "change_ci_low", "change_ci_high"]]},
            notes=["Along a row the written personas are fixed (simulation-driven differences); down a column the "
                   "answering model is fixed (generation-driven differences)."],
        )

    def __repr__(self) -> str:
        return one_line_repr(self, tier=self.tier, generators=self.table["generator"].nunique(),
                             simulators=self.table["simulator"].nunique(), n_boot=self.n_boot)


def generation_simulation(
    meta: pd.DataFrame,
    generators: Mapping[str, object],
    simulators: Mapping[str, object],
    questions,
    truth: pd.DataFrame,
    *,
    tier: str = "Descriptive",
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool = False,
) -> GenerationSimulationResult:
    """Every generator's ``tier`` answered by every simulator, each cell paired with Meta under that simulator.

    Parameters
    ----------
    meta
        Meta personas (persona_id and census attributes).
    generators
        ``{name: backend}`` that write the tiers (:func:`write_tiers`), or ``{name: {tier: persona
        table}}`` already written.
    simulators
        ``{name: backend or respondent model}`` that answer.
    questions, truth, n_boot, level, random_state
        As in :func:`progressive_degradation`.
    tier
        Which written tier the matrix scores (default Descriptive, the most LLM-written).
    """
    check_common(_FUNC, n_boot=n_boot, level=level)
    check_param(_FUNC, "tier", tier, Options(TIERS[1:]))
    for name, value in (("generators", generators), ("simulators", simulators)):
        if not isinstance(value, Mapping) or not value:
            raise InputError(f"`{name}` of {_FUNC} must be a non-empty mapping {{name: backend}}")
    seed = derive_seed(check_random_state(random_state, func=_FUNC))
    written = {}
    for name, gen in generators.items():
        tables = gen if isinstance(gen, Mapping) else write_tiers(meta, gen, random_state=seed, progress=progress)
        tables = as_tier_tables(tables, _FUNC)
        if tier not in tables:
            raise InputError(f"generator {name!r} of {_FUNC} has no {tier!r} tier; it has {list(tables)}")
        written[name] = tables[tier]
    question = election_question_of(questions)
    rows = []
    for sim_name, sim in simulators.items():
        base = answer(meta, questions, sim, random_state=seed, progress=progress)
        for gen_name, personas in written.items():
            cell = answer(personas, questions, sim, random_state=seed, progress=progress)
            part = paired_rows(base, cell, truth, n_boot=n_boot, level=level, random_state=seed, question=question)
            rows.append(part.assign(generator=gen_name, simulator=sim_name, tier=tier))
    table = pd.concat(rows, ignore_index=True)[["generator", "simulator", "tier", *ROW_COLUMNS]]
    return GenerationSimulationResult(table, tier, n_boot, level)
