"""Keyword/regex rules that read census-type claims out of LLM-written persona text.

Each rule turns a phrase into a :class:`Claim`: the attribute it speaks to and
the census categories it is compatible with (an age claim carries a closed
interval of years). The rules are deliberately conservative: they look for
phrases that describe the persona (``"a 68-year-old Latina woman"``, ``"she
is divorced"``, ``"has a bachelor's degree"``, ``"born in 1950"``,
``"graduated from Natrona County High School"``) and skip the usual traps
(:mod:`._consistency_text`): other people (``"her 12-year-old son"``,
``"her husband, James, a retired mechanic"``), hedges (``"likely of Asian
descent"``), negation (``"I'm not a man"``, ``"is not divorced"``), the past and
the future (``"worked as"``, ``"hopes to earn a master's"``).

Modules: age in :mod:`._consistency_age`; marital status, education and
employment in :mod:`._consistency_status`; sex, Hispanic origin and race here.
No rule consults an LLM. Category keys are those of :mod:`._consistency`.
Accuracy on 439 hand-labelled sentences of the seed paper's Llama-written
personas: ``benchmarks/consistency_accuracy.py``.
"""

from __future__ import annotations

import re

from ._consistency_age import REFERENCE_YEARS, age_claims
from ._consistency_status import status_claims
from ._consistency_text import Claim, before, hedged, other_person, snippet

__all__ = ["Claim", "text_claims", "RULE_ATTRIBUTES", "snippet", "RACE_ALL", "REFERENCE_YEARS"]

#: Attributes the text rules speak to, in report order.
RULE_ATTRIBUTES = ("age", "sex", "hispanic", "race", "marital", "education", "employment")

RACE_ALL = frozenset({"white", "black", "asian", "aian", "nhpi", "other", "multi"})


# ---------------------------------------------------------------- sex
FEMALE_NOUNS = (
    "woman", "lady", "female", "mother", "mom", "mum", "grandmother", "grandma", "abuela", "widow", "wife",
    "matriarch", "businesswoman", "latina", "chicana", "gal", "housewife",
)
MALE_NOUNS = (
    "man", "gentleman", "guy", "male", "father", "dad", "grandfather", "grandpa", "abuelo", "widower", "husband",
    "patriarch", "businessman", "latino", "chicano", "fellow", "househusband",
)
_GENDER_NOUN = "|".join(FEMALE_NOUNS + MALE_NOUNS)
_SELF_NOUN = re.compile(
    rf"(?:\b\d{{1,3}}-year-old|\b(?:i am|i'm|i’m|you are|you're|as a|as an|being a|being an|she is a|he is a|she's a|"
    rf"he's a))\s+(?:[\w'’-]+,?\s+){{0,4}}?(?<!or )({_GENDER_NOUN})\b"
    # "Hispanic or Latino female": the ethnicity label is not the noun when a sex noun follows or "or" precedes
    rf"(?!\s+(?:[\w'’-]+\s+)?(?:female|male|woman|man)\b)",
    re.I,
)
#: Words in the gap that make the noun someone else's, or deny it ("I'm not a man").
_GAP_OTHER = re.compile(r"\b(?:her|his|my|their|our|your|of|with|and|for|to|not|never|no)\b", re.I)
_FEMALE_PRONOUNS = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)
_MALE_PRONOUNS = re.compile(r"\b(?:he|him|his|himself)\b", re.I)
#: Pronoun evidence counts only with this many pronouns and this share for one sex.
MIN_PRONOUNS, PRONOUN_SHARE = 5, 0.8


def _sex_claims(text: str) -> list[Claim]:
    found = []
    for m in _SELF_NOUN.finditer(text):
        if other_person(text, m.start()) or hedged(text, m.start(), 3) or _GAP_OTHER.search(text[m.start():m.start(1)]):
            continue
        noun = m.group(1).lower()
        sex = "female" if noun in FEMALE_NOUNS else "male"
        found.append(Claim("sex", frozenset({sex}), sex.capitalize(), snippet(text, m.start(), m.end())))
    if found:
        return found
    n_f, n_m = len(_FEMALE_PRONOUNS.findall(text)), len(_MALE_PRONOUNS.findall(text))
    total = n_f + n_m
    if total >= MIN_PRONOUNS and max(n_f, n_m) >= PRONOUN_SHARE * total:
        sex = "female" if n_f > n_m else "male"
        return [Claim("sex", frozenset({sex}), sex.capitalize(),
                      f"pronouns: she/her x{n_f}, he/him/his x{n_m}")]
    return []


