"""Build personacal/data/psychographic_targets.csv.gz: party ID and ideology shares from real surveys.

Run from the repository root::

    python scripts/curate_psychographic.py [--shared /work/shared/data] [--out personacal/data] [--check]

Sources (raw files under ``--shared``; see their SOURCE.txt):

* ANES time-series cumulative extract (Rdatasets ``stevedata::anes_partytherms``): ``pid7`` -> party_id,
  national and by Census region from 2012, by state from 2008 + 2012 pooled (states with >= 50 respondents).
* GSS 2018 (Rdatasets ``stevedata::gss_spending``): ``partyid`` -> party_id, ``polviews`` -> ideology; national.
* Pew ATP wave 92 (July 2021) group counts of the OpinionQA snapshot: ``POLPARTY`` -> party_id,
  ``POLIDEOLOGY`` -> ideology; national.

None of the extracts carries survey weights, so every share is an UNWEIGHTED respondent share
(``weighted`` = False in the table). Every code -> category map is written out below and in
personacal/data/SOURCES.md; a code without an entry stops the script. Gzip output carries no
timestamp, so re-running on the same inputs gives a byte-identical file (``--check`` verifies).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personacal.data import _categories as C  # noqa: E402
from personacal.data import categories  # noqa: E402

IDEOLOGY = categories("ideology5")
PARTY_ID = categories("party_id4")

FILE = "psychographic_targets.csv.gz"
COLUMNS = ["source", "dataset", "years", "geography", "area", "variable", "category", "share", "count", "n",
           "weighted", "source_codes"]

#: States kept in the state-level ANES rows need at least this many respondents with a valid pid7.
MIN_STATE_N = 50
ANES_YEARS_NATIONAL = (2012,)
ANES_YEARS_STATE = (2008, 2012)

# ANES pid7 / GSS partyid: the base question ("Generally speaking, do you think of yourself as a Republican,
# a Democrat, an Independent, or what?") puts leaners among Independents; the LLM tiers' party_id is the same
# self-identification, and Pew's POLPARTY (the tiers' vocabulary) is that question too.
ANES_PID7 = {1: "Democrat", 2: "Democrat", 3: "Independent", 4: "Independent", 5: "Independent",
             6: "Republican", 7: "Republican"}
GSS_PARTYID = {0: "Democrat", 1: "Democrat", 2: "Independent", 3: "Independent", 4: "Independent",
               5: "Republican", 6: "Republican", 7: "Other"}
# GSS polviews 1-7 onto the 5-point vocabulary: only the endpoints are "very"; the "slightly" points join
# the plain ones (the usual collapse; Pew's 5-point item has no "slightly" level).
GSS_POLVIEWS = {1: "very liberal", 2: "liberal", 3: "liberal", 4: "moderate", 5: "conservative",
                6: "conservative", 7: "very conservative"}
PEW_POLPARTY = {"Democrat": "Democrat", "Republican": "Republican", "Independent": "Independent", "Other": "Other"}
PEW_POLIDEOLOGY = {"Very liberal": "very liberal", "Liberal": "liberal", "Moderate": "moderate",
                   "Conservative": "conservative", "Very conservative": "very conservative"}
#: Pew group labels left out of the shares (their counts are reported in SOURCES.md).
PEW_EXCLUDED = ("Refused",)
PEW_WAVE = "W92"

ANES_CODES = {"Democrat": "pid7 1-2", "Independent": "pid7 3-5", "Republican": "pid7 6-7"}
GSS_PARTY_CODES = {"Democrat": "partyid 0-1", "Independent": "partyid 2-4", "Republican": "partyid 5-6",
                   "Other": "partyid 7"}
GSS_IDEOLOGY_CODES = {"very liberal": "polviews 1", "liberal": "polviews 2-3", "moderate": "polviews 4",
                      "conservative": "polviews 5-6", "very conservative": "polviews 7"}


def _recode(values: pd.Series, mapping: dict, name: str) -> pd.Series:
    present = set(values.dropna().unique())
    unknown = sorted(present - set(mapping))
    if unknown:
        raise SystemExit(f"{name}: codes without a mapping {unknown}; add them to the map in this script")
    return values.map(mapping)


def _shares(labels: pd.Series, areas: pd.Series, vocabulary: tuple[str, ...]) -> pd.DataFrame:
    """Unweighted shares of each vocabulary category within each area (missing labels dropped)."""
    frame = pd.DataFrame({"area": areas, "category": labels}).dropna()
    counts = frame.groupby(["area", "category"]).size().unstack("category", fill_value=0)
    counts = counts.reindex(columns=[c for c in vocabulary if c in counts.columns], fill_value=0)
    long = counts.stack().rename("count").reset_index()
    long["n"] = long.groupby("area")["count"].transform("sum")
    long["share"] = long["count"] / long["n"]
    return long


def _rows(long: pd.DataFrame, **fixed) -> pd.DataFrame:
    out = long.copy()
    for key, value in fixed.items():
        out[key] = value(out) if callable(value) else value
    return out


def anes(shared: Path) -> list[pd.DataFrame]:
    raw = pd.read_csv(shared / "rdatasets_survey_microdata" / "stevedata__anes_partytherms.csv")
    raw = raw[raw["stateabb"].isin(C.STATES)]  # '99' = state not recorded
    party = _recode(raw["pid7"], ANES_PID7, "anes pid7")
    region = raw["stateabb"].map(lambda s: C.REGIONS[C.STATES[s][2]])
    common = {"source": "ANES", "dataset": "ANES time series cumulative (stevedata::anes_partytherms)",
              "variable": "party_id", "weighted": False,
              "source_codes": lambda f: f["category"].map(ANES_CODES)}
    frames = []
    national = raw["year"].isin(ANES_YEARS_NATIONAL)
    years = "+".join(map(str, ANES_YEARS_NATIONAL))
    frames.append(_rows(_shares(party[national], pd.Series("US", index=raw.index)[national], PARTY_ID),
                        geography="national", years=years, **common))
    frames.append(_rows(_shares(party[national], region[national], PARTY_ID),
                        geography="region", years=years, **common))
    pooled = raw["year"].isin(ANES_YEARS_STATE)
    states = _shares(party[pooled], raw.loc[pooled, "stateabb"], PARTY_ID)
    states = states[states["n"] >= MIN_STATE_N]
    frames.append(_rows(states, geography="state", years="+".join(map(str, ANES_YEARS_STATE)), **common))
    return frames


def gss(shared: Path) -> list[pd.DataFrame]:
    raw = pd.read_csv(shared / "rdatasets_survey_microdata" / "stevedata__gss_spending.csv")
    years = "+".join(map(str, sorted(raw["year"].unique())))
    us = pd.Series("US", index=raw.index)
    common = {"source": "GSS", "dataset": "General Social Survey (stevedata::gss_spending)", "years": years,
              "geography": "national", "weighted": False}
    party = _rows(_shares(_recode(raw["partyid"], GSS_PARTYID, "gss partyid"), us, PARTY_ID),
                  variable="party_id", source_codes=lambda f: f["category"].map(GSS_PARTY_CODES), **common)
    ideology = _rows(_shares(_recode(raw["polviews"], GSS_POLVIEWS, "gss polviews"), us, IDEOLOGY),
                     variable="ideology", source_codes=lambda f: f["category"].map(GSS_IDEOLOGY_CODES), **common)
    return [party, ideology]


def _pew_group_counts(path: Path) -> tuple[str, dict[str, float]]:
    """Respondents per group on the question the most respondents answered (the whole wave)."""
    data = json.loads(path.read_text())
    best_key, best = None, {}
    for key, entry in data.items():
        groups = {g: float(sum(c.values())) for g, c in entry.items() if isinstance(c, dict)}
        if sum(groups.values()) > sum(best.values()):
            best_key, best = key, groups
    return best_key, best


def pew(shared: Path) -> tuple[list[pd.DataFrame], list[str]]:
    folder = shared / "opinionqa_atp" / f"American_Trends_Panel_{PEW_WAVE}"
    frames, notes = [], []
    for attribute, variable, mapping, vocabulary in (
        ("POLPARTY", "party_id", PEW_POLPARTY, PARTY_ID),
        ("POLIDEOLOGY", "ideology", PEW_POLIDEOLOGY, IDEOLOGY),
    ):
        question, groups = _pew_group_counts(folder / f"{attribute}_data.json")
        excluded = {g: groups.pop(g) for g in PEW_EXCLUDED if g in groups}
        unknown = sorted(set(groups) - set(mapping))
        if unknown:
            raise SystemExit(f"Pew {attribute}: groups without a mapping {unknown}")
        counts = pd.Series({mapping[g]: c for g, c in groups.items()}).reindex(list(vocabulary), fill_value=0.0)
        long = pd.DataFrame({"area": "US", "category": counts.index, "count": counts.to_numpy()})
        long["n"] = long["count"].sum()
        long["share"] = long["count"] / long["n"]
        reverse = {v: k for k, v in mapping.items()}
        frames.append(_rows(long, source="Pew ATP", years="2021", geography="national", variable=variable,
                            dataset=f"Pew American Trends Panel wave 92 via OpinionQA ({attribute} groups)",
                            weighted=False,
                            source_codes=lambda f, a=attribute, r=reverse: a + " = " + f["category"].map(r)))
        notes.append(f"Pew {PEW_WAVE} {attribute}: counts from question {question}; excluded {excluded}")
    return frames, notes


def build(shared: Path) -> tuple[pd.DataFrame, list[str]]:
    pew_frames, notes = pew(shared)
    table = pd.concat([*anes(shared), *gss(shared), *pew_frames], ignore_index=True)
    table["count"] = table["count"].astype(int)
    table["n"] = table["n"].astype(int)
    table = table[COLUMNS].sort_values(["variable", "source", "geography", "area"], kind="stable")
    sums = table.groupby(["source", "years", "geography", "area", "variable"])["share"].sum()
    if ((sums - 1).abs() > 1e-12).any():
        raise SystemExit(f"shares do not sum to 1: {sums[(sums - 1).abs() > 1e-12]}")
    return table.reset_index(drop=True), notes


def write(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False, float_format="%.10g",
                 compression={"method": "gzip", "mtime": 0, "compresslevel": 9})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=ROOT / "personacal" / "data")
    parser.add_argument("--check", action="store_true", help="fail if the shipped file differs from a rebuild")
    args = parser.parse_args(argv)
    table, notes = build(args.shared)
    for note in notes:
        print(note)
    print(table.groupby(["source", "geography", "variable"]).agg(rows=("share", "size"), areas=("area", "nunique"),
                                                                 n=("n", "max")).to_string())
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / FILE
            write(table, fresh)
            if fresh.read_bytes() != (args.out / FILE).read_bytes():
                print(f"{FILE} differs from a rebuild", file=sys.stderr)
                return 1
        print(f"{FILE} is up to date")
        return 0
    write(table, args.out / FILE)
    print(f"wrote {args.out / FILE} ({len(table)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
