"""Text rules for marital status, education and employment (see :mod:`._consistency_rules`).

Education claims come in two strengths. A degree or diploma named is an "at least" claim ("has a
bachelor's degree" allows bachelor's or graduate). How the persona's level is rendered is also an
exact, weaker claim ("is a high school graduate", "holds an associate's degree", "her highest level
of education is a high school diploma"): persona texts render the census category, so "a high
school graduate" means high school and no more; the exact claim yields whenever the text also
names a higher qualification.
"""

from __future__ import annotations

import re

from ._consistency_text import (Claim, Rule, after, aspirational, before, negated, other_in_clause, other_person,
                                 rule_claims, rx)

__all__ = ["MARITAL_RULES", "EDUCATION_RULES", "EMPLOYMENT_RULES", "status_claims", "NOT_MARRIED", "MARRIED"]

NOT_MARRIED = frozenset({"never", "divorced", "widowed", "separated"})
MARRIED = frozenset({"married", "separated"})
_SPOUSE = r"(?:husband|wife|spouse)"


def _not_self_or_negated(text: str, start: int) -> bool:
    return other_person(text, start) or negated(text, start)


_FEMALE = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)
_MALE = re.compile(r"\b(?:he|him|his|himself)\b", re.I)


def _someone_elses_spouse(text: str, start: int) -> bool:
    """'Jeremy lives with his married sister and her husband': the spouse's possessive disagrees with the
    pronouns the sentence uses for the persona."""
    sentence_start = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    stops = [i for i in (text.find(c, start) for c in ".!?\n") if i >= 0]
    sentence = text[sentence_start:min(stops) if stops else len(text)]
    here = start - sentence_start
    word = sentence[here:here + 4].lower()
    rest = sentence[:here] + sentence[here + 4:]
    n_female, n_male = len(_FEMALE.findall(rest)), len(_MALE.findall(rest))
    if word.startswith("her "):
        return n_male > 0 and n_female == 0
    if word.startswith("his "):
        return n_female > 0 and n_male == 0
    return False


