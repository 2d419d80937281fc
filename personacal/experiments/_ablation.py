"""Experiment (c): attribute ablation. Hide one persona field at a time, re-simulate, measure the change in lean.

The same personas answer with every field and with one field hidden from the backend; the
paired bootstrap of :func:`personacal.evaluate.compare` gives each field's effect on the lean
(mean signed error; > 0 leans Democratic for elections) and on every other headline statistic
an interval. A field whose removal moves the lean left or right is one the answers lean on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._summary import Summary, one_line_repr
from ..errors import InputError
from ._common import ROW_COLUMNS, answer, check_common, election_question_of, paired_rows

__all__ = ["AblationResult", "attribute_ablation", "NEVER_ABLATED"]

_FUNC = "attribute_ablation"
#: Columns that identify or place a persona rather than describe it.
NEVER_ABLATED = ("persona_id", "region", "state", "weight")


@dataclass(frozen=True)
class AblationResult:
    """One row per (dropped field, statistic): full vs without the field, and the paired change."""

    table: pd.DataFrame  # field, ROW_COLUMNS (from = every field, to = without ``field``)
    backend: str
    n_personas: int
    n_boot: int
    level: float

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(pd.unique(self.table["field"]))

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def lean_changes(self) -> pd.DataFrame:
        """Per field: the change in lean (without - with) and its interval, largest magnitude first."""
        rows = self.table[self.table["statistic"].isin(["mean_signed_error", "lean"])]
        out = rows[["field", "change", "change_ci_low", "change_ci_high", "verdict"]]
        return out.reindex(out["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)

    def summary(self) -> Summary:
        lean = self.lean_changes()
        tables = {"change in lean when the field is hidden (without - with)": lean} if len(lean) else {}
        tables["every statistic"] = self.table[["field", "statistic", "from_value", "to_value", "change",
                                                "change_ci_low", "change_ci_high"]]
        return Summary(
            "Attribute ablation",
            facts={"backend": self.backend, "personas": self.n_personas, "fields": len(self.fields),
                   "bootstrap": f"{self.n_boot} paired replicates, {self.level:.0%} intervals" if self.n_boot
                   else "none"},
            tables=tables,
            notes=["Lean = mean signed error against the truth (> 0 leans Democratic for elections)."],
        )

    def __repr__(self) -> str:
        return one_line_repr(self, fields=len(self.fields), personas=self.n_personas, backend=self.backend,
                             n_boot=self.n_boot)


def attribute_ablation(
    personas: pd.DataFrame,
    questions,
    backend,
    truth: pd.DataFrame,
    *,
    fields: Sequence[str] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool = False,
) -> AblationResult:
    """Drop one field (column) at a time, re-simulate, and compare with the full personas, paired.

    Parameters
    ----------
    personas
        One tier's persona table (persona_id plus attribute columns; a Tabular tier's fields are
        columns). A ``description`` column, when present, is the whole persona text for
        :func:`personacal.simulate.simulate`: ablating it makes the personas fall back to their
        attributes.
    fields
        The columns to drop one at a time (default: every column but :data:`NEVER_ABLATED`).
    questions, backend, truth, n_boot, level, random_state
        As in :func:`progressive_degradation`.
    """
    check_common(_FUNC, n_boot=n_boot, level=level)
    if not isinstance(personas, pd.DataFrame) or "persona_id" not in personas.columns:
        raise InputError(f"`personas` of {_FUNC} must be a DataFrame with a persona_id column")
    if fields is None:
        fields = [c for c in personas.columns if c not in NEVER_ABLATED]
    fields = list(fields)
    unknown = [f for f in fields if f not in personas.columns]
    if unknown or not fields:
        raise InputError(f"`fields` of {_FUNC} must name persona columns; got {unknown or fields}; the personas "
                         f"have {list(personas.columns)}")
    protected = [f for f in fields if f in ("persona_id",)]
    if protected:
        raise InputError(f"`fields` of {_FUNC} cannot drop {protected}: it pairs the personas")
    seed = derive_seed(check_random_state(random_state, func=_FUNC))
    full = answer(personas, questions, backend, random_state=seed, progress=progress)
    question = election_question_of(questions)
    rows = []
    for field in fields:
        ablated = answer(personas, questions, backend, random_state=seed, progress=progress, drop=[field])
        part = paired_rows(full, ablated, truth, n_boot=n_boot, level=level, random_state=seed, question=question)
        rows.append(part.assign(field=field))
    table = pd.concat(rows, ignore_index=True)[["field", *ROW_COLUMNS]]
    return AblationResult(table, getattr(backend, "model", type(backend).__name__), len(personas), n_boot, level)
