"""A population with a known truth, for the validation study of the calibration pipeline.

Used by benchmarks/validation_study.py (the study) and tests/test_validation_study.py (a tiny run).

The data-generating process is personacal's own demographic respondent model:

- ``party`` (the psychographic a Subjective tier carries): GSS 2018 party ID from
  ``DemographicModel(["gss-partyid"])`` given a persona's sex, age, race, education and
  employment, collapsed to D (strong/weak Democrat), R (strong/weak Republican) and I (the
  three independent points).
- the two-party vote: partisans vote for their party with probability :data:`LOYALTY`
  (a round figure near ANES 2012's party loyalty); an independent votes D with the model's
  P(lean Democrat) / (P(lean Democrat) + P(lean Republican)) for that persona's demographics.

The truth of a state is the model's prediction post-stratified over the census joint
(``personacal.generate.state_joints``: ACS 2023 margins fitted to the ACS 2012 seed by IPF).

A persona tier is drawn with two errors the seed paper's LLM tiers show:

- composition: ``"independent"`` draws demographics from the product of the state's margins
  (the joint association is lost); ``"overeducated"`` tilts the census joint towards more
  education (odds of each education step up by ``exp(tilt)``); ``"census"`` has none.
- a left shift in the psychographic: party drawn with the D odds times ``exp(shift)`` and the R
  odds times ``exp(-shift)``; the vote given party stays the model's.

Calibration rakes each state's personas to its census margins (sex, age, education3,
employment3) and to the true party margin (the psychographic target). :func:`rake_kernel`
does it on arrays so that ``compare(..., reweight=)`` can redo it on every bootstrap replicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from personacal.data import categories
from personacal.errors import ConvergenceError
from personacal.generate import state_joints
from personacal.simulate import DemographicModel

#: Probability that a partisan votes for their own party.
LOYALTY = 0.92
PARTIES = ("D", "I", "R")
RAKE_VARIABLES = ("sex", "age", "education3", "employment3", "party")
DEMOGRAPHICS = ("sex", "age", "race4", "race_eth", "education3", "employment3")
COMPOSITIONS = ("census", "independent", "overeducated")
#: Margins a Calibrator drops, in this order, when the personas cannot meet them all.
DROP_ORDER = ("employment3", "age", "sex")


@dataclass(frozen=True)
class Population:
    """Census cells of the study's states with the model's answer probabilities per cell."""

    cells: pd.DataFrame  # region, DEMOGRAPHICS, count, count_independent, p_D, p_I, p_R, q_dem
    states: tuple[str, ...]

    def vote_dem(self, cells: pd.DataFrame | None = None) -> np.ndarray:
        c = self.cells if cells is None else cells
        return LOYALTY * c["p_D"] + (1 - LOYALTY) * c["p_R"] + c["p_I"] * c["q_dem"]

    def truth(self) -> pd.DataFrame:
        """Per state, the Democratic two-party share: the model post-stratified over the census joint."""
        c = self.cells.assign(v=self.vote_dem() * self.cells["count"])
        g = c.groupby("region", sort=False)[["v", "count"]].sum()
        return pd.DataFrame({"state": g.index, "dem_two_party_share": (g["v"] / g["count"]).to_numpy()})

    def party_shares(self) -> dict[str, np.ndarray]:
        """Per state, the population's D/I/R shares (the psychographic raking target)."""
        out = {}
        for state, c in self.cells.groupby("region", sort=False):
            shares = np.array([(c["count"] * c[f"p_{p}"]).sum() for p in PARTIES])
            out[state] = shares / shares.sum()
        return out

    def census_shares(self) -> dict[str, list[np.ndarray]]:
        """Per state, the census shares of each demographic raking variable, in category order."""
        out = {}
        for state, c in self.cells.groupby("region", sort=False):
            out[state] = [c.groupby(v, observed=False)["count"].sum().to_numpy() / c["count"].sum()
                          for v in RAKE_VARIABLES[:-1]]
        return out

    def persona_weights(self, composition: str, tilt: float) -> np.ndarray:
        """Each cell's probability of being drawn as a persona, within its state."""
        if composition == "census":
            w = self.cells["count"].to_numpy(float)
        elif composition == "independent":
            w = self.cells["count_independent"].to_numpy(float)
        else:
            step = pd.Categorical(self.cells["education3"], categories=list(categories("education3"))).codes.astype(float)
            w = self.cells["count"].to_numpy(float) * np.exp(tilt * step)
        totals = pd.Series(w).groupby(self.cells["region"].to_numpy()).transform("sum").to_numpy()
        return w / totals


