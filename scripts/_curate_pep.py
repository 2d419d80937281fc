"""Census PEP Vintage 2023 civilian population by state, sex and single year of age -> tidy table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from personacal.data import _categories as C


def curate(path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    problems: list[str] = []
    raw = pd.read_csv(path, dtype={"STATE": int})
    states = raw[raw["SUMLEV"] == 40]
    by_fips = {int(fips): code for code, (_, fips, _, _) in C.STATES.items()}
    # The constants are hand-typed: check them against the Census file.
    meta = states[["STATE", "NAME", "REGION", "DIVISION"]].drop_duplicates()
    if len(meta) != len(C.STATES):
        problems.append(f"PEP has {len(meta)} state-level areas, STATES has {len(C.STATES)}")
    for row in meta.itertuples():
        code = by_fips.get(row.STATE)
        if code is None:
            problems.append(f"PEP state FIPS {row.STATE} ({row.NAME}) is not in STATES")
            continue
        name, _, region, division = C.STATES[code]
        if (name, region, division) != (row.NAME, row.REGION, row.DIVISION):
            problems.append(f"STATES[{code}] = {(name, region, division)} but PEP says {(row.NAME, row.REGION, row.DIVISION)}")
    cells = states[(states["SEX"].isin([1, 2])) & (states["AGE"] != 999)]
    tidy = pd.DataFrame(
        {
            "state": cells["STATE"].map(by_fips),
            "sex": cells["SEX"].map({1: "Male", 2: "Female"}),
            "age": cells["AGE"].astype(int),
            "population": cells["POPEST2023_CIV"].astype("int64"),
        }
    )
    tidy = tidy.assign(_sex=tidy["sex"].map({"Male": 0, "Female": 1})).sort_values(["state", "_sex", "age"]).drop(columns="_sex")
    # Each state's AGE=999/SEX=0 row must equal the sum of its cells; the US row the sum of the states.
    total_rows = states[(states["AGE"] == 999) & (states["SEX"] == 0)]
    totals = pd.Series(total_rows["POPEST2023_CIV"].to_numpy(), index=total_rows["STATE"].map(by_fips))
    summed = tidy.groupby("state")["population"].sum()
    bad = (summed - totals.reindex(summed.index)).abs()
    if (bad > 0).any():
        problems.append(f"PEP cells do not sum to the state totals for {list(bad[bad > 0].index)}")
    us = raw[(raw["SUMLEV"] == 10) & (raw["AGE"] == 999) & (raw["SEX"] == 0)]["POPEST2023_CIV"].iloc[0]
    if summed.sum() != us:
        problems.append(f"PEP states sum to {summed.sum()}, US row says {us}")
    return {"pep2023_state_age_sex.csv.gz": tidy.reset_index(drop=True)}, problems
