"""Regional interactions: the fixed prior vs the learned hierarchy (``seed_by``), and interval
coverage against a truth without sampling noise.

    python benchmarks/bench_joint_hierarchy.py            # ~1-2 h on 2 shared cores
    python benchmarks/bench_joint_hierarchy.py --quick    # 2 x 500 draws, one replicate

1. Held-out ANES states and ACS language groups (cases in tests/_joint_cases.py).
   *before*: the seed pooled nationally, each region's two-way interactions = the seed's plus
   prior draws at HalfNormal(interaction_scale=0.2); *after*: ``seed_by``, every seed region a
   group of a hierarchical model whose between-region SD ``sigma_pair`` is learned. ANES: the 12
   largest states, each split at random into a margins half (with MOEs) and a truth half; the
   seed is every other state (so *after* learns only the scale) or also each state's own
   margins half (*after* learns the states' own interactions). Per-state TVD, predictive 90%
   coverage (PIT of the truth half's counts under Multinomial(n_truth, share)) and the 95%
   credible width; paired TVD differences with a t-interval over states.
2. Coverage against a known joint (simulation): 12 regions over ANES's age x education4 x
   race_eth4 (96 cells); each region's true table is the national table (pooled ANES) with
   regional two-way deviations of known SD ``sigma_true`` (drawn exactly as the model's prior
   draws them: double-centred Normal matrices), raked to a real state's 1-D margins. The
   methods see those margins (population-scale, noise=1e-3) and a seed: (i) 3,000 national
   rows, or (ii) 150 rows of each of the 12 regions and of 24 further regions. The truth is the
   population share itself, so the coverage of the 95% credible interval and its width are
   measured without the sampling noise of a held-out sample.
3. Time of the 50 states + DC fit (432 cells) with regional seed rows (simulated, 30 per state
   around the ACS 2012 national table), with the load average.

Writes benchmarks/results/joint_hierarchy.md. Not part of CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={tempfile.gettempdir()}/personacal-pytensor")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import _joint_cases as J  # noqa: E402
from bench_joint import VARIABLES_51, _md, states_51  # noqa: E402

import personacal.data as data  # noqa: E402
from personacal.calibrate import Margins, reconstruct_joint  # noqa: E402
from personacal.calibrate._ipf_kernels import ipf_dense  # noqa: E402
from personacal.errors import DiagnosticsWarning  # noqa: E402

ANES_VARIABLES = ("age", "education4", "race_eth4")
BIG_STATES = J.TUNING_STATES + J.CHECK_STATES


def _bayes(case, seed_by, budget, random_state, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DiagnosticsWarning)
        start = time.perf_counter()
        result = reconstruct_joint(case.margins, seed=case.seed, method="bayes", seed_by=seed_by,
                                   random_state=random_state, progress=False, **budget, **options)
        seconds = time.perf_counter() - start
    return result, seconds, any(issubclass(w.category, DiagnosticsWarning) for w in caught)


def _width(result, region) -> float:
    """Mean width of the 95% credible interval of a cell's share (share units)."""
    total = result.for_region(region).sum()
    lower = result.lower.xs(region, level="region") if len(result.regions) > 1 else result.lower
    upper = result.upper.xs(region, level="region") if len(result.regions) > 1 else result.upper
    return float(((upper - lower) / total).mean())


def _per_region(case, result, rng, predictive: bool) -> pd.DataFrame:
    rows = []
    for region, truth in case.truth.items():
        estimate = result.for_region(region)
        row = {"region": region, "TVD": J.tvd(truth, estimate), "KL": J.kl(truth, estimate)}
        if result.lower is not None:
            row["width"] = _width(result, region)
            if predictive:
                counts = truth.reindex(estimate.index).to_numpy()
                draws = result.posterior.joint["share"].sel(region=region).to_numpy().reshape(-1, counts.size)
                pit = J.predictive_pit(counts, draws, rng)
                row["coverage90"] = float(np.mean((pit >= 0.05) & (pit <= 0.95)))
        rows.append(row)
    return pd.DataFrame(rows)


