"""Audit the seed paper's own LLM-written personas for contradictions with their census attributes.

Data: /work/shared/data/llmsim_personas_sample/llama_generated_personas_CA_WY.jsonl.gz
(github.com/LeonLixyz/LLM_Simulation @ eb89ed0, arXiv 2503.16527; see SOURCE.txt there).
Only the 81 California records that carry the structured attributes next to the Llama-written
``PERSONA`` narrative can be audited; the other 1,919 hold the narrative alone. The paper's
``meta_personas_50states_acs2023.csv.gz`` comes from a different sampling run (Sex agrees on
only ~59% of the 81 shared file names), so it cannot serve as the census side.

The structured attributes in these records are themselves partly LLM-edited (values such as
"Married (adjusted based on household relationship)"); the main audit therefore measures how
often the narrative contradicts the attributes stored *next to it*, a lower bound on how often
it departs from the original census draw. The one record SOURCE.txt documents as sharing its
draw with the Meta file (CA_persona_0) is also checked against that file's original values.

Usage: python scripts/audit_paper_personas.py [PATH] [--show N] [--out contradictions.csv]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

import pandas as pd

from personacal.generate import find_contradictions

HISPANIC = re.compile(r"hispanic|latino|mexican|puerto ric|cuban", re.I)
DEFAULT = Path("/work/shared/data/llmsim_personas_sample/llama_generated_personas_CA_WY.jsonl.gz")
META = "meta_personas_50states_acs2023.csv.gz"
#: The record SOURCE.txt documents as sharing its draw with the Meta file (the LLM changed "Now married"
#: to "Divorced" and "Some college" to "Bachelor's" in its stored attributes and narrative alike).
DOCUMENTED = "CA_persona_0.json"


def load(path: Path) -> pd.DataFrame:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    frame = pd.DataFrame(rows)
    frame = frame[frame["Age"].notna()].reset_index(drop=True)
    return pd.DataFrame({
        "persona_id": frame["persona_file"].str.removesuffix(".json"),
        "age": frame["Age"],
        "sex": frame["Sex"],
        "race": frame["Race"],
        # the paper lists Hispanic origin as one RACE value; the LLM-edited Ethnicity field sometimes adds it
        "hispanic": [
            "Hispanic" if race == "Hispanic" or HISPANIC.search(str(eth)) else "Not Hispanic"
            for race, eth in zip(frame["Race"], frame["Ethnicity"])
        ],
        "marital": frame["MARITAL_STATUS"],
        "education": frame["EDUCATION"],
        "text": frame["PERSONA"],
    })


def documented_example(path: Path) -> pd.DataFrame:
    """CA_persona_0's narrative with the ORIGINAL census values from the paper's Meta file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        text = next(r["PERSONA"] for r in map(json.loads, fh) if r["persona_file"] == DOCUMENTED)
    meta = pd.read_csv(path.parent / META).set_index("persona_file").loc[DOCUMENTED]
    return pd.DataFrame([{
        "persona_id": DOCUMENTED.removesuffix(".json"), "age": meta["AGE"], "sex": meta["SEX"], "race": meta["RACE"],
        "marital": meta["MARITAL_STATUS"], "education": meta["EDUCATION"],
        "LABOR FORCE STATUS": meta["LABOR FORCE STATUS"], "EMPLOYMENT STATUS": meta["EMPLOYMENT STATUS"],
        "text": text,
    }])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show", type=int, default=0, help="print this many contradictions per attribute")
    parser.add_argument("--out", type=Path, help="write every contradiction to this CSV")
    args = parser.parse_args(argv)
    personas = load(args.path)
    report = find_contradictions(personas, "text")
    print(report.summary())
    table = report.contradictions
    if args.show:
        for attribute, block in table.groupby("attribute", sort=False):
            print(f"\n== {attribute} ({len(block)}) ==")
            for row in block.head(args.show).itertuples():
                print(f"{row.persona_id}: census {row.census_value!r} vs stated {row.stated_value!r}\n    {row.evidence}")
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"\nWrote {len(table)} contradictions to {args.out}")
    if (args.path.parent / META).exists():
        original = documented_example(args.path)
        print(f"\n\n{DOCUMENTED}: narrative vs the ORIGINAL census values of the paper's Meta file")
        for row in find_contradictions(original, "text").contradictions.itertuples():
            print(f"  census {row.census_value!r} vs stated {row.stated_value!r}\n    {row.evidence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
