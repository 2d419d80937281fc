"""Build personacal/data/party_id_state_mrp.csv.gz: state party-ID targets by MRP on ANES 2008 + 2012.

Run from the repository root (about 10-20 minutes on 2 cores)::

    python scripts/curate_party_id_mrp.py [--shared /work/shared/data] [--out personacal/data] [--check]

Method (multilevel regression and post-stratification; details in ``_party_id_mrp_model.py``):

1. Survey: ANES time series 2008 and 2012 from the shipped extract (``personacal.data.anes_subset()``,
   stevedata ``anes_partytherms``), respondents with state, age, education, race/ethnicity and
   party ID. Party ID = the 7-point item collapsed as for the LLM tiers' base question: pid7 1-2
   Democrat, 3-5 Independent (leaners included), 6-7 Republican. **No survey weights**: the extract
   carries none (its description lists no weight variable), so respondents count 1 each; the
   post-stratification below corrects the composition on age, education and race/ethnicity (ANES
   2012 oversampled Black and Hispanic adults), not on anything else (the extract has no sex).
2. State-level predictor: the state's Democratic share of the two-party presidential vote in the
   election BEFORE the survey year (2004 for ANES 2008, 2008 for ANES 2012; MEDSL 1976-2020,
   summed by candidate). The targets use the election before the persona year 2023: 2020.
3. Regression: multinomial logit of party on age, education, race/ethnicity, Census region, state,
   race x region and survey year (partially pooled varying intercepts) plus the state predictor
   with a race-specific slope; PyMC NUTS.
4. Post-stratification: each state's joint of age x education4 x race_eth4 over its adults,
   ``reconstruct_joint(census_margins(state, variables=[age, education4, race_eth4]), seed=ANES,
   method="ipf")``: ACS 2023 margins, association structure from the ANES 2008+2012 respondents
   (the shipped ACS person sample ``national_seed()`` has no Hispanic origin and only 3 education
   levels, so it cannot seed this joint). Survey year set to 2012 (the latest).

The 50 states are estimated; DC is not (no ACS 2023 profile for DC in the shipped data, so no
education x race margins to post-stratify on). Validation numbers: benchmarks/party_id_targets.py.
The sampler is seeded, so a rebuild on the same machine and library versions gives the same
file; ``--check`` compares shares to 1e-9 instead of bytes because BLAS builds may differ.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _party_id_mrp_model as model  # noqa: E402

from personacal.calibrate import reconstruct_joint  # noqa: E402
from personacal.data import _categories as C  # noqa: E402
from personacal.data import anes_subset, census_margins, election_results  # noqa: E402

FILE = "party_id_state_mrp.csv.gz"
SURVEY_YEARS = (2008, 2012)
#: survey year -> the presidential election before it (the state predictor's year)
PRIOR_ELECTION = {2008: 2004, 2012: 2008}
TARGET_PREDICTOR_YEAR = 2020
#: MEDSL candidate names of the major-party nominees in the fitting years' prior elections
NOMINEES = {2004: ("KERRY, JOHN", "BUSH, GEORGE W."), 2008: ("OBAMA, BARACK H.", "MCCAIN, JOHN")}
PID7 = {"Strong Democrat": "Democrat", "Weak Democrat": "Democrat", "Independent, lean Democrat": "Independent",
        "Independent": "Independent", "Independent, lean Republican": "Independent",
        "Weak Republican": "Republican", "Strong Republican": "Republican"}
SOURCE_CODES = {"Democrat": "pid7 1-2", "Independent": "pid7 3-5", "Republican": "pid7 6-7"}
#: model order: the reference category first
PARTIES = ("Independent", "Democrat", "Republican")
OUTPUT_ORDER = ("Democrat", "Republican", "Independent")
COVARIATES = ("age", "education4", "race_eth4")
LEVEL = 0.95
DRAWS, TUNE, CHAINS, SEED, TARGET_ACCEPT = 1000, 1000, 2, 20260113, 0.95

COLUMNS = ["source", "dataset", "years", "geography", "area", "variable", "category", "share", "ci_low", "ci_high",
           "n", "weighted", "method", "state_predictor", "poststratification", "source_codes"]
DATASET = "ANES time series 2008 + 2012 (stevedata::anes_partytherms extract, no survey weights)"
METHOD = ("MRP: multinomial logit, varying intercepts for age, education4, race_eth4, region, state, "
          "race x region, survey year; state prior two-party Democratic vote share with race-specific slopes "
          f"(PyMC NUTS, {CHAINS} chains x {DRAWS} draws, target_accept {TARGET_ACCEPT}); posterior mean and {LEVEL:.0%} equal-tailed interval")
POSTSTRAT = ("ACS 2023 adults (18+): age x education4 x race_eth4, IPF joint of the state's census margins "
             "seeded by the ANES 2008+2012 respondents; survey-year effect of 2012")


def prior_vote(shared: Path) -> pd.DataFrame:
    """Democratic two-party share by state and election (2004, 2008 from the raw MEDSL file; 2016, 2020 shipped)."""
    raw = pd.read_csv(shared / "election_1976_2020_medsl" / "1976-2020-president.csv", sep=";")
    rows = []
    for year, (dem, rep) in NOMINEES.items():
        block = raw[raw["year"] == year].groupby(["state_po", "candidate"])["candidatevotes"].sum().unstack()
        missing = block[[dem, rep]].isna().any(axis=1)
        if missing.any():
            raise SystemExit(f"{year}: no {dem} / {rep} line in {sorted(block.index[missing])}")
        share = block[dem] / (block[dem] + block[rep])
        rows += [{"year": year, "state": s, "dem2": float(v)} for s, v in share.items()]
    for year in (2016, 2020):
        shipped = election_results(year)
        rows += [{"year": year, "state": s, "dem2": float(v)}
                 for s, v in zip(shipped["state"], shipped["dem_two_party_share"])]
    return pd.DataFrame(rows)


def standardise(dem2) -> np.ndarray:
    """The predictor's scale: Democratic two-party share minus 50%, in units of 10 points."""
    return (np.asarray(dem2, dtype=float) - 0.5) * 10


