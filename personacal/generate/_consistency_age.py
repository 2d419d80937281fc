"""Age claims: exact ages ("a 68-year-old"), ranges ("45- to 54-year-old", "aged 18-19"), decades ("in her
early sixties") and years of birth ("born in 1950" -> 73 to 75 with the default reference years 2023-2025).

Narratives introduce the persona first; later ages mostly belong to others ("Tom, a 51-year-old",
"Susan, who is 59") or to the past ("in her early twenties she moved"), so only the first age the text
gives is the persona's, exact ages and birth years before decades.
"""

from __future__ import annotations

import re

from ._consistency_text import CHILD_NOUNS, Claim, after, before, hedged, negated, other_person, snippet

__all__ = ["age_claims", "REFERENCE_YEARS", "reference_years"]

#: Years a persona text may describe "now" in: a birth year b gives ages from (first - b - 1) to (last - b).
#: The seed paper's personas are drawn from ACS 2023 and written in 2024; the span covers both and a year more.
REFERENCE_YEARS = (2023, 2025)

DECADES = {
    "twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
    "eighties": 80, "nineties": 90,
}
_NOT_SELF_AFTER = re.compile(rf"^(?:\S+\s+){{0,2}}?{CHILD_NOUNS}\b")
_PAST_BEFORE = re.compile(r"\b(?:was|were|at|when|by|since|until|from|before|after|age|of|aged)(?:\s+an?)?\s*$")
_AGE_HYPHEN = re.compile(r"(?<![\w-])(?:(\d{1,3})-?\s*(?:to|-|–)\s*)?(\d{1,3})[- ]years?[- ]old\b", re.I)
_AGE_PRESENT = re.compile(
    r"\b(?:is|am|i'm|i’m|she's|he's|turned|turning|now)\s+(\d{1,3})"
    r"(?:\s+years?\s+old\b|(?=\s*(?:[,.;!?)]|\s+and\b|\s+with\b|$)))",
    re.I,
)
_AGE_AGED = re.compile(r"\baged\s+(\d{1,3})(?:\s*(?:to|-|–)\s*(\d{1,3}))?\b", re.I)
_AGE_NAME_COMMA = re.compile(r"(?:^|(?<=[.!?]\s))[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3},\s+(\d{2}),")
_AGE_DECADE = re.compile(
    r"\bin\s+(?:her|his|my)\s+(early|mid|mid-|late)?[\s-]*(twenties|thirties|forties|fifties|sixties|seventies|"
    r"eighties|nineties|(?:20|30|40|50|60|70|80|90)'?s)\b",
    re.I,
)
_BORN = re.compile(
    r"\bborn\s+(?:(?:in|on)\s+)?(?:(?:the\s+)?(?:early|mid|late)[\s-]+)?(?:(?:[A-Z][a-z]+\.?\s+)?(?:\d{1,2},?\s+)?)?"
    r"(?:in\s+)?(?:the\s+)?((?:19|20)\d\d)(s)?\b|\(b\.\s*((?:19|20)\d\d)\)",
    re.I,
)
_PRESENT_BEFORE = re.compile(
    r"(?:\b(?:is|am|i'm|i’m|she's|he's|now|still|currently|remains|woman|man|lady|gentleman|mother|father|widow|"
    r"widower|grandmother|grandfather|person|individual|retiree|professional)|,)\s*$"
)


def reference_years(value) -> tuple[int, int]:
    """``int`` or ``(first, last)`` -> ``(first, last)``."""
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def age_claims(text: str, reference_year=REFERENCE_YEARS) -> list[Claim]:
    """The persona's age: the first age the text gives (exact ages and birth years before decades)."""
    exact = sorted(_exact_ages(text) + _birth_years(text, reference_years(reference_year)), key=lambda pair: pair[0])
    if exact:
        return [exact[0][1]]
    return _decade_ages(text)[:1]


def _skip(text: str, start: int) -> bool:
    return other_person(text, start) or hedged(text, start, 3) or negated(text, start, 2)


def _exact_ages(text: str) -> list[tuple[int, Claim]]:
    claims = []
    for m in _AGE_HYPHEN.finditer(text):
        if _skip(text, m.start()) or _NOT_SELF_AFTER.search(after(text, m.end(), 3)):
            continue
        if _PAST_BEFORE.search(before(text, m.start(), 3)):
            continue
        high = int(m.group(2))
        low = int(m.group(1)) if m.group(1) else high
        label = f"{low} to {high} years old" if low != high else f"{high} years old"
        claims.append((m.start(), Claim("age", (min(low, high), max(low, high)), label, snippet(text, m.start(), m.end()))))
    for pattern in (_AGE_PRESENT, _AGE_AGED, _AGE_NAME_COMMA):
        for m in pattern.finditer(text):
            if pattern is _AGE_AGED and _PAST_BEFORE.search(before(text, m.start(), 1)):
                continue
            if pattern is not _AGE_NAME_COMMA and _skip(text, m.start()):
                continue
            low = int(m.group(1))
            high = int(m.group(2)) if pattern is _AGE_AGED and m.group(2) else low
            if 10 <= low <= high <= 110:
                label = f"{low} to {high} years old" if low != high else f"{low} years old"
                claims.append((m.start(), Claim("age", (low, high), label, snippet(text, m.start(), m.end()))))
    return claims


def _birth_years(text: str, years: tuple[int, int]) -> list[tuple[int, Claim]]:
    """'born in 1950' -> ages (first - 1950 - 1) .. (last - 1950); 'born in the 1950s' -> the decade's span."""
    claims = []
    for m in _BORN.finditer(text):
        if _skip(text, m.start()):
            continue
        year = int(m.group(1) or m.group(3))
        last_born = year + 9 if m.group(2) else year
        low, high = years[0] - last_born - 1, years[1] - year
        if low < 0 or high > 120:
            continue
        label = f"born in {year}{'s' if m.group(2) else ''} ({max(low, 0)} to {high} years old)"
        claims.append((m.start(), Claim("age", (max(low, 0), high), label, snippet(text, m.start(), m.end()))))
    return claims


def _decade_ages(text: str) -> list[Claim]:
    claims = []
    for m in _AGE_DECADE.finditer(text):
        if not _PRESENT_BEFORE.search(before(text, m.start(), 2)) or hedged(text, m.start(), 3):
            continue
        part, word = (m.group(1) or "").lower().rstrip("-"), m.group(2).lower()
        decade = DECADES.get(word) or int(re.sub(r"\D", "", word))
        low, high = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get(part, (0, 9))
        label = f"{part + ' ' if part else ''}{decade}s"
        claims.append(Claim("age", (decade + low, decade + high), label, snippet(text, m.start(), m.end())))
    return claims
