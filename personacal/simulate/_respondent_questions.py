"""Which bank questions a survey-fitted respondent model can answer: question -> survey variable -> options.

The table is data (``banks/respondent-model-map.csv``), one row per question:
``question_id, bank, survey, years, survey_variable, survey_column, options, survey_labels``.
``options`` are the question's substantive options in the bank's order and ``survey_labels``
the survey's labels for them, position by position (``|``-separated). A refusal option of the
bank question ("Refused") has no survey label: survey non-response is left out of the fit, so
the model gives it probability 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from ..errors import DataError
from ._banks import load_question_bank
from ._question import Question

__all__ = ["QuestionMapping", "question_mappings", "mapped_question", "question_map_frame", "SURVEYS"]

#: Surveys a respondent model can be fitted on, and what each shipped extract is.
SURVEYS = {
    "GSS": "GSS 2018 (personacal.data.gss_subset, 2,348 adults, unweighted)",
    "ANES": "ANES time series (personacal.data.anes_subset, unweighted; the year(s) named per question)",
}
_MAP_FILE = "respondent-model-map.csv"
_OWN_BANK = "respondent-model"


@dataclass(frozen=True)
class QuestionMapping:
    """One question a respondent model answers and the survey variable it is fitted on."""

    question_id: str
    bank: str
    survey: str
    years: tuple[int, ...]
    survey_variable: str
    survey_column: str
    options: tuple[str, ...]
    survey_labels: tuple[str, ...]

    def survey_label(self, option: str) -> str | None:
        """The survey's label for a bank option (None for an option the survey has no answer for)."""
        return self.survey_labels[self.options.index(option)] if option in self.options else None


@cache
def question_mappings() -> dict[str, QuestionMapping]:
    """Every mapped question, by id, in the table's order."""
    with resources.files("personacal.simulate").joinpath("banks", _MAP_FILE).open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, dtype=str, keep_default_na=False)
    out = {}
    for row in table.itertuples(index=False):
        options, labels = tuple(row.options.split("|")), tuple(row.survey_labels.split("|"))
        if len(options) != len(labels) or row.survey not in SURVEYS:
            raise DataError(f"row {row.question_id!r} of {_MAP_FILE} is malformed: {len(options)} options for "
                            f"{len(labels)} survey labels, survey {row.survey!r} (known: {list(SURVEYS)})")
        out[row.question_id] = QuestionMapping(
            question_id=row.question_id, bank=row.bank, survey=row.survey,
            years=tuple(int(y) for y in row.years.split("|")), survey_variable=row.survey_variable,
            survey_column=row.survey_column, options=options, survey_labels=labels,
        )
    return out


@cache
def _bank(name: str) -> dict[str, Question]:
    if name == _OWN_BANK:
        with resources.as_file(resources.files("personacal.simulate").joinpath("banks", f"{_OWN_BANK}.json")) as path:
            questions = load_question_bank(path)
    else:
        questions = load_question_bank(name)
    return {q.id: q for q in questions}


def mapped_question(question_id: str) -> Question:
    """The bank's Question for a mapped id, checked against the mapping's option order."""
    mapping = question_mappings()[question_id]
    question = _bank(mapping.bank).get(question_id)
    if question is None:
        raise DataError(f"{_MAP_FILE} names question {question_id!r} in bank {mapping.bank!r}, which lacks it")
    substantive = tuple(o for o, r in zip(question.options, question.is_refusal) if not r)
    if substantive != mapping.options:
        raise DataError(
            f"{_MAP_FILE} lists options {list(mapping.options)} for {question_id!r}, but bank {mapping.bank!r} "
            f"orders its substantive options {list(substantive)}; the table must follow the bank's order"
        )
    return question


def question_map_frame() -> pd.DataFrame:
    """The mapping as a table: one row per question x option (bank order), with the survey label."""
    rows = []
    for m in question_mappings().values():
        question = mapped_question(m.question_id)
        for index, option in enumerate(question.options):
            rows.append({
                "question_id": m.question_id, "bank": m.bank, "survey": m.survey,
                "years": "|".join(map(str, m.years)), "survey_variable": m.survey_variable,
                "survey_column": m.survey_column, "option_index": index, "option": option,
                "survey_label": m.survey_label(option),
            })
    return pd.DataFrame(rows)
