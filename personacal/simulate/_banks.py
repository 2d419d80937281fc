"""Question banks: the shipped ones, election questions, and loaders for OpinionQA/SubPOP files."""

from __future__ import annotations

import ast
import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import Options, check_param, check_params
from ..errors import DataError, InputError
from ._question import Question

__all__ = ["available_question_banks", "election_question", "load_question_bank", "reference_distributions"]

#: Shipped bank name -> file under personacal/simulate/banks/.
_BANK_FILES = {
    "elections": "elections.json",
    "opinionqa-curated": "opinionqa-curated.json",
    "subpop-opinionqa": "subpop-opinionqa.json",
    "subpop-gss2022": "subpop-gss2022.json",
}
#: Shipped bank name -> its tidy human reference distributions.
_REFERENCE_FILES = {"opinionqa-curated": "opinionqa-curated-reference.csv.gz"}
#: Whether each shipped reference is survey-weighted. The OpinionQA snapshot shipped here holds
#: UNWEIGHTED Pew ATP respondent counts (no WEIGHT_W<wave> aggregates are public in it), while
#: OpinionQA's own human distributions are weighted; so the scores against it are labelled
#: "unweighted reference" wherever they are reported.
REFERENCE_WEIGHTED = {"opinionqa-curated": False}
REFERENCE_WEIGHTING = {
    "opinionqa-curated": ("unweighted Pew ATP respondent counts (OpinionQA snapshot); OpinionQA's published human "
                          "distributions are survey-weighted (WEIGHT_W<wave>), so these approximate them"),
}
ELECTION_YEARS = (2016, 2020, 2024)
_ELECTION_VARIANTS = ("full", "paper")


def available_question_banks() -> pd.DataFrame:
    """Name, size, description and source of every shipped bank."""
    rows = []
    for name in _BANK_FILES:
        payload = _read_bank_json(name)
        rows.append(
            {
                "name": name,
                "n_questions": len(payload["questions"]),
                "has_reference": name in _REFERENCE_FILES,
                "reference_weighted": REFERENCE_WEIGHTED.get(name),
                "description": payload["description"],
                "source": payload["source"],
                "licence": payload["licence"],
            }
        )
    return pd.DataFrame(rows)


def election_question(year: int, *, variant: str = "full") -> Question:
    """The presidential-election question for ``year`` (2016, 2020 or 2024).

    ``variant="full"`` offers the Democratic and Republican candidates (in
    that order), "Another candidate" and "Would not vote"; ``variant="paper"``
    is the seed paper's two-option question in its fixed order (2016: A Trump,
    B Clinton; 2020: A Biden, B Trump; 2024: A Trump, B Harris). Both use the
    paper's wording and tag options with ``option_parties`` (``"D"``, ``"R"``,
    ``"other"``, ``None``); D sits at position 0 and R at 1, so a Wasserstein
    distance over the two-party options is the difference in D share.
    """
    check_params("election_question", {"year": Options(ELECTION_YEARS), "variant": Options(_ELECTION_VARIANTS)},
                 {"year": year, "variant": variant})
    qid = f"election-{year}" + ("-paper" if variant == "paper" else "")
    return next(q for q in load_question_bank("elections") if q.id == qid)


def load_question_bank(name_or_path: str | os.PathLike) -> list[Question]:
    """Questions of a shipped bank, an election, or a bank file.

    Names: see :func:`available_question_banks` (``"elections"``,
    ``"opinionqa-curated"``, ``"subpop-opinionqa"``, ``"subpop-gss2022"``) and
    ``"election-2016"``, ``"election-2020"``, ``"election-2024"`` (one full
    election question each; append ``"-paper"`` for the paper's variant).

    Files: personacal's own JSON (``{"questions": [...]}`` or a list of
    question dicts); SubPOP's ``*_refined_qkey_dict.json``; OpinionQA's
    ``info.csv``. In the OpinionQA/SubPOP formats the first
    ``len(ordinal)`` options carry the ordinal positions and the remaining
    ones are refusal options ("Refused", "Not sure"), as OpinionQA treats
    them; an ordinal value of -1 (SubPOP-Eval) marks a substantive option with
    no place on the scale.
    """
    if isinstance(name_or_path, str) and name_or_path in _BANK_FILES:
        payload = _read_bank_json(name_or_path)
        return _questions_from_native(payload["questions"], name_or_path)
    if isinstance(name_or_path, str) and name_or_path.startswith("election-"):
        wanted = [q for q in load_question_bank("elections") if q.id == name_or_path]
        if wanted:
            return wanted
    path = Path(name_or_path)
    if not path.is_file():
        names = list(_BANK_FILES) + [f"election-{y}" for y in ELECTION_YEARS]
        raise DataError(
            f"`name_or_path` of load_question_bank must be a shipped bank ({', '.join(names)}) "
            f"or an existing file; got {str(name_or_path)!r}"
        )
    if path.suffix.lower() == ".csv":
        return _questions_from_opinionqa_info(pd.read_csv(path), str(path))
    if path.suffix.lower() == ".json":
        payload = json.loads(path.read_text(encoding="utf-8"))
        return _questions_from_json(payload, str(path))
    raise DataError(f"`name_or_path` of load_question_bank must be a .json or .csv file; got {path.name!r}")


