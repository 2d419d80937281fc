"""The paired verdict of ``compare``: interval coverage, false-improvement rate and power.

    python benchmarks/paired_verdict.py [--reps 200] [--quick]   # -> benchmarks/results/paired_verdict.md

Simulated elections with a known truth (model: tests/_verdict_sim.py). Three questions:

1. Coverage. Which interval method should ``compare`` use by default? For every statistic of
   raw, calibrated and their change, the share of simulated samples whose 95% interval holds the
   true value (the statistic at infinite persona counts), and the mean width. Percentile and
   basic intervals are read off the same paired replicates as BCa (compare runs with
   interval_method="bca"; percentile = quantiles of the replicates, basic = 2 x estimate -
   quantiles), so the methods differ only in how they read one bootstrap. Two ways to treat the
   calibrated weights: fixed (resampled with their personas, compare's default) and recomputed
   (``reweight=``: the post-stratification redone on every replicate).
2. False improvements. The same answers on both sides, the calibrated side carrying log-normal
   weights independent of the answers: the share of comparisons in which a statistic (or any
   statistic) is called improved. Target: at most 10%.
3. Power. A real lean correction (the raw pool leans by ``lean`` points, post-stratification
   removes it): the share of comparisons whose lean, and whose MAE, is called improved.
   Target: a 5-point correction with 300 personas per state detected at least 80% of the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import _verdict_sim as sim  # noqa: E402

from personacal.evaluate import compare  # noqa: E402
from _markdown import markdown_table  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "paired_verdict.md"
LEVEL = 0.95
COMPONENTS = [f"{v}[{s}]" for v in ("raw", "calibrated", "change") for s in ("mae", "mean_signed_error")]
COMPONENTS += ["abs_change[mean_signed_error]", "raw[rmse]", "change[rmse]"]


def _one(pop, n_per_state, seed, *, weights="poststratify", recompute=False, n_boot=1000, method="bca"):
    rng = np.random.default_rng(seed)
    answers = sim.sample(pop, n_per_state, rng, weights=weights)
    reweight = sim.poststratifier(pop, answers) if recompute else None
    return compare(answers.drop(columns="weight"), answers, pop.truth, weights="weight", n_boot=n_boot,
                   level=LEVEL, interval_method=method, random_state=seed, progress=False, reweight=reweight)


def _intervals(comparison) -> dict[str, dict[str, tuple[float, float]]]:
    """``{method: {component: (low, high)}}`` for percentile, basic (same replicates) and bca (compare's own)."""
    boot = comparison.paired["all"].bootstrap
    alpha = (1 - LEVEL) / 2
    q = np.nanquantile(boot.distribution, [alpha, 1 - alpha], axis=0)
    out = {"percentile": {}, "basic": {}, "bca": {}}
    for j, name in enumerate(boot.names):
        est = boot.estimate[j]
        out["percentile"][name] = (q[0, j], q[1, j])
        out["basic"][name] = (2 * est - q[1, j], 2 * est - q[0, j])
        out["bca"][name] = (boot.ci_low[j], boot.ci_high[j])
    return out


def coverage(n_states, n_per_state, reps, model_error, recompute) -> pd.DataFrame:
    pop = sim.population(n_states, lean=0.05, model_error=model_error, seed=1)
    truth = pop.true_values()
    hits = []
    for rep in range(reps):
        intervals = _intervals(_one(pop, n_per_state, 1000 + rep, recompute=recompute))
        for method, table in intervals.items():
            for name in COMPONENTS:
                low, high = table[name]
                hits.append({"method": method, "component": name, "covered": low <= truth[name] <= high,
                             "width": high - low})
    frame = pd.DataFrame(hits)
    table = frame.groupby(["component", "method"]).agg(coverage=("covered", "mean"), width=("width", "mean"))
    table = table.unstack("method")
    table.columns = [f"{m} {k}" for k, m in table.columns]
    cols = [f"{m} {k}" for m in ("percentile", "basic", "bca") for k in ("coverage", "width")]
    return table[cols].reindex(COMPONENTS)


def verdict_rates(n_states, n_per_state, reps, *, weights, lean, seed0, recompute=False) -> dict[str, float]:
    pop = sim.population(n_states, lean=lean, model_error=0.03, seed=2)
    called = []
    for rep in range(reps):
        comparison = _one(pop, n_per_state, seed0 + rep, weights=weights, recompute=recompute)
        changes = comparison.changes().set_index("statistic")
        called.append({s: changes.loc[s, "improved"] is True for s in changes.index})
    frame = pd.DataFrame(called)
    out = {f"{s} improved": frame[s].mean() for s in frame.columns}
    out["any statistic improved"] = frame.any(axis=1).mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=100, help="samples per coverage and false-improvement cell")
    parser.add_argument("--power-reps", type=int, default=50, help="samples per power cell")
    parser.add_argument("--quick", action="store_true", help="fewer cells and replications (a smoke run)")
    args = parser.parse_args()
    reps = 20 if args.quick else args.reps
    power_reps = 20 if args.quick else args.power_reps
    started = time.perf_counter()
    load = os.getloadavg()
    parts = [__doc__.split("\n\n", 2)[2].strip(), "",
             f"Run: {reps} simulated samples per coverage / false-improvement cell, {power_reps} per power cell, "
             "1,000 paired bootstrap replicates each, 95% level, compare's default interval (BCa) for verdicts. "
             f"Load average at start {load[0]:.1f} (2-core machine, shared).", ""]

    parts.append("## 1. Coverage of 95% intervals (10 states; raw lean +5 points; model error SD 3 points)")
    for n in ((300,) if args.quick else (300, 100)):
        for recompute in (False, True) if n == 300 else (False,):
            table = coverage(10, n, reps, 0.03, recompute).reset_index()
            print(f"coverage n={n} recompute={recompute} done at {time.perf_counter() - started:.0f} s", flush=True)
            what = "recomputed on every replicate" if recompute else "fixed (compare's default)"
            parts += [f"\n{n} personas per state, calibrated weights {what}:\n", markdown_table(table, ".3f")]
    parts.append("")

    parts.append("## 2. False improvements: same answers, calibrated side with random weights (log-normal, SD 0.5)")
    rows = []
    for states, n in ((10, 300), (10, 100)) if args.quick else ((10, 300), (10, 100), (50, 100)):
        rates = verdict_rates(states, n, reps, weights="noise", lean=0.05, seed0=5000)
        rows.append({"states": states, "personas per state": n, **rates})
        print(f"noise {states}x{n} done at {time.perf_counter() - started:.0f} s", flush=True)
    parts += [markdown_table(pd.DataFrame(rows), ".3f"), ""]
    parts.append("## 2b. A representative raw pool (no lean) post-stratified: what the verdict calls")
    parts.append("The raw pool has the population's group shares in expectation; post-stratification only removes "
                 "this sample's chance imbalance. With fixed weights the verdict judges the change for these "
                 "personas (removing a chance imbalance is a real improvement for them); with recomputed weights "
                 "it judges the change a fresh persona draw would show (zero in expectation).\n")
    rows = []
    for recompute in (False, True):
        rates = verdict_rates(10, 300, reps, weights="poststratify", lean=0.0, seed0=7000, recompute=recompute)
        rows.append({"weights": "recomputed" if recompute else "fixed", **rates})
    parts += [markdown_table(pd.DataFrame(rows), ".3f"), ""]

    parts.append("## 3. Power: a real lean correction (post-stratification removes the raw pool's lean)")
    rows = []
    cells = [(10, 300, 0.05)] if args.quick else [(10, 300, 0.05), (10, 100, 0.05), (10, 300, 0.025),
                                                  (10, 50, 0.05), (50, 300, 0.05), (3, 300, 0.05)]
    for states, n, lean in cells:
        for recompute in (False, True) if (states, n) == (10, 300) else (False,):
            rates = verdict_rates(states, n, power_reps, weights="poststratify", lean=lean, seed0=9000,
                                  recompute=recompute)
            print(f"power {states}x{n} lean {lean} recompute={recompute} done at "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            rows.append({"states": states, "personas per state": n, "lean removed (points)": f"{100 * lean:.1f}",
                         "weights": "recomputed" if recompute else "fixed",
                         "lean improved": rates["mean_signed_error improved"], "MAE improved": rates["mae improved"],
                         "any statistic improved": rates["any statistic improved"]})
    parts += [markdown_table(pd.DataFrame(rows), ".3f"), ""]
    parts.append(f"Total time {time.perf_counter() - started:.0f} s; load average at end {os.getloadavg()[0]:.1f}.")
    OUT.write_text("# Paired verdict of compare: coverage, false improvements, power\n\n" + "\n".join(parts) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
