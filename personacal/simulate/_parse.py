"""Read the chosen option out of a free-text reply.

The seed paper took the first character after "answer:" (or of the whole
reply) and counted anything that was not an option letter as
"Invalid/Abstain". This parser accepts the usual ways a model writes a choice
and returns ``None`` (unparseable, counted separately) for everything else;
it never guesses between two candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["parse_choice"]

_MARKUP = re.compile(r"[*_`#>\"“”]+")
_ANSWER = re.compile(r"\b(?:final\s+)?answer\b\s*(?:is\b)?\s*[:\-=]?\s*", re.IGNORECASE)
_LEAD_UPPER = re.compile(r"^[(\[]?([A-Z])(?:[)\].:,;]|\s|$)")
_LEAD_LOWER = re.compile(r"^[(\[]?([a-z])(?:[)\].:]|$)")
_WORDS = re.compile(r"[^\w%$]+")
_AMBIGUOUS = re.compile(r"^[(\[]?[A-Z][)\].]?\s*(?:or|and|/|,|&)\s*[(\[]?[A-Z](?:[)\].:,;]|\s|$)")
#: "A" or "I" followed by a lower-case word is an article or pronoun, not an option letter.
_WORD_LETTER = re.compile(r"^[AI]\s+[a-z]")


def parse_choice(reply: str, letters: Sequence[str], options: Sequence[str]) -> int | None:
    """Index (into ``letters``/``options``, the order shown) of the chosen option, or ``None``.

    Tried in turn, first on what follows the first "Answer:" / "answer is"
    and then on the whole reply: the exact text of an option; a leading
    option letter ("B", "B)", "(B)", "B.", "B: ...", "b)"); the option's text
    at the start, or the only option named in the reply (longer names win over
    names they contain, "Very good" over "Good"). Not a choice: a letter not
    among ``letters``, two letters ("A or B"), and "A"/"I" used as a word
    ("A lot of ...", "I think ...").
    """
    text = _MARKUP.sub("", reply).strip().strip("'‘’").strip()
    if not text:
        return None
    segments = []
    found = _ANSWER.search(text)
    if found:
        segments.append(text[found.end():].strip())
    segments.append(text)
    for segment in segments:
        if not segment or _AMBIGUOUS.match(segment):
            continue
        for rule in (_exact_text, _leading_letter, _option_text):
            choice = rule(segment, letters, options)
            if choice is not None:
                return choice
    return None


def _exact_text(text: str, letters: Sequence[str], options: Sequence[str]) -> int | None:
    reply = _normalise(text)
    names = [_normalise(o) for o in options]
    return names.index(reply) if reply and reply in names else None


def _leading_letter(text: str, letters: Sequence[str], options: Sequence[str]) -> int | None:
    match = _LEAD_UPPER.match(text) or _LEAD_LOWER.match(text)
    if match is None:
        return None
    letter = match.group(1).upper()
    if _WORD_LETTER.match(text):
        return None
    return letters.index(letter) if letter in letters else None


def _normalise(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.casefold()).split())


def _option_text(text: str, letters: Sequence[str], options: Sequence[str]) -> int | None:
    reply = _normalise(text)
    if not reply:
        return None
    names = [_normalise(o) for o in options]
    padded = f" {reply} "
    named = [i for i, name in enumerate(names) if name and f" {name} " in padded]
    # "Very good" also names "Good": keep only names not contained in another named option.
    named = [i for i in named if not any(j != i and f" {names[i]} " in f" {names[j]} " for j in named)]
    starts = [i for i in named if padded.startswith(f" {names[i]} ")]
    if len(starts) == 1:
        return starts[0]
    return named[0] if len(named) == 1 else None