def population(states=("CA", "TX", "WY"), *, model: DemographicModel | None = None) -> Population:
    """The census cells of ``states`` with the respondent model's party and lean probabilities."""
    model = model or DemographicModel(["gss-partyid"], holdout=0, progress=False, random_state=0)
    question = next(q for q in model.questions if q.id == "gss-partyid")
    joint = state_joints(list(states), progress=False).to_frame()
    indep = state_joints(list(states), method="independent", progress=False).to_frame()
    keys = ["region", *DEMOGRAPHICS]
    indep = indep.rename(columns={"count": "count_independent"})
    for frame in (joint, indep):
        for k in keys:
            frame[k] = frame[k].astype(str)
    cells = joint.merge(indep, on=keys, how="outer").fillna({"count": 0.0, "count_independent": 0.0})
    probs = model.predict_distributions(cells, question)
    opts = list(question.options)
    col = {o: probs[:, opts.index(o)] for o in opts}
    p_d = col["Strong Democrat"] + col["Weak Democrat"]
    p_r = col["Strong Republican"] + col["Weak Republican"]
    lean_d, lean_r = col["Independent, lean Democrat"], col["Independent, lean Republican"]
    cells = cells.assign(p_D=p_d, p_R=p_r, p_I=1 - p_d - p_r, q_dem=lean_d / (lean_d + lean_r))
    return Population(cells.reset_index(drop=True), tuple(states))


def draw_personas(pop: Population, n_per_state: int, rng: np.random.Generator, *, composition: str = "independent",
                  tilt: float = 0.5, shift: float = 0.5) -> pd.DataFrame:
    """One persona tier: demographics, a left-shifted party and a drawn two-party vote, per state."""
    p_cell = pop.persona_weights(composition, tilt)
    frames = []
    for state in pop.states:
        idx = np.flatnonzero(pop.cells["region"].to_numpy() == state)
        chosen = rng.choice(idx, size=n_per_state, p=p_cell[idx] / p_cell[idx].sum())
        c = pop.cells.iloc[chosen].reset_index(drop=True)
        odds = np.column_stack([c["p_D"] * np.exp(shift), c["p_I"], c["p_R"] * np.exp(-shift)])
        odds /= odds.sum(axis=1, keepdims=True)
        party = (rng.random(n_per_state)[:, None] > np.cumsum(odds, axis=1)).sum(axis=1)
        p_vote = np.select([party == 0, party == 2], [LOYALTY, 1 - LOYALTY], c["q_dem"].to_numpy())
        frames.append(c[list(DEMOGRAPHICS)].assign(
            persona_id=[f"{state}-{i}" for i in range(n_per_state)], state=state,
            party=np.asarray(PARTIES)[party], vote_dem=(rng.random(n_per_state) < p_vote).astype(float)))
    return pd.concat(frames, ignore_index=True)


def answers(personas: pd.DataFrame) -> pd.DataFrame:
    """Persona-level answers in compare's election format: persona_id, state, party (D/R), probability."""
    long = personas[["persona_id", "state"]].loc[personas.index.repeat(2)].reset_index(drop=True)
    v = personas["vote_dem"].to_numpy()
    return long.assign(party=np.tile(["D", "R"], len(personas)), probability=np.column_stack([v, 1 - v]).ravel())


def rake_kernel(codes: np.ndarray, totals: list[np.ndarray], d: np.ndarray, *, tol: float = 1e-8,
                max_iter: int = 300) -> np.ndarray:
    """Raking (IPF on unit weights): scale design weights ``d`` until every margin hits its totals.

    ``codes[:, j]`` is each unit's cell of margin j and ``totals[j]`` that margin's target
    per cell; a cell with a positive target must hold a unit with positive ``d``. Pure numpy,
    so that ``compare(..., reweight=)`` can redo the raking on every bootstrap replicate; it
    equals ``personacal.calibrate.rake`` (checked by the study and the test).
    """
    w = d.astype(float).copy()
    worst = np.inf
    for _ in range(max_iter):
        worst = 0.0
        for j, t in enumerate(totals):
            have = np.bincount(codes[:, j], weights=w, minlength=t.size)
            ratio = np.divide(t, have, out=np.ones_like(t), where=have > 0)
            worst = max(worst, float(np.abs(ratio - 1.0).max()))
            w *= ratio[codes[:, j]]
        if worst < tol:
            return w
    # compare leaves out a replicate whose re-calibration raises a PersonacalError (noted in its result)
    raise ConvergenceError(f"rake_kernel did not converge in {max_iter} iterations (worst relative margin error "
                           f"{worst:.2g}): the resampled personas cannot meet every margin at once")


