"""Per-state accuracy of simulated presidential vote shares against actual results.

Tidy input formats
------------------
``actual``: one row per state with ``state`` (any code; pick the column with
``state_col``) and ``dem_two_party_share`` = D / (D + R) in [0, 1]. The
``personacal.data.election_results(year)`` table has this shape; any
DataFrame with these columns works.

``simulated`` -- one of

* per-state shares: ``state``, ``dem_two_party_share`` (one row per state);
* per-state vote distributions: ``state``, ``party``, ``probability``; the
  probabilities of a state sum to 1 over all parties (third parties and
  "would not vote" included);
* per-persona vote distributions: ``persona_id``, ``state``, ``party``,
  ``probability`` (a sampled vote is one row with probability 1); each
  persona's probabilities sum to 1. The state share is
  ``sum_i w_i P_i(D) / sum_i w_i (P_i(D) + P_i(R))`` over the state's personas.
  Only this shape can be bootstrapped.

``party`` labels are matched to ``dem``/``rep`` (default ``"D"``/``"R"``);
other labels count only for the sum-to-1 check.

Metrics: signed error = simulated - actual (positive = leans Democratic /
left), absolute error, winner correct (share > 0.5 means D wins; an exact 0.5
is a tie, which never counts as correct); MAE, RMSE, mean signed error (the
lean), winner accuracy, and alignment = 1 - mean W1 between the simulated and
actual two-option distributions with positions D = 0, R = 1. On that scale
W1((s, 1-s), (a, 1-a)) = |s - a| and max - min = 1, so the alignment is exactly
1 - MAE; it is reported so that election and opinion alignment share a scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._random import RandomState
from .._summary import Summary, one_line_repr
from .._validation import Interval, Options, check_param, check_params, renamed_parameters
from ..errors import DistributionError, InputError, MismatchError
from ._bootstrap import BootstrapResult, UnitStatistic, bootstrap, weighted_counts
from ._tidy import (
    LEVEL,
    N_BOOT,
    as_frame,
    check_probability_column,
    check_sums,
    require_columns,
    require_complete,
    resolve_unit_weights,
)
from ._wasserstein import normalized_wasserstein

__all__ = ["ElectionResult", "election_errors", "one_election_question", "unit_statistic"]

FUNC = "election_errors"
SHARE, PARTY, PROBABILITY, PERSONA = "dem_two_party_share", "party", "probability", "persona_id"
#: Party label given to options without a party (e.g. "Would not vote" of the simulate banks).
NO_PARTY = "none"
_HEADLINE = ("mae", "rmse", "mean_signed_error", "winner_accuracy", "alignment")
_CONSTRAINTS = {"missing_states": Options(("report", "raise")), "tol": Interval("real", 0, 1, closed="left"),
                "n_boot": N_BOOT, "level": LEVEL}


@dataclass(frozen=True, eq=False)
class ElectionResult:
    """Per-state errors and the overall accuracy of simulated two-party shares.

    ``per_state`` columns: state, simulated, actual, signed_error (sim -
    actual, > 0 leans Democratic), abs_error, simulated_winner,
    actual_winner, winner_correct, alignment (1 - |error|), n_personas (when
    persona level) and ci_low/ci_high of the simulated share (bootstrap).
    """

    per_state: pd.DataFrame
    mae: float
    rmse: float
    mean_signed_error: float
    winner_accuracy: float
    alignment: float
    not_simulated: tuple
    bootstrap: BootstrapResult | None

    @property
    def n_states(self) -> int:
        return len(self.per_state)

    def headline(self) -> pd.DataFrame:
        """One row per headline number with its bootstrap interval (NaN without bootstrap)."""
        rows = []
        for name in _HEADLINE:
            low = high = np.nan
            if self.bootstrap is not None:
                low, high = self.bootstrap.interval(name)
            rows.append({"statistic": name, "estimate": getattr(self, name), "ci_low": low, "ci_high": high})
        return pd.DataFrame(rows)

    def to_frame(self, level: str = "state") -> pd.DataFrame:
        """Tidy results: ``level="state"`` (per state) or ``"overall"`` (headline numbers)."""
        check_param("ElectionResult.to_frame", "level", level, Options(("state", "overall")))
        return self.per_state.copy() if level == "state" else self.headline()

    def summary(self) -> Summary:
        facts: dict[str, object] = {"states": self.n_states}
        for _, row in self.headline().iterrows():
            value = f"{row['estimate']:.4f}"
            if np.isfinite(row["ci_low"]):
                value += f"  [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
            facts[row["statistic"]] = value
        notes = [
            "signed error = simulated - actual Democratic two-party share; > 0 leans Democratic (left).",
            "alignment = 1 - W1 with positions D=0, R=1, which equals 1 - MAE.",
        ]
        if self.bootstrap is not None:
            b = self.bootstrap
            notes.append(f"[low, high]: {b.level:.0%} {b.method} bootstrap over personas within states, "
                         f"{b.n_boot} reps.")
        if self.not_simulated:
            notes.append(f"{len(self.not_simulated)} state(s) in `actual` were not simulated and are left out: "
                         f"{list(self.not_simulated)}")
        table = self.per_state.sort_values("abs_error", ascending=False)
        return Summary("Election accuracy (Democratic two-party share)", facts, {"per state": table}, notes)

    def __repr__(self) -> str:
        return one_line_repr(self, n_states=self.n_states, mae=self.mae, mean_signed_error=self.mean_signed_error,
                             winner_accuracy=self.winner_accuracy, bootstrap=self.bootstrap is not None)


def _winner(share: np.ndarray) -> np.ndarray:
    return np.where(share > 0.5, "D", np.where(share < 0.5, "R", "tie"))


def _metrics(sim: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Headline numbers for shares ``(b, S)``; returns ``(b, 5)`` in ``_HEADLINE`` order."""
    err = sim - actual
    correct = np.sign(sim - 0.5) == np.sign(actual - 0.5)
    correct &= sim != 0.5
    mae = np.abs(err).mean(axis=-1)
    return np.column_stack([mae, np.sqrt((err**2).mean(axis=-1)), err.mean(axis=-1),
                            np.where(np.isnan(sim), np.nan, correct).mean(axis=-1), 1.0 - mae])


