"""What the three experiments share: writing the tiers, answering, and one paired comparison as tidy rows.

Every paired comparison is :func:`personacal.evaluate.compare` with the two persona
populations as its ``raw`` ("from") and ``calibrated`` ("to") sides: the same personas
(persona_id) described two ways are resampled together, so each statistic's change gets its
own interval from the paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .._random import RandomState, check_random_state, derive_seed
from .._validation import Interval, check_params
from ..errors import InputError
from ..evaluate import compare
from ..generate import generate_tier
from ..simulate import Question, simulate

__all__ = ["TIERS", "write_tiers", "answer", "paired_rows", "check_common", "ROW_COLUMNS", "as_tier_tables",
           "election_question_of"]

#: The seed paper's tiers, in order of how much of the persona the LLM writes.
TIERS = ("Meta", "Objective Tabular", "Subjective Tabular", "Descriptive")
_GENERATED = {"Objective Tabular": "objective", "Subjective Tabular": "subjective", "Descriptive": "descriptive"}
#: Columns of :func:`paired_rows`.
ROW_COLUMNS = ["statistic", "from_value", "from_ci_low", "from_ci_high", "to_value", "to_ci_low", "to_ci_high",
               "change", "change_ci_low", "change_ci_high", "verdict"]


def check_common(func: str, *, n_boot: int, level: float) -> None:
    check_params(func, {"n_boot": Interval("int", 0, None), "level": Interval("real", 0, 1, closed="neither")},
                 {"n_boot": n_boot, "level": level})
    if n_boot == 1:
        raise InputError(f"`n_boot` of {func} must be 0 (no intervals) or at least 2; got 1")


def write_tiers(meta: pd.DataFrame, backend, *, tiers: Sequence[str] = TIERS, random_state: RandomState = None,
                progress: bool = False) -> dict[str, pd.DataFrame]:
    """The persona tables of ``tiers``: Meta as given, the others written by ``backend``, each on the previous.

    Personas whose tier failed schema validation after retries are left out of that tier
    (:meth:`personacal.generate.TierResult.to_personas`); flagged ones are kept, as the paper did.
    """
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise InputError(f"`tiers` of write_tiers must be among {list(TIERS)}; got {unknown}")
    if "persona_id" not in meta.columns:
        raise InputError("`meta` of write_tiers needs a persona_id column (e.g. from generate.sample_meta_personas)")
    seed = derive_seed(check_random_state(random_state, func="write_tiers"))
    out, previous = {}, []
    if "Meta" in tiers:
        out["Meta"] = meta.copy()
    for label, tier in _GENERATED.items():
        if TIERS.index(label) > max(TIERS.index(t) for t in tiers):
            break
        result = generate_tier(meta, tier, backend, previous=list(previous), random_state=seed, progress=progress)
        previous.append(result)
        if label in tiers:
            out[label] = result.to_personas()
    return out


def answer(personas: pd.DataFrame, questions, backend, *, random_state: RandomState, progress: bool,
           drop: Sequence[str] = ()) -> pd.DataFrame:
    """Persona-level answers (simulate's tidy table), the ``drop`` columns hidden from the backend."""
    frame = personas.drop(columns=list(drop))
    keep = [c for c in ("region", "state") if c in frame.columns][:1]
    result = simulate(frame, questions, backend, random_state=random_state, keep_columns=keep, progress=progress)
    answers = result.to_frame()
    if "region" in answers.columns and "state" not in answers.columns:
        answers = answers.rename(columns={"region": "state"})
    return answers


def paired_rows(from_answers: pd.DataFrame, to_answers: pd.DataFrame, truth: pd.DataFrame, *, n_boot: int,
                level: float, random_state: RandomState, question: Question | None = None,
                progress: bool = False) -> pd.DataFrame:
    """Headline statistics of two answer tables against ``truth``, and the paired change (to - from)."""
    kwargs = {"question": question.id} if question is not None and "dem_two_party_share" in truth.columns else {}
    comparison = compare(from_answers, to_answers, truth, tier_column=None, n_boot=n_boot, level=level,
                         random_state=random_state, progress=progress, **kwargs)
    changes = comparison.changes()
    frame = changes.rename(columns={"raw": "from_value", "raw_ci_low": "from_ci_low", "raw_ci_high": "from_ci_high",
                                    "calibrated": "to_value", "calibrated_ci_low": "to_ci_low",
                                    "calibrated_ci_high": "to_ci_high"})
    for column in ROW_COLUMNS:
        if column not in frame.columns:
            frame[column] = float("nan")
    return frame[ROW_COLUMNS].reset_index(drop=True)


def as_tier_tables(tiers: Mapping[str, pd.DataFrame], func: str) -> dict[str, pd.DataFrame]:
    if not isinstance(tiers, Mapping) or not tiers:
        raise InputError(f"`tiers` of {func} must be a non-empty mapping {{tier label: persona table}}")
    for label, frame in tiers.items():
        if not isinstance(frame, pd.DataFrame) or "persona_id" not in frame.columns:
            raise InputError(f"tier {label!r} passed to {func} must be a DataFrame with a persona_id column")
    ordered = [t for t in TIERS if t in tiers] + [t for t in tiers if t not in TIERS]
    return {t: tiers[t] for t in ordered}


def election_question_of(questions) -> Question | None:
    """The one election question among ``questions`` (compare's ``question`` when several are asked), else None."""
    items = questions if isinstance(questions, (list, tuple)) else [questions]
    elections = [q for q in items if isinstance(q, Question) and str(q.id).startswith("election")]
    return elections[0] if len(elections) == 1 else None
