"""Simulated elections with a known truth, for the paired verdict of ``compare``.

Shared by tests/test_paired_verdict.py and benchmarks/paired_verdict.py (which puts this folder
on sys.path). Nothing here calls personacal: the true values are worked out from the model.

The model. In state s a share pi_s of the population belongs to group L, the rest to group R.
A persona of group g answers with a Democratic probability drawn from Beta with mean mu_g
(a logprob-style answer: every persona carries a probability, not a 0/1 vote), so the
population's Democratic two-party share is c_s = pi_s mu_L + (1 - pi_s) mu_R. The actual result
is a_s = c_s + e_s: e_s is the error no weighting can remove (what the personas get wrong
within a group). The raw persona pool over-represents group L (share p_s = pi_s + lean /
(mu_L - mu_R)), so its share is c_s + lean: the raw personas lean ``lean`` to the left of the
population. Calibrated weights post-stratify each state's personas to pi_s, which removes that
lean ("real" correction); the "noise" variant instead gives the calibrated side random weights
independent of the answers, so any change is sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MU = {"L": 0.75, "R": 0.25}
#: Beta concentration of a persona's Democratic probability around its group mean.
CONCENTRATION = 4.0
STATISTICS = ("mae", "rmse", "mean_signed_error", "winner_accuracy", "alignment")


@dataclass(frozen=True)
class Population:
    states: tuple[str, ...]
    pi: np.ndarray  # population share of group L per state
    p_raw: np.ndarray  # group L share in the raw persona pool
    actual: np.ndarray  # actual Democratic two-party share
    lean: float

    @property
    def truth(self) -> pd.DataFrame:
        return pd.DataFrame({"state": list(self.states), "dem_two_party_share": self.actual})

    def shares(self, version: str) -> np.ndarray:
        """Population Democratic share of the raw pool or of the calibrated (post-stratified) personas."""
        p = self.p_raw if version == "raw" else self.pi
        return p * MU["L"] + (1 - p) * MU["R"]

    def true_values(self, weights: str = "poststratify") -> dict[str, float]:
        """The estimands: each statistic of raw and calibrated at infinite persona counts, and their changes."""
        out = {}
        for version in ("raw", "calibrated"):
            sim = self.shares("raw" if weights == "noise" else version)
            err = sim - self.actual
            winners = (np.sign(sim - 0.5) == np.sign(self.actual - 0.5)) & (sim != 0.5)
            values = {"mae": np.abs(err).mean(), "rmse": np.sqrt((err**2).mean()), "mean_signed_error": err.mean(),
                      "winner_accuracy": winners.mean(), "alignment": 1 - np.abs(err).mean()}
            out |= {f"{version}[{k}]": float(v) for k, v in values.items()}
        for stat in STATISTICS:
            out[f"change[{stat}]"] = out[f"calibrated[{stat}]"] - out[f"raw[{stat}]"]
        out["abs_change[mean_signed_error]"] = (abs(out["calibrated[mean_signed_error]"])
                                                - abs(out["raw[mean_signed_error]"]))
        return out


def population(n_states: int = 10, *, lean: float = 0.05, model_error: float = 0.03, seed: int = 0) -> Population:
    rng = np.random.default_rng(seed)
    pi = rng.uniform(0.3, 0.7, n_states)
    c = pi * MU["L"] + (1 - pi) * MU["R"]
    actual = np.clip(c + rng.normal(0, model_error, n_states), 0.05, 0.95)
    p_raw = np.clip(pi + lean / (MU["L"] - MU["R"]), 0.01, 0.99)
    return Population(tuple(f"S{i:02d}" for i in range(n_states)), pi, p_raw, actual, lean)


def sample(pop: Population, n_per_state: int, rng: np.random.Generator, *, weights: str = "poststratify",
           noise_sd: float = 0.5) -> pd.DataFrame:
    """One persona-level answer table: persona_id, state, group, party, probability, weight (calibrated).

    ``weights="poststratify"``: each state's personas weighted to the population's group shares;
    ``"noise"``: log-normal weights (SD ``noise_sd`` on the log scale) independent of the answers.
    """
    rows = []
    for s, state in enumerate(pop.states):
        group = np.where(rng.random(n_per_state) < pop.p_raw[s], "L", "R")
        mean = np.where(group == "L", MU["L"], MU["R"])
        p_dem = rng.beta(mean * CONCENTRATION, (1 - mean) * CONCENTRATION)
        if weights == "noise":
            w = rng.lognormal(0.0, noise_sd, n_per_state)
        else:
            n_l = max(int((group == "L").sum()), 1)
            n_r = max(int((group == "R").sum()), 1)
            w = np.where(group == "L", pop.pi[s] / n_l, (1 - pop.pi[s]) / n_r) * n_per_state
        ids = [f"{state}-{i}" for i in range(n_per_state)]
        rows.append(pd.DataFrame({"persona_id": np.repeat(ids, 2), "state": state, "group": np.repeat(group, 2),
                                  "party": np.tile(["D", "R"], n_per_state),
                                  "probability": np.column_stack([p_dem, 1 - p_dem]).ravel(),
                                  "weight": np.repeat(w, 2)}))
    return pd.concat(rows, ignore_index=True)


def poststratifier(pop: Population, answers: pd.DataFrame):
    """``reweight`` for ``compare``: post-stratify resampled personas (draw counts) to each state's group shares.

    With every count 1 it gives the weights of :func:`sample` (``weights="poststratify"``).
    """
    personas = answers.drop_duplicates("persona_id").set_index("persona_id")
    state = pd.Index(pop.states).get_indexer(personas["state"])
    cell = 2 * state + (personas["group"].to_numpy() == "R")
    target = np.where(personas["group"] == "L", pop.pi[state], 1 - pop.pi[state])
    n_state = np.bincount(state)[state]
    seen: dict[int, np.ndarray] = {}

    def reweight(frequency: pd.Series) -> pd.Series:
        # compare passes the same index object on every replicate: look the positions up once
        pos = seen.get(id(frequency.index))
        if pos is None:
            pos = seen.setdefault(id(frequency.index), personas.index.get_indexer(frequency.index))
        f = frequency.to_numpy(float)
        totals = np.bincount(cell[pos], weights=f, minlength=2 * len(pop.states))[cell[pos]]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(totals > 0, f * target[pos] * n_state[pos] / totals, 0.0)
        return pd.Series(w, index=frequency.index)

    return reweight