def _share_table(frame: pd.DataFrame, state_col: str, arg: str) -> pd.Series:
    """One two-party share per state, checked to lie in [0, 1]."""
    require_columns(frame, [state_col, SHARE], func=FUNC, arg=arg, fmt=f"{state_col}, {SHARE}")
    require_complete(frame, [state_col], func=FUNC, arg=arg)
    if frame[state_col].duplicated().any():
        dup = frame.loc[frame[state_col].duplicated(), state_col].tolist()[:5]
        raise InputError(f"`{arg}` of {FUNC} has more than one row for state(s) {dup}; give one row per state")
    values = check_probability_column(frame, SHARE, [state_col], func=FUNC, arg=arg)
    if (values > 1).any():
        bad = frame.loc[values > 1, state_col].tolist()[:5]
        raise DistributionError(f"'{SHARE}' of `{arg}` ({FUNC}) must lie in [0, 1]; state(s) {bad} exceed 1")
    return pd.Series(values, index=pd.Index(frame[state_col], name="state"))


def _party_masses(frame, unit_cols, dem, rep, tol):
    """Per-unit (D, R) probability mass; checks that each unit's distribution sums to 1."""
    require_columns(frame, [PARTY, PROBABILITY], func=FUNC, arg="simulated")
    require_complete(frame, [*unit_cols, PARTY], func=FUNC, arg="simulated")
    labels = set(pd.unique(frame[PARTY]))
    for name, label in (("dem", dem), ("rep", rep)):
        if label not in labels:
            raise MismatchError(
                f"`{name}` label {label!r} of {FUNC} never appears in column '{PARTY}' of `simulated` "
                f"(labels: {sorted(map(repr, labels))[:8]}); pass {name}=<the label used>"
            )
    if frame.duplicated([*unit_cols, PARTY]).any():
        where = frame.loc[frame.duplicated([*unit_cols, PARTY]), [*unit_cols, PARTY]].iloc[0].to_dict()
        raise InputError(f"`simulated` of {FUNC} lists one party twice for a unit ({where}); give one row per party")
    p = check_probability_column(frame, PROBABILITY, [*unit_cols, PARTY], func=FUNC, arg="simulated")
    tmp = pd.DataFrame({c: frame[c].to_numpy() for c in unit_cols})
    tmp["p"], tmp["d"], tmp["r"] = p, np.where(frame[PARTY] == dem, p, 0.0), np.where(frame[PARTY] == rep, p, 0.0)
    sums = tmp.groupby(unit_cols, sort=False).agg(p=("p", "sum"), d=("d", "sum"), r=("r", "sum")).reset_index()
    check_sums(sums[unit_cols], sums["p"].to_numpy(), tol=tol, column=PROBABILITY, func=FUNC, arg="simulated")
    return sums


