"""The multilevel multinomial logit behind the state party-ID targets, in PyMC (pure array functions).

For a cell c (state s, age a, education e, race/ethnicity r, survey year t) and party k
(reference: Independent, η = 0; k = Democrat, Republican):

    η_{c,k} = α_k + (β_k + δ_{r,k}) z_{s,t}
              + a^{age}_{a,k} + a^{edu}_{e,k} + a^{race}_{r,k} + a^{region}_{g(s),k} + a^{state}_{s,k}
              + a^{race×region}_{r,g(s),k} + a^{year}_{t,k}

``z_{s,t}`` is the state-level predictor: the Democratic share of the two-party presidential vote
in the state's previous presidential election (the one before survey year t), centred at 50% and
in units of 10 points. Each varying intercept is ``σ_{j,k} · ZeroSumNormal`` with
``σ ~ HalfNormal(1)`` (partial pooling; non-centred); the race slopes ``δ`` likewise; ``α, β ~
N(0, 2.5)``. Counts ``y_{c,k}`` enter through the multinomial log-likelihood (constants dropped).

The slope varies by race because a state's vote reflects mostly the partisanship of its White
voters (Black respondents are Democrats almost everywhere); the race × region intercept lets
e.g. White Southerners differ from White Westerners beyond what the vote share says.

Post-stratification: for each posterior draw, a state's party shares are the census-cell
weighted mean of softmax(η) over its cells (age × education × race), with that state's
target-year predictor and the most recent survey year's intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACTORS = ("age", "education", "race", "region", "state", "race_region", "year")
INTERCEPT_SD = 2.5
SCALE_SD = 1.0


@dataclass(frozen=True)
class Design:
    """Integer level codes of every cell on every factor, the predictor and the counts."""

    codes: np.ndarray  # (C, len(FACTORS))
    n_levels: tuple[int, ...]
    z: np.ndarray  # (C,)
    y: np.ndarray  # (C, K) counts, column 0 = the reference category


def build_model(design: Design):
    import pymc as pm
    import pytensor.tensor as pt

    n_cells, n_cat = design.y.shape
    race = FACTORS.index("race")
    with pm.Model() as model:
        alpha = pm.Normal("alpha", 0.0, INTERCEPT_SD, shape=n_cat - 1)
        beta = pm.Normal("beta", 0.0, INTERCEPT_SD, shape=n_cat - 1)
        tau = pm.HalfNormal("sigma_slope_race", SCALE_SD, shape=n_cat - 1)
        delta_z = pm.ZeroSumNormal("z_slope_race", sigma=1.0, shape=(n_cat - 1, design.n_levels[race]))
        slope = beta + (delta_z * tau[:, None]).T[design.codes[:, race]]  # (C, K-1)
        eta = alpha + slope * design.z[:, None]
        for j, (name, size) in enumerate(zip(FACTORS, design.n_levels)):
            sigma = pm.HalfNormal(f"sigma_{name}", SCALE_SD, shape=n_cat - 1)
            z = pm.ZeroSumNormal(f"z_{name}", sigma=1.0, shape=(n_cat - 1, size))
            eta = eta + (z * sigma[:, None]).T[design.codes[:, j]]
        full = pt.concatenate([pt.zeros((n_cells, 1)), eta], axis=1)
        pm.Potential("multinomial_loglik", (design.y * pt.special.log_softmax(full, axis=1)).sum())
    return model


def fit(design: Design, *, draws: int, tune: int, chains: int, seed: int, target_accept: float = 0.9):
    """NUTS posterior (ArviZ InferenceData) and its diagnostics (max R-hat, min bulk ESS, divergences)."""
    import arviz as az
    import pymc as pm

    with build_model(design):
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, target_accept=target_accept,
                          random_seed=seed, progressbar=False, compute_convergence_checks=False)
    rhat, ess = az.rhat(idata), az.ess(idata, method="bulk")
    diagnostics = {
        "max_rhat": float(max(float(rhat[v].max()) for v in rhat.data_vars)),
        "min_ess_bulk": float(min(float(ess[v].min()) for v in ess.data_vars)),
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }
    return idata, diagnostics


def _draws(idata, name: str) -> np.ndarray:
    values = idata.posterior[name].to_numpy()
    return values.reshape((-1,) + values.shape[2:])


def effects(idata, n_cat: int) -> dict[str, np.ndarray]:
    """Posterior draws of every term on the scale of η: ``{name: (S, levels, K-1)}``, plus alpha/beta (S, K-1)."""
    out = {"alpha": _draws(idata, "alpha"), "beta": _draws(idata, "beta")}
    tau = _draws(idata, "sigma_slope_race")
    out["slope_race"] = np.transpose(_draws(idata, "z_slope_race") * tau[:, :, None], (0, 2, 1))
    for name in FACTORS:
        sigma = _draws(idata, f"sigma_{name}")
        out[name] = np.transpose(_draws(idata, f"z_{name}") * sigma[:, :, None], (0, 2, 1))
    return out


def poststratify(terms: dict[str, np.ndarray], codes: np.ndarray, z: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Draws (S, K) of the count-weighted mean party shares of census cells ``codes`` (C, factors) with predictor z (C,).

    Returned categories are in model order (reference first).
    """
    race = FACTORS.index("race")
    slope = terms["beta"][:, None, :] + terms["slope_race"][:, codes[:, race], :]  # (S, C, K-1)
    eta = terms["alpha"][:, None, :] + slope * z[None, :, None]
    for j, name in enumerate(FACTORS):
        eta = eta + terms[name][:, codes[:, j], :]
    full = np.concatenate([np.zeros(eta.shape[:2] + (1,)), eta], axis=2)
    full -= full.max(axis=2, keepdims=True)
    prob = np.exp(full)
    prob /= prob.sum(axis=2, keepdims=True)
    weights = counts / counts.sum()
    return np.einsum("sck,c->sk", prob, weights)