def survey() -> pd.DataFrame:
    anes = anes_subset()
    anes = anes[anes["year"].isin(SURVEY_YEARS)]
    frame = pd.DataFrame({
        "year": anes["year"].to_numpy(), "state": anes["state"].astype("string").to_numpy(),
        "age": anes["age"].astype("string").to_numpy(), "education4": anes["education4"].astype("string").to_numpy(),
        "race_eth4": anes["race_eth4"].astype("string").to_numpy(),
        "party": anes["party_id7"].astype("string").map(PID7).to_numpy(),
    })
    unmapped = set(anes["party_id7"].dropna().astype(str)) - set(PID7)
    if unmapped:
        raise SystemExit(f"party_id7 labels without a mapping: {sorted(unmapped)}")
    complete = frame.dropna()
    print(f"ANES {'+'.join(map(str, SURVEY_YEARS))}: {len(frame)} respondents, {len(complete)} complete "
          f"(dropped {len(frame) - len(complete)} with a missing state, age, education, race or party)")
    return complete.reset_index(drop=True)


class Levels:
    """Category -> integer code of every model factor (the same codes for survey and census cells)."""

    def __init__(self):
        self.values = {
            "age": list(C.AGE_GROUPS), "education": list(C.CATEGORIES["education4"]),
            "race": list(C.CATEGORIES["race_eth4"]), "region": list(C.REGIONS.values()), "state": sorted(C.STATES),
            "race_region": [f"{r} x {g}" for r in C.CATEGORIES["race_eth4"] for g in C.REGIONS.values()],
            "year": list(SURVEY_YEARS),
        }

    def n_levels(self) -> tuple[int, ...]:
        return tuple(len(self.values[f]) for f in model.FACTORS)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        region = frame["state"].map(lambda s: C.REGIONS[C.STATES[s][2]])
        columns = {"age": frame["age"], "education": frame["education4"], "race": frame["race_eth4"],
                   "region": region, "state": frame["state"], "race_region": frame["race_eth4"] + " x " + region,
                   "year": frame["year"]}
        out = []
        for name in model.FACTORS:
            index = {v: i for i, v in enumerate(self.values[name])}
            coded = columns[name].map(index)
            if coded.isna().any():
                raise SystemExit(f"{name}: values without a level {sorted(set(columns[name][coded.isna()]))}")
            out.append(coded.to_numpy(dtype=int))
        return np.column_stack(out)


def design(data: pd.DataFrame, votes: pd.DataFrame, levels: Levels) -> model.Design:
    predictor = votes.set_index(["year", "state"])["dem2"]
    data = data.assign(z=standardise([predictor[(PRIOR_ELECTION[y], s)] for y, s in zip(data["year"], data["state"])]))
    keys = ["year", "state", "age", "education4", "race_eth4"]
    counts = data.groupby(keys + ["party"]).size().unstack("party", fill_value=0).reindex(columns=list(PARTIES),
                                                                                         fill_value=0)
    cells = counts.index.to_frame(index=False)
    z = data.groupby(keys)["z"].first().reindex(counts.index).to_numpy()
    print(f"model: {len(cells)} observed cells from {int(counts.to_numpy().sum())} respondents")
    return model.Design(codes=levels.codes(cells), n_levels=levels.n_levels(), z=z, y=counts.to_numpy(dtype=float))


