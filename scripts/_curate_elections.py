"""Presidential results by state, 2016 / 2020 / 2024, rebuilt from the MEDSL files.

Rule (as in election_state_summary/SOURCE.txt, with one stated difference): votes are summed
by CANDIDATE name across all party lines (fusion tickets), the two major candidates are matched
by exact MEDSL name, every other named or unnamed line is "other", and rows that are not votes
for anybody (undervotes, overvotes, blank, void, spoiled ballots) are left out of the total.
Difference: Nevada's "None of these candidates" is a real ballot option whose votes are counted in
the certified total, so it is kept as "other" in every year (the summary file drops it in 2024 only).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEM = {2016: "CLINTON, HILLARY", 2020: "BIDEN, JOSEPH R. JR", 2024: "HARRIS, KAMALA D."}
REP = {2016: "TRUMP, DONALD J.", 2020: "TRUMP, DONALD J.", 2024: "TRUMP, DONALD J."}
NON_VOTES = r"^(?:UNDER ?VOTES?|OVER ?VOTES?|BLANK VOTES?|VOID(?: VOTES?)?|SPOILED)$"
UNNAMED = "(unnamed write-ins / other)"


def _raw(medsl_1976_2020: Path, medsl_2024: Path) -> pd.DataFrame:
    old = pd.read_csv(medsl_1976_2020, sep=";")
    old = old[old["year"].isin([2016, 2020])].rename(columns={"candidatevotes": "votes"})
    new = pd.read_csv(medsl_2024)
    frame = pd.concat([old, new], ignore_index=True)
    frame = frame[["year", "state_po", "candidate", "party_detailed", "party_simplified", "writein", "votes", "totalvotes"]]
    frame = frame.rename(columns={"state_po": "state", "totalvotes": "reported_total_votes"})
    frame["candidate"] = frame["candidate"].fillna(UNNAMED)
    frame["non_vote"] = frame["candidate"].str.fullmatch(NON_VOTES)
    return frame


def _candidates(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per (year, state, candidate): fusion lines summed, parties listed."""
    def parties(s: pd.Series) -> str:
        return " / ".join(sorted({p for p in s.dropna().astype(str)}))

    grouped = raw.groupby(["year", "state", "candidate"], sort=True)
    out = grouped.agg(
        votes=("votes", "sum"),
        party_simplified=("party_simplified", parties),
        party_detailed=("party_detailed", parties),
        non_vote=("non_vote", "first"),
    ).reset_index()
    return out


def _states(cands: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    rows = []
    reported = raw.groupby(["year", "state"])["reported_total_votes"].agg(["min", "max"])
    for (year, state), block in cands.groupby(["year", "state"]):
        votes = block[~block["non_vote"]].set_index("candidate")["votes"]
        dem, rep = votes.get(DEM[year]), votes.get(REP[year])
        if dem is None or rep is None:
            raise ValueError(f"{year} {state}: no line for {DEM[year]} or {REP[year]}")
        lo, hi = reported.loc[(year, state)]
        if lo != hi:
            raise ValueError(f"{year} {state}: MEDSL totalvotes differs between rows ({lo} vs {hi})")
        winner = votes.idxmax()
        rows.append({
            "year": year, "state": state,
            "dem_candidate": DEM[year], "rep_candidate": REP[year],
            "dem_votes": int(dem), "rep_votes": int(rep),
            "other_votes": int(votes.sum() - dem - rep),
            "total_votes": int(votes.sum()),
            "non_votes": int(block[block["non_vote"]]["votes"].sum()),
            "reported_total_votes": int(lo),
            "winner_candidate": winner,
        })
    return pd.DataFrame(rows)


def _compare(states: pd.DataFrame, summary_path: Path) -> list[str]:
    """Differences between our rebuild and the shared summary file, for the curation report."""
    summary = pd.read_csv(summary_path).rename(
        columns={"state": "state_name", "state_po": "state", "total_valid_votes": "total_votes"})
    merged = states.merge(summary, on=["year", "state"], suffixes=("", "_summary"), how="outer", indicator=True)
    notes = []
    missing = merged[merged["_merge"] != "both"]
    for row in missing.itertuples():
        notes.append(f"{row.year} {row.state}: only in {'rebuild' if row._merge == 'left_only' else 'summary'}")
    for col in ("dem_votes", "rep_votes", "other_votes", "total_votes"):
        diff = merged[(merged["_merge"] == "both") & (merged[col] != merged[f"{col}_summary"])]
        for row in diff.itertuples():
            notes.append(
                f"{row.year} {row.state} {col}: rebuild {getattr(row, col):,} vs summary "
                f"{int(getattr(row, col + '_summary')):,}"
            )
    for col in ("dem_candidate", "rep_candidate"):
        diff = merged[(merged["_merge"] == "both") & (merged[col] != merged[f"{col}_summary"])]
        notes += [f"{r.year} {r.state} {col} differs" for r in diff.itertuples()]
    return notes


def curate(medsl_1976_2020: Path, medsl_2024: Path, summary: Path) -> tuple[dict[str, pd.DataFrame], list[str], list[str]]:
    raw = _raw(medsl_1976_2020, medsl_2024)
    cands = _candidates(raw)
    states = _states(cands, raw)
    problems = []
    for year, block in states.groupby("year"):
        if len(block) != 51:
            problems.append(f"{year}: {len(block)} state rows, expected 51 (50 states + DC)")
    discrepancies = _compare(states, summary)
    return (
        {"president_state_2016_2024.csv": states, "president_candidates_2016_2024.csv.gz": cands},
        problems,
        discrepancies,
    )
