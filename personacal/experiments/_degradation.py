"""Experiment (a) of the seed paper: progressive degradation of alignment as the LLM writes more of the persona.

The same personas answer as Meta (census attributes only), Objective Tabular, Subjective
Tabular and Descriptive (arXiv 2503.16527 found alignment falling along that order). Each
tier is compared with the Meta tier persona by persona (paired bootstrap), so the fall from
Meta has its own interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._summary import Summary, one_line_repr
from .._validation import Options, check_param
from ..errors import InputError
from ._common import ROW_COLUMNS, answer, as_tier_tables, check_common, election_question_of, paired_rows

__all__ = ["DegradationResult", "progressive_degradation"]

_FUNC = "progressive_degradation"


@dataclass(frozen=True)
class DegradationResult:
    """Per tier and statistic: the tier's value (``to_value``, interval) and its change from the reference tier.

    ``table`` has the columns tier, reference, and :data:`~._common.ROW_COLUMNS` (``from_*`` is
    the reference tier on the same personas); the reference tier's own row has change 0.
    """

    table: pd.DataFrame
    reference: str
    backend: str
    n_personas: Mapping[str, int]
    n_boot: int
    level: float

    @property
    def tiers(self) -> tuple[str, ...]:
        return tuple(pd.unique(self.table["tier"]))

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def value(self, tier: str, statistic: str = "alignment") -> float:
        row = self.table[(self.table["tier"] == tier) & (self.table["statistic"] == statistic)]
        if row.empty:
            raise InputError(f"no {statistic!r} for tier {tier!r}; tiers: {list(self.tiers)}, statistics: "
                             f"{sorted(self.table['statistic'].unique())}")
        return float(row["to_value"].iloc[0])

    def plot(self, statistic: str = "alignment", ax=None):
        """One figure: ``statistic`` by tier with its interval (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        rows = self.table[self.table["statistic"] == statistic]
        if rows.empty:
            raise InputError(f"`statistic` of DegradationResult.plot must be one of "
                             f"{sorted(self.table['statistic'].unique())}; got {statistic!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        x = np.arange(len(rows))
        y = rows["to_value"].to_numpy(float)
        err = np.vstack([y - rows["to_ci_low"].to_numpy(float), rows["to_ci_high"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=None if np.isnan(err).all() else np.abs(err), marker="o", capsize=4)
        ax.set_xticks(x, rows["tier"], rotation=15)
        ax.set_ylabel(statistic)
        ax.set_title(f"Progressive degradation ({self.backend}; {int(self.level * 100)}% intervals)")
        ax.figure.tight_layout()
        return ax

    def summary(self) -> Summary:
        shown = self.table[["tier", "statistic", "to_value", "to_ci_low", "to_ci_high", "change", "change_ci_low",
                            "change_ci_high", "verdict"]]
        return Summary(
            "Progressive degradation: alignment by persona tier",
            facts={"backend": self.backend, "reference tier": self.reference,
                   "personas per tier": ", ".join(f"{t} {n}" for t, n in self.n_personas.items()),
                   "bootstrap": f"{self.n_boot} paired replicates, {self.level:.0%} intervals" if self.n_boot
                   else "none"},
            tables={"by tier (change = tier - reference on the same personas)": shown},
            notes=["to_value is the tier's statistic; change is paired with the reference tier persona by persona."],
        )

    def __repr__(self) -> str:
        return one_line_repr(self, tiers=len(self.tiers), reference=self.reference, backend=self.backend,
                             n_boot=self.n_boot)


def progressive_degradation(
    tiers: Mapping[str, pd.DataFrame],
    questions,
    backend,
    truth: pd.DataFrame,
    *,
    reference: str = "Meta",
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool = False,
) -> DegradationResult:
    """Alignment by tier (Meta -> Objective -> Subjective -> Descriptive), each tier paired with ``reference``.

    Parameters
    ----------
    tiers
        ``{tier label: persona table}`` with a shared ``persona_id`` (e.g. from
        :func:`write_tiers`); paper tier names are put in the paper's order.
    questions, backend
        What every tier answers and who answers (any backend, or a respondent model such as
        :class:`personacal.simulate.DemographicModel`).
    truth
        Election results (state, dem_two_party_share) or reference distributions
        (question_id, option, share, position), as :func:`personacal.evaluate.compare` takes.
    reference
        The tier every other is compared with (default Meta).
    n_boot, level, random_state
        Paired persona bootstrap of :func:`personacal.evaluate.compare`.
    """
    check_common(_FUNC, n_boot=n_boot, level=level)
    tables = as_tier_tables(tiers, _FUNC)
    check_param(_FUNC, "reference", reference, Options(tuple(tables)))
    seed = derive_seed(check_random_state(random_state, func=_FUNC))
    answers = {t: answer(frame, questions, backend, random_state=seed, progress=progress)
               for t, frame in tables.items()}
    question = election_question_of(questions)
    rows = []
    for tier, frame in answers.items():
        part = paired_rows(answers[reference], frame, truth, n_boot=n_boot, level=level, random_state=seed,
                           question=question)
        rows.append(part.assign(tier=tier, reference=reference))
    table = pd.concat(rows, ignore_index=True)[["tier", "reference", *ROW_COLUMNS]]
    return DegradationResult(table, reference, getattr(backend, "model", type(backend).__name__),
                             {t: len(f) for t, f in tables.items()}, n_boot, level)

