"""The multilevel categorical logit behind MRP, in PyMC.

For cell c (a combination of covariate levels, region included) and answer category k:

    η_{c,0} = 0
    η_{c,k} = α_k + Σ_j a^{(j)}_{ℓ_j(c), k}                      (k = 1 .. K-1)
    a^{(j)}_{·,k} = σ_{j,k} · z^{(j)}_{·,k},   z ~ N(0, 1),   σ_{j,k} ~ HalfNormal(1),   α_k ~ N(0, 2.5)

i.e. a varying intercept for every level of every factor, partially pooled within the
factor (non-centred, so the sampler copes with small σ). With K = 2 this is the binomial
logit. The likelihood is the soft-label (fractional-count) categorical log-likelihood

    Σ_c Σ_k y_{c,k} log softmax(η_c)_k,   y_{c,k} = Σ_{i in c} p_{i,k},

added with ``pm.Potential``: each persona's answer distribution enters as fractional
counts (a persona with p = (0.7, 0.3) counts as 0.7 of an answer k=0 and 0.3 of k=1). For
one-hot answers this is the ordinary categorical likelihood. The posterior reflects the
number of personas, not the LLM's sampling noise within a persona.

The kernels after the fit are pure functions on arrays: :func:`soft_counts` (the
likelihood's y) and :func:`poststratify_draws` (θ of every draw and domain, see :mod:`._mrp`).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax

from ..errors import DiagnosticsWarning

__all__ = ["LogitFit", "fit_multilevel_logit", "INFERENCE", "cell_probabilities", "poststratify_draws", "soft_counts"]

logger = logging.getLogger(__name__)

INFERENCE = ("nuts", "advi")
INTERCEPT_SD = 2.5
SCALE_SD = 1.0
#: R-hat above this (Vehtari et al. 2021) triggers a DiagnosticsWarning.
RHAT_MAX = 1.01
#: Bulk ESS per chain below this triggers a DiagnosticsWarning.
ESS_PER_CHAIN_MIN = 100
#: ADVI counts as unconverged when a linear trend over the second half of the loss history
#: falls by more than this fraction of the loss AND the trend is clearly not noise (t below
#: -ADVI_TREND_T). The loss is a one-draw Monte Carlo estimate, so both tests are needed.
ADVI_DECLINE_MAX = 0.005
ADVI_TREND_T = 3.0


@dataclass(frozen=True)
class LogitFit:
    intercept: np.ndarray  # (S, K-1)
    effects: list[np.ndarray]  # per factor (S, L_j, K-1)
    diagnostics: dict
    idata: object


def _build(pm, pt, y: np.ndarray, levels: np.ndarray, n_levels: list[int], names: list[str]):
    n_cells, n_cat = y.shape
    with pm.Model() as model:
        intercept = pm.Normal("intercept", 0.0, INTERCEPT_SD, shape=n_cat - 1)
        eta = pt.zeros((n_cells, n_cat - 1)) + intercept
        for j, (size, name) in enumerate(zip(n_levels, names)):
            sigma = pm.HalfNormal(f"sigma_{name}", SCALE_SD, shape=n_cat - 1)
            z = pm.ZeroSumNormal(f"z_{name}", sigma=1.0, shape=(n_cat - 1, size))
            eta = eta + (z * sigma[:, None]).T[levels[:, j]]
        full = pt.concatenate([pt.zeros((n_cells, 1)), eta], axis=1)
        pm.Potential("soft_label_loglik", (y * pt.special.log_softmax(full, axis=1)).sum())
    return model


def _loss_decline(history: np.ndarray) -> tuple[float, float]:
    """Relative fall of the loss over the second half of the iterations (linear trend) and the trend's t."""
    from scipy.stats import linregress

    half = history[history.size // 2:]
    if half.size < 10:
        return float("nan"), float("nan")
    fit = linregress(np.arange(half.size), half)
    decline = -fit.slope * half.size / abs(half.mean())
    t_stat = fit.slope / fit.stderr if fit.stderr > 0 else float("-inf") * np.sign(-fit.slope)
    return float(decline), float(t_stat)


def _draws(idata, name: str) -> np.ndarray:
    values = idata.posterior[name].to_numpy()
    return values.reshape((-1,) + values.shape[2:])


def fit_multilevel_logit(
    y: np.ndarray,
    levels: np.ndarray,
    n_levels: list[int],
    names: list[str],
    *,
    inference: str,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    target_accept: float,
    advi_iterations: int,
    seed: int,
    progress: bool,
    label: str,
) -> LogitFit:
    """Fit the model to fractional counts ``y`` (cells x categories) of cells with factor ``levels``."""
    import arviz as az
    import pymc as pm
    import pytensor.tensor as pt

    started = time.perf_counter()
    model = _build(pm, pt, y, levels, n_levels, names)
    diagnostics: dict = {"inference": inference}
    with model:
        if inference == "nuts":
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
                              random_seed=seed, progressbar=progress, compute_convergence_checks=False)
        else:
            approx = pm.fit(n=advi_iterations, method="advi", random_seed=seed, progressbar=progress)
            idata = approx.sample(draws, random_seed=seed)
            history = np.asarray(approx.hist)
            diagnostics["final_loss"] = float(history[-max(1, history.size // 10):].mean())
            diagnostics["loss_decline"], t_stat = _loss_decline(history)
            if diagnostics["loss_decline"] > ADVI_DECLINE_MAX and t_stat < -ADVI_TREND_T:
                warnings.warn(
                    f"ADVI for {label} has not converged: over the second half of its {advi_iterations} "
                    f"iterations the loss still fell by {diagnostics['loss_decline']:.2%} (trend t = {t_stat:.1f}). "
                    "Raise advi_iterations (or use inference='nuts')",
                    DiagnosticsWarning,
                    stacklevel=3,
                )
    if inference == "nuts":
        rhat = az.rhat(idata)
        ess = az.ess(idata, method="bulk")
        diagnostics["max_rhat"] = float(max(float(rhat[v].max()) for v in rhat.data_vars))
        diagnostics["min_ess_bulk"] = float(min(float(ess[v].min()) for v in ess.data_vars))
        diagnostics["divergences"] = int(idata.sample_stats["diverging"].sum())
        problems = []
        if diagnostics["max_rhat"] > RHAT_MAX:
            problems.append(f"max R-hat {diagnostics['max_rhat']:.3f} > {RHAT_MAX}")
        if diagnostics["min_ess_bulk"] < ESS_PER_CHAIN_MIN * chains:
            problems.append(f"min bulk ESS {diagnostics['min_ess_bulk']:.0f} < {ESS_PER_CHAIN_MIN * chains}")
        if diagnostics["divergences"]:
            problems.append(f"{diagnostics['divergences']} divergent transitions")
        if problems:
            warnings.warn(
                f"MRP fit for {label}: {'; '.join(problems)}. Raise draws/tune (or target_accept) before "
                "trusting the estimates and intervals",
                DiagnosticsWarning,
                stacklevel=3,
            )
    else:
        diagnostics.update(max_rhat=float("nan"), min_ess_bulk=float("nan"), divergences=float("nan"))
    diagnostics["seconds"] = time.perf_counter() - started
    logger.debug("MRP fit for %s: %s", label, diagnostics)
    intercept = _draws(idata, "intercept")
    effects = [(_draws(idata, f"z_{n}") * _draws(idata, f"sigma_{n}")[:, :, None]).transpose(0, 2, 1) for n in names]
    return LogitFit(intercept=intercept, effects=effects, diagnostics=diagnostics, idata=idata)


# ----------------------------------------------------------------- pure kernels on arrays
#: Largest draws x cells x categories block held in memory at once.
_BLOCK = 4_000_000


def soft_counts(unit_cell: np.ndarray, row_unit: np.ndarray, row_category: np.ndarray, row_prob: np.ndarray,
                n_cells: int, n_categories: int) -> np.ndarray:
    """Fractional counts ``y[c, k] = Σ_{i in cell c} p_{i,k}`` (soft labels summed per cell)."""
    cell = unit_cell[row_unit]
    keep = (cell >= 0) & (row_category >= 0)
    flat = cell[keep].astype(np.int64) * n_categories + row_category[keep]
    return np.bincount(flat, weights=row_prob[keep], minlength=n_cells * n_categories).reshape(n_cells, n_categories)


def cell_probabilities(intercept: np.ndarray, effects: list[np.ndarray], cell_levels: np.ndarray) -> np.ndarray:
    """Category probabilities ``(S, C, K)`` of each cell under each draw.

    ``intercept`` is ``(S, K-1)``, ``effects[j]`` is ``(S, L_j, K-1)`` (the varying intercepts
    of factor j), ``cell_levels[:, j]`` the level of factor j in each cell. Category 0 is the
    baseline (linear predictor 0).
    """
    eta = np.broadcast_to(intercept[:, None, :], (intercept.shape[0], cell_levels.shape[0], intercept.shape[1])).copy()
    for j, effect in enumerate(effects):
        eta += effect[:, cell_levels[:, j], :]
    zeros = np.zeros(eta.shape[:2] + (1,))
    return softmax(np.concatenate([zeros, eta], axis=2), axis=2)


def poststratify_draws(intercept: np.ndarray, effects: list[np.ndarray], cell_levels: np.ndarray,
                       cell_count: np.ndarray, cell_domains: np.ndarray, n_domains: int) -> np.ndarray:
    """``θ[s, d, k] = Σ_{c ∈ d} N_c π[s, c, k] / Σ_{c ∈ d} N_c`` for every draw s and domain d.

    ``cell_domains`` is ``(C, n_layers)`` (-1 where a layer does not apply); domains whose
    cells all have N = 0 give NaN.
    """
    n_draws, n_cells = intercept.shape[0], cell_levels.shape[0]
    n_cat = intercept.shape[1] + 1
    rows, cols, vals = [], [], []
    for layer in cell_domains.T:
        keep = layer >= 0
        rows.append(layer[keep])
        cols.append(np.flatnonzero(keep))
        vals.append(cell_count[keep])
    weight = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n_domains, n_cells))
    totals = np.asarray(weight.sum(axis=1)).ravel()
    out = np.empty((n_draws, n_domains, n_cat))
    step = max(1, _BLOCK // max(1, n_cells * n_cat))
    for start in range(0, n_draws, step):
        stop = min(n_draws, start + step)
        pi = cell_probabilities(intercept[start:stop], [e[start:stop] for e in effects], cell_levels)
        flat = pi.transpose(1, 0, 2).reshape(n_cells, -1)  # (C, s*K)
        summed = np.asarray(weight @ flat).reshape(n_domains, stop - start, n_cat)
        out[start:stop] = summed.transpose(1, 0, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals[None, :, None] > 0, out / totals[None, :, None], np.nan)
