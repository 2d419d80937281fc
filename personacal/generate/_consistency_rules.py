"""Keyword/regex rules that read census-type claims out of LLM-written persona text.

Each rule turns a phrase into a :class:`Claim`: the attribute it speaks to and
the census categories it is compatible with (an age claim carries a closed
interval of years). The rules are deliberately conservative: they look for
phrases that describe the persona (``"a 68-year-old Latina woman"``, ``"she
is divorced"``, ``"has a bachelor's degree"``) and skip the usual traps:

- other people: a possessive or a relative just before the phrase (``"her
  12-year-old son"``, ``"her husband works as"``, ``"his Mexican-American wife"``);
- the past and the future: ``"worked as"`` does not match ``"works as"``;
  ``"hopes to earn a master's"``, ``"retirement savings"`` are skipped;
- negation: ``"never finished college"`` is a claim of its own, not a
  college claim.

No rule consults an LLM. Category keys are those of :mod:`._consistency`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Claim", "text_claims", "RULE_ATTRIBUTES", "snippet"]

#: Attributes the text rules speak to, in report order.
RULE_ATTRIBUTES = ("age", "sex", "hispanic", "race", "marital", "education", "employment")

RACE_ALL = frozenset({"white", "black", "asian", "aian", "nhpi", "other", "multi"})


@dataclass(frozen=True)
class Claim:
    """What a phrase says about the persona.

    ``allowed`` is a frozenset of category keys, or ``(low, high)`` years for
    ``age``. ``strong`` is False for indirect hints (``"her husband"`` for
    marital status) that count only when no direct statement exists.
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


def _before(text: str, start: int, n_words: int) -> str:
    """Up to ``n_words`` words before ``start``, within the same sentence, lower-cased."""
    window = text[max(0, start - 80):start]
    window = re.split(r"[.!?;:\n]", window)[-1]
    return " ".join(window.lower().split()[-n_words:])


def _after(text: str, end: int, n_words: int) -> str:
    window = text[end:end + 80]
    window = re.split(r"[.!?;:\n]", window)[0]
    return " ".join(window.lower().split()[:n_words])


POSSESSIVE = r"\b(?:her|his|my|their|our|your|whose)\b"
RELATIVES = (
    r"(?:son|sons|daughter|daughters|child|children|kid|kids|grandson|granddaughter|grandchild|grandchildren|"
    r"grandkids?|baby|toddler|boy|girl|twins|brother|sister|sibling|nephew|niece|cousin|husband|wife|spouse|"
    r"partner|boyfriend|girlfriend|fianc[eé]e?|parents?|mother|father|mom|dad|in-laws?|neighbou?rs?|friends?|"
    r"colleagues?|coworkers?|dog|cat|puppy|car|truck|house|home)"
)
CHILD_NOUNS = (
    r"(?:son|sons|daughter|daughters|child|children|kid|kids|grandson|granddaughter|grandchild|grandchildren|"
    r"grandkids?|baby|toddler|boy|girl|twins|brother|sister|sibling|nephew|niece|cousin|dog|cat|puppy|horse|car|"
    r"truck|sedan|suv|pickup|van|minivan|vehicle|house|home|business|company|farm|ranch|tradition)"
)
#: Words that may stand between a possessive and someone else's age or origin ("her two 12-year-old twins").
_BETWEEN = r"(?:two|three|four|five|six|youngest|oldest|eldest|younger|older|elderly|aging|ailing|beloved|own|little|young|teenage|adult|grown|dear|\d+)"
_OTHER_SUBJECT = re.compile(
    rf"(?:{POSSESSIVE}|\w(?:'s|’s))(?:\s+{_BETWEEN})?\s*$|{POSSESSIVE}\s+(?:\S+\s+)?{RELATIVES}\b|\b{RELATIVES}(?:'s|’s)?\s*$"
    r"|\bof\s+(?:an?|the)\s*$"
)
_ASPIRATION = re.compile(
    r"\b(?:hope|hopes|hoping|dream|dreams|dreamed|plan|plans|planning|want|wants|wanted|wish|wishes|aspire\w*|"
    r"goal|goals|pursue|pursues|pursuing|toward|towards|studying|enrolled|considering|saving|save|never|not|no|"
    r"without|didn't|didnt|lacks?|lacking|someday|eventually|return|returning|encourag\w*)\b"
    rf"|{POSSESSIVE}\s+{RELATIVES}\b|\b{RELATIVES}(?:'s|’s)"
)


