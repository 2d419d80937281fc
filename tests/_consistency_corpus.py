"""Score the contradiction detector against the hand-labelled persona-sentence corpus (tests/data).

Each corpus row is one sentence of a Llama-written persona with the census values it is paired
with and the hand labels (``attribute=value``, ``!`` = contradicts the census value). The detector
reads each sentence on its own. Sentence-level scoring leaves out sex claims from the pronoun
rule (evidence "pronouns: ..."): that rule counts pronouns over a whole text, and the labels
record only explicit statements of sex (see tests/data/consistency_corpus.README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personacal.generate._consistency import check_text
from personacal.generate._consistency_census import census_facts, resolve_census_columns
from personacal.generate._consistency_rules import text_claims

CORPUS = Path(__file__).parent / "data" / "consistency_corpus.csv.gz"
#: label key -> detector attribute
ATTRIBUTES = {"age": "age", "sex": "sex", "hisp": "hispanic", "race": "race", "mar": "marital", "edu": "education",
              "emp": "employment"}
#: corpus census column -> the detector's kind for it
CENSUS_KINDS = {"census_age": "age", "census_sex": "sex", "census_race": "race", "census_hispanic": "hispanic",
                "census_marital": "marital", "census_education": "education", "census_labor_force": "employment",
                "census_employment": "employment"}


def load(parts: str | None = None) -> pd.DataFrame:
    frame = pd.read_csv(CORPUS, dtype=str, keep_default_na=False)
    return frame if parts is None else frame[frame["part"].isin(list(parts))].reset_index(drop=True)


def parse_labels(text: str) -> dict[str, bool]:
    """``{detector attribute: contradicts}`` for every attribute the sentence states."""
    out = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if key not in ATTRIBUTES or not value:
            raise ValueError(f"bad label {item!r} in {text!r}")
        out[ATTRIBUTES[key]] = value.endswith("!")
    return out


def detector_verdicts(row: pd.Series) -> tuple[set[str], set[str], set[str]]:
    """Attributes the detector (a) reads a claim for, (b) finds contradicted, and (c) has a census value for."""
    census = {c: (row[c] if row[c] not in ("", "None") else None) for c in CENSUS_KINDS}
    facts = census_facts(census, resolve_census_columns(list(census), dict(CENSUS_KINDS)))
    sentence = row["sentence"]
    claims = [c for c in text_claims(sentence) if not c.evidence.startswith("pronouns:")]
    stated = {c.attribute for c in claims}
    found, _ = check_text(row["sentence_id"], facts, sentence)
    contradicted = {c.attribute for c in found if not c.evidence.startswith("pronouns:")}
    return stated, contradicted, set(facts)


def score(corpus: pd.DataFrame) -> pd.DataFrame:
    """Per attribute: counts, precision and recall of (a) reading a statement and (b) finding a contradiction.

    Contradiction truth is counted only where the row has a census value for the attribute.
    """
    counts = {a: dict.fromkeys(("stated", "read", "read_right", "contradicted", "flagged", "flagged_right"), 0)
              for a in ATTRIBUTES.values()}
    for _, row in corpus.iterrows():
        truth = parse_labels(row["labels"])
        stated, flagged, checked = detector_verdicts(row)
        for attribute, c in counts.items():
            c["stated"] += attribute in truth
            c["read"] += attribute in stated
            c["read_right"] += attribute in stated and attribute in truth
            if attribute not in checked:
                continue
            bad = truth.get(attribute, False)
            c["contradicted"] += bad
            c["flagged"] += attribute in flagged
            c["flagged_right"] += attribute in flagged and bad
    rows = []
    for attribute, c in counts.items():
        rows.append({
            "attribute": attribute, "sentences": len(corpus), **c,
            "statement_precision": _ratio(c["read_right"], c["read"]),
            "statement_recall": _ratio(c["read_right"], c["stated"]),
            "precision": _ratio(c["flagged_right"], c["flagged"]),
            "recall": _ratio(c["flagged_right"], c["contradicted"]),
        })
    return pd.DataFrame(rows)


def errors(corpus: pd.DataFrame) -> pd.DataFrame:
    """Every sentence x attribute where the detector's contradiction verdict differs from the label."""
    rows = []
    for _, row in corpus.iterrows():
        truth = parse_labels(row["labels"])
        _, flagged, checked = detector_verdicts(row)
        for attribute in sorted(checked):
            bad = truth.get(attribute, False)
            if bad != (attribute in flagged):
                rows.append({"sentence_id": row["sentence_id"], "attribute": attribute,
                             "kind": "false positive" if attribute in flagged else "missed",
                             "labels": row["labels"], "sentence": row["sentence"]})
    return pd.DataFrame(rows, columns=["sentence_id", "attribute", "kind", "labels", "sentence"])


def _ratio(num: int, den: int) -> float:
    return num / den if den else np.nan


def statement_errors(corpus: pd.DataFrame) -> pd.DataFrame:
    """Every sentence x attribute where reading a statement (claim or not) differs from the label."""
    rows = []
    for _, row in corpus.iterrows():
        truth = parse_labels(row["labels"])
        stated, _, _ = detector_verdicts(row)
        for attribute in sorted(set(truth) | stated):
            if (attribute in truth) != (attribute in stated):
                rows.append({"sentence_id": row["sentence_id"], "attribute": attribute,
                             "kind": "read, not labelled" if attribute in stated else "not read",
                             "labels": row["labels"], "sentence": row["sentence"]})
    return pd.DataFrame(rows, columns=["sentence_id", "attribute", "kind", "labels", "sentence"])
