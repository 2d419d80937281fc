"""Composition of the seed paper's published Meta personas vs personacal's, against the ACS 2023 margins.

Reads the paper's early persona sample from ../shared/data/llmsim_personas_sample/ (not shipped:
it has no licence), recodes it to personacal's categories, and compares both pools with the
census margins using personacal.evaluate.composition_error. Usage:

    python scripts/compare_paper_personas.py [--states CA,WY] [--n 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from personacal.data import census_margins, coarsening
from personacal.evaluate import composition_error
from personacal.generate import sample_meta_personas, state_joints

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/llmsim_personas_sample/meta_personas_50states_acs2023.csv.gz"

AGE = {"18 to 19 years": "18-24", "20 to 24 years": "18-24", "25 to 34 years": "25-34", "35 to 44 years": "35-44",
       "45 to 54 years": "45-54", "55 to 59 years": "55-64", "60 to 64 years": "55-64", "65 to 74 years": "65+",
       "75 to 84 years": "65+", "85 years and over": "65+"}
RACE = {"Hispanic": "Hispanic", "White": "White non-Hispanic", "Black or African American": "Black non-Hispanic",
        "Asian": "Asian non-Hispanic", "American Indian and Alaska Native": "AIAN non-Hispanic",
        "Native Hawaiian and Other Pacific Islander": "NHPI non-Hispanic", "Some Other Race": "Other race non-Hispanic"}
EMPLOYMENT = {"Employed": "Employed (incl. Armed Forces)", "Unemployed": "Unemployed",
              "Not Applicable": "Not in labor force"}
VARIABLES = ["sex", "age", "race_eth", "education3", "employment3"]


def paper_pool(states: list[str]) -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE)
    raw = raw[raw["STATE_ABBR"].isin(states)]
    education3 = coarsening("education3")[1]
    return pd.DataFrame({
        "region": raw["STATE_ABBR"],
        "sex": raw["SEX"],
        "age": raw["AGE"].map(AGE),
        # any "X and Y" race is two or more races (all non-Hispanic in this sample's coding)
        "race_eth": raw["RACE"].map(RACE).fillna("Two or more races non-Hispanic"),
        "education3": raw["EDUCATION"].str.replace("9th to 12th", "9th-12th").map(education3),
        "employment3": raw["EMPLOYMENT STATUS"].map(EMPLOYMENT),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", default="CA,WY")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    states = [s.strip().upper() for s in args.states.split(",")]
    paper = paper_pool(states)
    ours = sample_meta_personas(state_joints(states, method="ipf"), args.n, random_state=0)
    rows = []
    for state in states:
        margins = census_margins(state, variables=VARIABLES)
        for label, pool in (("paper (arXiv 2503.16527)", paper), ("personacal Meta (IPF joint)", ours)):
            part = pool[pool["region"] == state][VARIABLES]
            result = composition_error(part, margins)
            cells = result.to_frame("cell")
            race = cells[cells["margin"] == "race_eth"].set_index("race_eth")
            age = cells[cells["margin"] == "age"].set_index("age")
            tvd = result.to_frame("margin").set_index("margin")["tvd"]
            rows.append({"state": state, "pool": label, "n": len(part),
                         "NH White %": 100 * race.loc["White non-Hispanic", "persona_share"],
                         "NH White % (ACS)": 100 * race.loc["White non-Hispanic", "target_share"],
                         "18-24 %": 100 * age.loc["18-24", "persona_share"],
                         "18-24 % (ACS)": 100 * age.loc["18-24", "target_share"],
                         **{f"TVD {v}": tvd[v] for v in VARIABLES}})
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