def held_out(budget, random_state=5) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(7)
    cases = [(J.anes_split_case(states=BIG_STATES), True), (J.anes_split_case(states=BIG_STATES, own_seed=True), True),
             (J.acs_case(), False)]
    summary, paired = [], []
    for case, predictive in cases:
        options = dict(moe=case.moe, noise=1e-3) if case.moe else {}
        ipf = reconstruct_joint(case.margins, seed=case.seed, method="ipf", smoothing=0.01, progress=False)
        per = {"ipf (pooled seed)": (_per_region(case, ipf, rng, False), 0.0, False)}
        for label, seed_by in (("before: pooled seed, prior deviations", None),
                               (f"after: seed_by={case.seed_by!r}, learned", case.seed_by)):
            result, seconds, warned = _bayes(case, seed_by, budget, random_state, **options)
            per[label] = (_per_region(case, result, rng, predictive), seconds, warned)
            if seed_by:
                note = next(n for n in result.notes if "sigma_pair" in n)
        for label, (table, seconds, warned) in per.items():
            row = {"case": case.name, "regions": len(table), "method": label, "mean TVD": table["TVD"].mean(),
                   "mean KL": table["KL"].mean(), "seconds": seconds, "diagnostics": "warned" if warned else "ok"}
            if "width" in table:
                row["mean 95% width (share)"] = table["width"].mean()
            if "coverage90" in table:
                row["predictive 90% coverage"] = table["coverage90"].mean()
                held = table["region"].isin(J.CHECK_STATES)
                row["... on CHECK_STATES only"] = table.loc[held, "coverage90"].mean()
            summary.append(row)
        labels = list(per)
        before, after = per[labels[1]][0]["TVD"].to_numpy(), per[labels[2]][0]["TVD"].to_numpy()
        diff = after - before
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
        paired.append({"case": case.name, "regions": len(diff), "mean TVD before": before.mean(),
                       "mean TVD after": after.mean(), "after - before (mean)": diff.mean(),
                       "95% t-interval": f"[{diff.mean() - half:.4f}, {diff.mean() + half:.4f}]",
                       "regions improved": f"{int((diff < 0).sum())}/{len(diff)}", "learned scale": note})
        print(pd.DataFrame(summary).tail(3).to_string(), flush=True)
    return summary, paired


# -- 2. simulation from a known joint --------------------------------------------------
def _double_centred(rng, shape, sigma):
    """A pair's regional log-odds-ratio deviations: iid Normal(0, sigma) projected onto the
    zero-sum (interaction) space, the distribution of the model's sigma * (contrasts @ z)."""
    e = rng.normal(0.0, sigma, shape)
    return e - e.mean(axis=0, keepdims=True) - e.mean(axis=1, keepdims=True) + e.mean()


def _regional_table(rng, base, margins_1d, sigma):
    """``base`` with fresh deviations on every pair, raked to the 1-D ``margins_1d`` (shares)."""
    log = np.log(base)
    dims = base.ndim
    for a in range(dims):
        for b in range(a + 1, dims):
            shape = [1] * dims
            shape[a], shape[b] = base.shape[a], base.shape[b]
            log = log + _double_centred(rng, (base.shape[a], base.shape[b]), sigma).reshape(shape)
    table = np.exp(log - log.max())
    fitted, *_ = ipf_dense(table / table.sum(), [((a,), m) for a, m in enumerate(margins_1d)], tol=1e-12, max_iter=5000)
    return fitted / fitted.sum()


def _state_shares(frame, variables, categories):
    return [((frame[v].value_counts().reindex(c, fill_value=0) + 0.5) / (len(frame) + 0.5 * len(c))).to_numpy()
            for v, c in zip(variables, categories)]


def _rows(rng, table, n, variables, categories, region=None) -> pd.DataFrame:
    cells = rng.choice(table.size, size=n, p=table.ravel())
    codes = np.unravel_index(cells, table.shape)
    frame = pd.DataFrame({v: np.asarray(c)[k] for v, c, k in zip(variables, categories, codes)})
    if region is not None:
        frame.insert(0, "region", region)
    return frame


