"""Build tests/data/consistency_corpus.csv.gz: hand-labelled sentences from the seed paper's Llama-written personas.

Run from the repository root (needs the shared snapshot)::

    python scripts/build_consistency_corpus.py [--shared /work/shared/data] [--check]

Source: github.com/LeonLixyz/LLM_Simulation @ eb89ed0 (arXiv 2503.16527), consolidated in
``llmsim_personas_sample`` (see its SOURCE.txt): ``llama_generated_personas_CA_WY.jsonl.gz`` (persona
texts) and ``meta_personas_50states_acs2023.csv.gz`` (census draws). Only the labelled sentences are
kept. Parts (labels and rules: ``_consistency_labels.py``; the README next to the CSV):

* A: every sentence of the first 23 California records that store their census attributes next
  to the text (records in file order), paired with those attributes.
* B: 125 sentences picked by keyword (education, age, marital, employment, race, negation; seed 13)
  from the records WITHOUT stored attributes, paired with the Meta-file record of the same file
  name. That record is an independent census draw (the Meta file comes from another sampling run),
  which is why part B holds many contradictions.
* C: the first held-out part, labelled after the rules were frozen (``_consistency_labels_heldout.py``):
  every sentence of the next 10 California records with stored attributes, plus 35 keyword-picked
  sentences (seed 31) from other records, paired as in B. The rules were then corrected on C's errors.
* D: the second held-out part, labelled after that correction and a second freeze: every sentence
  of the next 6 California records with stored attributes, plus 40 keyword-picked sentences (seed 47).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _consistency_labels import PART_A, PART_B  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "consistency_corpus.csv.gz"
N_PART_A, N_PART_C_RECORDS = 23, 10
HISPANIC = re.compile(r"hispanic|latino|mexican|puerto ric|cuban", re.I)
#: Abbreviations whose full stop does not end a sentence.
ABBREVIATIONS = ("U.S.A.", "U.S.", "Dr.", "Mr.", "Mrs.", "Ms.", "Jr.", "Sr.", "St.", "Ph.D.", "B.A.", "B.S.", "M.A.",
                 "M.S.", "M.D.", "J.D.", "M.B.A.", "A.A.", "e.g.", "i.e.", "etc.", "vs.", "approx.", "No.")
KEYWORDS = {
    "education": r"graduated from|High School\b|University of|College\b|diploma|GED\b|MBA|Master'?s|Bachelor|Ph\.?D"
                 r"|associate'?s degree|higher education|dropped out|never finished",
    "age": r"\b\d{2}-year-old|\b(?:19[2-9]\d|20[01]\d)\b|\bin (?:his|her) (?:early |mid-|late )?(?:\d0s|twenties|"
           r"thirties|forties|fifties|sixties|seventies|eighties)|\baged? \d\d|, \d\d,",
    "marital": r"widow|divorc|never married|never been married|married|single\b|late husband|late wife|separated",
    "employment": r"retire|works as|working as|employed|unemploy|out of work|job\b|homemaker|stay-at-home|not working",
    "race": r"Native American|American Indian|Hispanic|Latin[ao]|White|Caucasian|Black|African|Asian|Mexican|biracial"
            r"|mixed",
    "negation": r"\bnot\b|\bnever\b|\bno longer\b|\bisn't\b|\bwasn't\b|\bdidn't\b|\bdoesn't\b",
}
PART_B_DRAWS = {"education": 30, "age": 25, "marital": 20, "employment": 20, "race": 15, "negation": 15}
PART_C_DRAWS = {"education": 10, "age": 10, "marital": 8, "employment": 7, "race": 5, "negation": 0}
PART_D_DRAWS = {"education": 10, "age": 8, "marital": 10, "employment": 8, "race": 4, "negation": 0}
N_PART_D_RECORDS = 6
CENSUS = ["census_age", "census_sex", "census_race", "census_hispanic", "census_marital", "census_education",
          "census_labor_force", "census_employment"]
COLUMNS = ["sentence_id", "part", "persona_file", "sentence_index", "sentence", "census_source", *CENSUS, "labels"]


def sentences(text: str) -> list[str]:
    """Split on line breaks and on sentence-final punctuation before a capital, digit, quote or bullet."""
    protected = text
    for abbreviation in ABBREVIATIONS:
        protected = protected.replace(abbreviation, abbreviation.replace(".", "\x00"))
    out = []
    for line in re.split(r"\n+", protected):
        for part in re.split(r"(?<=[.!?])[\"'”)]?\s+(?=[\"'“(]?[A-Z0-9*])", line):
            part = part.replace("\x00", ".").strip()
            if part:
                out.append(part)
    return out


def _hispanic(race, ethnicity) -> str:
    return "Hispanic" if race == "Hispanic" or HISPANIC.search(str(ethnicity or "")) else "Not Hispanic"


def _stored(record: dict) -> dict:
    return {"census_source": "stored",
            "census_age": record["Age"], "census_sex": record["Sex"], "census_race": record["Race"],
            "census_hispanic": _hispanic(record["Race"], record.get("Ethnicity")),
            "census_marital": record["MARITAL_STATUS"], "census_education": record["EDUCATION"],
            "census_labor_force": None, "census_employment": record.get("EMPLOYMENT_STATUS")}


def _meta(row: pd.Series) -> dict:
    return {"census_source": "meta",
            "census_age": row["AGE"], "census_sex": row["SEX"], "census_race": row["RACE"],
            "census_hispanic": _hispanic(row["RACE"], row["ETHNICITY"]), "census_marital": row["MARITAL_STATUS"],
            "census_education": row["EDUCATION"], "census_labor_force": row["LABOR FORCE STATUS"],
            "census_employment": row["EMPLOYMENT STATUS"]}


def _keyword_sample(records: list[dict], draws: dict, seed: int, exclude: set) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    candidates = {k: [] for k in KEYWORDS}
    for record in records:
        for j, sentence in enumerate(sentences(record["PERSONA"])):
            for kind, pattern in KEYWORDS.items():
                if re.search(pattern, sentence):
                    candidates[kind].append((record["persona_file"], j))
    chosen, seen = [], set(exclude)
    for kind, n in draws.items():
        pool = candidates[kind][:]
        rng.shuffle(pool)
        taken = 0
        for item in pool:
            if taken == n:
                break
            if item not in seen:
                seen.add(item)
                chosen.append(item)
                taken += 1
    return chosen


def _row(part: str, record: dict, index: int, census: dict, labels: str) -> dict:
    stem = record["persona_file"].removesuffix(".json")
    return {"sentence_id": f"{stem}#{index:02d}", "part": part, "persona_file": record["persona_file"],
            "sentence_index": index, "sentence": sentences(record["PERSONA"])[index], **census, "labels": labels}


def build(shared: Path) -> pd.DataFrame:
    folder = shared / "llmsim_personas_sample"
    with gzip.open(folder / "llama_generated_personas_CA_WY.jsonl.gz", "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    meta = pd.read_csv(folder / "meta_personas_50states_acs2023.csv.gz").set_index("persona_file")
    by_file = {r["persona_file"]: r for r in records}
    stored = [r for r in records if "Age" in r]
    rows = []
    for record in stored[:N_PART_A]:
        stem = record["persona_file"].removesuffix(".json")
        for j in range(len(sentences(record["PERSONA"]))):
            rows.append(_row("A", record, j, _stored(record), PART_A.get(f"{stem}#{j:02d}", "")))
    unknown = set(PART_A) - {r["sentence_id"] for r in rows}
    if unknown:
        raise SystemExit(f"PART_A labels name sentences outside part A: {sorted(unknown)[:5]}")
    others = [r for r in records if "Age" not in r]
    picked_b = _keyword_sample(others, PART_B_DRAWS, seed=13, exclude=set())
    keys_b = [f"{f.removesuffix('.json')}#{j:02d}" for f, j in picked_b]
    if set(keys_b) != set(PART_B):
        raise SystemExit(f"PART_B labels and the sampled sentences differ: {sorted(set(keys_b) ^ set(PART_B))[:5]}")
    for (file, j), key in zip(picked_b, keys_b):
        rows.append(_row("B", by_file[file], j, _meta(meta.loc[file]), PART_B[key]))
    rows += _part_c(stored, others, meta, by_file, set(picked_b))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["labels"] = frame["labels"].fillna("").str.strip()
    return frame.fillna("").astype(str)


def _heldout_part(part, labels, stored_records, others, meta, by_file, draws, seed, exclude) -> list[dict]:
    rows = []
    for record in stored_records:
        stem = record["persona_file"].removesuffix(".json")
        for j in range(len(sentences(record["PERSONA"]))):
            rows.append(_row(part, record, j, _stored(record), labels.get(f"{stem}#{j:02d}", "")))
    picked = _keyword_sample(others, draws, seed=seed, exclude=exclude)
    for file, j in picked:
        key = f"{file.removesuffix('.json')}#{j:02d}"
        if key not in labels:
            raise SystemExit(f"part {part} sentence {key} has no label entry")
        rows.append(_row(part, by_file[file], j, _meta(meta.loc[file]), labels[key]))
    return rows, set(picked)


def _part_c(stored, others, meta, by_file, exclude) -> list[dict]:
    from _consistency_labels_heldout import PART_C, PART_D

    first, second = N_PART_A + N_PART_C_RECORDS, N_PART_A + N_PART_C_RECORDS + N_PART_D_RECORDS
    rows_c, picked_c = _heldout_part("C", PART_C, stored[N_PART_A:first], others, meta, by_file, PART_C_DRAWS,
                                     31, exclude)
    rows_d, _ = _heldout_part("D", PART_D, stored[first:second], others, meta, by_file, PART_D_DRAWS, 47,
                              exclude | picked_c)
    return rows_c + rows_d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--check", action="store_true", help="fail if the shipped corpus differs from a rebuild")
    args = parser.parse_args(argv)
    frame = build(args.shared)
    if args.check:
        same = frame.equals(pd.read_csv(OUT, dtype=str, keep_default_na=False))
        print("corpus is up to date" if same else "corpus differs from a rebuild")
        return 0 if same else 1
    frame.to_csv(OUT, index=False, compression={"method": "gzip", "mtime": 0, "compresslevel": 9})
    print(f"wrote {OUT}: {len(frame)} sentences ({frame['part'].value_counts().to_dict()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
