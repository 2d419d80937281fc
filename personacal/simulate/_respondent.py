"""Respondent models in simulate(): a statistical model answers where an LLM backend would.

Why a protocol of its own rather than a fake :class:`~personacal.backends.Backend`: a backend
turns prompts into tokens, and a respondent model would have to parse persona attributes back
out of the rendered prompt text to act as one. A respondent model takes the persona table and
a question and returns the answer distributions directly, so simulate() dispatches on it and
no prompt is built, shuffled or parsed. The answers come back as the same SimulationResult
rows (``method="respondent-model"``), so every downstream step reads them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._summary import Summary, one_line_repr
from ..backends import Prompt
from ..errors import BackendCapabilityError, DistributionError, InputError
from ._question import LETTERS, Question
from ._result import SimulationResult

__all__ = ["RespondentModel", "RespondentSimulationResult", "simulate_respondents", "METHOD"]

METHOD = "respondent-model"


@runtime_checkable
class RespondentModel(Protocol):
    """What simulate() needs from a model that answers from persona attributes, without prompts."""

    model: str

    @property
    def question_ids(self) -> tuple[str, ...]:
        """The ids of the questions it can answer."""
        ...

    def predict_distributions(self, personas: pd.DataFrame, question: Question) -> np.ndarray:
        """Answer probabilities, shape (len(personas), question.n_options), rows summing to 1."""
        ...


@dataclass(frozen=True, repr=False)
class RespondentSimulationResult(SimulationResult):
    """A SimulationResult whose answers a respondent model predicted (no prompts, no replies).

    ``persona_blocks`` holds, per persona, the attributes the model used.
    """

    def __repr__(self) -> str:
        return one_line_repr(self, model=self.model, personas=self.answers["persona_id"].nunique(),
                             questions=len(self.questions))

    def prompt(self, persona_id: Any, question_id: str) -> Prompt:
        raise InputError(
            f"no prompt exists for persona {persona_id!r} x question {question_id!r}: these answers were predicted "
            f"by {self.model}, not asked of an LLM; persona_blocks[{persona_id!r}] holds what the model used"
        )

    def summary(self) -> Summary:
        shares = self.aggregate()
        modal = shares.groupby("question_id", sort=False)["share"].idxmax()
        top = shares.loc[modal, ["question_id", "option", "share"]]
        per_q = top.set_index("question_id").rename(columns={"option": "modal option", "share": "modal share"})
        facts: dict[str, object] = {
            "method": self.method,
            "model": self.model,
            "personas": self.answers["persona_id"].nunique(),
            "questions": len(self.questions),
            "persona x question pairs": len(self.answers.drop_duplicates(["persona_id", "question_id"])),
            "predictors": self.settings.get("predictors"),
        }
        notes = ["Answers are a demographic model's predictions, not LLM replies: a baseline to compare LLM "
                 "personas with (does the LLM know more than the persona's demographics?)."]
        return Summary(title="Persona survey simulation (respondent model)", facts=facts,
                       tables={"Per question (unweighted over personas)": per_q.head(40)}, notes=notes)


def simulate_respondents(personas: pd.DataFrame, questions: Sequence[Question], model: RespondentModel,
                         ids: list[Any], keep: list[str], *, progress: bool) -> RespondentSimulationResult:
    """simulate()'s path for a respondent model (inputs already checked by simulate)."""
    known = tuple(model.question_ids)
    unknown = [q.id for q in questions if q.id not in known]
    if unknown:
        raise BackendCapabilityError(
            f"{model.model} cannot answer questions {unknown}: it answers only {list(known)}; "
            "drop the others or simulate them with an LLM backend"
        )
    frames = []
    for q in tqdm(questions, desc="predicting", disable=not progress):
        probs = np.asarray(model.predict_distributions(personas, q), dtype=float)
        _check(probs, q, len(ids), model.model)
        frames.append(_question_rows(q, probs, ids, personas, keep))
    answers = pd.concat(frames, ignore_index=True)
    answers["method"] = METHOD
    answers["prompt_version"] = "none"
    answers["model"] = str(model.model)
    describe = getattr(model, "describe_personas", None)  # optional: what the model used of each persona
    texts = describe(personas, [q.id for q in questions]) if describe is not None else [""] * len(ids)
    blocks = dict(zip(ids, texts))
    return RespondentSimulationResult(
        answers=answers, failures=pd.DataFrame(columns=["persona_id", "question_id", "reason"]), method=METHOD,
        model=str(model.model), prompt_version="none", prompt_format="none",
        settings={"predictors": getattr(model, "predictors", None), "shuffle_options": False},
        questions=tuple(questions),
        persona_blocks=blocks, replies=None,
    )


def _check(probs: np.ndarray, q: Question, n: int, name: str) -> None:
    if probs.shape != (n, q.n_options):
        raise DistributionError(
            f"{name} returned shape {probs.shape} for question {q.id!r}; expected {(n, q.n_options)}")
    if not np.isfinite(probs).all() or (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-9):
        raise DistributionError(f"{name} returned answer probabilities for {q.id!r} that are not distributions")


def _question_rows(q: Question, probs: np.ndarray, ids: list[Any], personas: pd.DataFrame,
                   keep: list[str]) -> pd.DataFrame:
    n, k = probs.shape
    options = q.to_frame()
    frame = pd.DataFrame({"persona_id": np.repeat(np.array(ids, dtype=object), k)})
    for column in keep:
        frame[column] = np.repeat(personas[column].to_numpy(), k)
    for column in ("question_id", "option_index", "option"):
        frame[column] = np.tile(options[column].to_numpy(), n)
    frame["letter"] = np.tile(np.array(LETTERS[:k], dtype=object), n)
    for column in ("position", "is_refusal", "party"):
        frame[column] = np.tile(options[column].to_numpy(), n)
    frame["party"] = frame["party"].astype("str")
    frame["probability"] = probs.reshape(-1)
    return frame
