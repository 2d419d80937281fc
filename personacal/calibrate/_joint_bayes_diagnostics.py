"""Convergence diagnostics of the Bayesian joint fit: R-hat, bulk/tail ESS and divergences of
NUTS (ArviZ), the ELBO's convergence for ADVI. Tables of parameter groups, with the worst
element named, and the list of problems that gates ``JointResult.converged``.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["nuts_diagnostics", "advi_diagnostics", "ELBO_TOL", "MAX_REPORTED_CELLS"]

#: ADVI counts as converged when its last tenth of iterations lowered the loss (negative ELBO)
#: by at most this share of the total decrease since the first tenth (a scale-free test:
#: the raw loss is dominated by constants such as the seed's multinomial likelihood).
ELBO_TOL = 0.01
#: Derived tables are reported on at most this many evenly spaced cells (R-hat/ESS cost).
MAX_REPORTED_CELLS = 20_000


def nuts_diagnostics(idata, *, max_rhat: float, min_ess: float, extra=None) -> tuple[pd.DataFrame, bool, list[str]]:
    """Per parameter group: largest split R-hat, smallest bulk and tail ESS; plus divergences.

    Row ``(all)`` aggregates the sampled groups and holds the number of divergent transitions;
    only those gate ``ok``. ``extra``: a Dataset of derived (chain, draw) quantities, e.g. the
    joint tables on a thinned set of draws, reported but not gated: they are functions of the
    sampled parameters, and the largest of tens of thousands of R-hats from a thinned set
    exceeds 1.01 by chance alone.
    """
    rows, reported = {}, []
    for dataset in (idata.posterior, extra):
        if dataset is None:
            continue
        if dataset is extra:
            reported = list(dataset.data_vars)
            dataset = _subsample(dataset)
        rhat = az.rhat(dataset)
        bulk = az.ess(dataset, method="bulk")
        tail = az.ess(dataset, method="tail")
        for name in dataset.data_vars:
            if dataset[name].size == 0:
                continue
            r_value, r_at = _extreme(rhat[name], np.nanargmax)
            b_value, b_at = _extreme(bulk[name], np.nanargmin)
            t_value, t_at = _extreme(tail[name], np.nanargmin)
            rows[name] = {"size": int(np.prod(dataset[name].shape[2:])), "r_hat_max": r_value, "r_hat_at": r_at,
                          "ess_bulk_min": b_value, "ess_bulk_at": b_at, "ess_tail_min": t_value, "ess_tail_at": t_at}
    table = pd.DataFrame.from_dict(rows, orient="index")
    sampled = table.drop(index=reported)
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    overall = {"size": int(sampled["size"].sum()), "r_hat_max": sampled["r_hat_max"].max(),
               "ess_bulk_min": sampled["ess_bulk_min"].min(), "ess_tail_min": sampled["ess_tail_min"].min()}
    for column in ("r_hat_at", "ess_bulk_at", "ess_tail_at"):
        value = column.replace("_at", "_max" if column.startswith("r_hat") else "_min")
        worst = sampled[value].idxmax() if column.startswith("r_hat") else sampled[value].idxmin()
        overall[column] = sampled.loc[worst, column]
    table["ok"] = (table["r_hat_max"] <= max_rhat) & (table[["ess_bulk_min", "ess_tail_min"]].min(axis=1) >= min_ess)
    table["ok"] = table["ok"].astype(object)
    table.loc[reported, "ok"] = "not gated"
    overall["ok"] = bool(table.loc[sampled.index, "ok"].all()) and divergences == 0
    table = pd.concat([pd.DataFrame(overall, index=["(all sampled)"]), table])
    table.insert(len(table.columns) - 1, "divergences", np.nan)
    table.loc["(all sampled)", "divergences"] = divergences
    table.index.name = "parameter"

    problems = []
    groups = table.loc[sampled.index]
    for _, row in groups[groups["r_hat_max"] > max_rhat].sort_values("r_hat_max", ascending=False).iterrows():
        problems.append(f"R-hat of {row['r_hat_at']} = {row['r_hat_max']:.3f} > max_rhat={max_rhat:g}")
    for kind in ("bulk", "tail"):
        column = f"ess_{kind}_min"
        for _, row in groups[groups[column] < min_ess].sort_values(column).iterrows():
            problems.append(f"{kind} ESS of {row[f'ess_{kind}_at']} = {row[column]:.0f} < min_ess={min_ess:g}")
    if divergences:
        problems.append(f"{divergences} divergent transition(s) after tuning")
    return table, not problems, problems


def _subsample(dataset, limit: int = MAX_REPORTED_CELLS):
    """At most ``limit`` evenly spaced elements of each (chain, draw, ...) variable."""
    out = {}
    for name, values in dataset.data_vars.items():
        if values.ndim > 2 and np.prod(values.shape[2:]) > limit:
            values = values.stack(element=values.dims[2:])
            values = values.isel(element=np.linspace(0, values.sizes["element"] - 1, limit).astype(int))
        out[name] = values
    return xr.Dataset(out)


def _extreme(values, pick) -> tuple[float, str]:
    """The extreme value of a diagnostic and the parameter element it belongs to, as ``name[label, ...]``."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 0 or np.isnan(array).all():
        return float(np.nanmax(array, initial=np.nan)) if array.size else np.nan, str(values.name)
    at = np.unravel_index(pick(array), array.shape)
    where = ", ".join(str(values[dim].values[i]) for dim, i in zip(values.dims, at))
    return float(array[at]), f"{values.name}[{where}]"


def advi_diagnostics(losses: np.ndarray, iterations: int) -> tuple[pd.DataFrame, bool, list[str]]:
    """ELBO convergence of mean-field ADVI (R-hat and ESS are not defined for it)."""
    window = max(len(losses) // 10, 1)
    first, before, last = (float(np.mean(losses[i * window:(i + 1) * window])) if i >= 0 else np.nan
                           for i in (0, len(losses) // window - 2, len(losses) // window - 1))
    decrease = first - last
    share = (before - last) / decrease if decrease > 0 else np.nan
    ok = bool(np.isfinite(share) and abs(share) <= ELBO_TOL)
    table = pd.DataFrame(
        {"iterations": [len(losses)], "loss_first_10pct": [first], "loss_last_10pct": [last],
         "last_10pct_share_of_decrease": [share], "tolerance": [ELBO_TOL],
         "r_hat": ["N/A (ADVI)"], "ess": ["N/A (ADVI)"], "ok": [ok]},
        index=pd.Index(["ELBO"], name="parameter"),
    )
    problems = [] if ok else [
        f"the ADVI loss still moved by {share:.1%} of its total decrease over the last tenth of {len(losses)} "
        f"iterations (tolerance {ELBO_TOL:.0%})"
    ]
    return table, ok, problems