@renamed_parameters(ci="level")
def election_errors(
    simulated: pd.DataFrame,
    actual: pd.DataFrame,
    *,
    state_col: str = "state",
    dem: str = "D",
    rep: str = "R",
    weights: str | pd.Series | None = None,
    missing_states: str = "report",
    tol: float = 1e-6,
    n_boot: int = 0,
    level: float = 0.95,
    random_state: RandomState = None,
    progress: bool | None = None,
) -> ElectionResult:
    """Compare simulated with actual Democratic two-party shares, state by state.

    Parameters
    ----------
    simulated, actual
        Tidy tables; see the module docstring. ``state_col`` names the state
        column in both.
    dem, rep
        Party labels of the two major candidates in ``simulated['party']``.
    weights
        Persona weights (column of ``simulated`` or Series by ``persona_id``).
    missing_states
        ``"report"`` (default): states in ``actual`` that were not simulated
        are left out and listed on the result and in its summary;
        ``"raise"``: raise :class:`MismatchError` instead. A simulated state
        missing from ``actual`` always raises.
    n_boot, level, random_state, progress
        Bootstrap over personas (``level``: confidence level), resampled within each state so every state
        keeps its persona count (persona-level ``simulated`` only). Gives
        intervals for MAE, RMSE, lean, winner accuracy, alignment and each
        state's simulated share.
    """
    sim = as_frame(simulated, func=FUNC, arg="simulated")
    act = _share_table(as_frame(actual, func=FUNC, arg="actual"), state_col, "actual")
    check_params(FUNC, _CONSTRAINTS, {"missing_states": missing_states, "tol": tol, "n_boot": n_boot, "level": level})
    require_columns(sim, [state_col], func=FUNC, arg="simulated")
    persona_level = PERSONA in sim.columns
    if not persona_level and (weights is not None or n_boot):
        raise InputError(
            f"`weights` and `n_boot` of {FUNC} need per-persona `simulated` rows (a '{PERSONA}' column)"
        )

    n_personas = masses = None
    if SHARE in sim.columns:
        if persona_level or PARTY in sim.columns:
            raise InputError(
                f"`simulated` of {FUNC} has '{SHARE}' together with '{PERSONA}'/'{PARTY}'; give either "
                f"per-state shares ({state_col}, {SHARE}) or vote distributions ({state_col}, {PARTY}, {PROBABILITY})"
            )
        shares = _share_table(sim, state_col, "simulated")
    elif persona_level:
        masses = _persona_masses(sim, state_col, dem, rep, weights, tol)
        agg = masses.groupby(state_col, sort=False).agg(num=("wd", "sum"), den=("wdr", "sum"), n=(PERSONA, "size"))
        shares = _two_party(agg["num"], agg["den"])
        n_personas = agg["n"]
    else:
        masses_state = _party_masses(sim, [state_col], dem, rep, tol).set_index(state_col)
        shares = _two_party(masses_state["d"], masses_state["d"] + masses_state["r"])

    unknown = shares.index.difference(act.index, sort=False)
    if len(unknown):
        raise MismatchError(
            f"`simulated` of {FUNC} has state(s) {unknown[:8].tolist()} that `actual` lacks "
            f"(actual has e.g. {act.index[:5].tolist()}); use the same state codes (see `state_col`)"
        )
    not_simulated = tuple(act.index.difference(shares.index, sort=False).tolist())
    if not_simulated and missing_states == "raise":
        raise MismatchError(
            f"state(s) {list(not_simulated)[:8]} of `actual` were not simulated ({FUNC}); simulate them, "
            "filter `actual`, or pass missing_states='report'"
        )
    states = shares.index
    s, a = shares.to_numpy(float), act.reindex(states).to_numpy(float)
    headline = _metrics(s[None, :], a[None, :])[0]
    table = pd.DataFrame(
        {
            "state": states,
            "simulated": s,
            "actual": a,
            "signed_error": s - a,
            "abs_error": np.abs(s - a),
            "simulated_winner": _winner(s),
            "actual_winner": _winner(a),
        }
    )
    decided = table["simulated_winner"] != "tie"
    table["winner_correct"] = (table["simulated_winner"] == table["actual_winner"]) & decided
    # 1 - W1 on positions D=0, R=1 (== 1 - |error|); computed with the same kernel as opinion alignment.
    table["alignment"] = [1.0 - normalized_wasserstein([x, 1 - x], [y, 1 - y], [0.0, 1.0]) for x, y in zip(s, a)]
    if n_personas is not None:
        table["n_personas"] = n_personas.reindex(states).to_numpy()

    boot = None
    if n_boot:
        boot = _bootstrap(masses, state_col, states, a, n_boot=n_boot, level=level,
                          random_state=random_state, progress=progress, weighted=weights is not None)
        table["ci_low"] = boot.ci_low[len(_HEADLINE):]
        table["ci_high"] = boot.ci_high[len(_HEADLINE):]

    return ElectionResult(
        per_state=table,
        mae=float(headline[0]),
        rmse=float(headline[1]),
        mean_signed_error=float(headline[2]),
        winner_accuracy=float(headline[3]),
        alignment=float(headline[4]),
        not_simulated=not_simulated,
        bootstrap=boot,
    )


