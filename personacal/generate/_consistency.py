"""Contradictions between LLM-written persona text/fields and the census attributes.

Census attributes are authoritative. A census column is read into a *fact*:
the set of canonical categories (or the age interval) the persona may have.
The LLM's text is read into *claims* by the keyword/regex rules of
:mod:`._consistency_rules`; the structured fields of the objective tier are
checked directly. A contradiction is a claim that shares no category with the
fact (an age claim outside the census age group).

Per attribute, how claims combine:

- age, sex, hispanic, race: any incompatible claim is a contradiction;
- education: any incompatible claim, where the exact readings of how a
  level is rendered ("is a high school graduate" = high school, no more)
  count only when no "at least" claim of the text rules them out ("high
  school diploma and a bachelor's" only contradicts a census level below
  bachelor's);
- marital, employment: a text may tell a history ("divorced, then
  remarried"; "retired, works part-time"), so a contradiction needs an
  incompatible claim and no compatible one; indirect hints ("her husband")
  count only when the text makes no direct statement, and a specific claim
  overrides a broader one it refines ("married but separated" is separated).

Which columns hold census facts is read from their names (see
:data:`._consistency_census.COLUMN_KINDS`); pass ``check_columns={column: kind or None}`` to name
others or to leave one out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._summary import Summary, one_line_repr
from .._validation import InstanceOf, check_param
from ..errors import InputError
from ._consistency_census import COLUMN_KINDS, Fact, census_facts, resolve_census_columns
from ._consistency_rules import REFERENCE_YEARS, RULE_ATTRIBUTES, Claim, text_claims

__all__ = [
    "Contradiction",
    "ConsistencyReport",
    "CONTRADICTION_COLUMNS",
    "ATTRIBUTES",
    "COLUMN_KINDS",
    "census_facts",
    "resolve_census_columns",
    "check_text",
    "check_fields",
    "find_contradictions",
    "contradiction_rates",
]

#: Every attribute the checks report on, in report order.
ATTRIBUTES = (*RULE_ATTRIBUTES, "household")
CONTRADICTION_COLUMNS = ["persona_id", "attribute", "census_value", "stated_value", "evidence"]


@dataclass(frozen=True)
class Contradiction:
    """One LLM statement that the persona's census attributes rule out."""

    persona_id: Any
    attribute: str
    census_value: str
    stated_value: str
    evidence: str


@dataclass(frozen=True)
class ConsistencyReport:
    """What :func:`find_contradictions` found.

    ``contradictions``: one row per persona x attribute (persona_id, attribute,
    census_value, stated_value, evidence). ``rates``: per attribute,
    n_checked, n_stated, n_contradicted, rate, rate_when_stated (see
    :func:`contradiction_rates`).
    """

    contradictions: pd.DataFrame
    rates: pd.DataFrame
    n_personas: int

    def __repr__(self) -> str:
        return one_line_repr(self, personas=self.n_personas, contradictions=len(self.contradictions),
                             personas_contradicted=int(self.contradictions["persona_id"].nunique()))

    def to_frame(self) -> pd.DataFrame:
        return self.contradictions.copy()

    def summary(self) -> Summary:
        n_bad = int(self.contradictions["persona_id"].nunique())
        return Summary(
            "Consistency with census attributes",
            facts={"personas": self.n_personas, "personas with a contradiction": n_bad,
                   "share": n_bad / self.n_personas if self.n_personas else float("nan")},
            tables={"by attribute": self.rates.set_index("attribute")},
            notes=["keyword/regex rules (personacal.generate._consistency_rules); rate = contradicted / checked"],
        )

# ---------------------------------------------------------------- checks
def _compatible(fact: Fact, allowed) -> bool:
    if isinstance(fact.allowed, tuple):
        low, high = allowed
        return low <= fact.allowed[1] and high >= fact.allowed[0]
    return bool(fact.allowed & allowed)


LENIENT = frozenset({"marital", "employment"})


def _judge(fact: Fact, claims: list[Claim]) -> Claim | None:
    """The claim that contradicts ``fact``, under the attribute's combination rule (module docstring)."""
    strong = [c for c in claims if c.strong]
    if fact.attribute not in LENIENT:
        if fact.attribute == "education":  # exact readings yield to any "at least" claim they conflict with
            claims = strong + [c for c in claims if not c.strong and all(c.allowed & s.allowed for s in strong)]
        return next((c for c in claims if not _compatible(fact, c.allowed)), None)
    pool = _most_specific(strong or claims)
    if any(_compatible(fact, c.allowed) for c in pool):
        return None
    return pool[0] if pool else None