class Raking:
    """Raking of units in several states at once to per-state target shares.

    ``codes``: (n, k) category codes of the k raking variables; ``state``: each unit's state
    index; ``shares[j]``: (n_states, n_categories_j) target shares of variable j. A category no
    unit of a state carries is dropped from that state's margin and the other shares rescaled
    (a collapse-style policy, counted in :attr:`empty_cells` on the original units).
    """

    def __init__(self, codes: np.ndarray, state: np.ndarray, shares: list[np.ndarray], d: np.ndarray | None = None):
        self.state, self.shares, self.n_states = state, shares, shares[0].shape[0]
        self.block = [state * s.shape[1] + codes[:, j] for j, s in enumerate(shares)]
        d = np.ones(len(state)) if d is None else d
        self.empty_cells = sum(int(((self._present(j, d) == 0) & (s > 0)).sum()) for j, s in enumerate(shares))

    def _present(self, j: int, d: np.ndarray) -> np.ndarray:
        s = self.shares[j]
        return (np.bincount(self.block[j], weights=d, minlength=s.size) > 0).reshape(s.shape)

    def weights(self, d: np.ndarray) -> np.ndarray:
        state_total = np.bincount(self.state, weights=d, minlength=self.n_states)
        totals = []
        for j, s in enumerate(self.shares):
            t = np.where(self._present(j, d), s, 0.0)
            t = t / t.sum(axis=1, keepdims=True) * state_total[:, None]
            totals.append(np.nan_to_num(t).ravel())
        return rake_kernel(np.column_stack(self.block), totals, d)


def _shares(pop: Population) -> list[np.ndarray]:
    census, party = pop.census_shares(), pop.party_shares()
    return [np.vstack([census[s][j] for s in pop.states]) for j in range(len(RAKE_VARIABLES) - 1)] + \
        [np.vstack([party[s] for s in pop.states])]


def _codes(pop: Population, frame: pd.DataFrame) -> np.ndarray:
    cats = {v: pop.cells[v].astype("category").cat.categories for v in RAKE_VARIABLES[:-1]}
    cats["party"] = pd.Index(PARTIES)
    return np.column_stack([cats[v].get_indexer(frame[v].astype(str)) for v in RAKE_VARIABLES])


class Calibrator:
    """The study's raking of one persona tier: weights on the original personas and on any replicate.

    Policy when the original personas cannot meet every margin (small pools): drop margins in
    the order of :data:`DROP_ORDER` until the raking converges; :attr:`dropped` records which.
    """

    def __init__(self, pop: Population, personas: pd.DataFrame):
        self.ids = pd.Index(personas["persona_id"])
        state = pd.Index(pop.states).get_indexer(personas["state"])
        codes, shares = _codes(pop, personas), _shares(pop)
        self.dropped: tuple[str, ...] = ()
        for k in range(len(DROP_ORDER) + 1):
            keep = [j for j, v in enumerate(RAKE_VARIABLES) if v not in DROP_ORDER[:k]]
            self.raking = Raking(codes[:, keep], state, [shares[j] for j in keep])
            try:
                self.original = self.raking.weights(np.ones(len(self.ids)))
                break
            except ConvergenceError:
                if k == len(DROP_ORDER):
                    raise
        self.dropped = DROP_ORDER[:k]
        self.empty_cells = self.raking.empty_cells
        self.failures = 0  # replicates whose raking did not converge (compare leaves them out)

    def weights(self, d: np.ndarray) -> np.ndarray:
        try:
            return self.raking.weights(d)
        except ConvergenceError:
            self.failures += 1
            raise

    def reweight(self, frequency: pd.Series) -> pd.Series:
        """``compare``'s ``reweight``: draw counts per persona -> re-raked weights (same index)."""
        d = frequency.reindex(self.ids).fillna(0.0).to_numpy(float)
        return pd.Series(self.weights(d), index=self.ids).reindex(frequency.index)


def limits(pop: Population, *, composition: str, tilt: float, shift: float) -> dict[str, np.ndarray]:
    """Per state, the raw and calibrated Democratic shares at infinite persona counts.

    Raw: the vote averaged over the persona-generating distribution. Calibrated: that
    distribution (cell x party) raked to the same margins as the personas, then averaged.
    These are the values the study's intervals estimate.
    """
    c = pop.cells
    odds = np.column_stack([c["p_D"] * np.exp(shift), c["p_I"], c["p_R"] * np.exp(-shift)])
    mass = (pop.persona_weights(composition, tilt)[:, None] * odds / odds.sum(axis=1, keepdims=True)).ravel()
    vote = np.column_stack([np.full(len(c), LOYALTY), c["q_dem"], np.full(len(c), 1 - LOYALTY)]).ravel()
    units = c.loc[c.index.repeat(3)].assign(party=np.tile(PARTIES, len(c)))
    state = pd.Index(pop.states).get_indexer(units["region"])
    w = Raking(_codes(pop, units), state, _shares(pop)).weights(mass)
    by_state = lambda x: np.bincount(state, weights=x, minlength=len(pop.states))  # noqa: E731
    return {"raw": by_state(mass * vote) / by_state(mass), "calibrated": by_state(w * vote) / by_state(w)}