def census_joint(data: pd.DataFrame, states: list[str]):
    margins = {s: census_margins(s, variables=list(COVARIATES)) for s in states}
    joint = reconstruct_joint(margins, seed=data[list(COVARIATES)], method="ipf", variables=COVARIATES)
    if not joint.converged:
        raise SystemExit(f"census joint did not converge (max margin error {joint.max_margin_error:.3g})")
    return joint


def estimate(idata, joint, votes: pd.DataFrame, levels: Levels, states: list[str]) -> dict[str, np.ndarray]:
    """Posterior draws (S, K) of each state's post-stratified party shares (model order)."""
    terms = model.effects(idata, len(PARTIES))
    z_target = votes[votes["year"] == TARGET_PREDICTOR_YEAR].set_index("state")["dem2"]
    out = {}
    for state in states:
        cells = joint.for_region(state).rename("count").reset_index()
        cells = cells[cells["count"] > 0]
        frame = cells.assign(state=state, year=max(SURVEY_YEARS))
        z = np.full(len(frame), standardise([z_target[state]])[0])
        out[state] = model.poststratify(terms, levels.codes(frame), z, frame["count"].to_numpy(float))
    return out


def table(draws: dict[str, np.ndarray], data: pd.DataFrame) -> pd.DataFrame:
    n_by_state = data.groupby("state").size()
    alpha = (1 - LEVEL) / 2
    rows = []
    for state, theta in draws.items():
        for category in OUTPUT_ORDER:
            k = PARTIES.index(category)
            low, high = np.quantile(theta[:, k], [alpha, 1 - alpha])
            rows.append({
                "source": "ANES MRP", "dataset": DATASET, "years": "+".join(map(str, SURVEY_YEARS)),
                "geography": "state", "area": state, "variable": "party_id", "category": category,
                "share": float(theta[:, k].mean()), "ci_low": float(low), "ci_high": float(high),
                "n": int(n_by_state.get(state, 0)), "weighted": False, "method": METHOD,
                "state_predictor": f"Democratic two-party share, {TARGET_PREDICTOR_YEAR} presidential election (MEDSL)",
                "poststratification": POSTSTRAT, "source_codes": SOURCE_CODES[category],
            })
    out = pd.DataFrame(rows, columns=COLUMNS)
    sums = out.groupby("area")["share"].sum()
    if ((sums - 1).abs() > 1e-9).any():
        raise SystemExit(f"shares do not sum to 1: {sums[(sums - 1).abs() > 1e-9]}")
    return out


def write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.10g", compression={"method": "gzip", "mtime": 0, "compresslevel": 9})


def build(shared: Path, posterior: Path | None = None) -> tuple[pd.DataFrame, dict]:
    data = survey()
    votes = prior_vote(shared)
    levels = Levels()
    states = sorted(set(C.STATES) - set(C.NO_ACS_PROFILE))
    started = time.perf_counter()
    idata, diagnostics = model.fit(design(data, votes, levels), draws=DRAWS, tune=TUNE, chains=CHAINS, seed=SEED,
                                   target_accept=TARGET_ACCEPT)
    diagnostics["seconds"] = round(time.perf_counter() - started, 1)
    print(f"NUTS: {diagnostics}")
    if posterior is not None:
        idata.to_netcdf(posterior)
    if diagnostics["max_rhat"] > 1.01 or diagnostics["min_ess_bulk"] < 100 * CHAINS or diagnostics["divergences"]:
        raise SystemExit(f"the sampler did not converge well enough to ship targets: {diagnostics}")
    joint = census_joint(data, states)
    return table(estimate(idata, joint, votes, levels, states), data), diagnostics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=ROOT / "personacal" / "data")
    parser.add_argument("--check", action="store_true", help="fail if the shipped shares differ from a rebuild")
    parser.add_argument("--posterior", type=Path, help="also save the posterior (ArviZ netCDF) here")
    args = parser.parse_args(argv)
    frame, _ = build(args.shared, args.posterior)
    if args.check:
        shipped = pd.read_csv(args.out / FILE)
        gap = np.abs(shipped["share"].to_numpy() - frame["share"].to_numpy()).max()
        print(f"largest share difference from the shipped file: {gap:.2e}")
        return 0 if gap < 1e-9 else 1
    write(frame, args.out / FILE)
    print(f"wrote {args.out / FILE} ({len(frame)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