def _most_specific(claims: list[Claim]) -> list[Claim]:
    """Drop a claim when another claim allows a strict subset of its categories ("married" vs "separated")."""
    return [c for c in claims if not any(o.allowed < c.allowed for o in claims)]


def check_text(persona_id: Any, facts: Mapping[str, Fact], text: str, *,
               reference_year=REFERENCE_YEARS) -> tuple[list[Contradiction], set[str]]:
    """Contradictions in ``text`` and the attributes it states anything about."""
    by_attribute: dict[str, list[Claim]] = {}
    for claim in text_claims(text, reference_year=reference_year):
        by_attribute.setdefault(claim.attribute, []).append(claim)
    found = []
    for attribute, claims in by_attribute.items():
        fact = facts.get(attribute)
        if fact is None:
            continue
        bad = _judge(fact, claims)
        if bad is not None:
            found.append(Contradiction(persona_id, attribute, fact.shown, bad.stated, bad.evidence))
    return found, set(by_attribute)


_NOT_WORKING_OCCUPATION = re.compile(
    r"^\s*(?:not working|none|no occupation|n/?a|unemployed|jobless|out of work|between jobs)\s*$", re.I
)
_OUT_OF_LABOUR_FORCE = re.compile(r"\bretired\b|\bretiree\b|\bhomemaker\b|\bstay-at-home\b|\bhousewife\b|\bdisabled\b", re.I)


def check_fields(persona_id: Any, facts: Mapping[str, Fact], fields: Mapping[str, Any]) -> tuple[list[Contradiction], set[str]]:
    """Contradictions in the objective tier's fields, and the attributes they speak to.

    - household: ``household_size`` must count the person and the
      ``number_of_children`` living with them;
    - age: ``years_at_current_address`` cannot exceed the oldest age of the group;
    - employment: ``commute`` "not working" needs a census status without a job
      (unemployed, not in labor force) and any other commute needs a job;
      ``occupation`` "not working"/"unemployed" needs no job, and "retired",
      "homemaker" ... mean not in the labor force. A job title is compatible with
      any status (the unemployed name their last job).
    """
    found: list[Contradiction] = []
    stated: set[str] = set()
    size, children = fields.get("household_size"), fields.get("number_of_children")
    if _number(size) and _number(children):
        stated.add("household")
        if int(size) < 1 + int(children):
            found.append(Contradiction(persona_id, "household", "household_size >= 1 + number_of_children",
                                       f"household_size={int(size)}, number_of_children={int(children)}",
                                       "objective fields household_size and number_of_children"))
    years, age = fields.get("years_at_current_address"), facts.get("age")
    if _number(years):
        stated.add("age")
        if age is not None and int(years) > age.allowed[1]:
            found.append(Contradiction(persona_id, "age", age.shown, f"years_at_current_address={int(years)}",
                                       "objective field years_at_current_address exceeds the age"))
    job = facts.get("employment")
    claims = []
    commute, occupation = fields.get("commute"), fields.get("occupation")
    if isinstance(commute, str) and commute:
        works = commute != "not working"
        allowed = frozenset({"employed", "armed_forces"}) if works else frozenset({"unemployed", "nilf"})
        claims.append((allowed, f"commute={commute!r}"))
    if isinstance(occupation, str) and occupation.strip():
        if _NOT_WORKING_OCCUPATION.match(occupation):
            claims.append((frozenset({"unemployed", "nilf"}), f"occupation={occupation!r}"))
        elif _OUT_OF_LABOUR_FORCE.search(occupation):
            claims.append((frozenset({"nilf"}), f"occupation={occupation!r}"))
    if claims:
        stated.add("employment")
    if job is not None:
        bad = [text for allowed, text in claims if not _compatible(job, allowed)]
        if bad:
            found.append(Contradiction(persona_id, "employment", job.shown, "; ".join(bad),
                                       "objective fields " + ", ".join(t.split("=")[0] for t in bad)))
    return found, stated


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


