"""Versioned prompt templates and the persona/question renderers.

Layout, first to last: [instructions][persona block][question block]. The
instructions are the same for everybody and the persona block the same for all
of one persona's questions, so a prefix-caching engine (vLLM
``enable_prefix_caching``) computes each persona's prefix once. Every output
row records the template's version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..backends import ChatMessage, Prompt
from .._validation import Options, check_param
from ..errors import InputError
from ._question import LETTERS, Question

__all__ = ["PromptTemplate", "TEMPLATES", "DEFAULT_TEMPLATE", "render_persona", "build_prompt", "option_letters"]


@dataclass(frozen=True)
class PromptTemplate:
    """One version of the survey prompt.

    ``instructions`` and ``persona`` form the system message (``{persona}``
    is the rendered persona); ``question`` is the user message with
    ``{question}``, ``{options}`` (one ``option_line`` per option, in the
    order shown) and ``{letter_list}`` ("A, B, C or D").
    """

    version: str
    instructions: str
    persona: str
    question: str
    option_line: str = "{letter}. {option}"


TEMPLATES: dict[str, PromptTemplate] = {
    "survey-v1": PromptTemplate(
        version="survey-v1",
        instructions=(
            "You are taking part in a public opinion survey. Answer each question as the person described "
            "below would answer it, given their background, circumstances and views. Reply with the letter "
            "of exactly one option."
        ),
        persona="### PERSONA ###\n{persona}",
        question="### QUESTION ###\n{question}\n\n{options}\n\nAnswer with one letter ({letter_list}).\nAnswer:",
    ),
}
DEFAULT_TEMPLATE = "survey-v1"
PROMPT_FORMATS = ("chat", "text")

#: Values that mean "this attribute does not apply" in persona tables (e.g. the paper's meta personas).
_NOT_APPLICABLE = {"", "not applicable", "n/a", "na", "nan", "none"}


def option_letters(n: int) -> tuple[str, ...]:
    return LETTERS[:n]


def render_persona(
    row: Mapping[str, Any],
    *,
    columns: Sequence[str] | None = None,
    description_column: str = "description",
    exclude: Sequence[str] = ("persona_id", "weight"),
) -> str:
    """The persona block's text for one persona.

    A non-empty ``description`` (written by an LLM persona tier) is used as
    is. Otherwise each attribute becomes a line ``"- Label: value"`` (labels
    from the column names, ``"LABOR FORCE STATUS"`` -> ``"Labor force
    status"``), for ``columns`` or else every column except ``exclude``,
    the description column and names starting with ``_``. Missing values and
    "Not Applicable" are left out: they describe nothing about the person.
    """
    description = row.get(description_column)
    if isinstance(description, str) and description.strip():
        return description.strip()
    if columns is None:
        skip = set(exclude) | {description_column}
        columns = [c for c in row if c not in skip and not str(c).startswith("_")]
    else:
        unknown = [c for c in columns if c not in row]
        if unknown:
            raise InputError(f"`persona_columns` names columns the personas do not have: {unknown}")
    lines = [f"- {_label(c)}: {_value(row[c])}" for c in columns if not _is_blank(row[c])]
    if not lines:
        raise InputError(
            f"persona {row.get('persona_id', '?')!r} renders to an empty description: no non-missing "
            f"attributes among {list(columns)} and no `{description_column}` text"
        )
    return "\n".join(lines)


def build_prompt(
    persona_block: str,
    question: Question,
    order: Sequence[int],
    *,
    template: PromptTemplate,
    prompt_format: str = "chat",
) -> Prompt:
    """The prompt for one persona x question, options shown in ``order`` (original indices)."""
    letters = option_letters(len(order))
    option_lines = "\n".join(
        template.option_line.format(letter=letter, option=question.options[i]) for letter, i in zip(letters, order)
    )
    letter_list = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    system = template.instructions + "\n\n" + template.persona.format(persona=persona_block)
    user = template.question.format(question=question.text.strip(), options=option_lines, letter_list=letter_list)
    check_param("build_prompt", "prompt_format", prompt_format, Options(PROMPT_FORMATS))
    if prompt_format == "chat":
        return (ChatMessage("system", system), ChatMessage("user", user))
    return system + "\n\n" + user


def _label(column: Any) -> str:
    text = str(column).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text.isupper() or "_" in str(column) else text[:1].upper() + text[1:]


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip().casefold() in _NOT_APPLICABLE


def _value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
