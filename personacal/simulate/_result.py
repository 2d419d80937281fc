"""SimulationResult: the tidy answers of a simulate() run and what produced them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._summary import Summary, one_line_repr
from .._validation import renamed_parameters
from ..backends import Prompt
from ..errors import InputError
from ._prompts import TEMPLATES, build_prompt
from ._question import LETTERS, Question

__all__ = ["SimulationResult"]


@dataclass(frozen=True)
class SimulationResult:
    """Answer distributions of personas to questions.

    Attributes
    ----------
    answers
        One row per persona x question x option (see :meth:`to_frame`).
    failures
        One row per persona x question whose distribution is undefined
        (persona_id, question_id, reason); their ``probability`` is NaN.
    replies
        ``method="sample"`` only: every reply (persona_id, question_id,
        reply_index, text, letter, option; letter/option missing when
        unparseable).
    method, model, prompt_version, prompt_format, settings
        How the answers were produced; ``settings`` holds the run seed and
        the decoding / missing-option settings.
    questions, persona_blocks
        The questions and each persona's rendered description, so
        :meth:`prompt` can rebuild any prompt exactly.
    """

    answers: pd.DataFrame
    failures: pd.DataFrame
    method: str
    model: str
    prompt_version: str
    prompt_format: str
    settings: dict[str, Any]
    questions: tuple[Question, ...]
    persona_blocks: Mapping[Any, str] = field(repr=False)
    replies: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The tidy answers.

        Always: persona_id, (kept persona columns such as region), question_id,
        option_index (position in the question's own option list), option,
        letter (the letter it was shown under), position, is_refusal, party,
        probability, method, prompt_version, model.
        ``logprobs`` adds logprob (of the letter; -inf when not returned),
        letter_missing (not returned: scored by the missing-option rule) and option_mass
        (unrenormalised first-token mass on the letters that were returned,
        per persona x question). ``sample`` adds count, n_replies,
        n_unparseable and unparseable_share (per persona x question);
        probability = count / (n_replies - n_unparseable).
        """
        return self.answers.copy()

    @property
    def parse_rate(self) -> float:
        """Share of the model's output that became an answer.

        ``method="sample"``: parsed replies / all replies (the rest are unparseable and
        left out of the renormalised distributions); ``"logprobs"``: persona x question
        pairs with a distribution / all pairs.
        """
        pairs = self.answers.drop_duplicates(["persona_id", "question_id"])
        if self.method == "sample":
            total = float(pairs["n_replies"].sum())
            return float((total - pairs["n_unparseable"].sum()) / total) if total else float("nan")
        return 1.0 - len(self.failures) / len(pairs) if len(pairs) else float("nan")

    def prompt(self, persona_id: Any, question_id: str) -> Prompt:
        """The exact prompt that was sent for one persona x question."""
        if persona_id not in self.persona_blocks:
            raise InputError(f"`persona_id` {persona_id!r} is not in this SimulationResult")
        question = next((q for q in self.questions if q.id == question_id), None)
        if question is None:
            raise InputError(f"`question_id` {question_id!r} is not in this SimulationResult")
        rows = self.answers[(self.answers["persona_id"] == persona_id) & (self.answers["question_id"] == question_id)]
        by_letter = dict(zip(rows["letter"], rows["option_index"]))
        order = [int(by_letter[letter]) for letter in LETTERS[: len(by_letter)]]
        return build_prompt(
            self.persona_blocks[persona_id], question, order,
            template=TEMPLATES[self.prompt_version], prompt_format=self.prompt_format,
        )

    @renamed_parameters(by="group")
    def aggregate(self, group: str | Sequence[str] | None = None, weights: pd.Series | None = None) -> pd.DataFrame:
        """Population answer shares: the (weighted) mean of persona distributions.

        ``group`` names kept persona columns to group by (e.g. ``"region"``; it was called
        ``by`` before); ``weights`` is a Series of persona weights indexed by persona_id
        (default: equal). Failed persona x question pairs are left out of that question's
        mean. Columns: [group...], question_id, option_index, option, position,
        is_refusal, party, share, n_personas.
        """
        group = [] if group is None else [group] if isinstance(group, str) else list(group)
        missing = [c for c in group if c not in self.answers.columns]
        if missing:
            raise InputError(f"`group` of aggregate names columns the answers do not have: {missing}")
        frame = self.answers[self.answers["probability"].notna()].copy()
        if weights is None:
            frame["_w"] = 1.0
        else:
            unknown = set(frame["persona_id"]) - set(weights.index)
            if unknown:
                raise InputError(f"`weights` of aggregate has no weight for persona_id {sorted(unknown)[:5]}")
            w = weights.reindex(frame["persona_id"]).to_numpy(dtype=float)
            if not np.isfinite(w).all() or (w < 0).any():
                raise InputError("`weights` of aggregate must be finite and non-negative")
            frame["_w"] = w
        frame["_wp"] = frame["_w"] * frame["probability"]
        keys = group + ["question_id", "option_index", "option", "position", "is_refusal", "party"]
        grouped = frame.groupby(keys, dropna=False, sort=False)
        out = grouped[["_wp", "_w"]].sum()
        out["share"] = out["_wp"] / out["_w"]
        out["n_personas"] = grouped["persona_id"].nunique()
        return out.drop(columns=["_wp", "_w"]).reset_index()

    def __repr__(self) -> str:
        return one_line_repr(self, method=self.method, model=self.model,
                             personas=int(self.answers["persona_id"].nunique()), questions=len(self.questions),
                             failures=len(self.failures), parse_rate=self.parse_rate)

    def summary(self) -> Summary:
        a = self.answers
        pairs = a.drop_duplicates(["persona_id", "question_id"])
        facts: dict[str, object] = {
            "parse rate": (f"{self.parse_rate:.1%} of replies parsed to an option" if self.method == "sample"
                           else f"{self.parse_rate:.1%} of persona x question pairs have a distribution"),
            "method": self.method,
            "model": self.model,
            "prompt version": self.prompt_version,
            "personas": a["persona_id"].nunique(),
            "questions": len(self.questions),
            "persona x question pairs": len(pairs),
            "failures": len(self.failures),
            "option order": "shuffled per persona x question" if self.settings.get("shuffle_options") else "fixed",
            "run seed": self.settings.get("run_seed"),
        }
        notes = []
        if self.method == "sample":
            notes.append("probability = count / parsed replies: unparseable replies are left out (item "
                         "nonresponse), so read the shares together with the parse rate.")
            facts["replies per pair"] = self.settings.get("n_samples")
            facts["temperature"] = self.settings.get("temperature")
            facts["unparseable share of replies"] = float(pairs["n_unparseable"].sum() / pairs["n_replies"].sum())
            per_q = pairs.groupby("question_id", sort=False).agg(
                unparseable_share=("unparseable_share", "mean"))
        else:
            facts["missing-option rule"] = self.settings.get("missing_option")
            facts["mean first-token mass on option letters"] = float(pairs["option_mass"].mean())
            facts["share of option letters not returned"] = float(a["letter_missing"].mean())
            per_q = pairs.groupby("question_id", sort=False).agg(option_mass=("option_mass", "mean"))
            notes.append("option_mass = unrenormalised first-token probability of the option letters; "
                         "low values mean the model mostly wanted to start its reply with something else.")
            if a["letter_missing"].any():
                notes.append(
                    f"{a['letter_missing'].mean():.1%} of option letters were not among the tokens the backend "
                    f"returned; they were scored by the {self.settings.get('missing_option')!r} missing-option rule."
                )
        shares = self.aggregate()
        top = shares.loc[shares.groupby("question_id", sort=False)["share"].idxmax(), ["question_id", "option", "share"]]
        per_q = per_q.join(top.set_index("question_id").rename(columns={"option": "modal option", "share": "modal share"}))
        if len(self.failures):
            notes.append(f"{len(self.failures)} persona x question pairs failed; see .failures.")
        return Summary(title="Persona survey simulation", facts=facts,
                       tables={"Per question (unweighted over personas)": per_q.head(40)}, notes=notes)
