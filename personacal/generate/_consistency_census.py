"""Census attribute values read into facts: the categories (or age interval) a persona may have.

Columns are recognised by name (:data:`COLUMN_KINDS`) or named explicitly; every
value is read by explicit keyword rules, so personacal's own labels, the ACS
labels and the seed paper's ("Now married, except separated", "65 to 74 years")
all work. A value no rule understands raises, naming the column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._validation import Options, check_param
from ..errors import InputError, MappingError
from ._consistency_rules import RACE_ALL

__all__ = ["COLUMN_KINDS", "KINDS", "Fact", "census_facts", "resolve_census_columns"]

#: Normalised column name -> the kind of census value it holds.
COLUMN_KINDS = {
    "age": "age", "age_group": "age", "agegroup": "age", "agep": "age",
    "sex": "sex", "gender": "sex",
    "race_eth": "race_eth", "race_eth4": "race_eth", "raceeth": "race_eth",
    "race": "race", "race7": "race", "race4": "race4", "race3": "race3",
    "hispanic": "hispanic", "hispanic_origin": "hispanic", "ethnicity": "hispanic",
    "education": "education", "education3": "education", "education4": "education", "education5": "education",
    "educ": "education", "educational_attainment": "education",
    "employment": "employment", "employment3": "employment", "employment_status": "employment",
    "labor_force_status": "employment", "labor_force": "employment",
    "marital": "marital", "marital2": "marital", "marital_status": "marital",
}
KINDS = tuple(sorted(set(COLUMN_KINDS.values())))
_NOT_STATED = {"", "not applicable", "n/a", "na", "nan", "none", "unknown", "not reported", "not specified",
               "unknown/not specified", "missing", "refused", "don't know"}

#: Education keys: lths (less than high school), hs (high school graduate), sc (some college, no degree),
#: assoc (associate's), bach (bachelor's), grad (graduate or professional degree).


@dataclass(frozen=True)
class Fact:
    attribute: str
    allowed: frozenset | tuple[int, int]
    shown: str


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NOT_STATED


def _age(value: Any) -> tuple[int, int] | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (int(value), int(value))
    text = str(value).lower()
    if m := re.search(r"under\s+(\d+)", text):
        return (0, int(m.group(1)) - 1)
    if m := re.search(r"(\d+)\s*(?:\+|years? and (?:over|older)|or older|and over)", text):
        return (int(m.group(1)), 120)
    if m := re.search(r"(\d+)\s*(?:-|–|to)\s*(\d+)", text):
        return (int(m.group(1)), int(m.group(2)))
    if m := re.fullmatch(r"\s*(\d+)\s*(?:years?)?\s*", text):
        return (int(m.group(1)), int(m.group(1)))
    return None


def _sex(value: Any) -> frozenset | None:
    text = str(value).strip().lower()
    if text in ("female", "woman", "f", "women"):
        return frozenset({"female"})
    if text in ("male", "man", "m", "men"):
        return frozenset({"male"})
    return None


_RACE_WORDS = (
    ("white", r"\bwhite\b|caucasian"),
    ("black", r"\bblack\b|african american"),
    ("asian", r"\basian\b"),
    ("aian", r"american indian|alaska native|\baian\b"),
    ("nhpi", r"native hawaiian|pacific islander|\bnhpi\b"),
    ("other", r"some other race|other race"),
)


def _race(value: Any, kind: str = "race") -> frozenset | None:
    text = str(value).strip().lower()
    if re.search(r"two or more|multiracial|multi-racial|mixed", text):
        return RACE_ALL
    if "hispanic" in text and "non" not in text:
        return RACE_ALL  # the paper's RACE column lists Hispanic origin as a race
    found = [key for key, pattern in _RACE_WORDS if re.search(pattern, text)]
    if len(found) > 1:
        return frozenset(found) | {"multi"}
    if found:
        return frozenset(found)
    if re.fullmatch(r"other(?: non-hispanic)?", text):
        # race4 ("Other": not White, Black or Asian); race3 and race_eth4 ("Other": not White or Black)
        rest = {"aian", "nhpi", "other", "multi"}
        return frozenset(rest if kind == "race4" else rest | {"asian"})
    return None


def _hispanic(value: Any) -> frozenset | None:
    if isinstance(value, bool):
        return frozenset({value})
    text = str(value).strip().lower()
    if re.search(r"non-?\s?hispanic|not hispanic|not latino|^no?$|^false$|^0$", text):
        return frozenset({False})
    if re.search(r"hispanic|latin[oax]|mexican|puerto ric|cuban|^y(?:es)?$|^true$|^1$", text):
        return frozenset({True})
    return None


_EDUCATION = (
    (r"no college degree", {"lths", "hs", "sc"}),
    (r"high school graduate, some college or associate", {"hs", "sc", "assoc"}),
    (r"high school graduate or some college", {"hs", "sc"}),
    (r"associate'?s? or bachelor", {"assoc", "bach"}),
    (r"some college or associate", {"sc", "assoc"}),
    (r"less than (?:9th|high school)|9th|no diploma|less than hs", {"lths"}),
    (r"graduate or professional|master|doctor|professional degree|\bphd\b", {"grad"}),
    (r"bachelor", {"bach"}),
    (r"associate", {"assoc"}),
    (r"some college", {"sc"}),
    (r"high school", {"hs"}),
)
_EMPLOYMENT = (
    (r"not in (?:the )?labou?r force|\bnilf\b", {"nilf"}),
    (r"in (?:the )?labou?r force", {"employed", "armed_forces", "unemployed"}),
    (r"unemployed", {"unemployed"}),
    (r"employed.*armed forces|armed forces.*employed", {"employed", "armed_forces"}),
    (r"armed forces", {"armed_forces"}),
    (r"employed", {"employed"}),
)
_MARITAL = (
    (r"^never", {"never"}),
    (r"not married|unmarried", {"never", "divorced", "widowed", "separated"}),
    (r"except separated|now married", {"married"}),
    (r"separated", {"separated"}),
    (r"widow", {"widowed"}),
    (r"divorc", {"divorced"}),
    (r"married", {"married"}),
)


def _first_match(value: Any, table) -> frozenset | None:
    text = str(value).strip().lower()
    for pattern, allowed in table:
        if re.search(pattern, text):
            return frozenset(allowed)
    return None


def _facts_of(kind: str, value: Any) -> list[Fact] | None:
    """The facts one census value establishes; None when the value is not understood."""
    shown = str(value).strip()
    if kind == "age":
        interval = _age(value)
        return None if interval is None else [Fact("age", interval, shown)]
    if kind == "sex":
        allowed = _sex(value)
        return None if allowed is None else [Fact("sex", allowed, shown)]
    if kind in ("race", "race3", "race4"):
        allowed = _race(value, kind)
        if allowed is None:
            return None
        hispanic = [Fact("hispanic", frozenset({True}), shown)] if re.fullmatch(r"hispanic(?: or latino)?", shown.lower()) else []
        return [Fact("race", allowed, shown), *hispanic]
    if kind == "race_eth":
        text = shown.lower()
        if re.fullmatch(r"hispanic(?: or latino)?(?:,? any race)?", text):
            return [Fact("hispanic", frozenset({True}), shown), Fact("race", RACE_ALL, shown)]
        race = _race(re.sub(r",?\s*non-?\s?hispanic", "", text).strip() or text, "race3")
        if "non" in text and "hispanic" in text and race is not None:
            return [Fact("hispanic", frozenset({False}), shown), Fact("race", race, shown)]
        return None
    if kind == "hispanic":
        # an "ethnicity" column may name other groups ("Chinese"): only Hispanic-origin words are read
        allowed = _hispanic(value)
        return [] if allowed is None else [Fact("hispanic", allowed, shown)]
    table = {"education": _EDUCATION, "employment": _EMPLOYMENT, "marital": _MARITAL}[kind]
    allowed = _first_match(value, table)
    return None if allowed is None else [Fact(kind, allowed, shown)]


def resolve_census_columns(columns: Sequence[Any], check_columns: Mapping[str, str | None] | None = None,
                           *, func: str = "find_contradictions") -> dict[Any, str]:
    """``{column: kind}`` for the columns checked, from their names and the explicit overrides."""
    resolved = {c: COLUMN_KINDS[_norm(c)] for c in columns if _norm(c) in COLUMN_KINDS}
    for column, kind in dict(check_columns or {}).items():
        if column not in columns:
            raise InputError(f"`check_columns` of {func} names column {column!r}, which the personas lack")
        check_param(func, f"check_columns[{column!r}]", kind, [Options(KINDS), None])
        if kind is None:
            resolved.pop(column, None)
        else:
            resolved[column] = kind
    return resolved


def census_facts(row: Mapping[str, Any], kinds: Mapping[Any, str]) -> dict[str, Fact]:
    """One fact per attribute for a persona; several columns on one attribute intersect.

    Raises :class:`MappingError` for a value no rule understands, so a typo in
    a census table is reported before any LLM time is spent.
    """
    facts: dict[str, Fact] = {}
    for column, kind in kinds.items():
        value = row.get(column)
        if _blank(value):
            continue
        found = _facts_of(kind, value)
        if found is None:
            raise MappingError(
                f"census column {column!r} holds {value!r}, which the consistency checks cannot read as {kind}; "
                f"rename the value, or pass check_columns={{{column!r}: None}} to leave the column unchecked"
            )
        for fact in found:
            if fact.attribute in facts:
                facts[fact.attribute] = _intersect(facts[fact.attribute], fact)
            else:
                facts[fact.attribute] = fact
    return facts


def _intersect(a: Fact, b: Fact) -> Fact:
    shown = a.shown if a.shown == b.shown else f"{a.shown}; {b.shown}"
    if isinstance(a.allowed, tuple):
        return Fact(a.attribute, (max(a.allowed[0], b.allowed[0]), min(a.allowed[1], b.allowed[1])), shown)
    return Fact(a.attribute, a.allowed & b.allowed, shown)
