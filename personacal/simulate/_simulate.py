"""simulate(): personas answer survey questions through an LLM backend."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._random import RandomState, check_random_state, derive_seed, item_rng
from .._validation import InstanceOf, Interval, Options, check_param, check_params
from ..backends import Backend, BaseBackend, Prompt, SamplingParams
from ..errors import (
    BackendCapabilityError,
    BackendError,
    DiagnosticsWarning,
    InputError,
)
from ._banks import load_question_bank
from ._distributions import (
    MISSING_RULES,
    letter_probabilities,
    option_order,
    reply_counts,
    to_original_order,
)
from ._parse import parse_choice
from ._prompts import (
    PROMPT_FORMATS,
    TEMPLATES,
    build_prompt,
    option_letters,
    render_persona,
)
from ._question import Question
from ._respondent import RespondentModel, simulate_respondents
from ._result import SimulationResult

__all__ = ["simulate", "METHODS", "SETTINGS"]

logger = logging.getLogger(__name__)
METHODS = ("logprobs", "sample")
#: What each setting of :func:`simulate` may be; the decoding ones mirror ``SamplingParams``.
SETTINGS = {
    "method": Options(METHODS),
    "missing_option": Options(MISSING_RULES),
    "prompt_format": Options(PROMPT_FORMATS),
    "template": Options(sorted(TEMPLATES)),
    "n_samples": Interval("int", 1, None),
    "temperature": Interval("real", 0, 5),
    "top_p": Interval("real", 0, 1, closed="right"),
    "max_tokens": Interval("int", 1, None),
}


@dataclass(frozen=True)
class _Item:
    """One persona x question request."""

    persona_id: Any
    question: Question
    order: np.ndarray  # original option indices, in the order shown
    seed: int
    prompt: Prompt

    @property
    def letters(self) -> tuple[str, ...]:
        return option_letters(len(self.order))


def simulate(
    personas: pd.DataFrame,
    questions: Question | Sequence[Question] | str,
    backend: Backend,
    *,
    method: str = "logprobs",
    n_samples: int = 1,
    temperature: float = 0.95,
    top_p: float = 1.0,
    max_tokens: int = 16,
    constrain_replies: bool = False,
    shuffle_options: bool = True,
    missing_option: str = "opinionqa",
    prompt_format: str = "chat",
    template: str = "survey-v1",
    persona_columns: Sequence[str] | None = None,
    keep_columns: Sequence[str] | None = None,
    random_state: RandomState = None,
    progress: bool = True,
) -> SimulationResult:
    """Ask every persona every question and return their answer distributions.

    Parameters
    ----------
    personas
        One row per persona. ``persona_id`` column (else the index) identifies
        them; a non-empty ``description`` column is used as the persona text,
        otherwise the attributes are listed (see ``persona_columns``).
    questions
        Questions, one Question, or a bank name for :func:`load_question_bank`.
    backend
        Any :class:`personacal.backends.Backend`; every request goes to it in
        one batch, persona by persona, so a prefix cache reuses each persona's
        prompt prefix across its questions. Or a respondent model
        (:class:`RespondentModel`, e.g. :class:`DemographicModel`): it predicts
        each persona's answer distribution from the persona's attributes, no
        prompt is built, and the decoding settings below do not apply.
    method
        ``"logprobs"`` (OpinionQA / SubPOP): one forward pass per persona x
        question, probability of each option letter as the reply's first
        token, renormalised over the options (a letter's probability counts
        both "A" and " A"; the backends add them, OpinionQA took the larger).
        ``"sample"`` (the seed paper):
        ``n_samples`` replies at ``temperature``, each parsed to an option. The
        distribution is renormalised over the PARSED replies (probability = count /
        (n_replies - n_unparseable)): an unparseable reply is item nonresponse, not
        an opinion, as the paper treats replies it could not read. Unparseable
        replies are counted (n_unparseable, unparseable_share per pair), a pair
        whose replies are all unparseable has no distribution (NaN, in
        ``failures``), and :attr:`SimulationResult.parse_rate` / ``summary()`` put
        the parse rate first, so a low rate cannot hide behind renormalised shares.
    n_samples, temperature, top_p, max_tokens
        Decoding settings of ``method="sample"`` (the paper drew one reply at
        temperature 0.95; ``top_p=1`` samples the model's own distribution).
    constrain_replies
        ``method="sample"``: guided decoding restricts every reply to one of
        the option letters (the backend must support ``SamplingParams.choices``),
        so no reply is unparseable. Off by default, as in the paper.
    shuffle_options
        Show substantive options in a random order per persona x question
        (refusal options stay last); letters are mapped back to the options.
    missing_option
        ``"opinionqa"`` or ``"zero"``: how a letter the backend did not return
        is scored (see :func:`letter_probabilities`). Backends that score every
        letter exactly (vLLM offline) never miss one.
    prompt_format
        ``"chat"`` (system + user messages) or ``"text"`` (one completion prompt).
    template
        Version of the prompt template (see ``TEMPLATES``); recorded per row.
    persona_columns
        Attributes to describe when a persona has no description (default:
        all but persona_id, weight and description).
    keep_columns
        Persona columns copied into the output (default: ``region`` if present).
    random_state
        Seeds the option orders and the per-request sampling seeds. Each
        persona x question draws from its own stream keyed by the run seed and
        the two ids, so results do not depend on which others are in the run.
    progress
        Show progress bars while building prompts and reading replies.
    """
    func = "simulate"
    check_params(func, SETTINGS, {"method": method, "missing_option": missing_option, "prompt_format": prompt_format,
                                  "template": template, "n_samples": n_samples, "temperature": temperature,
                                  "top_p": top_p, "max_tokens": max_tokens})
    questions = _as_questions(questions)
    ids = _persona_ids(personas)
    keep = _keep_columns(personas, keep_columns)
    if isinstance(backend, RespondentModel):  # answers from persona attributes: no prompts (see _respondent.py)
        return simulate_respondents(personas, questions, backend, ids, keep, progress=progress)
    run_seed = derive_seed(check_random_state(random_state, func=func))
    check_param(func, "backend", backend, InstanceOf(
        Backend, name="an implementation of personacal.backends.Backend (model, generate, option_logprobs)"))

    blocks = {}
    items: list[_Item] = []
    records = personas.to_dict(orient="records")
    for pid, row in tqdm(zip(ids, records), total=len(ids), desc="prompts", disable=not progress):
        blocks[pid] = render_persona(row, columns=persona_columns)
        for q in questions:
            rng = item_rng(run_seed, str(pid), q.id)
            order = option_order(rng, np.array(q.is_refusal), shuffle=shuffle_options)
            prompt = build_prompt(blocks[pid], q, order, template=TEMPLATES[template], prompt_format=prompt_format)
            items.append(_Item(pid, q, order, derive_seed(rng), prompt))
    logger.info("simulate: %d personas x %d questions = %d requests (%s)", len(ids), len(questions), len(items), method)

    settings: dict[str, Any] = {"run_seed": run_seed, "shuffle_options": shuffle_options}
    replies = None
    if method == "logprobs":
        columns, failures = _score_logprobs(items, backend, missing_option, progress)
        settings["missing_option"] = missing_option
    else:
        params = [
            SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, n=n_samples, seed=it.seed,
                           choices=it.letters if constrain_replies else None)
            for it in items
        ]
        columns, failures, replies = _score_samples(items, backend, params, n_samples, progress)
        settings.update(n_samples=n_samples, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                        constrain_replies=constrain_replies)

    answers = _answers_frame(items, columns, personas.assign(_pid=ids).set_index("_pid"), keep)
    answers["method"] = method
    answers["prompt_version"] = template
    answers["model"] = str(backend.model)
    failures_frame = pd.DataFrame(failures, columns=["persona_id", "question_id", "reason"])
    if len(failures_frame):
        warnings.warn(
            f"simulate: {len(failures_frame)} of {len(items)} persona x question pairs have no distribution "
            f"(probability NaN); see SimulationResult.failures",
            DiagnosticsWarning,
            stacklevel=2,
        )
    return SimulationResult(
        answers=answers,
        failures=failures_frame,
        method=method,
        model=str(backend.model),
        prompt_version=template,
        prompt_format=prompt_format,
        settings=settings,
        questions=tuple(questions),
        persona_blocks=blocks,
        replies=replies,
    )


# -- the two methods ----------------------------------------------------------
def _score_logprobs(items: list[_Item], backend: Backend, missing: str, progress: bool):
    prompts, letters = [it.prompt for it in items], [it.letters for it in items]
    if isinstance(backend, BaseBackend):  # OptionScores carry the unseen mass the missing-option rule needs
        scores = backend.score_options(prompts, letters, progress=progress)
    else:
        scores = backend.option_logprobs(prompts, letters)
    _check_count(scores, items, "option_logprobs")
    cols: dict[str, list[np.ndarray]] = {"probability": [], "logprob": [], "letter_missing": [], "option_mass": []}
    failures = []
    for it, score in tqdm(zip(items, scores), total=len(items), desc="scores", disable=not progress):
        lp, unseen, min_lp = _unpack_scores(score, len(it.letters))
        if missing == "opinionqa" and not np.isfinite(lp).all() and unseen is None:
            raise BackendCapabilityError(
                f"backend {type(backend).__name__} left option letters unscored but did not report the mass outside "
                "its top-k, which the 'opinionqa' missing-option rule needs; pass missing_option='zero' to score "
                "unreturned letters 0, or use a backend that returns OptionScores"
            )
        probs, mass, not_returned = letter_probabilities(
            lp, unseen_mass=unseen, min_reported_logprob=min_lp, missing=missing
        )
        if np.isnan(probs).any():
            failures.append((it.persona_id, it.question.id, "no option letter among the tokens the backend returned"))
        cols["probability"].append(to_original_order(probs, it.order))
        cols["logprob"].append(to_original_order(lp, it.order))
        cols["letter_missing"].append(to_original_order(not_returned, it.order))
        cols["option_mass"].append(np.full(len(lp), mass))
    return cols, failures


def _score_samples(items: list[_Item], backend: Backend, params: list[SamplingParams], n: int, progress: bool):
    prompts = [it.prompt for it in items]
    if isinstance(backend, BaseBackend):
        outputs = backend.generate(prompts, params, progress=progress)
    else:
        outputs = backend.generate(prompts, params)
    _check_count(outputs, items, "generate")
    cols: dict[str, list[np.ndarray]] = {
        "probability": [], "count": [], "n_replies": [], "n_unparseable": [], "unparseable_share": []}
    failures, reply_rows = [], []
    for it, out in tqdm(zip(items, outputs), total=len(items), desc="replies", disable=not progress):
        if len(out.texts) != n:
            raise BackendError(f"backend returned {len(out.texts)} replies for one prompt; asked for n={n}")
        shown = [it.question.options[i] for i in it.order]
        choices = np.array([_choice(parse_choice(text, it.letters, shown)) for text in out.texts])
        counts, n_bad = reply_counts(choices, len(it.order))
        parsed = n - n_bad
        probs = counts / parsed if parsed else np.full(len(counts), np.nan)
        if not parsed:
            failures.append((it.persona_id, it.question.id, f"all {n} replies unparseable"))
        cols["probability"].append(to_original_order(probs, it.order))
        cols["count"].append(to_original_order(counts, it.order))
        for name, value in (("n_replies", n), ("n_unparseable", n_bad), ("unparseable_share", n_bad / n)):
            cols[name].append(np.full(len(counts), value))
        for k, (text, c) in enumerate(zip(out.texts, choices)):
            reply_rows.append((it.persona_id, it.question.id, k, text,
                               it.letters[c] if c >= 0 else None, shown[c] if c >= 0 else None))
    replies = pd.DataFrame(reply_rows, columns=["persona_id", "question_id", "reply_index", "text", "letter", "option"])
    return cols, failures, replies


def _choice(index: int | None) -> int:
    return -1 if index is None else index


def _unpack_scores(score: Any, n_letters: int) -> tuple[np.ndarray, float | None, float | None]:
    """Accept OptionScores (logprobs, unseen_mass, meta) or a bare array from the protocol."""
    lp = np.asarray(getattr(score, "logprobs", score), dtype=float)
    if lp.shape != (n_letters,):
        raise BackendError(f"backend returned {lp.shape} option log-probabilities for {n_letters} option letters")
    unseen = getattr(score, "unseen_mass", None)
    meta = getattr(score, "meta", None) or {}
    min_lp = meta.get("min_reported_logprob")
    if min_lp is None and meta.get("top_logprobs"):
        top = meta["top_logprobs"]
        min_lp = min(top.values()) if isinstance(top, dict) else min(top)
    return lp, unseen, min_lp


def _check_count(results: Sequence[Any], items: list[_Item], call: str) -> None:
    if len(results) != len(items):
        raise BackendError(f"backend.{call} returned {len(results)} results for {len(items)} prompts")


# -- inputs and the output frame ----------------------------------------------
def _as_questions(questions: Question | Sequence[Question] | str) -> list[Question]:
    if isinstance(questions, str):
        questions = load_question_bank(questions)
    elif isinstance(questions, Question):
        questions = [questions]
    questions = list(questions)
    if not questions:
        raise InputError("`questions` of simulate must not be empty")
    bad = [type(q).__name__ for q in questions if not isinstance(q, Question)]
    if bad:
        raise InputError(f"`questions` of simulate must be Question objects or a bank name; got {bad[:3]}")
    ids = [q.id for q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"`questions` of simulate must have unique ids; duplicated: {dupes}")
    return questions


def _persona_ids(personas: pd.DataFrame) -> list[Any]:
    check_param("simulate", "personas", personas, InstanceOf(pd.DataFrame, name="a pandas DataFrame"))
    if len(personas) == 0:
        raise InputError("`personas` of simulate must have at least one row")
    ids = personas["persona_id"] if "persona_id" in personas.columns else pd.Series(personas.index)
    if ids.isna().any():
        raise InputError("`persona_id` of the personas passed to simulate must not be missing")
    if ids.duplicated().any():
        raise InputError(
            f"`persona_id` of the personas passed to simulate must be unique; duplicated: "
            f"{ids[ids.duplicated()].unique()[:5].tolist()}"
        )
    return ids.tolist()


def _keep_columns(personas: pd.DataFrame, keep: Sequence[str] | None) -> list[str]:
    if keep is None:
        return ["region"] if "region" in personas.columns else []
    missing = [c for c in keep if c not in personas.columns]
    if missing:
        raise InputError(f"`keep_columns` of simulate names columns the personas do not have: {missing}")
    return [c for c in keep if c != "persona_id"]


def _answers_frame(items: list[_Item], cols: dict[str, list[np.ndarray]], personas: pd.DataFrame,
                   keep: list[str]) -> pd.DataFrame:
    sizes = [len(it.order) for it in items]
    persona_ids = np.repeat(np.array([it.persona_id for it in items], dtype=object), sizes)
    frame = pd.DataFrame({"persona_id": persona_ids})
    for column in keep:
        frame[column] = personas[column].reindex(persona_ids).to_numpy()
    per_question = {}
    for it in items:
        if it.question.id not in per_question:
            per_question[it.question.id] = {k: v.to_numpy() for k, v in it.question.to_frame().items()}
    for column in ("question_id", "option_index", "option"):
        frame[column] = np.concatenate([per_question[it.question.id][column] for it in items])
    shown = []
    for it in items:
        letter = np.empty(len(it.order), dtype=object)
        letter[it.order] = it.letters
        shown.append(letter)
    frame["letter"] = np.concatenate(shown)
    for column in ("position", "is_refusal", "party"):
        frame[column] = np.concatenate([per_question[it.question.id][column] for it in items])
    frame["party"] = frame["party"].astype("str")
    for name, parts in cols.items():
        frame[name] = np.concatenate(parts)
    return frame
