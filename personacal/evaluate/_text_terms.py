"""Positive and negative life-experience terms, and counting them in persona texts.

The lists are personacal's own, written for this diagnostic (not a published lexicon) and
fixed before they were run on any persona text. Their domains follow two standard inventories:

* negative -- the life events of the Social Readjustment Rating Scale (Holmes & Rahe 1967,
  J. Psychosom. Res. 11:213): death and loss, divorce and separation, illness and injury,
  job loss, debt and foreclosure, jail; plus economic hardship (poverty, eviction,
  homelessness, being uninsured) and distress (stress, worry, loneliness, discrimination);
* positive -- the PERMA elements of well-being (Seligman 2011, *Flourish*): positive emotion,
  engagement, relationships, meaning, accomplishment; plus economic security.

Each entry is a regular expression matched case-insensitively at word boundaries; ``\\w*``
takes a word's inflections ("struggl\\w*" matches struggle, struggles, struggling). Words
that are mostly something else in persona texts are left out ("security": Social Security;
"broke": broke a record; "poor" is kept: in persona texts it is almost always hardship).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

import numpy as np

__all__ = ["LIFE_EXPERIENCE_TERMS", "count_terms", "matched_terms", "word_count", "term_rates"]

LIFE_EXPERIENCE_TERMS: Mapping[str, tuple[str, ...]] = {
    "negative": (
        # loss and family disruption
        r"death", r"died", r"dying", r"passed away", r"loss(?:es)?", r"lost", r"grie(?:f|v\w*)", r"widow\w*",
        # the ACS marital label "Now married, except separated" is not a separation
        r"divorc\w*", r"(?<!except )separat(?:ed|ion)", r"estrang\w*",
        # illness and injury
        r"ill", r"illness(?:es)?", r"sick\w*", r"diseases?", r"cancer", r"chronic", r"disab\w*", r"injur\w*",
        r"pain\w*", r"addict\w*", r"depress\w*", r"anxi\w*",
        # work and money
        r"unemploy\w*", r"jobless", r"laid off", r"layoffs?", r"fired", r"debts?", r"bankrupt\w*", r"poverty",
        r"poor", r"evict\w*", r"foreclos\w*", r"homeless\w*", r"uninsured", r"no health insurance",
        r"paycheck to paycheck", r"make ends meet", r"hardships?", r"struggl\w*", r"financial (?:stress|strain)",
        # adversity and distress
        r"adversity", r"setbacks?", r"obstacles?", r"difficult(?:y|ies)?", r"hard times", r"trauma\w*", r"abus\w*",
        r"violen\w*", r"prison", r"jail\w*", r"incarcerat\w*", r"discriminat\w*", r"lonel\w*", r"isolat\w*",
        r"stress\w*", r"worr\w*", r"fears?", r"afraid",
    ),
    "positive": (
        # positive emotion
        r"joy\w*", r"happ(?:y|ily|iness)", r"delight\w*", r"cheerful\w*", r"grateful", r"gratitude", r"hope\w*",
        r"optimis\w*", r"enjoy\w*", r"love[sd]?", r"loving", r"cherish\w*", r"blessed", r"celebrat\w*",
        # engagement and meaning
        r"passion\w*", r"fulfill\w*", r"meaningful", r"purpose\w*", r"vibrant", r"inspir\w*",
        # relationships
        r"close-knit", r"supportive", r"warmth", r"warm",
        # accomplishment
        r"success\w*", r"succeed\w*", r"achiev\w*", r"accomplish\w*", r"thriv\w*", r"flourish\w*", r"proud",
        r"pride", r"promot(?:ed|ion)", r"resilien\w*",
        # economic security
        r"comfortabl[ey]", r"prosper\w*", r"affluent", r"wealthy", r"stable", r"stability",
    ),
}

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def _compile(patterns: tuple[str, ...]) -> re.Pattern:
    # longest alternatives first so "no health insurance" is not cut short by a shorter match
    ordered = sorted(patterns, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(ordered) + r")\b", re.IGNORECASE)


_COMPILED = {category: _compile(terms) for category, terms in LIFE_EXPERIENCE_TERMS.items()}


def matched_terms(texts: list[str], category: str) -> Counter:
    """How often each matched word or phrase of ``category`` occurs in ``texts`` (lower-cased)."""
    return Counter(m.lower() for text in texts for m in _COMPILED[category].findall(text))


def count_terms(text: str, category: str) -> int:
    """Non-overlapping matches of the ``category`` terms in ``text``."""
    return len(_COMPILED[category].findall(text))


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def term_rates(texts: list[str]) -> dict[str, np.ndarray]:
    """Per text: word count, counts of each category and counts per 1,000 words."""
    words = np.array([word_count(t) for t in texts], dtype=float)
    out: dict[str, np.ndarray] = {"n_words": words}
    for category in _COMPILED:
        counts = np.array([count_terms(t, category) for t in texts], dtype=float)
        out[f"{category}_terms"] = counts
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{category}_per_1k_words"] = np.where(words > 0, 1000.0 * counts / words, np.nan)
    pos, neg = out["positive_terms"], out["negative_terms"]
    with np.errstate(divide="ignore", invalid="ignore"):
        # (pos - neg) / (pos + neg): the valence of the life-experience words a text uses, whatever its length
        out["term_balance"] = np.where(pos + neg > 0, (pos - neg) / (pos + neg), np.nan)
    return out