def reference_distributions(bank: str = "opinionqa-curated") -> pd.DataFrame:
    """Human answer distributions for a shipped bank, one row per question x group x option.

    Columns: question_id, group_variable ("Overall", "CREGION", "POLPARTY",
    "POLIDEOLOGY", "SEX", "AGE", "EDUCATION", "RACE", "INCOME"), group,
    option, position, is_refusal, count, n, share, weighted. ``share = count / n``
    with refusal options in the denominator; renormalise over the non-refusal rows
    for OpinionQA's opinion distribution. Counts are *unweighted* Pew ATP
    respondent counts (the only form in the public OpinionQA snapshot), so the
    shares approximate OpinionQA's survey-weighted distributions: ``weighted`` is
    False on every row, and ``.attrs["weighted"]`` / ``.attrs["weighting"]`` say so
    (``compare`` reads them and labels its scores "unweighted reference"). "Overall"
    sums the SEX groups.
    """
    # Only banks with human reference distributions shipped.
    check_param("reference_distributions", "bank", bank, Options(sorted(_REFERENCE_FILES)), error=DataError)
    frame = _read_reference(bank).copy()
    frame["weighted"] = REFERENCE_WEIGHTED[bank]
    frame.attrs.update(weighted=REFERENCE_WEIGHTED[bank], weighting=REFERENCE_WEIGHTING[bank])
    return frame


# -- readers ----------------------------------------------------------------
@cache
def _read_bank_json(name: str) -> dict[str, Any]:
    text = resources.files("personacal.simulate").joinpath("banks", _BANK_FILES[name]).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _read_reference(bank: str) -> pd.DataFrame:
    with resources.files("personacal.simulate").joinpath("banks", _REFERENCE_FILES[bank]).open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip",
                            dtype={"question_id": str, "group_variable": str, "group": str, "option": str})
    return frame.astype({"is_refusal": bool})


def _questions_from_json(payload: Any, where: str) -> list[Question]:
    if isinstance(payload, dict) and isinstance(payload.get("questions"), list):
        return _questions_from_native(payload["questions"], where)
    if isinstance(payload, list):
        return _questions_from_native(payload, where)
    if isinstance(payload, dict) and payload and all(
        isinstance(v, dict) and "refined_qbody" in v for v in payload.values()
    ):
        return [_question_from_subpop(key, entry) for key, entry in payload.items()]
    raise DataError(
        f"bank file {where!r} must hold personacal questions ({{'questions': [...]}}) or a SubPOP "
        "refined_qkey_dict ({key: {refined_qbody, options|option_list, ordinal}}); got neither"
    )


def _questions_from_native(entries: list[Any], where: str) -> list[Question]:
    questions = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DataError(f"question {i} of bank {where!r} must be a dict; got {type(entry).__name__}")
        try:
            questions.append(Question.from_dict(entry))
        except InputError as exc:
            raise DataError(f"question {i} of bank {where!r} is invalid: {exc}") from exc
    _check_unique_ids(questions, where)
    return questions


def _question_from_subpop(key: str, entry: dict[str, Any]) -> Question:
    options = entry.get("options", entry.get("option_list"))
    if options is None or "ordinal" not in entry:
        raise DataError(f"SubPOP entry {key!r} must have `options` (or `option_list`) and `ordinal`")
    return _opinionqa_rule(key, entry["refined_qbody"], list(options), entry["ordinal"], source="SubPOP",
                           original_text=entry.get("original_qbody"))


def _questions_from_opinionqa_info(info: pd.DataFrame, where: str) -> list[Question]:
    missing = {"key", "question", "references", "option_ordinal"} - set(info.columns)
    if missing:
        raise DataError(f"OpinionQA info file {where!r} must have columns {sorted(missing)}")
    questions = [
        _opinionqa_rule(key, text, ast.literal_eval(refs), ast.literal_eval(ordinal), source="OpinionQA")
        for key, text, refs, ordinal in zip(info["key"], info["question"], info["references"], info["option_ordinal"])
    ]
    _check_unique_ids(questions, where)
    return questions


def _opinionqa_rule(key: str, text: str, options: list[str], ordinal: list[float], *, source: str,
                    original_text: str | None = None) -> Question:
    if len(ordinal) > len(options):
        raise DataError(f"question {key!r} has {len(ordinal)} ordinal values for {len(options)} options")
    ordinal = [float(v) for v in ordinal]
    positions = [None if v == -1 else v for v in ordinal] + [None] * (len(options) - len(ordinal))
    wave = key.rsplit("_", 1)[1] if "_W" in key else None
    metadata = {} if original_text is None else {"original_text": original_text}
    try:
        return Question(id=key, text=text, options=tuple(options), positions=tuple(positions),
                        refusal_options=tuple(options[len(ordinal):]), source=source, wave=wave, metadata=metadata)
    except InputError as exc:
        raise DataError(f"question {key!r} is invalid: {exc}") from exc


def _check_unique_ids(questions: list[Question], where: str) -> None:
    seen: set[str] = set()
    dupes = sorted({q.id for q in questions if q.id in seen or seen.add(q.id)})
    if dupes:
        raise DataError(
            f"question ids in bank {where!r} must be unique; duplicated: {dupes} (drop or rename those entries)"
        )