MARITAL_RULES = (
    # not "widow(er) benefits", "widows' pensions": the word as a kind of benefit, not a status
    Rule("marital", rx(r"\bwidow(?:ed|er)?\b(?!\(er\)|s?'|\s+(?:benefits?|pensions?|allowances?))"), frozenset({"widowed"}),
         "Widowed", skip=_not_self_or_negated),
    Rule("marital", rx(rf"\blate\s+{_SPOUSE}\b|\b{_SPOUSE}\W+(?:\w+\W+){{0,3}}?(?:passed away|died)\b"
                       rf"|\blost\s+(?:her|his|my)\s+{_SPOUSE}\b|\bdeath of (?:her|his|my)\s+{_SPOUSE}\b"
                       rf"|\b(?:her|his|my)\s+{_SPOUSE}(?:'s|’s)\s+(?:passing|death)\b"),
         frozenset({"widowed"}), "Widowed", skip=other_in_clause),
    Rule("marital", rx(r"\b(?:is|am|i'm|i’m|are|was|recently|now|a)\s+divorced\b|\bdivorc(?:ee|ed\s+(?:mother|father|"
                       r"mom|dad|woman|man|parent))\b|\b(?:her|his|my)\s+divorce\b|\bended in (?:a\s+)?divorce\b"
                       rf"|\bex-{_SPOUSE}\b|\bformer\s+{_SPOUSE}\b|\bmarital status (?:is|as|of) divorced\b"
                       r"|\b[A-Z][a-z]+(?:'s|’s) divorce\b"),
         frozenset({"divorced"}), "Divorced", skip=_not_self_or_negated),
    Rule("marital", rx(rf"\b(?:is|am|i'm|i’m|are|recently|currently|now|legally)\s+separated\b|\bseparated from (?:her|his|my)\s+"
                       rf"{_SPOUSE}\b|\bmarried,?\s+but\s+(?:currently\s+|now\s+)?separated\b|\b(?:her|his|my)\s+marital separation\b"
                       r"|\bas a separated (?:individual|person|woman|man|mother|father|parent)\b|\bmarital status (?:is|as|of) separated\b"),
         frozenset({"separated"}), "Separated", skip=negated),
    Rule("marital", rx(r"\bnever[\s-]+(?:been\s+)?married\b|\bhas yet to marry\b|\b(?:has|have)\s+not\s+(?:yet\s+)?"
                       r"(?:been\s+)?married\b"),
         frozenset({"never"}), "Never married"),
    Rule("marital", rx(r"\bunmarried\b|\b(?:is|am|are|i'm|i’m)\s+not\s+married\b|\b(?:isn't|aren't)\s+married\b"),
         NOT_MARRIED, "not married", skip=other_person),
    Rule("marital", rx(r"\b(?:is|am|i'm|i’m|remains|still|a|as a|being)\s+single\b(?![-\s]+(?:income|earner|family|household|"
                       r"parent household|person household|story|family home))|\bsingle\s+(?:mother|father|mom|dad|parent|woman|man|life)\b"),
         NOT_MARRIED, "not married (single)", skip=other_person),
    Rule("marital", rx(rf"\b(?:is|am|i'm|i’m|are|happily|currently|now)\s+married\b|\bmarried to\b|\b(?:has|have)\s+been\s+married\b"
                       rf"|\bremarried\b|(?<!never-)(?<!never )\bmarried\s+(?:mother|father|woman|man|couple|individual|person|male|female)\b"
                       rf"|\b{_SPOUSE} of \d+ years\b|\b(?:her|his|my|a|the) married-couple (?:household|family)\b"
                       rf"|\bas a spouse\b|\bmarital status (?:is|as|of) (?:now )?married\b"),
         MARRIED, "Married", skip=negated),
    Rule("marital", rx(rf"(?i:\b(?:her|his|my)\s+(?:loving\s+|supportive\s+|devoted\s+|beloved\s+|dear\s+)?{_SPOUSE}\b"
                       rf"(?!\W+(?:\w+\W+){{0,3}}?(?:passed away|died))(?!(?:'s|’s)\s+(?:passing|death)))"
                       rf"|\b[A-Z][a-z]+(?:'s|’s)\s+(?i:{_SPOUSE})\b", 0),
         MARRIED, "Married (mentions a spouse)", strong=False, skip=lambda t, i: _someone_elses_spouse(t, i)),
)

# ---------------------------------------------------------------- education
HIGHER = re.compile(r"college|universit|degree|bachelor|associate|master|credits|certificat|vocational|trade school|"
                    r"\bGED\b|equivalen", re.I)
LTHS, HS_UP = frozenset({"lths"}), frozenset({"hs", "sc", "assoc", "bach", "grad"})
NO_COLLEGE, NO_DEGREE = frozenset({"lths", "hs"}), frozenset({"lths", "hs", "sc"})
SOME_COLLEGE = frozenset({"sc"})
UNIVERSITIES = (r"(?:Stanford|Harvard|Yale|Princeton|MIT|Caltech|Berkeley|UC Berkeley|UCLA|USC|Columbia|Cornell|Duke|"
                r"Georgetown|Northwestern|Dartmouth|Brown|Penn|Johns Hopkins|Vanderbilt|Rice|Emory|NYU|Notre Dame|"
                r"Ohio State|Penn State|Michigan State|Texas A&M|Purdue|Rutgers|Tufts)")
_SCHOOL_NAME = r"(?:the\s+)?(?:[A-Z][\w.'&-]*\s+){1,4}"


def _sentence_at(text: str, start: int) -> str:
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, start) for c in ".!?\n") if i >= 0]
    return text[left:min(ends) if ends else len(text)]


_NO_DIPLOMA = re.compile(r"\b(?:did not|didn't|never|not|without)\s+(?:graduate|graduating|finish|complete|completing|"
                         r"obtain|obtaining|earn|earning|get|getting|receive|receiving)\b", re.I)


