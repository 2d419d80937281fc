"""Versioned prompt templates of the LLM-written persona tiers, and their renderers.

Layout: the system message holds the instructions, the census facts (stated
as authoritative) and what earlier tiers established; the user message holds
the task. Instructions and facts come first so a prefix-caching engine reuses
them across a persona's attempts. Every output row records the template's
version; change a template's text only under a new version.

The JSON tiers' field guide is written from the pydantic schema itself, so
the prompt and the guided-decoding schema cannot drift apart (a schema change
therefore also needs a new template version).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..backends import ChatMessage, Prompt
from .._validation import Options, check_param
from ..simulate import render_persona

__all__ = ["TierTemplate", "TEMPLATES", "DEFAULT_TEMPLATES", "render_census", "render_previous", "field_guide",
           "build_tier_prompt", "describe_problems", "PROMPT_FORMATS"]

PROMPT_FORMATS = ("chat", "text")


@dataclass(frozen=True)
class TierTemplate:
    """One version of a tier's prompt.

    ``system`` takes ``{census}`` (the census facts) and ``{previous}`` (the
    earlier tiers' block, or nothing); ``task`` takes ``{fields}`` (the JSON
    tiers' field guide); ``correction`` is appended to the task when a persona
    is regenerated after a contradiction and takes ``{problems}``.
    """

    version: str
    tier: str
    system: str
    previous: str
    task: str
    correction: str


_SYSTEM = (
    "You write realistic profiles of individual residents of the United States for a population study. "
    "The census facts below come from official statistics about this person. They are authoritative: "
    "never change, contradict, soften or reinterpret them, and keep everything you add consistent with them.\n\n"
    "### CENSUS FACTS (authoritative) ###\n{census}{previous}"
)
_PREVIOUS = "\n\n### ALREADY ESTABLISHED ABOUT THIS PERSON ###\n{previous}"
_CORRECTION = (
    "\n\nA previous draft contradicted the census facts: {problems}. "
    "Write a new version that keeps every census fact exactly as given."
)

TEMPLATES: dict[str, TierTemplate] = {
    "objective-v1": TierTemplate(
        version="objective-v1",
        tier="objective",
        system=_SYSTEM,
        previous=_PREVIOUS,
        task=(
            "Write this person's objective profile: measurable facts about their work, household and housing "
            "that the census facts do not give. Reply with one JSON object with exactly these fields:\n{fields}\n"
            "Reply with the JSON object only."
        ),
        correction=_CORRECTION,
    ),
    "subjective-v1": TierTemplate(
        version="subjective-v1",
        tier="subjective",
        system=_SYSTEM,
        previous=_PREVIOUS,
        task=(
            "Describe this person's attitudes and personality as this particular person holds them, not as a "
            "typical or idealised person would. Reply with one JSON object with exactly these fields:\n{fields}\n"
            "Reply with the JSON object only."
        ),
        correction=_CORRECTION,
    ),
    "subjective-v2": TierTemplate(
        version="subjective-v2",
        tier="subjective",
        system=_SYSTEM,
        previous=_PREVIOUS,
        task=(
            "Describe this person's attitudes and personality as this particular person holds them, not as a "
            "typical or idealised person would, and how they say they voted in the 2020 presidential election. "
            "Reply with one JSON object with exactly these fields:\n{fields}\nReply with the JSON object only."
        ),
        correction=_CORRECTION,
    ),
    "descriptive-v1": TierTemplate(
        version="descriptive-v1",
        tier="descriptive",
        system=_SYSTEM,
        previous=_PREVIOUS,
        task=(
            "Write a narrative of 120 to 250 words in this person's own voice (first person) about their daily "
            "life, background, work, family and views. State their age, sex, race and ethnicity, education, "
            "employment and marital status only as the census facts give them. Reply with the narrative only."
        ),
        correction=_CORRECTION,
    ),
}
DEFAULT_TEMPLATES = {"objective": "objective-v1", "subjective": "subjective-v2", "descriptive": "descriptive-v1"}

#: Prompt labels of personacal's own census columns (others keep render_persona's label).
CENSUS_LABELS = {
    "age": "Age group (years)",
    "sex": "Sex",
    "race_eth": "Race and Hispanic origin",
    "race": "Race",
    "race4": "Race",
    "race3": "Race",
    "education": "Education",
    "education3": "Education",
    "education4": "Education",
    "education5": "Education",
    "employment": "Employment status",
    "employment3": "Employment status",
    "marital": "Marital status",
    "marital2": "Marital status",
    "income": "Household income",
    "occupation": "Occupation group",
    "region": "State or region",
}


def render_census(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    """The census facts of one persona as ``- Label: value`` lines (via simulate's persona renderer)."""
    labelled: dict[str, Any] = {}
    for column in columns:
        label = CENSUS_LABELS.get(str(column), str(column))
        labelled[label if label not in labelled else str(column)] = row[column]
    return render_persona(labelled, columns=list(labelled))


def render_previous(fields: Mapping[str, Any]) -> str:
    """Earlier tiers' fields (flattened, lists as JSON text) as ``- Label: value`` lines."""
    shown = {}
    for name, value in fields.items():
        if isinstance(value, str) and value.startswith("["):
            try:
                value = ", ".join(map(str, json.loads(value)))
            except json.JSONDecodeError:
                pass
        shown[name] = value
    return render_persona(shown, columns=list(shown))


def field_guide(model: type[BaseModel]) -> str:
    """One line per field of a tier schema: name, what it holds, allowed values."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    lines = []
    for name, prop in schema["properties"].items():
        lines.append(f"- {name}: {_describe(prop, defs)}")
    return "\n".join(lines)


def _describe(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    if "$ref" in prop:
        sub = defs[prop["$ref"].rsplit("/", 1)[-1]]
        parts = [f"{k} ({_describe(v, defs)})" for k, v in sub["properties"].items()]
        return "an object with " + ", ".join(parts)
    note = f"{prop['description']}; " if prop.get("description") else ""
    if "enum" in prop:
        return note + "one of " + ", ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind == "integer":
        return note + f"integer from {prop.get('minimum', '…')} to {prop.get('maximum', '…')}"
    if kind == "boolean":
        return note + "true or false"
    if kind == "array":
        items = prop.get("items", {})
        most = items.get("maxLength")
        size = f" of at most {most} characters" if most else ""
        return note + f"list of {prop.get('minItems', 0)} to {prop.get('maxItems', '…')} short phrases{size}"
    if kind == "string":
        return note + f"text of at most {prop.get('maxLength', '…')} characters"
    return note + str(kind)


def describe_problems(problems: Sequence[Any]) -> str:
    """``"it stated marital status 'Divorced' although the census says 'Married'"`` for each contradiction."""
    return "; ".join(
        f"it stated {p.attribute} {p.stated_value!r} although the census says {p.census_value!r}" for p in problems
    )


def build_tier_prompt(
    template: TierTemplate,
    census_block: str,
    previous_block: str | None,
    *,
    fields: str = "",
    problems: str | None = None,
    prompt_format: str = "chat",
) -> Prompt:
    """The prompt of one persona's attempt."""
    previous = template.previous.format(previous=previous_block) if previous_block else ""
    system = template.system.format(census=census_block, previous=previous)
    user = template.task.format(fields=fields)
    if problems:
        user += template.correction.format(problems=problems)
    check_param("build_tier_prompt", "prompt_format", prompt_format, Options(PROMPT_FORMATS))
    if prompt_format == "chat":
        return (ChatMessage("system", system), ChatMessage("user", user))
    return system + "\n\n" + user + "\n\n"
