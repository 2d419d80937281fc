"""Known-truth validation of the whole pipeline: personas -> answers -> raking -> paired compare.

    python benchmarks/validation_study.py [--reps 200] [--boot 200] [--quick]
    # -> benchmarks/results/validation_study.md

The data-generating process is personacal's demographic respondent model (benchmarks/known_truth.py
says how): the truth of each state is the model's prediction post-stratified over the census joint.
Each replication draws a persona tier with a paper-style composition error and a left shift in
its psychographic (party), draws the answers (a two-party vote) from the model, rakes each state
to its census margins and the true party margin, and runs ``personacal.evaluate.compare`` with
the raking redone on every paired bootstrap replicate (``reweight=``).

Reported, raw against calibrated: bias and RMSE of the state shares against the truth; coverage of
compare's 95% intervals (state shares and lean against the truth; lean and the change in lean
against their values at infinite persona counts, which is what an interval estimates when
calibration cannot remove every error); and how the error falls with personas per state.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import known_truth as kt  # noqa: E402

from personacal.errors import ConvergenceError  # noqa: E402
from personacal.evaluate import compare  # noqa: E402
from _markdown import markdown_table  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "validation_study.md"
LEVEL = 0.95
SCENARIOS = {  # name: (composition, tilt, shift)
    "independent marginals + left shift": ("independent", 0.0, 0.5),
    "over-educated + left shift": ("overeducated", 0.5, 0.5),
}


def replicate(pop: kt.Population, n_per_state: int, seed: int, *, composition: str, tilt: float, shift: float,
              n_boot: int) -> dict:
    """One run of the pipeline: the estimates and (with ``n_boot``) compare's paired intervals."""
    rng = np.random.default_rng(seed)
    personas = kt.draw_personas(pop, n_per_state, rng, composition=composition, tilt=tilt, shift=shift)
    try:
        calibrator = kt.Calibrator(pop, personas)
    except ConvergenceError:  # not even the two core margins can be met: counted, left out
        return None
    weights = calibrator.original
    raw = kt.answers(personas)
    calibrated = raw.assign(weight=np.repeat(weights, 2))
    comparison = compare(raw, calibrated, pop.truth(), weights="weight", n_boot=n_boot, level=LEVEL,
                         reweight=calibrator.reweight if n_boot else None, random_state=seed, progress=False)
    out = {"empty_cells": calibrator.empty_cells, "failed_replicates": calibrator.failures,
           "dropped": len(calibrator.dropped)}
    if n_boot:
        boot = comparison.paired["all"].bootstrap
        for j, name in enumerate(boot.names):
            out[name] = (boot.estimate[j], boot.ci_low[j], boot.ci_high[j])
        return out
    for version in ("raw", "calibrated"):
        result = comparison.result(version)
        for state, share in zip(result.per_state["state"], result.per_state["simulated"]):
            out[f"{version}[share[{state}]]"] = (share, np.nan, np.nan)
        out[f"{version}[mean_signed_error]"] = (result.mean_signed_error, np.nan, np.nan)
    out["change[mean_signed_error]"] = (out["calibrated[mean_signed_error]"][0] - out["raw[mean_signed_error]"][0],
                                        np.nan, np.nan)
    return out


def true_values(pop: kt.Population, scenario: tuple) -> dict[str, dict[str, float]]:
    """Per component, its value against the truth (``truth``) and at infinite persona counts (``limit``)."""
    composition, tilt, shift = scenario
    truth = pop.truth().set_index("state")["dem_two_party_share"]
    lim = kt.limits(pop, composition=composition, tilt=tilt, shift=shift)
    out = {}
    for version in ("raw", "calibrated"):
        for state, value in zip(pop.states, lim[version]):
            out[f"{version}[share[{state}]]"] = {"truth": truth[state], "limit": value}
        out[f"{version}[mean_signed_error]"] = {"truth": 0.0, "limit": float(np.mean(lim[version] - truth.to_numpy()))}
    out["change[mean_signed_error]"] = {
        "truth": -out["raw[mean_signed_error]"]["limit"],  # what a perfect calibration would change
        "limit": out["calibrated[mean_signed_error]"]["limit"] - out["raw[mean_signed_error]"]["limit"]}
    return out