def simulation(sigma_true, replicate, budget, *, regions=12, extra=24, rows=150, national_rows=3000) -> list[dict]:
    rng = np.random.default_rng(1000 * replicate + int(100 * sigma_true))
    frame = data.anes_subset().dropna(subset=list(ANES_VARIABLES))
    categories = [list(frame[v].cat.categories) for v in ANES_VARIABLES]
    counts = frame.groupby(list(ANES_VARIABLES), observed=False).size().to_numpy(float).reshape(
        [len(c) for c in categories])
    base = (counts + 0.5) / (counts + 0.5).sum()
    states = frame["state"].value_counts().index[: regions + extra]
    truths, margins, seeds = {}, {}, []
    grid = pd.MultiIndex.from_product(categories, names=list(ANES_VARIABLES))
    for i, state in enumerate(states):
        shares = _state_shares(frame[frame["state"] == state], ANES_VARIABLES, categories)
        table = _regional_table(rng, base, shares, sigma_true)
        label = f"R{i:02d}"
        seeds.append(_rows(rng, table, rows, ANES_VARIABLES, categories, label))
        if i < regions:
            truths[label] = pd.Series(table.ravel(), index=grid)
            margins[label] = Margins({v: pd.Series(s * 1e6, index=c) for v, s, c in
                                      zip(ANES_VARIABLES, [table.sum(axis=tuple(b for b in range(3) if b != a))
                                                           for a in range(3)], categories)}, name=label)
    national = _rows(rng, base, national_rows, ANES_VARIABLES, categories)
    regional = pd.concat(seeds, ignore_index=True)
    out = []
    runs = [("(i) national seed, 3,000 rows", national, None),
            ("(ii) regional seeds pooled", regional, None),
            ("(ii) regional seeds, seed_by='region'", regional, "region")]
    for label, seed, seed_by in runs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DiagnosticsWarning)
            start = time.perf_counter()
            result = reconstruct_joint(margins, seed=seed, method="bayes", seed_by=seed_by, noise=1e-3,
                                       random_state=replicate, progress=False, **budget)
            seconds = time.perf_counter() - start
        covered, widths, tvds = [], [], []
        for region, truth in truths.items():
            total = result.for_region(region).sum()
            lower = result.lower.xs(region, level="region").to_numpy() / total
            upper = result.upper.xs(region, level="region").to_numpy() / total
            p = truth.to_numpy()
            covered.append((lower <= p) & (p <= upper))
            widths.append(upper - lower)
            tvds.append(0.5 * np.abs(result.for_region(region).to_numpy() / total - p).sum())
        covered, widths = np.concatenate(covered), np.concatenate(widths)
        ipf = reconstruct_joint(margins, seed=seed, method="ipf", smoothing=0.01, progress=False) if seed_by is None \
            else None
        out.append({"sigma_true": sigma_true, "replicate": replicate, "seed": label,
                    "95% coverage of true share": covered.mean(),
                    "coverage, cells with share > 1%": covered[np.concatenate(
                        [t.to_numpy() for t in truths.values()]) > 0.01].mean(),
                    "mean width (share)": widths.mean(), "mean TVD to truth": np.mean(tvds),
                    "ipf TVD (same seed)": np.nan if ipf is None else np.mean(
                        [J.tvd(truths[r], ipf.for_region(r)) for r in truths]),
                    "seconds": seconds,
                    "diagnostics": "warned" if any(issubclass(w.category, DiagnosticsWarning) for w in caught)
                    else "ok"})
        print(out[-1], flush=True)
    return out