def _other_person(text: str, start: int) -> bool:
    """The phrase belongs to someone else (``her son``, ``his wife``, ``mother of a``)."""
    return bool(_OTHER_SUBJECT.search(_before(text, start, 4)))


def _aspirational(text: str, start: int) -> bool:
    """A qualification someone hopes for, lacks, or that belongs to a relative."""
    return bool(_ASPIRATION.search(_before(text, start, 5)))


# ---------------------------------------------------------------- age
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
_AGE_AGED = re.compile(r"\baged\s+(\d{1,3})\b", re.I)
_AGE_NAME_COMMA = re.compile(r"(?:^|(?<=[.!?]\s))[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3},\s+(\d{2}),")
_AGE_DECADE = re.compile(
    r"\bin\s+(?:her|his|my)\s+(early|mid|mid-|late)?[\s-]*(twenties|thirties|forties|fifties|sixties|seventies|"
    r"eighties|nineties|(?:20|30|40|50|60|70|80|90)'?s)\b",
    re.I,
)


_PRESENT_BEFORE = re.compile(
    r"(?:\b(?:is|am|i'm|i’m|she's|he's|now|still|currently|remains|woman|man|lady|gentleman|mother|father|widow|"
    r"widower|grandmother|grandfather|person|individual|retiree|professional)|,)\s*$"
)


def _age_claims(text: str) -> list[Claim]:
    """The persona's age: the first age the text gives, exact ages before decades.

    Narratives introduce the persona first; later ages mostly belong to
    others ("Tom, a 51-year-old", "Susan, who is 59") or to the past ("in her
    early twenties she moved"), so only the first is the persona's.
    """
    exact = sorted(_exact_ages(text), key=lambda pair: pair[0])
    if exact:
        return [exact[0][1]]
    decades = _decade_ages(text)
    return decades[:1]


def _exact_ages(text: str) -> list[tuple[int, Claim]]:
    claims = []
    for m in _AGE_HYPHEN.finditer(text):
        if _other_person(text, m.start()) or _NOT_SELF_AFTER.search(_after(text, m.end(), 3)):
            continue
        if _PAST_BEFORE.search(_before(text, m.start(), 3)):
            continue
        high = int(m.group(2))
        low = int(m.group(1)) if m.group(1) else high
        label = f"{low} to {high} years old" if low != high else f"{high} years old"
        claims.append((m.start(), Claim("age", (min(low, high), max(low, high)), label, snippet(text, m.start(), m.end()))))
    for pattern in (_AGE_PRESENT, _AGE_AGED, _AGE_NAME_COMMA):
        for m in pattern.finditer(text):
            if pattern is _AGE_AGED and _PAST_BEFORE.search(_before(text, m.start(), 1)):
                continue
            if pattern is _AGE_PRESENT and _other_person(text, m.start()):
                continue
            age = int(m.group(1))
            if 10 <= age <= 110:
                claims.append((m.start(), Claim("age", (age, age), f"{age} years old", snippet(text, m.start(), m.end()))))
    return claims


