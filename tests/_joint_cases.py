"""Held-out joint-reconstruction cases built from the shipped microdata, and their scores.

Each case hides a true joint table per region and hands the reconstruction only that
region's margins plus a seed drawn from *other* respondents. Shared by
tests/test_joint_validation.py and benchmarks/bench_joint.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import rel_entr

from personacal.calibrate import Margins
from personacal.data import anes_subset, gss_subset, national_seed


@dataclass(frozen=True)
class Case:
    name: str
    variables: tuple[str, ...]
    truth: dict[str, pd.Series]  # region -> counts on the full grid
    margins: dict[str, Margins]
    seed: pd.DataFrame  # the variables, plus the seed rows' own region in column ``seed_by``
    moe: dict[str, dict] | None = None  # region -> {margin key: 90% MOE}, where margins are estimates
    seed_by: str | None = None


def _joint(frame: pd.DataFrame, variables) -> pd.Series:
    counts = frame.groupby(list(variables), observed=False).size().astype(float)
    return counts.rename("count")


def _labels(column: pd.Series) -> pd.Series:
    """Region labels as strings; rows without one form their own group "(unknown)"."""
    return column.astype(object).where(column.notna(), "(unknown)").astype(str)


def _case(name, frame, region_of, seed_rows, variables, regions, two_way=(), seed_by=None) -> Case:
    frame = frame.dropna(subset=list(variables))
    truth, margins = {}, {}
    for region in regions:
        rows = frame[region_of.reindex(frame.index) == region]
        joint = _joint(rows, variables)
        truth[region] = joint
        keys = list(variables) + [tuple(k) for k in two_way]
        margins[region] = Margins(
            {k: joint.groupby(level=list(k) if isinstance(k, tuple) else k, observed=False).sum() for k in keys},
            name=region,
        )
    seed = frame.loc[frame.index.intersection(seed_rows), list(variables) + ([seed_by] if seed_by else [])]
    if seed_by:
        seed[seed_by] = _labels(seed[seed_by])
    return Case(name, tuple(variables), truth, margins, seed.reset_index(drop=True), seed_by=seed_by)


#: The ANES states that chose ``interaction_scale=0.2`` (its default); checks of coverage use others.
TUNING_STATES = ("CA", "TX", "NY", "FL", "MI", "OH")
#: The next six states by number of respondents: held out from that choice.
CHECK_STATES = ("VA", "GA", "PA", "IL", "TN", "IN")


def anes_split_case(states=TUNING_STATES, variables=("age", "education4", "race_eth4"), random_state=0,
                    own_seed: bool = False) -> Case:
    """Like :func:`anes_case`, but each state's respondents are split at random: one half gives
    the margins (with their sampling MOEs), the other half is the truth. The truth's sampling
    noise is then independent of the margins, so the posterior predictive Multinomial(n_truth,
    share) is the right reference for coverage (see :func:`predictive_pit`).

    The seed is every other state's respondents, with their ``state``; ``own_seed`` adds each
    listed state's margins half to it (the state's own seed rows, independent of its truth half)."""
    frame = anes_subset().dropna(subset=list(variables))
    rng = np.random.default_rng(random_state)
    half = pd.Series(rng.random(len(frame)) < 0.5, index=frame.index)
    truth, margins, moe = {}, {}, {}
    for state in states:
        rows = frame["state"] == state
        truth[state] = _joint(frame[rows & ~half], variables)
        sample = frame[rows & half]
        n_truth, n_sample = float(truth[state].sum()), len(sample)
        margins[state], moe[state] = {}, {}
        for v in variables:
            counts = sample[v].value_counts(sort=False).reindex(sample[v].cat.categories, fill_value=0)
            smoothed = (counts + 0.5) / (n_sample + 0.5 * len(counts))
            margins[state][v] = counts / n_sample * n_truth
            moe[state][v] = 1.6448536 * np.sqrt(smoothed * (1 - smoothed) / n_sample) * n_truth
        margins[state] = Margins(margins[state], name=state)
    in_seed = ~frame["state"].isin(states) | (frame["state"].isin(states) & half if own_seed else False)
    seed = frame.loc[in_seed, [*variables, "state"]].assign(state=lambda f: _labels(f["state"]))
    name = "ANES states, split halves" + (" (+ own halves in the seed)" if own_seed else "")
    return Case(name, tuple(variables), truth, margins, seed.reset_index(drop=True), moe, seed_by="state")


def anes_case(states=("CA", "TX", "NY", "FL", "MI", "OH"), variables=("age", "education4", "race_eth4"),
              two_way=()) -> Case:
    """Truth: each listed state's (pooled 1978-2012, unweighted) joint; seed: every other state."""
    frame = anes_subset()
    seed_rows = frame.index[~frame["state"].isin(states)]
    name = "ANES states" + "".join(f" + {':'.join(k)} margin" for k in two_way)
    return _case(name, frame, frame["state"].astype(object), seed_rows, variables, states, two_way, seed_by="state")


def gss_case(variables=("sex", "age", "race3", "education3"), random_state=0) -> Case:
    """Seed: a random half of GSS 2018; truth: the other half split by place size (city/suburb/town-rural)."""
    frame = gss_subset()
    rng = np.random.default_rng(random_state)
    half = rng.random(len(frame)) < 0.5
    place = pd.cut(frame["place_size_code"].astype(float), [0, 2, 6, 10],
                   labels=["city", "suburb", "town/rural"]).astype(object)
    place[~half] = None
    return _case("GSS 2018 halves by place size", frame, place, frame.index[~half], variables,
                 ("city", "suburb", "town/rural"))


def acs_case(variables=("sex", "age", "education3", "employment3", "marital2"), random_state=0) -> Case:
    """Seed: a random half of the ACS 2012 sample (with each row's ``language``); truth: the other
    half split by home language."""
    frame = national_seed()
    rng = np.random.default_rng(random_state)
    half = rng.random(len(frame)) < 0.5
    language = frame["language"].astype(object).where(half, None)
    return _case("ACS 2012 halves by language", frame, language, frame.index[~half], variables,
                 ("English", "Other"), seed_by="language")


def tvd(truth: pd.Series, estimate: pd.Series) -> float:
    p, q = _shares(truth, estimate)
    return 0.5 * float(np.abs(p - q).sum())


def kl(truth: pd.Series, estimate: pd.Series) -> float:
    """KL(truth || estimate) in nats (infinite where the estimate is 0 and the truth is not)."""
    p, q = _shares(truth, estimate)
    return float(rel_entr(p, q).sum())


def _shares(truth: pd.Series, estimate: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    truth = truth.reorder_levels(estimate.index.names) if truth.index.nlevels > 1 else truth
    p = truth.reindex(estimate.index).fillna(0.0).to_numpy(float)
    q = estimate.to_numpy(float)
    return p / p.sum(), q / q.sum()


def predictive_pit(truth_counts: np.ndarray, share_draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomised PIT of observed cell counts under the posterior predictive Multinomial(n, p_draw).

    ``share_draws`` (draws x cells). Uniform on (0, 1) when the model is calibrated for
    the *sample* (the truth is itself a draw of ``n`` respondents); randomisation removes
    the discreteness of small counts. Coverage of a central 90% interval is the share of
    cells whose PIT falls in [0.05, 0.95].
    """
    n = int(round(truth_counts.sum()))
    draws = rng.multinomial(n, share_draws / share_draws.sum(axis=1, keepdims=True))
    below = (draws < truth_counts).mean(axis=0)
    equal = (draws == truth_counts).mean(axis=0)
    return below + rng.random(len(truth_counts)) * equal