def _two_party(num: pd.Series, den: pd.Series) -> pd.Series:
    empty = den.to_numpy() <= 0
    if empty.any():
        raise DistributionError(
            f"state(s) {den.index[empty][:8].tolist()} of `simulated` ({FUNC}) put no probability on either "
            "major party, so their two-party share is undefined"
        )
    out = num / den
    out.index.name = "state"
    return out


def _persona_masses(sim: pd.DataFrame, state_col: str, dem: str, rep: str, weights, tol: float) -> pd.DataFrame:
    """Per persona: state, D and R probability mass, weight ``w``, ``wd = w * d`` and ``wdr = w * (d + r)``."""
    require_complete(sim, [PERSONA], func=FUNC, arg="simulated")
    per_state = sim[[PERSONA, state_col]].drop_duplicates()
    if per_state[PERSONA].duplicated().any():
        bad = per_state.loc[per_state[PERSONA].duplicated(), PERSONA].iloc[0]
        raise InputError(f"persona {bad!r} of `simulated` ({FUNC}) appears in more than one state")
    masses = _party_masses(sim, [PERSONA, state_col], dem, rep, tol)
    personas = pd.Index(masses[PERSONA])
    w = resolve_unit_weights(sim, PERSONA, personas, weights, func=FUNC, arg="simulated")
    masses["w"] = 1.0 if w is None else w
    masses["wd"], masses["wdr"] = masses["w"] * masses["d"], masses["w"] * (masses["d"] + masses["r"])
    return masses