def _decade_ages(text: str) -> list[Claim]:
    claims = []
    for m in _AGE_DECADE.finditer(text):
        if not _PRESENT_BEFORE.search(_before(text, m.start(), 2)):
            continue
        part, word = (m.group(1) or "").lower().rstrip("-"), m.group(2).lower()
        decade = DECADES.get(word) or int(re.sub(r"\D", "", word))
        low, high = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get(part, (0, 9))
        label = f"{part + ' ' if part else ''}{decade}s"
        claims.append(Claim("age", (decade + low, decade + high), label, snippet(text, m.start(), m.end())))
    return claims


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
    rf"(?:\b\d{{1,3}}-year-old|\b(?:i am|i'm|i’m|you are|you're|as a|as an|being a|being an))\s+(?:[\w'’-]+\s+){{0,3}}?({_GENDER_NOUN})\b",
    re.I,
)
_GAP_OTHER = re.compile(r"\b(?:her|his|my|their|our|your|of|with|and|for|to)\b", re.I)
_FEMALE_PRONOUNS = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)
_MALE_PRONOUNS = re.compile(r"\b(?:he|him|his|himself)\b", re.I)
#: Pronoun evidence counts only with this many pronouns and this share for one sex.
MIN_PRONOUNS, PRONOUN_SHARE = 5, 0.8


def _sex_claims(text: str) -> list[Claim]:
    found = []
    for m in _SELF_NOUN.finditer(text):
        if _other_person(text, m.start()) or _GAP_OTHER.search(text[m.start():m.start(1)]):
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


# ---------------------------------------------------------------- rules with fixed categories
@dataclass(frozen=True)
class _Rule:
    attribute: str
    pattern: re.Pattern
    allowed: frozenset
    stated: str
    strong: bool = True
    skip: Callable[[str, int], bool] | None = None


def _rx(pattern: str, flags: int = re.I) -> re.Pattern:
    return re.compile(pattern, flags)


NOT_MARRIED = frozenset({"never", "divorced", "widowed", "separated"})
MARRIED = frozenset({"married", "separated"})
_SPOUSE = r"(?:husband|wife|spouse)"

MARITAL_RULES = (
    _Rule("marital", _rx(r"\bwidow(?:ed|er)?\b"), frozenset({"widowed"}), "Widowed", skip=_other_person),
    _Rule("marital", _rx(rf"\blate\s+{_SPOUSE}\b|\b{_SPOUSE}\W+(?:\w+\W+){{0,3}}?(?:passed away|died)\b"
                         rf"|\blost\s+(?:her|his|my)\s+{_SPOUSE}\b|\bdeath of (?:her|his|my)\s+{_SPOUSE}\b"),
          frozenset({"widowed"}), "Widowed"),
    _Rule("marital", _rx(r"\b(?:is|am|i'm|i’m|are|was|recently|now|newly|a)\s+divorced\b|\bdivorc(?:ee|ed\s+(?:mother|father|"
                         r"mom|dad|woman|man|parent))\b|\b(?:her|his|my)\s+divorce\b|\bended in (?:a\s+)?divorce\b"
                         rf"|\bex-{_SPOUSE}\b|\bformer\s+{_SPOUSE}\b"),
          frozenset({"divorced"}), "Divorced"),
    _Rule("marital", _rx(rf"\b(?:is|am|i'm|i’m|are|recently|currently|now|legally)\s+separated\b|\bseparated from (?:her|his|my)\s+{_SPOUSE}\b"),
          frozenset({"separated"}), "Separated"),
    _Rule("marital", _rx(r"\bnever[\s-]+(?:been\s+)?married\b|\bunmarried\b|\bhas yet to marry\b"),
          frozenset({"never"}), "Never married"),
    _Rule("marital", _rx(r"\b(?:is|am|i'm|i’m|remains|still|a|as a|being)\s+single\b(?![-\s]+(?:income|earner|family|household|"
                         r"parent household|person household))|\bsingle\s+(?:mother|father|mom|dad|parent|woman|man|life)\b"),
          NOT_MARRIED, "not married (single)", skip=_other_person),
    _Rule("marital", _rx(rf"\b(?:is|am|i'm|i’m|are|happily|currently|now)\s+married\b|\bmarried to\b|\b(?:has|have)\s+been\s+married\b"
                         rf"|\bremarried\b|(?<!never-)(?<!never )\bmarried\s+(?:mother|father|woman|man|couple)\b|\b{_SPOUSE} of \d+ years\b"),
          MARRIED, "Married"),
    _Rule("marital", _rx(rf"\b(?:her|his|my)\s+(?:loving\s+|supportive\s+|devoted\s+|"
                         rf"beloved\s+|dear\s+)?{_SPOUSE}\b(?!\W+(?:\w+\W+){{0,3}}?(?:passed away|died))"),
          MARRIED, "Married (mentions a spouse)", strong=False),
)