def _high_school_only(text: str, start: int) -> bool:
    """Skip the exact high-school reading when the sentence names a higher qualification, denies the diploma,
    or hopes for it."""
    sentence = _sentence_at(text, start)
    return bool(HIGHER.search(sentence) or _NO_DIPLOMA.search(sentence)) or aspirational(text, start)


def _dropout_skip(text: str, start: int) -> bool:
    """'dropped out of high school' is not the level reached when the sentence adds a GED or equivalency."""
    return other_person(text, start) or bool(re.search(r"\bGED\b|equivalen", after(text, start, 40) + " "
                                                       + before(text, start, 12), re.I))


def _negated_or_aspirational(text: str, start: int) -> bool:
    return aspirational(text, start) or negated(text, start, 3)


EDUCATION_RULES = (
    Rule("education", rx(r"\bdropp(?:ed|ing) out of (?:high )?school\b|\b(?:didn't|did not|never)\s+(?:finish|complete|graduate from)\s+"
                         r"high school\b|\bleft school (?:at|after|in)\b|\bwithout a high school (?:diploma|degree)\b"
                         r"|\bno high school (?:diploma|degree)\b|\b(?:sixth|seventh|eighth|ninth|tenth|eleventh|\d+th)[- ]grade education\b"
                         r"|\b(?:did not|didn't|never|not)\s+(?:complete|completing|finish|finishing|obtain|obtaining|earn|earning|get|"
                         r"getting|receive|receiving)\s+(?:her|his|my|their|a|the)\s+(?:high school\s+)?diploma\b"
                         r"|\b9th\s*(?:to|-|–)\s*12th grade\b|\bless than (?:a\s+)?(?:high school|9th grade)\b"
                         r"|\bhigh school(?: education)?,?\s+but\s+(?:did not|didn't|never)\s+(?:graduate|finish|complete)\b"
                         r"|\b(?:did not|didn't|never)\s+graduate from high school\b|\black of a high school diploma\b"),
         LTHS, "less than high school", skip=_dropout_skip),
    Rule("education", rx(r"\bonly (?:a|her|his|my) high school (?:diploma|education|degree)\b|\b(?:never|didn't|did not)\s+"
                         r"(?:(?:go|went|get to go)\s+to|attend|attended)\s+college\b|\bno college education\b"
                         r"|\bwithout (?:a\s+)?college education\b"
                         r"|\b(?:did not|didn't|never|has not|hasn't|have not|had not)\s+(?:go on to\s+)?(?:pursue|pursued|"
                         r"seek|sought|attend|attended|enroll in|enrolled in)\s+(?:any\s+)?(?:higher|post-?secondary|college)"
                         r"(?:\s+education)?\b"),
         NO_COLLEGE, "no college"),
    Rule("education", rx(r"\bno college degree\b|\bwithout (?:a\s+)?(?:college\s+)?degree\b|\bnot having (?:a\s+)?(?:college\s+)?degree\b"
                         r"|\b(?:does not|doesn't|did not|didn't) (?:have|hold|earn) (?:a\s+)?(?:college\s+)?degree\b"),
         NO_DEGREE, "no college degree", skip=other_person),
    Rule("education", rx(r"\bsome college\b(?:\s+(?:education|credits|coursework))?,?\s+(?:but\s+)?(?:no|without a)\s+degree\b"
                         r"|\bsome college credits\b|\bdropp(?:ed|ing) out of " + _SCHOOL_NAME.replace("{1,4}", "{0,4}")
                         + r"(?:college|university|community college)\b|\bcollege dropout\b|\bleft college\b"
                         r"|\b(?:never|didn't|did not)\s+(?:finish|complete|graduate from)\s+(?:college|university)\b"
                         r"|\b(?:did not|didn't|never|not)\s+(?:complete|completing|finish|finishing|earn|earning|obtain)\s+"
                         r"(?:her|his|my|their|a|the)\s+degree\b"),
         SOME_COLLEGE, "some college, no degree", skip=other_person),
    Rule("education", rx(r"\bsome college\b"), frozenset({"sc", "assoc"}), "some college", skip=_negated_or_aspirational),
    Rule("education", rx(r"\b(?:high school (?:diploma|degree|graduate)|graduated (?:from )?high school|"
                         r"(?:finished|completed) high school|GED|graduated from " + _SCHOOL_NAME + r"High School"
                         r"|graduate of " + _SCHOOL_NAME + r"High School)\b"),
         HS_UP, "high school graduate", skip=_negated_or_aspirational),
    Rule("education", rx(r"\bhigh school (?:diploma|graduate|education)\b|\bGED\b|\bhighest level of education is (?:a\s+)?high school\b"
                         r"|\bgraduated from " + _SCHOOL_NAME + r"High School\b|\bcompleted high school\b"),
         frozenset({"hs"}), "high school, no more", strong=False, skip=_high_school_only),
    Rule("education", rx(r"\bassociate'?s?(?:’s)?\s+degree\b|\bassociate degree\b|\btwo-year degree\b|\bA\.A\.(?!\w)"),
         frozenset({"assoc", "bach", "grad"}), "associate's degree", skip=_negated_or_aspirational),
    Rule("education", rx(r"\b(?:holds|has|had|earned|obtained|completed|with|holding|having)\s+an\s+associate'?s?(?:’s)?\s+degree\b"),
         frozenset({"assoc"}), "associate's degree, no more", strong=False, skip=_negated_or_aspirational),
    Rule("education", rx(r"\bcollege degree\b|\bcollege graduate\b|\bcollege-educated\b|\bgraduated from (?:a\s+|the\s+)?"
                         r"(?:local\s+)?(?:community\s+)?college\b|\bdegree in [a-z]+|\bgraduated from " + _SCHOOL_NAME
                         + r"(?:Community\s+)?College\b"),
         frozenset({"assoc", "bach", "grad"}), "college degree", skip=_negated_or_aspirational),
    Rule("education", rx(r"\bbachelor(?:'s|’s|s)(?:\s+degree)?\b|\bbachelor\s+(?:degree|of)\b|\bB\.[AS]\.(?!\w)|\buniversity degree\b"
                         r"|\bfour-year degree\b|\buniversity graduate\b|\bgraduated from " + _SCHOOL_NAME + r"University\b"
                         r"|\bgraduated from (?:the\s+)?University of [A-Z]|\bgraduated from " + UNIVERSITIES + r"\b"
                         r"|\bgraduate of (?:the\s+)?(?:University of [A-Z]|" + UNIVERSITIES + r"\b)"),
         frozenset({"bach", "grad"}), "bachelor's degree or higher", skip=_negated_or_aspirational),
    Rule("education", rx(r"\b(?:holds|has|had|earned|obtained|completed|with|holding|having)\s+a\s+bachelor(?:'s|’s)?\s+(?:degree|of)\b"),
         frozenset({"bach"}), "bachelor's degree, no more", strong=False, skip=_negated_or_aspirational),
    Rule("education", rx(r"\bmaster(?:'s|’s|s)\s+(?:degree|in)\b|\bmaster of (?:arts|science|business|education|fine arts|"
                         r"public|social)\b|\bM\.?B\.?A\b\.?|\bPh\.?\s?D\b\.?|\bdoctorate\b|\bdoctoral degree\b"
                         r"|\bJ\.D\.(?!\w)|\blaw degree\b|\bmedical degree\b|\bM\.D\.(?!\w)|\bgraduate degree\b|\bpostgraduate degree\b"
                         r"|\bprofessional degree\b|\bgraduate school\b|\bgrad school\b|\badvanced degree\b"),
         frozenset({"grad"}), "graduate or professional degree", skip=_negated_or_aspirational),
)

