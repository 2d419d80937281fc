"""Convergence diagnostics of the Bayesian joint fit, as a table plus a list of problems."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

__all__ = ["nuts_diagnostics", "advi_diagnostics", "ELBO_TOL"]

#: ADVI counts as converged when the mean loss of the last 10% of iterations is within
#: this relative distance of the mean of the 10% before it.
ELBO_TOL = 1e-3


def nuts_diagnostics(idata, *, max_rhat: float, min_ess: float) -> tuple[pd.DataFrame, bool, list[str]]:
    """Per parameter group: largest split R-hat, smallest bulk and tail ESS; plus divergences.

    Row ``(all)`` aggregates every group and holds the number of divergent transitions.
    """
    posterior = idata.posterior
    rhat = az.rhat(posterior)
    bulk = az.ess(posterior, method="bulk")
    tail = az.ess(posterior, method="tail")
    rows = {}
    for name in posterior.data_vars:
        r, b, t = (np.asarray(d[name]) for d in (rhat, bulk, tail))
        rows[name] = {"size": int(np.prod(posterior[name].shape[2:])), "r_hat_max": np.nanmax(r),
                      "ess_bulk_min": np.nanmin(b), "ess_tail_min": np.nanmin(t)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    overall = {"size": int(table["size"].sum()), "r_hat_max": table["r_hat_max"].max(),
               "ess_bulk_min": table["ess_bulk_min"].min(), "ess_tail_min": table["ess_tail_min"].min()}
    table = pd.concat([pd.DataFrame(overall, index=["(all)"]), table])
    table["divergences"] = np.nan
    table.loc["(all)", "divergences"] = divergences
    table["ok"] = (table["r_hat_max"] <= max_rhat) & (table[["ess_bulk_min", "ess_tail_min"]].min(axis=1) >= min_ess)
    table.loc["(all)", "ok"] = bool(table["ok"].iloc[1:].all()) and divergences == 0
    table.index.name = "parameter"

    problems = []
    groups = table.iloc[1:]
    for name, row in groups[groups["r_hat_max"] > max_rhat].sort_values("r_hat_max", ascending=False).iterrows():
        problems.append(f"R-hat of {name} = {row['r_hat_max']:.3f} > max_rhat={max_rhat:g}")
    for kind in ("bulk", "tail"):
        column = f"ess_{kind}_min"
        for name, row in groups[groups[column] < min_ess].sort_values(column).iterrows():
            problems.append(f"{kind} ESS of {name} = {row[column]:.0f} < min_ess={min_ess:g}")
    if divergences:
        problems.append(f"{divergences} divergent transition(s) after tuning")
    return table, not problems, problems


def advi_diagnostics(losses: np.ndarray, iterations: int) -> tuple[pd.DataFrame, bool, list[str]]:
    """ELBO convergence of mean-field ADVI (R-hat and ESS are not defined for it)."""
    window = max(len(losses) // 10, 1)
    last = float(np.mean(losses[-window:]))
    before = float(np.mean(losses[-2 * window:-window])) if len(losses) >= 2 * window else np.nan
    change = abs(last - before) / abs(last) if np.isfinite(before) and last else np.nan
    ok = bool(np.isfinite(change) and change <= ELBO_TOL)
    table = pd.DataFrame(
        {"iterations": [len(losses)], "loss_last_10pct": [last], "loss_rel_change": [change],
         "tolerance": [ELBO_TOL], "r_hat": ["N/A (ADVI)"], "ess": ["N/A (ADVI)"], "ok": [ok]},
        index=pd.Index(["ELBO"], name="parameter"),
    )
    problems = [] if ok else [
        f"the ADVI loss still moved by {change:.2g} (relative) between the last two tenths of "
        f"{len(losses)} iterations (tolerance {ELBO_TOL:g})"
    ]
    return table, ok, problems