def run(pop, scenario, n_per_state, reps, n_boot, seed0, progress=True) -> pd.DataFrame:
    """One row per replication and component: estimate, interval, true values."""
    truths = true_values(pop, scenario)
    composition, tilt, shift = scenario
    rows = []
    for rep in tqdm(range(reps), desc=f"n={n_per_state}", disable=not progress, leave=False, mininterval=5):
        result = replicate(pop, n_per_state, seed0 + rep, composition=composition, tilt=tilt, shift=shift,
                           n_boot=n_boot)
        if result is None:
            rows.append({"rep": rep, "component": "unraked", "empty_cells": 0, "failed_replicates": 0, "dropped": 0})
            continue
        for name, truth in truths.items():
            est, low, high = result[name]
            rows.append({"rep": rep, "component": name, "estimate": est, "low": low, "high": high,
                         "truth": truth["truth"], "limit": truth["limit"], "empty_cells": result["empty_cells"],
                         "failed_replicates": result["failed_replicates"], "dropped": result["dropped"]})
    return pd.DataFrame(rows)


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw vs calibrated: bias and RMSE of the state shares (pp), coverage of the 95% intervals."""
    rows = []
    for version in ("raw", "calibrated"):
        shares = frame[frame["component"].str.startswith(f"{version}[share")]
        lean = frame[frame["component"] == f"{version}[mean_signed_error]"]
        err = shares["estimate"] - shares["truth"]
        rows.append({
            "version": version,
            "bias (pp)": 100 * err.mean(),
            "RMSE (pp)": 100 * np.sqrt((err**2).mean()),
            "bias of limit (pp)": 100 * (shares["limit"] - shares["truth"]).mean(),
            "coverage: shares vs truth": _covers(shares, "truth"),
            "coverage: shares vs limit": _covers(shares, "limit"),
            "coverage: lean vs limit": _covers(lean, "limit"),
            "mean width of share CI (pp)": 100 * (shares["high"] - shares["low"]).mean(),
        })
    change = frame[frame["component"] == "change[mean_signed_error]"]
    rows.append({"version": "change in lean (calibrated - raw)",
                 "bias (pp)": 100 * (change["estimate"] - change["limit"]).mean(),
                 "RMSE (pp)": 100 * np.sqrt(((change["estimate"] - change["limit"]) ** 2).mean()),
                 "bias of limit (pp)": np.nan, "coverage: shares vs truth": np.nan,
                 "coverage: shares vs limit": np.nan, "coverage: lean vs limit": _covers(change, "limit"),
                 "mean width of share CI (pp)": np.nan})
    return pd.DataFrame(rows)


def _covers(frame: pd.DataFrame, column: str) -> float:
    return float(((frame["low"] <= frame[column]) & (frame[column] <= frame["high"])).mean()) if len(frame) else np.nan


def error_by_n(pop, scenario, ns, reps, seed0) -> pd.DataFrame:
    """RMSE and bias of the state shares against the truth, raw and calibrated, by personas per state."""
    rows = []
    for n in ns:
        frame = run(pop, scenario, n, reps, 0, seed0)
        for version in ("raw", "calibrated"):
            shares = frame[frame["component"].str.startswith(f"{version}[share")]
            err = shares["estimate"] - shares["truth"]
            rows.append({"personas per state": n, "version": version, "bias (pp)": 100 * err.mean(),
                         "SD (pp)": 100 * err.std(), "RMSE (pp)": 100 * np.sqrt((err**2).mean()),
                         "share of replications with an empty raking cell":
                             float((frame.groupby("rep")["empty_cells"].first() > 0).mean()),
                         "share with a margin dropped": float((frame.groupby("rep")["dropped"].first() > 0).mean()),
                         "share that could not be raked (left out)": float(
                             frame.loc[frame["component"] == "unraked", "rep"].nunique() / reps)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--boot", type=int, default=200, help="paired bootstrap replicates per compare")
    parser.add_argument("--n", type=int, default=200, help="personas per state of the coverage runs")
    parser.add_argument("--quick", action="store_true", help="20 replications, 100 bootstrap replicates")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.quick:
        args.reps, args.boot = min(args.reps, 20), min(args.boot, 100)
    warnings.simplefilter("ignore")  # the independence joint warns that it misses the race x ethnicity cross-tab
    load = os.getloadavg()[0]
    start = time.time()
    pop = kt.population()
    truth = pop.truth()
    parts = [
        "# Known-truth validation of the pipeline (personas -> answers -> raking -> paired compare)\n",
        __doc__.split("\n\n", 2)[2].strip() + "\n",
        f"States: {', '.join(pop.states)}. Truth (Democratic two-party share, the demographic model post-stratified "
        "over the census joint): " + ", ".join(f"{s} {v:.4f}" for s, v in zip(truth["state"], truth["dem_two_party_share"]))
        + ". Raking variables: " + ", ".join(kt.RAKE_VARIABLES) + ". Partisan loyalty " + f"{kt.LOYALTY}.\n",
    ]
    check = _kernel_check(pop)
    parts.append(f"The raking kernel equals `personacal.calibrate.rake` on the first replication's personas "
                 f"(max relative weight difference {check:.1e}).\n")
    for name, scenario in SCENARIOS.items():
        composition, tilt, shift = scenario
        frame = run(pop, scenario, args.n, args.reps, args.boot, 10_000)
        parts.append(f"## {name}\n\ncomposition `{composition}` (tilt {tilt}), party shift {shift} (log-odds); "
                     f"{args.n} personas per state, {args.reps} replications, {args.boot} paired BCa bootstrap "
                     "replicates per compare, raking redone on every replicate.\n")
        parts.append(markdown_table(headline(frame), ".3f", nan="") + "\n")
        Path(args.out).write_text("\n".join(parts))  # keep what is done if a later section fails
        failed = frame.groupby("rep")["failed_replicates"].first()
        dropped = frame.groupby("rep")["dropped"].first()
        parts.append(f"Re-rakings that did not converge (that replicate left out by compare): {int(failed.sum())} in "
                     f"{int((failed > 0).sum())} of {args.reps} replications ({args.boot} bootstrap replicates each, "
                     f"plus BCa's jackknife). Replications whose own raking dropped a margin: {int((dropped > 0).sum())}.\n")
    name, scenario = next(iter(SCENARIOS.items()))
    parts.append(f"## Error by personas per state ({name}; point estimates, {args.reps} replications)\n")
    parts.append(markdown_table(error_by_n(pop, scenario, (50, 100, 200, 400), args.reps, 20_000), ".3f", nan="")
                     + "\n")
    parts.append(f"Run time {time.time() - start:.0f} s; load average {load:.1f} at start (2-core machine shared "
                 "with other jobs).\n")
    Path(args.out).write_text("\n".join(parts))
    print("\n".join(parts))


def _kernel_check(pop: kt.Population) -> float:
    """Max relative difference between the study's raking kernel and personacal.calibrate.rake."""
    from personacal.calibrate import Margins, rake

    personas = kt.draw_personas(pop, 200, np.random.default_rng(10_000))
    ours = kt.Calibrator(pop, personas).original
    worst = 0.0
    census, party = pop.census_shares(), pop.party_shares()
    for state in pop.states:
        rows = (personas["state"] == state).to_numpy()
        sample = personas[rows].reset_index(drop=True)
        margins = {v: pd.Series(census[state][j] * len(sample), index=sorted(pop.cells[v].astype(str).unique()))
                   for j, v in enumerate(kt.RAKE_VARIABLES[:-1])}
        margins["party"] = pd.Series(party[state] * len(sample), index=list(kt.PARTIES))
        theirs = rake(sample, Margins(margins)).weights
        worst = max(worst, float(np.max(np.abs(np.asarray(theirs) / ours[rows] - 1))))
    return worst


if __name__ == "__main__":
    main()