# ---------------------------------------------------------------- employment
_NOT_NOW = re.compile(r"\b(?:used to|once|formerly|previously|no longer|not|never|hasn't|hadn't|semi|soon|will|to|be)\W*$")
_UNTIL_RETIREMENT = re.compile(r"\b(?:until|before)\s+(?:her|his|my|their)\s+retirement\b|\buntil\s+(?:she|he|i)\s+retired\b")


def _employment_skip(text: str, start: int) -> bool:
    return (other_person(text, start) or other_in_clause(text, start)
            or bool(_NOT_NOW.search(before(text, start, 3))))


_PAST_CLAUSE = re.compile(r"\b(?:pursued|worked|spent|served|began|started|was|were|had|retired|held|built)\b[^.;]*,?\s*$")


def _working_skip(text: str, start: int) -> bool:
    """A job the persona held until retiring is not a current job, nor is a participle ("working as") that
    continues a past-tense clause ("later pursued a career in construction, working as a carpenter")."""
    if _employment_skip(text, start) or _UNTIL_RETIREMENT.search(after(text, start, 30)):
        return True
    return text[start:start + 7].lower() == "working" and bool(_PAST_CLAUSE.search(before(text, start, 10)))


NOT_EMPLOYED = frozenset({"unemployed", "nilf"})
EMPLOYED = frozenset({"employed", "armed_forces"})