# ---------------------------------------------------------------- origin and race
PERSON_NOUNS = (
    r"(?:woman|women|man|men|person|individual|lady|gentleman|guy|mother|father|mom|dad|grandmother|grandfather|"
    r"grandma|grandpa|abuela|abuelo|matriarch|patriarch|widow|widower|immigrant|native|resident|citizen|single|"
    r"retiree|veteran|professional|worker|student|teen|teenager|millennial|senior|homeowner|entrepreneur|"
    r"nurse|teacher|male|female|males|females|(?:first|second|third)-generation)"
)
ROOT_NOUNS = r"(?:heritage|descent|roots|background|origin|origins|ancestry|identity|ethnicity)"
HISPANIC_TERMS = r"(?:Hispanic|Latina|Latino|Latinx|Latine|Chicana|Chicano|Latin American)"
HISPANIC_NATIONS = (
    r"(?:Mexican|Puerto Rican|Cuban|Salvadoran|Guatemalan|Dominican|Colombian|Honduran|Nicaraguan|Peruvian|Venezuelan|"
    r"Ecuadorian|Argentine|Argentinian|Chilean|Bolivian|Costa Rican|Panamanian|Uruguayan|Paraguayan)"
)
RACE_TERMS = {
    "black": r"(?:African[- ]American|Black|Afro-Caribbean)",
    "white": r"(?:White|Caucasian|European[- ]American)",
    "asian": r"(?:Asian(?:[- ]American)?|Chinese|Filipin[ao]|Vietnamese|Korean|Japanese|Indian[- ]American|South Asian|"
             r"Asian Indian|Taiwanese|Hmong|Cambodian|Laotian|Thai|Pakistani|Bangladeshi|Indonesian|Burmese|Nepali)",
    "aian": r"(?:Native American|American Indian|Alaska Native|Alaskan Native|Indigenous|Navajo|Cherokee|Lakota|Apache|"
            r"Ojibwe|Hopi|Sioux|Inupiat|Yupik|Shoshone|Arapaho)",
    "nhpi": r"(?:Native Hawaiian|Pacific Islander|Samoan|Tongan|Chamorro|Guamanian|Fijian|Marshallese)",
    "multi": r"(?:biracial|multiracial|mixed[- ]race)",
}
#: Stated race -> census race categories it is compatible with.
RACE_ALLOWED = {
    "black": frozenset({"black", "multi"}),
    "white": frozenset({"white", "multi"}),
    "asian": frozenset({"asian", "multi"}),
    "aian": frozenset({"aian", "multi"}),
    "nhpi": frozenset({"nhpi", "multi"}),
    "multi": frozenset({"multi"}),
}
RACE_LABELS = {"black": "Black", "white": "White", "asian": "Asian", "aian": "American Indian / Alaska Native",
               "nhpi": "Native Hawaiian / Pacific Islander", "multi": "two or more races", "other": "some other race"}


def _identity_patterns(term: str) -> list[tuple[re.Pattern, bool]]:
    """Phrases that say the persona *is* ``term``; the flag says whether a possessive before them means someone else."""
    american = r"(?:[- ]American)?"
    return [
        (re.compile(rf"(?<!non-)(?<!non )\b{term}{american}\s+(?:[\w-]+\s+){{0,2}}?{PERSON_NOUNS}\b", re.I), True),
        (re.compile(rf"(?<!non-)(?<!non )\b{term}{american}\s+(?:[\w-]+\s+){{0,1}}?{ROOT_NOUNS}\b", re.I), False),
        (re.compile(rf"\bof\s+(?:[\w-]+\s+)?{term}{american}\s+{ROOT_NOUNS}\b", re.I), False),
        # "of mixed Native American and Latin American descent": each named origin counts
        (re.compile(rf"\bof\s+(?:mixed\s+)?{term}{american}\s+and\s+(?:[\w-]+\s+){{1,3}}?{ROOT_NOUNS}\b", re.I), False),
        (re.compile(rf"\bof\s+(?:mixed\s+)?(?:[\w-]+\s+){{1,3}}?and\s+{term}{american}\s+{ROOT_NOUNS}\b", re.I), False),
        (re.compile(rf"\b\d{{1,3}}-year-old\s+(?:[\w-]+\s+){{0,2}}?{term}\b", re.I), True),
        (re.compile(rf"\b(?:i am|i'm|i’m|you are|you're|she is|he is|she's|he's|identifies as|identify as|as an?|being an?|a proud|proud)\s+"
                    rf"(?:an?\s+)?(?:proud\s+)?{term}\b", re.I), False),
        (re.compile(rf"\b(?:daughter|son|child|children|grandchild|granddaughter|grandson)\s+of\s+(?:[\w-]+\s+)?{term}\s+"
                    r"(?:immigrants?|parents|farmworkers|migrants)\b", re.I), False),
    ]


_HISPANIC_PATTERNS = _identity_patterns(HISPANIC_TERMS) + _identity_patterns(
    HISPANIC_NATIONS + r"(?=[- ]American\b|\s+" + ROOT_NOUNS + r"|\s+immigrants?|\s+" + PERSON_NOUNS + r"\b)")
_NON_HISPANIC = re.compile(
    r"(?:\b\d{1,3}-year-old|\b(?:i am|i'm|i’m|you are|she is|he is|she's|he's|identifies as|is a|am a|is an|am an))"
    r"\s+(?:[\w,-]+\s+){0,2}?(?:non-?\s?Hispanic|not (?:Hispanic|Latino|Latina))\b",
    re.I,
)
#: "of White and Some Other Race", "identifies as White and Some Other Race": a census combination, by name.
_NAMED_COMBINATION = re.compile(r"\b(?:of|as|is|identifies as)\s+(White|Black|Asian|American Indian)(?: or African American| and Alaska Native)?"
                                r"\s+and\s+(Some Other Race|White|Black|Asian|American Indian)\b")