# -- 3. the 50 states + DC with regional seed rows ------------------------------------------
def timing_51(budget, rows_per_state=30, sigma_true=0.2) -> dict:
    margins, national = states_51()
    rng = np.random.default_rng(51)
    categories = [list(next(m for m in margins.values() if v in m.variables).categories(v)) for v in VARIABLES_51]
    seed_table = national.groupby(list(VARIABLES_51), observed=False).size().reindex(
        pd.MultiIndex.from_product(categories, names=list(VARIABLES_51)), fill_value=0)
    base = ((seed_table.to_numpy(float) + 0.5) / (seed_table.sum() + 0.5 * seed_table.size)).reshape(
        [len(c) for c in categories])
    seeds = []
    for code, m in margins.items():
        shares = []
        for a, (v, c) in enumerate(zip(VARIABLES_51, categories)):
            given = m.collapse((v,)) if v in m.variables else None
            shares.append(base.sum(axis=tuple(b for b in range(base.ndim) if b != a)) if given is None
                          else (given.reindex(c) / given.sum()).to_numpy())
        table = _regional_table(rng, base, shares, sigma_true)
        seeds.append(_rows(rng, table, rows_per_state, VARIABLES_51, categories, code))
    seed = pd.concat(seeds, ignore_index=True)
    load = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    before, start = os.times(), time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DiagnosticsWarning)
        result = reconstruct_joint(margins, seed=seed, method="bayes", variables=VARIABLES_51, seed_by="region",
                                   random_state=2026, progress=False, **budget)
    wall, after = time.perf_counter() - start, os.times()
    overall = result.diagnostics.loc["(all sampled)"]
    return {"regions": len(result.regions), "cells": 432, "seed rows": len(seed), "wall s": wall,
            "CPU s": (after.user - before.user) + (after.children_user - before.children_user),
            "load avg (1/5/15 min) at start": " / ".join(f"{x:.2f}" for x in load), "uptime": uptime,
            "converged": result.converged, "max R-hat": overall["r_hat_max"], "min bulk ESS": overall["ess_bulk_min"],
            "min tail ESS": overall["ess_tail_min"], "divergences": overall["divergences"],
            "warning": next((str(w.message)[:300] for w in caught if issubclass(w.category, DiagnosticsWarning)), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 chains x 500 draws, one replicate")
    parser.add_argument("--only", nargs="*", default=("held-out", "simulation", "timing"))
    args = parser.parse_args()
    budget = dict(draws=500, tune=500, chains=2) if args.quick else {}
    started = time.perf_counter()
    sections = ["# Regional interactions: fixed prior vs learned hierarchy; coverage against a known joint", "",
                f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                f"sampling budget {budget or 'defaults (NUTS 4 x 1,000 draws)'}. Generated by "
                "`benchmarks/bench_joint_hierarchy.py`; other jobs shared the machine (load averages below).", ""]
    if "held-out" in args.only:
        summary, paired = held_out(budget)
        sections += ["## 1. Held-out ANES states and ACS language groups", "", _md(pd.DataFrame(summary)), "",
                     "Paired per region (after - before; negative = the learned model is closer to the truth):", "",
                     _md(pd.DataFrame(paired)), ""]
    if "simulation" in args.only:
        rows = []
        for replicate in range(1 if args.quick else 2):
            for sigma_true in (0.1, 0.4):
                rows += simulation(sigma_true, replicate, budget)
        table = pd.DataFrame(rows)
        means = table.groupby(["sigma_true", "seed"], sort=False).mean(numeric_only=True).reset_index()
        sections += ["## 2. Coverage of 95% credible intervals against a known joint (simulation)", "",
                     "Per replicate:", "", _md(table), "", "Mean over replicates:", "",
                     _md(means.drop(columns="replicate")), ""]
    if "timing" in args.only:
        row = timing_51(budget)
        print(row, flush=True)
        sections += ["## 3. 50 states + DC, 432 cells, learned regional interactions", "", _md(pd.DataFrame([row])), ""]
    sections += [f"Total benchmark time: {time.perf_counter() - started:.0f} s."]
    out = HERE / "results" / ("joint_hierarchy_quick.md" if args.quick else "joint_hierarchy.md")
    out.write_text("\n".join(sections) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