EDUCATION_RULES = (
    _Rule("education", _rx(r"\bdropped out of (?:high )?school\b|\b(?:didn't|did not|never)\s+(?:finish|complete|graduate from)\s+"
                           r"high school\b|\bleft school (?:at|after|in)\b|\bwithout a high school (?:diploma|degree)\b"
                           r"|\bno high school (?:diploma|degree)\b|\bdropped out of school (?:at|in|after)\b|\b(?:sixth|seventh|eighth|ninth|tenth|eleventh|\d+th)[- ]grade education\b"),
          frozenset({"lths"}), "less than high school"),
    _Rule("education", _rx(r"\bonly (?:a|her|his|my) high school (?:diploma|education|degree)\b|\b(?:never|didn't|did not)\s+"
                           r"(?:(?:go|went|get to go)\s+to|attend|attended)\s+college\b|\bno college (?:degree|education)\b"),
          frozenset({"lths", "hs"}), "no college"),
    _Rule("education", _rx(r"\bsome college\b|\bdropped out of (?:college|university)\b|\bcollege dropout\b|\bleft college\b"
                           r"|\b(?:never|didn't|did not)\s+(?:finish|complete|graduate from)\s+(?:college|university)\b"),
          frozenset({"sc", "assoc"}), "some college, no degree"),
    _Rule("education", _rx(r"\b(?:high school (?:diploma|degree|graduate)|graduated (?:from )?high school|"
                           r"(?:finished|completed) high school|GED)\b"),
          frozenset({"hs", "sc", "assoc", "bach", "grad"}), "high school graduate", skip=_aspirational),
    _Rule("education", _rx(r"\bassociate'?s?(?:’s)?\s+degree\b|\bassociate degree\b|\btwo-year degree\b|\bA\.A\.(?!\w)"),
          frozenset({"assoc", "bach", "grad"}), "associate's degree", skip=_aspirational),
    _Rule("education", _rx(r"\bcollege degree\b|\bcollege graduate\b|\bcollege-educated\b|\bgraduated from (?:a\s+|the\s+)?"
                           r"(?:local\s+)?(?:community\s+)?college\b|\bdegree in [a-z]+"),
          frozenset({"assoc", "bach", "grad"}), "college degree", skip=_aspirational),
    _Rule("education", _rx(r"\bbachelor(?:'s|’s|s)(?:\s+degree)?\b|\bbachelor\s+(?:degree|of)\b|\bB\.[AS]\.(?!\w)|\buniversity degree\b|\bfour-year degree\b"
                           r"|\buniversity graduate\b|\bgraduated from (?:the\s+)?(?:[A-Z][\w&-]*\s+){0,4}University\b|"
                           r"\bgraduated from (?:the\s+)?University\b"),
          frozenset({"bach", "grad"}), "bachelor's degree or higher", skip=_aspirational),
    _Rule("education", _rx(r"\bmaster(?:'s|’s|s)\s+(?:degree|in)\b|\bmaster of (?:arts|science|business|education|fine arts|"
                           r"public|social)\b|\bM\.?B\.?A\b\.?|\bPh\.?\s?D\b\.?|\bdoctorate\b|\bdoctoral degree\b"
                           r"|\bJ\.D\.(?!\w)|\blaw degree\b|\bmedical degree\b|\bM\.D\.(?!\w)|\bgraduate degree\b|\bpostgraduate degree\b"
                           r"|\bprofessional degree\b|\bgraduate school\b|\bgrad school\b"),
          frozenset({"grad"}), "graduate or professional degree", skip=_aspirational),
)

_NOT_NOW = re.compile(r"\b(?:used to|once|formerly|previously|no longer|not|never|hasn't|hadn't|semi|soon|will|to|be)\W*$")