_COMBINATION_KEYS = {"White": "white", "Black": "black", "Asian": "asian", "American Indian": "aian",
                     "Some Other Race": "other"}
#: "Asian or Pacific Islander" and the like name one umbrella group, not two races.
_UMBRELLA_API = re.compile(r"\bAsian(?:[- ]American)?\s*(?:or|and|/)\s*(?:Other\s+|Native Hawaiian\s*(?:or|and|/)\s*)?Pacific Islanders?\b", re.I)
_NEGATED = re.compile(r"\b(?:no|not|absence|without|lack|non)\b")
#: Form-style lines of structured persona prints: "Race: White", "Ethnicity: Non-Hispanic", "**Race and Ethnicity:** White, non-Hispanic".
_FIELD = r"(?im:^\W*(?:race(?:\s+and\s+ethnicity)?|ethnicity|race/ethnicity)\W*:\W*"
_FIELD_NON_HISPANIC = re.compile(_FIELD + r"(?:[\w ]+,\s*)?non-?\s?hispanic\b)")
#: A relative's origin ("her husband's Mexican heritage") is not the persona's.
_RELATIVE_POSSESSIVE = re.compile(r"\b(?:son|daughter|child|husband|wife|spouse|partner|mother|father|parent|"
                                  r"grandmother|grandfather|friend|neighbou?r)s?(?:'s|’s|s')\s*$")
_RACE_PATTERNS = {race: _identity_patterns(term) for race, term in RACE_TERMS.items()}


def _identity_matches(text: str, patterns, exclude: list[tuple[int, int]] = ()) -> list[re.Match]:
    out = []
    for pattern, possessive_means_other in patterns:
        for m in pattern.finditer(text):
            if possessive_means_other and other_person(text, m.start()):
                continue
            if _NEGATED.search(before(text, m.start(), 6)) or any(m.start() < b and m.end() > a for a, b in exclude):
                continue
            if hedged(text, m.start(), 3) or _RELATIVE_POSSESSIVE.search(before(text, m.start(), 2)):
                continue
            out.append(m)
    return sorted(out, key=lambda m: m.start())


def _origin_claims(text: str) -> list[Claim]:
    claims = []
    for m in _identity_matches(text, _HISPANIC_PATTERNS):
        claims.append(Claim("hispanic", frozenset({True}), "Hispanic", snippet(text, m.start(), m.end())))
    for m in [*_NON_HISPANIC.finditer(text), *_FIELD_NON_HISPANIC.finditer(text)]:
        if not other_person(text, m.start()):
            claims.append(Claim("hispanic", frozenset({False}), "not Hispanic", snippet(text, m.start(), m.end())))
    for m in _NAMED_COMBINATION.finditer(text):
        if not (other_person(text, m.start()) or hedged(text, m.start(), 3)):
            keys = {_COMBINATION_KEYS[m.group(1)], _COMBINATION_KEYS[m.group(2)]}
            claims.append(Claim("race", frozenset(keys | {"multi"}), f"{m.group(1)} and {m.group(2)}",
                                snippet(text, m.start(), m.end())))
    umbrellas = [(m.start(), m.end()) for m in _UMBRELLA_API.finditer(text)]
    for start, end in umbrellas:
        if any(_identity_matches(text[max(0, start - 60):end + 40], patterns) for patterns in
               (_RACE_PATTERNS["asian"], _RACE_PATTERNS["nhpi"])):
            claims.append(Claim("race", frozenset({"asian", "nhpi", "multi"}), "Asian or Pacific Islander",
                                snippet(text, start, end)))
    for race, patterns in _RACE_PATTERNS.items():
        field = re.compile(_FIELD + RACE_TERMS[race] + r"\b)")
        matches = _identity_matches(text, patterns + [(field, False)], umbrellas if race in ("asian", "nhpi") else ())
        for m in matches:
            if race in ("white", "black") and not _capitalised_or_person(m):
                continue
            claims.append(Claim("race", RACE_ALLOWED[race], RACE_LABELS[race], snippet(text, m.start(), m.end())))
    return claims


def _capitalised_or_person(m: re.Match) -> bool:
    """'white'/'black' in lower case only count before a person noun ("a white woman", not "white hair")."""
    phrase = m.group(0)
    word = re.search(r"white|black|caucasian|african|european", phrase, re.I)
    return word is None or word.group(0)[0].isupper() or re.search(PERSON_NOUNS, phrase, re.I) is not None


def text_claims(text: str, *, reference_year=REFERENCE_YEARS) -> list[Claim]:
    """Every claim the rules find in ``text``, grouped by attribute in :data:`RULE_ATTRIBUTES` order.

    ``reference_year`` (a year or a ``(first, last)`` span) turns a year of birth into an age.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    claims = age_claims(text, reference_year) + _sex_claims(text) + _origin_claims(text) + status_claims(text)
    order = {a: i for i, a in enumerate(RULE_ATTRIBUTES)}
    return sorted(claims, key=lambda c: order[c.attribute])
