"""Shared pieces of the text rules: the Claim, context windows, and the tests for "not about the persona".

A phrase found in a persona text does not describe the persona when it

- belongs to someone else: a possessive or a relative just before it (``"her 12-year-old son"``,
  ``"her husband, James, a 60-year-old retired mechanic"``, ``"Jamal's wife, Rachel, is a ..."``);
- is hedged: ``"likely of Asian descent"``, ``"she may be retired"``, ``"it is assumed that"``;
- is negated: ``"I'm not a man"``, ``"is not divorced"``;
- describes people in general: ``"compared to those without a college education"``;
- is hoped for or missing: ``"hopes to earn a master's"``, ``"never finished college"`` (a claim of
  its own, not a college claim).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Claim", "snippet", "before", "after", "other_person", "other_in_clause", "aspirational", "hedged",
           "generic", "negated", "Rule", "rx", "rule_claims", "POSSESSIVE", "RELATIVES", "CHILD_NOUNS"]


@dataclass(frozen=True)
class Claim:
    """What a phrase says about the persona.

    ``allowed`` is a frozenset of category keys, or ``(low, high)`` years for ``age``. ``strong`` is
    False for claims that yield to direct statements: indirect hints (``"her husband"`` for marital
    status) and education levels read from how a level is rendered (``"is a high school graduate"``
    = exactly high school, unless the text also names a higher degree).
    """

    attribute: str
    allowed: frozenset | tuple[int, int]
    stated: str
    evidence: str
    strong: bool = True


def snippet(text: str, start: int, end: int, width: int = 45) -> str:
    """The matched phrase with some context, on one line."""
    a, b = max(0, start - width), min(len(text), end + width)
    body = " ".join(text[a:b].split())
    return ("…" if a > 0 else "") + body + ("…" if b < len(text) else "")


def before(text: str, start: int, n_words: int) -> str:
    """Up to ``n_words`` words before ``start``, within the same sentence, lower-cased."""
    window = text[max(0, start - 80):start]
    window = re.split(r"[.!?;:\n]", window)[-1]
    return " ".join(window.lower().split()[-n_words:])


def after(text: str, end: int, n_words: int) -> str:
    window = text[end:end + 120]
    window = re.split(r"[.!?;:\n]", window)[0]
    return " ".join(window.lower().split()[:n_words])


POSSESSIVE = r"\b(?:her|his|my|their|our|your|whose)\b"
RELATIVES = (
    r"(?:son|sons|daughter|daughters|child|children|kid|kids|grandson|granddaughter|grandchild|grandchildren|"
    r"grandkids?|baby|toddler|boy|girl|twins|brother|sister|sibling|nephew|niece|cousin|husband|wife|spouse|"
    r"partner|boyfriend|girlfriend|fianc[eé]e?|sweetheart|parents?|mother|father|mom|dad|in-laws?|neighbou?rs?|"
    r"friends?|colleagues?|coworkers?|roommates?|dog|cat|puppy|car|truck|house|home)"
)
CHILD_NOUNS = (
    r"(?:son|sons|daughter|daughters|child|children|kid|kids|grandson|granddaughter|grandchild|grandchildren|"
    r"grandkids?|baby|toddler|boy|girl|twins|brother|sister|sibling|nephew|niece|cousin|dog|cat|puppy|horse|car|"
    r"truck|sedan|suv|pickup|van|minivan|vehicle|house|home|business|company|farm|ranch|tradition)"
)
#: Words that may stand between a possessive and someone else's age or origin ("her two 12-year-old twins").
_BETWEEN = (r"(?:two|three|four|five|six|youngest|oldest|eldest|younger|older|elderly|aging|ailing|beloved|own|little|"
            r"young|teenage|adult|grown|dear|\d+)")
_OTHER_SUBJECT = re.compile(
    rf"(?:{POSSESSIVE}|\w(?:'s|’s))(?:\s+{_BETWEEN})?\s*$|{POSSESSIVE}\s+(?:\S+\s+)?{RELATIVES}\b|\b{RELATIVES}(?:'s|’s)?\s*$"
    r"|\bof\s+(?:an?|the)\s*$"
)
#: Someone else named earlier in the clause: "her husband, James, a ...", "Jamal's wife, Rachel, is ...".
_OTHER_IN_CLAUSE = re.compile(rf"(?:{POSSESSIVE}|\b[a-z]+(?:'s|’s))\s+(?:[\w-]+\s+){{0,2}}?{RELATIVES}\b", re.I)
_PERSONA_SUBJECT = re.compile(r"\b(?:she|he|i|you|they)\b|^\W*(?:,\s*)?(?:and|but)\W*$", re.I)
_ASPIRATION = re.compile(
    r"\b(?:hope|hopes|hoping|dream|dreams|dreamed|plan|plans|planning|want|wants|wanted|wish|wishes|aspire\w*|"
    r"goal|goals|pursue|pursues|pursuing|toward|towards|studying|enrolled|considering|saving|save|never|not|no|"
    r"without|didn't|didnt|lacks?|lacking|someday|eventually|return|returning|encourag\w*)\b"
    rf"|{POSSESSIVE}\s+{RELATIVES}\b|\b{RELATIVES}(?:'s|’s)"
)
_HEDGE = re.compile(
    r"\b(?:likely|unlikely|possibly|probably|presumably|perhaps|potentially|assumed|assuming|assume|may|might|could|"
    r"would|if|whether|suggests?|suggesting|inferred)\b"
)
#: Generic or other people just before a phrase: "compared to those without a degree", "unlike other widows".
_GENERIC = re.compile(r"\b(?:those|people|others|other|peers|many|workers|residents|adults|individuals|families|"
                      r"households|ones|men|women)\b")
_NEGATION = re.compile(r"\b(?:not|never|no|nor)\b|n't\b")


def other_person(text: str, start: int) -> bool:
    """The phrase belongs to someone else (``her son``, ``his wife``, ``mother of a``)."""
    return bool(_OTHER_SUBJECT.search(before(text, start, 4)))


def other_in_clause(text: str, start: int) -> bool:
    """Someone else is the subject of the clause the phrase sits in (no persona pronoun since they were named)."""
    clause = re.split(r"[.!?;:\n]", text[max(0, start - 160):start])[-1]
    last = None
    for last in _OTHER_IN_CLAUSE.finditer(clause):
        pass
    if last is None:
        return False
    return not _PERSONA_SUBJECT.search(clause[last.end():])


def aspirational(text: str, start: int) -> bool:
    """A qualification someone hopes for, lacks, or that belongs to a relative."""
    return bool(_ASPIRATION.search(before(text, start, 5)))


def hedged(text: str, start: int, n_words: int = 4) -> bool:
    """A hedge word just before the phrase: "likely of Asian descent", "she may be retired"."""
    return bool(_HEDGE.search(before(text, start, n_words)))


def generic(text: str, start: int, n_words: int = 3) -> bool:
    """The phrase describes people in general or others: "those without a college education"."""
    return bool(_GENERIC.search(before(text, start, n_words)))


def negated(text: str, start: int, n_words: int = 2) -> bool:
    """A negation just before the phrase: "is not divorced", "I'm not a man"."""
    return bool(_NEGATION.search(before(text, start, n_words)))


@dataclass(frozen=True)
class Rule:
    """A pattern whose every match is a claim, unless ``skip(text, start)`` says it is not about the persona."""

    attribute: str
    pattern: re.Pattern
    allowed: frozenset
    stated: str
    strong: bool = True
    skip: Callable[[str, int], bool] | None = None


def rx(pattern: str, flags: int = re.I) -> re.Pattern:
    return re.compile(pattern, flags)


def rule_claims(text: str, rules) -> list[Claim]:
    claims = []
    for rule in rules:
        for m in rule.pattern.finditer(text):
            if hedged(text, m.start()) or generic(text, m.start()) or (rule.skip is not None and rule.skip(text, m.start())):
                continue
            claims.append(Claim(rule.attribute, rule.allowed, rule.stated, snippet(text, m.start(), m.end()),
                                rule.strong))
    return claims