# ---------------------------------------------------------------- tables
def find_contradictions(
    personas: pd.DataFrame,
    texts: str | Sequence[str] | pd.Series | None = None,
    *,
    fields: pd.DataFrame | None = None,
    check_columns: Mapping[str, str | None] | None = None,
    id_column: str = "persona_id",
    reference_year: int | tuple[int, int] = REFERENCE_YEARS,
) -> ConsistencyReport:
    """Check LLM-written text and/or objective fields against each persona's census attributes.

    Parameters
    ----------
    personas
        One row per persona with ``id_column`` and census columns (recognised
        by name, see :data:`COLUMN_KINDS`, or named in ``check_columns``).
    texts
        A column of ``personas`` holding the text, or one text per persona.
    fields
        Objective-tier fields (occupation, commute, household_size, ...), one row per persona, aligned with ``personas``.
    check_columns
        ``{column: kind}`` for columns not recognised by name (kinds: age, sex,
        race, race3, race4, race_eth, hispanic, education, employment, marital);
        ``{column: None}`` leaves a recognised column unchecked.
    reference_year
        The year the texts describe, or a ``(first, last)`` span of years (default 2023-2025):
        a year of birth b reads as an age from ``first - b - 1`` to ``last - b``.

    Returns
    -------
    ConsistencyReport
        ``contradictions``: persona_id, attribute, census_value, stated_value,
        evidence (one row per persona x attribute); ``rates``: see
        :func:`contradiction_rates`.
    """
    func = "find_contradictions"
    check_param(func, "personas", personas, InstanceOf(pd.DataFrame, name="a pandas DataFrame"))
    reference_year = _check_reference_year(reference_year, func)
    if id_column not in personas.columns:
        raise InputError(f"`personas` of {func} has no {id_column!r} column; pass id_column=<the id column>")
    if texts is None and fields is None:
        raise InputError(f"{func} needs `texts`, `fields` or both to check")
    if isinstance(texts, str):
        if texts not in personas.columns:
            raise InputError(f"`texts` of {func} names column {texts!r}, which `personas` lacks")
        texts = personas[texts]
    if texts is not None and len(texts) != len(personas):
        raise InputError(f"`texts` of {func} must hold one text per persona; got {len(texts)} for {len(personas)}")
    if fields is not None and len(fields) != len(personas):
        raise InputError(f"`fields` of {func} must hold one row per persona; got {len(fields)} for {len(personas)}")
    kinds = resolve_census_columns(list(personas.columns), check_columns, func=func)
    if not kinds:
        raise InputError(
            f"`personas` of {func} has no census column the checks recognise (e.g. {sorted(COLUMN_KINDS)[:8]}); "
            "name them with check_columns={column: kind}"
        )
    rows = personas.to_dict(orient="records")
    text_list = list(texts) if texts is not None else [None] * len(rows)
    field_rows = fields.to_dict(orient="records") if fields is not None else [None] * len(rows)
    found: list[Contradiction] = []
    checked: list[tuple[Any, set[str], set[str]]] = []
    for row, text, field_row in zip(rows, text_list, field_rows):
        pid = row[id_column]
        facts = census_facts(row, kinds)
        stated: set[str] = set()
        if isinstance(text, str):
            got, said = check_text(pid, facts, text, reference_year=reference_year)
            found += got
            stated |= said
        if field_row is not None:
            got, said = check_fields(pid, facts, field_row)
            found += got
            stated |= said
        checked.append((pid, set(facts) | ({"household"} if field_row is not None else set()), stated))
    table = contradictions_frame(found)
    return ConsistencyReport(table, contradiction_rates(table, checked), len(rows))


def _check_reference_year(value, func: str) -> tuple[int, int]:
    check_param(func, "reference_year", value, InstanceOf(int, tuple, name="a year or a (first, last) tuple of years"))
    years = (value, value) if isinstance(value, int) else value
    if (len(years) != 2 or not all(isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2100 for y in years)
            or years[0] > years[1]):
        raise InputError(f"`reference_year` of {func} must be a year in 1900..2100 or a (first, last) tuple of such "
                         f"years with first <= last; got {value!r}")
    return years


def contradictions_frame(found: Sequence[Contradiction]) -> pd.DataFrame:
    return pd.DataFrame([vars(c) for c in found], columns=CONTRADICTION_COLUMNS)


def contradiction_rates(contradictions: pd.DataFrame, checked: Sequence[tuple[Any, set[str], set[str]]]) -> pd.DataFrame:
    """Per attribute: n_checked (personas with a census value for it), n_stated (whose text or fields say
    something about it), n_contradicted, rate (= n_contradicted / n_checked) and
    rate_when_stated (= n_contradicted / n_stated)."""
    rows = []
    for attribute in ATTRIBUTES:
        n_checked = sum(attribute in facts for _, facts, _ in checked)
        ids = {pid for pid, facts, _ in checked if attribute in facts}
        n_stated = sum(attribute in facts and attribute in said for _, facts, said in checked)
        hit = contradictions.loc[contradictions["attribute"] == attribute, "persona_id"]
        n_bad = int(hit[hit.isin(ids)].nunique())
        rows.append({
            "attribute": attribute, "n_checked": n_checked, "n_stated": n_stated, "n_contradicted": n_bad,
            "rate": n_bad / n_checked if n_checked else float("nan"),
            "rate_when_stated": n_bad / n_stated if n_stated else float("nan"),
        })
    return pd.DataFrame(rows)