def _employment_skip(text: str, start: int) -> bool:
    return _other_person(text, start) or bool(_NOT_NOW.search(_before(text, start, 3)))


NOT_EMPLOYED = frozenset({"unemployed", "nilf"})
EMPLOYED = frozenset({"employed", "armed_forces"})

EMPLOYMENT_RULES = (
    _Rule("employment", _rx(r"\bretired\b|\bretiree\b|\b(?:enjoys|enjoying|in)\s+(?:her|his|my)\s+retirement\b|\bin retirement\b"
                            r"|\b(?:since|after) retiring\b"),
          frozenset({"nilf"}), "retired", skip=_employment_skip),
    _Rule("employment", _rx(r"\bunemployed\b|\bout of work\b|\bjobless\b|\blost (?:her|his|my) job\b|\blooking for (?:a\s+)?"
                            r"(?:work|job|employment)\b|\bsearching for (?:a\s+)?(?:work|job)\b|\bjob[- ]hunting\b|\bbetween jobs\b"),
          NOT_EMPLOYED, "unemployed", skip=_employment_skip),
    _Rule("employment", _rx(r"\bstay-at-home (?:mom|mother|dad|father|parent)\b|\bhomemaker\b|\bhousewife\b|\bhousehusband\b"
                            r"|\bunable to work\b|\b(?:does not|doesn't|do not|don't)\s+work\b|\bnot working\b"),
          NOT_EMPLOYED, "not working", skip=_other_person),
    _Rule("employment", _rx(r"\b(?:works|work|working)\s+(?:full[- ]time\s+|part[- ]time\s+)?(?:as|at)\b(?!\s+(?:a\s+)?volunteer)"
                            r"|\bworks\s+(?:full[- ]time\s+|part[- ]time\s+)?for\b|\b(?:is|am|i'm|i’m|currently)\s+employed\b"
                            r"|\bemployed\s+(?:as|at|by)\b|\b(?:her|his|my)\s+(?:current\s+)?(?:job|career|position)\s+as\b"
                            r"|\bself-employed\b|\bruns\s+(?:her|his|my|a)\s+(?:own\s+|small\s+|family\s+)*business\b"),
          EMPLOYED, "employed", skip=_employment_skip),
)

# ---------------------------------------------------------------- origin and race
PERSON_NOUNS = (
    r"(?:woman|women|man|men|person|individual|lady|gentleman|guy|mother|father|mom|dad|grandmother|grandfather|"
    r"grandma|grandpa|abuela|abuelo|matriarch|patriarch|widow|widower|immigrant|native|resident|citizen|single|"
    r"retiree|veteran|professional|worker|student|teen|teenager|millennial|senior|homeowner|entrepreneur|"
    r"nurse|teacher|(?:first|second|third)-generation)"
)
ROOT_NOUNS = r"(?:heritage|descent|roots|background|origin|origins|ancestry|identity)"
HISPANIC_TERMS = r"(?:Hispanic|Latina|Latino|Latinx|Latine|Chicana|Chicano)"
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
        (re.compile(rf"\b\d{{1,3}}-year-old\s+(?:[\w-]+\s+){{0,2}}?{term}\b", re.I), True),
        (re.compile(rf"\b(?:i am|i'm|i’m|you are|you're|she is|he is|she's|he's|identifies as|identify as|as a|being a|a proud|proud)\s+"
                    rf"(?:an?\s+)?(?:proud\s+)?{term}\b", re.I), False),
        (re.compile(rf"\b(?:daughter|son|child|children|grandchild|granddaughter|grandson)\s+of\s+(?:[\w-]+\s+)?{term}\s+"
                    r"(?:immigrants?|parents|farmworkers|migrants)\b", re.I), False),
    ]