EMPLOYMENT_RULES = (
    Rule("employment", rx(r"\bretired\b|\bretiree\b|\b(?:enjoys|enjoying|in)\s+(?:her|his|my)\s+retirement\b"
                          r"|\b(?:is|are|am|now|currently|living|lives)\s+in retirement\b|\b(?:since|after) retiring\b"
                          r"|\b(?:until|since)\s+(?:her|his|my)\s+retirement\b"),
         frozenset({"nilf"}), "retired", skip=_employment_skip),
    Rule("employment", rx(r"\bunemployed\b|\bout of work\b|\bjobless\b|\blost (?:her|his|my) job\b|\blooking for (?:a\s+)?"
                          r"(?:work|job|employment)\b|\bsearching for (?:a\s+)?(?:work|job)\b|\bjob[- ]hunting\b|\bbetween jobs\b"),
         NOT_EMPLOYED, "unemployed", skip=_employment_skip),
    Rule("employment", rx(r"\bstay-at-home (?:mom|mother|dad|father|parent)\b|\bhomemaker\b|\bhousewife\b|\bhousehusband\b"
                          r"|\bunable to work\b|\b(?:does not|doesn't|do not|don't)\s+work\b|\bnot working\b"),
         NOT_EMPLOYED, "not working", skip=_employment_skip),
    Rule("employment", rx(r"\b(?:works|work|working)\s+(?:full[- ]time\s+|part[- ]time\s+)?(?:as|at)\b(?!\s+(?:a\s+)?volunteer)"
                          r"|\bworks\s+(?:full[- ]time\s+|part[- ]time\s+)?for\b|\b(?:is|am|i'm|i’m|currently)\s+employed\b"
                          r"|\bemployed\s+(?:as|at|by)\b|\b(?:her|his|my)\s+(?:current\s+)?(?:job|career|position)\s+as\b"
                          r"|\bself-employed\b|\bruns\s+(?:her|his|my|a)\s+(?:own\s+|small\s+|family\s+)*business\b"
                          r"|\bworks?\s+(?:about|around|approximately|roughly|over|nearly|up to)?\s*\d+\s+hours\b"
                          r"|\b(?:has|have)\s+been\s+working\b|\b(?:is|am)\s+(?:currently\s+)?working\s+(?:as|at|for|full|part)"
                          r"|\b(?:her|his|my)\s+(?:current\s+|full-time\s+|part-time\s+|day\s+)?job\s+(?:pays|is|keeps|requires|"
                          r"involves|allows|provides)\b|\b(?:secured?|landed|found|holds?|has|have|keeps?)\s+an?\s+(?:[\w-]+\s+)?"
                          r"job\s+(?:as|at|with)\b"),
         EMPLOYED, "employed", skip=_working_skip),
)


def status_claims(text: str) -> list[Claim]:
    """Marital, education and employment claims, in that order."""
    return rule_claims(text, MARITAL_RULES) + rule_claims(text, EDUCATION_RULES) + rule_claims(text, EMPLOYMENT_RULES)