def _share_statistic(masses: pd.DataFrame, state_col: str, states, actual: np.ndarray):
    """``totals (b, n) -> (b, 5 + S)``: the headline numbers and each state's share, per replicate."""
    n = len(masses)
    d, dr = masses["d"].to_numpy(), (masses["d"] + masses["r"]).to_numpy()
    state_code = pd.Index(states).get_indexer(masses[state_col])
    onehot = np.zeros((n, len(states)))
    onehot[np.arange(n), state_code] = 1.0

    def function(totals):
        with np.errstate(invalid="ignore", divide="ignore"):
            share = ((totals * d) @ onehot) / ((totals * dr) @ onehot)
        return np.column_stack([_metrics(share, actual[None, :]), share])

    return function, state_code


def _bootstrap(masses, state_col, states, actual, *, n_boot, level, random_state, progress, weighted):
    n = len(masses)
    function, state_code = _share_statistic(masses, state_col, states, actual)

    def statistic(idx, resampled_weights):
        return function(weighted_counts(idx, n, resampled_weights))

    names = [*_HEADLINE, *(f"share[{s}]" for s in states)]
    return bootstrap(
        statistic, n, weights=masses["w"].to_numpy() if weighted else None, strata=state_code,
        n_boot=n_boot, random_state=random_state, level=level, vectorized=True, names=names, progress=progress,
    )


def unit_statistic(result: ElectionResult, simulated: pd.DataFrame, *, state_col: str = "state", dem: str = "D",
                   rep: str = "R", weights=None, tol: float = 1e-6) -> UnitStatistic:
    """The persona-level statistic behind ``result`` (from :func:`election_errors` on the same input).

    Units are personas, resampled within their state; columns are the headline numbers and
    each state's share (in ``result.per_state`` order).
    """
    masses = _persona_masses(simulated, state_col, dem, rep, weights, tol)
    masses = masses[masses[state_col].isin(result.per_state["state"])].reset_index(drop=True)
    states = pd.Index(result.per_state["state"])
    function, state_code = _share_statistic(masses, state_col, states, result.per_state["actual"].to_numpy(float))
    return UnitStatistic(units=pd.Index(masses[PERSONA], name=PERSONA), weights=masses["w"].to_numpy(float),
                         strata=states.to_numpy(dtype=object)[state_code],
                         names=(*_HEADLINE, *(f"share[{s}]" for s in states)), headline=_HEADLINE, function=function)


def one_election_question(frame: pd.DataFrame, question: str | None, *, func: str,
                          arg: str) -> tuple[pd.DataFrame, bool]:
    """Simulated answers made ready for :func:`election_errors`; ``True`` when partyless options were labelled.

    Keeps the election question ``question`` of answers that hold several (``simulate``
    output), and gives options without a party (simulate's "Would not vote") the party
    ``NO_PARTY``: ``election_errors`` counts labels other than D/R only in the sum-to-1
    check, which is what such options are. An empty ``party`` on a row that is not a
    listed option (no ``option`` column) is left for ``election_errors`` to reject.
    """
    if "question_id" in frame.columns:
        present = list(pd.unique(frame["question_id"]))
        if question is None and len(present) > 1:
            raise InputError(
                f"`{arg}` of {func} holds answers to {len(present)} questions {present[:6]}; pass "
                "question=<the election question_id> (e.g. 'election-2024')"
            )
        if question is not None:
            if question not in present:
                raise MismatchError(
                    f"`question` {question!r} of {func} is not in column 'question_id' of `{arg}` ({present[:6]})")
            frame = frame[frame["question_id"] == question]
    elif question is not None:
        raise InputError(f"`question` of {func} needs a 'question_id' column in `{arg}`; it has none")
    if PARTY not in frame.columns or "option" not in frame.columns:
        return frame, False
    missing = frame[PARTY].isna() & frame["option"].notna()
    if not missing.any():
        return frame, False
    return frame.assign(**{PARTY: frame[PARTY].astype(object).where(~missing, NO_PARTY)}), True