_HISPANIC_PATTERNS = _identity_patterns(HISPANIC_TERMS) + _identity_patterns(HISPANIC_NATIONS + r"(?=[- ]American\b|\s+" + ROOT_NOUNS + r"|\s+immigrants?)")
_NON_HISPANIC = re.compile(
    r"(?:\b\d{1,3}-year-old|\b(?:i am|i'm|i’m|you are|she is|he is|she's|he's|identifies as|is a|am a|is an|am an))"
    r"\s+(?:[\w,-]+\s+){0,2}?(?:non-?\s?Hispanic|not (?:Hispanic|Latino|Latina))\b",
    re.I,
)
#: "Asian or Pacific Islander" and the like name one umbrella group, not two races.
_UMBRELLA_API = re.compile(r"\bAsian(?:[- ]American)?\s*(?:or|and|/)\s*(?:Other\s+|Native Hawaiian\s*(?:or|and|/)\s*)?Pacific Islanders?\b", re.I)
_NEGATED = re.compile(r"\b(?:no|not|absence|without|lack|non)\b")
_RACE_PATTERNS = {race: _identity_patterns(term) for race, term in RACE_TERMS.items()}


def _identity_matches(text: str, patterns, exclude: list[tuple[int, int]] = ()) -> list[re.Match]:
    out = []
    for pattern, possessive_means_other in patterns:
        for m in pattern.finditer(text):
            if possessive_means_other and _other_person(text, m.start()):
                continue
            if _NEGATED.search(_before(text, m.start(), 6)) or any(m.start() < b and m.end() > a for a, b in exclude):
                continue
            out.append(m)
    return sorted(out, key=lambda m: m.start())


def _origin_claims(text: str) -> list[Claim]:
    claims = []
    for m in _identity_matches(text, _HISPANIC_PATTERNS):
        claims.append(Claim("hispanic", frozenset({True}), "Hispanic", snippet(text, m.start(), m.end())))
    for m in _NON_HISPANIC.finditer(text):
        if not _other_person(text, m.start()):
            claims.append(Claim("hispanic", frozenset({False}), "not Hispanic", snippet(text, m.start(), m.end())))
    umbrellas = [(m.start(), m.end()) for m in _UMBRELLA_API.finditer(text)]
    for start, end in umbrellas:
        if any(_identity_matches(text[max(0, start - 60):end + 40], patterns) for patterns in
               (_RACE_PATTERNS["asian"], _RACE_PATTERNS["nhpi"])):
            claims.append(Claim("race", frozenset({"asian", "nhpi", "multi"}), "Asian or Pacific Islander",
                                snippet(text, start, end)))
    for race, patterns in _RACE_PATTERNS.items():
        for m in _identity_matches(text, patterns, umbrellas if race in ("asian", "nhpi") else ()):
            if race in ("white", "black") and not _capitalised_or_person(m):
                continue
            claims.append(Claim("race", RACE_ALLOWED[race], RACE_LABELS[race], snippet(text, m.start(), m.end())))
    return claims


def _capitalised_or_person(m: re.Match) -> bool:
    """'white'/'black' in lower case only count before a person noun ("a white woman", not "white hair")."""
    phrase = m.group(0)
    word = re.search(r"white|black|caucasian|african|european", phrase, re.I)
    return word is None or word.group(0)[0].isupper() or re.search(PERSON_NOUNS, phrase, re.I) is not None


def _rule_claims(text: str, rules) -> list[Claim]:
    claims = []
    for rule in rules:
        for m in rule.pattern.finditer(text):
            if rule.skip is not None and rule.skip(text, m.start()):
                continue
            claims.append(Claim(rule.attribute, rule.allowed, rule.stated, snippet(text, m.start(), m.end()), rule.strong))
    return claims


def text_claims(text: str) -> list[Claim]:
    """Every claim the rules find in ``text``, grouped by attribute in :data:`RULE_ATTRIBUTES` order."""
    if not isinstance(text, str) or not text.strip():
        return []
    claims = (
        _age_claims(text) + _sex_claims(text) + _origin_claims(text) + _rule_claims(text, MARITAL_RULES)
        + _rule_claims(text, EDUCATION_RULES) + _rule_claims(text, EMPLOYMENT_RULES)
    )
    order = {a: i for i, a in enumerate(RULE_ATTRIBUTES)}
    return sorted(claims, key=lambda c: order[c.attribute])
