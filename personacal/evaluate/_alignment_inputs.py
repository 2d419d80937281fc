"""Validate and encode the tidy tables of :func:`personacal.evaluate.alignment` into arrays.

Every problem is caught here, once: missing columns, NaN, negative or
non-summing distributions, questions/options/groups present on one side
only, inconsistent positions, and questions whose ordinal positions do not
spread (max == min).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import DegenerateScaleError, InputError, MismatchError
from ._tidy import (
    check_probability_column,
    check_sums,
    format_key,
    per_unit_values,
    plain,
    resolve_unit_weights,
)

QUESTION, OPTION, POSITION, REFUSAL = "question_id", "option", "position", "is_refusal"
PROBABILITY, SHARE, PERSONA = "probability", "share", "persona_id"
FUNC = "alignment"


@dataclass(frozen=True, eq=False)
class OptionTable:
    """Every (question, option) cell, with its ordinal position and refusal flag."""

    questions: pd.Index
    cells: pd.MultiIndex  # (question_id, option)
    cell_question: np.ndarray  # question code of each cell
    position: np.ndarray  # NaN allowed on refusal cells
    refusal: np.ndarray  # bool
    question_cells: tuple[np.ndarray, ...]

    def cell_codes(self, frame: pd.DataFrame) -> np.ndarray:
        return self.cells.get_indexer(pd.MultiIndex.from_frame(frame[[QUESTION, OPTION]]))


@dataclass(frozen=True, eq=False)
class Groups:
    names: tuple[str, ...]
    keys: tuple[tuple, ...]

    def __len__(self) -> int:
        return len(self.keys)

    def label(self, g: int) -> str:
        return format_key(self.names, self.keys[g]) if self.names else "all"

    def codes(self, frame: pd.DataFrame, arg: str) -> np.ndarray:
        if not self.names:
            return np.zeros(len(frame), dtype=np.intp)
        index = pd.MultiIndex.from_tuples(self.keys, names=self.names)
        codes = index.get_indexer(pd.MultiIndex.from_frame(frame[list(self.names)]))
        if (codes < 0).any():
            extra = pd.MultiIndex.from_frame(frame.loc[codes < 0, list(self.names)]).unique().tolist()[:5]
            raise MismatchError(
                f"`{arg}` of {FUNC} has groups of {list(self.names)} that `reference` lacks: {extra}; "
                "give reference distributions for every simulated group or drop those rows"
            )
        return codes


@dataclass(frozen=True, eq=False)
class Distributions:
    """Per-(group, question) distributions on the option cells, plus which pairs exist."""

    values: np.ndarray  # (G, J); only cells of existing pairs are meaningful
    pairs: frozenset  # {(group code, question code)}


@dataclass(frozen=True, eq=False)
class PersonaAnswers:
    """Persona-level answers as sparse matrices so any reweighting is a matrix product."""

    personas: pd.Index
    probabilities: sparse.csr_array  # (n, J)
    answered: sparse.csr_array  # (n, Q) 1 where the persona answered the question
    group: np.ndarray  # (n,) group code
    weights: np.ndarray  # (n,), ones when unweighted
    weighted: bool
    strata: np.ndarray | None
    pairs: frozenset

    def aggregate(self, totals: np.ndarray, options: OptionTable, n_groups: int) -> np.ndarray:
        """Group distributions ``(b, G, J)`` for per-persona weight totals ``(b, n)``.

        A group's distribution on a question is the weighted mean over the
        personas of the group that answered it; NaN where none did.
        """
        totals = np.atleast_2d(totals)
        out = np.empty((totals.shape[0], n_groups, options.cells.size))
        for g in range(n_groups):
            members = np.flatnonzero(self.group == g)
            t = totals[:, members].T  # (m, b)
            num = (self.probabilities[members].T @ t).T
            den = (self.answered[members].T @ t).T
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, g, :] = num / den[:, options.cell_question]
        return out


def _attribute(frame: pd.DataFrame, column: str, arg: str) -> pd.Series:
    pairs = frame[[QUESTION, OPTION, column]].drop_duplicates()
    dup = pairs.duplicated([QUESTION, OPTION], keep=False)
    if dup.any():
        q, o = pairs.loc[dup, [QUESTION, OPTION]].iloc[0]
        vals = pairs.loc[(pairs[QUESTION] == q) & (pairs[OPTION] == o), column].tolist()
        raise InputError(
            f"column '{column}' of `{arg}` ({FUNC}) gives question {q!r}, option {o!r} more than one value: "
            f"{vals}; it must be one value per question and option"
        )
    return pairs.set_index([QUESTION, OPTION])[column]


def _as_bool(values: pd.Series, arg: str) -> pd.Series:
    ok = values.map(lambda v: isinstance(v, (bool, np.bool_)) or (not pd.isna(v) and v in (0, 1)))
    if not ok.all():
        q, o = values.index[~ok.to_numpy()][0]
        raise InputError(
            f"column '{REFUSAL}' of `{arg}` ({FUNC}) must be True/False; question {q!r}, option {o!r} has "
            f"{plain(values[~ok.to_numpy()].iloc[0])!r}"
        )
    return values.astype(bool)


def _merge_attribute(sim: pd.DataFrame, ref: pd.DataFrame, column: str, cells: pd.MultiIndex):
    found = {arg: _attribute(f, column, arg).reindex(cells) for arg, f in (("reference", ref), ("simulated", sim))
             if column in f.columns}
    if not found:
        return None
    if column == REFUSAL:
        found = {arg: _as_bool(v, arg) for arg, v in found.items()}
    if len(found) == 2:
        a, b = found["reference"], found["simulated"]
        if column == POSITION:
            same = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-12, equal_nan=True)
        else:
            same = a.to_numpy() == b.to_numpy()
        if not same.all():
            q, o = cells[~same][0]
            raise MismatchError(
                f"`simulated` and `reference` of {FUNC} disagree on '{column}' of question {q!r}, option {o!r}: "
                f"{plain(b[(q, o)])!r} vs {plain(a[(q, o)])!r}; give the same value in both (or the column in one only)"
            )
    return next(iter(found.values()))


def _listed(items) -> str:
    items = list(items)
    return f"{items[:5]}{' ...' if len(items) > 5 else ''} ({len(items)})"


def option_table(sim: pd.DataFrame, ref: pd.DataFrame, *, persona_level: bool) -> OptionTable:
    """The reference's (question, option) cells; ``simulated`` must use exactly these.

    Persona-level answers may leave a reference option without any row (no
    persona chose it: probability 0); aggregated distributions must list
    every option. An option only ``simulated`` knows always raises.
    """
    ref_q, sim_q = pd.Index(pd.unique(ref[QUESTION])), pd.Index(pd.unique(sim[QUESTION]))
    only_sim, only_ref = sim_q.difference(ref_q, sort=False), ref_q.difference(sim_q, sort=False)
    if len(only_sim) or len(only_ref):
        raise MismatchError(
            f"`simulated` and `reference` of {FUNC} cover different questions: only in simulated: "
            f"{_listed(only_sim)}; only in reference: {_listed(only_ref)}. Evaluate the same questions on both sides"
        )
    ref_cells = pd.MultiIndex.from_frame(ref[[QUESTION, OPTION]]).unique()
    sim_cells = pd.MultiIndex.from_frame(sim[[QUESTION, OPTION]]).unique()
    for q in ref_q:
        r = ref_cells[ref_cells.get_level_values(0) == q].get_level_values(1)
        s = sim_cells[sim_cells.get_level_values(0) == q].get_level_values(1)
        if not set(s) <= set(r) or (not persona_level and set(r) != set(s)):
            raise MismatchError(
                f"question {q!r} has different options in `simulated` and `reference` of {FUNC}: only in "
                f"simulated: {sorted(map(repr, set(s) - set(r)))}; only in reference: "
                f"{sorted(map(repr, set(r) - set(s)))}. Map option labels to one coding first"
            )
    cells = ref_cells.set_names([QUESTION, OPTION])
    refusal = _merge_attribute(sim, ref, REFUSAL, cells)
    refusal = np.zeros(len(cells), dtype=bool) if refusal is None else refusal.to_numpy(dtype=bool)
    position = _merge_attribute(sim, ref, POSITION, cells)
    if position is None:
        raise InputError(
            f"{FUNC} needs a '{POSITION}' column (the ordinal position of each non-refusal option) in "
            "`reference` or `simulated`"
        )
    try:
        position = pd.to_numeric(position, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column '{POSITION}' of {FUNC} must be numeric ({exc})") from exc
    bad = ~refusal & ~np.isfinite(position)
    if bad.any():
        q, o = cells[bad][0]
        raise InputError(
            f"non-refusal option {o!r} of question {q!r} has no finite '{POSITION}' ({FUNC}); give every "
            f"non-refusal option an ordinal position or mark it {REFUSAL}=True"
        )
    cell_question = ref_q.get_indexer(cells.get_level_values(0))
    question_cells = tuple(np.flatnonzero(cell_question == k) for k in range(len(ref_q)))
    degenerate = []
    for k, idx in enumerate(question_cells):
        pos = position[idx][~refusal[idx]]
        if pos.size == 0 or pos.max() - pos.min() <= 0:
            degenerate.append(ref_q[k])
    if degenerate:
        raise DegenerateScaleError(
            f"question(s) {_listed(degenerate)} have fewer than two distinct '{POSITION}' values among their "
            "non-refusal options, so max(position) - min(position) = 0 and the normalised Wasserstein distance "
            "is 0/0 (OpinionQA's code gives NaN). Give them distinct ordinal positions or drop these nominal questions"
        )
    return OptionTable(ref_q, cells, cell_question, position, refusal, question_cells)


def reference_groups(ref: pd.DataFrame, by: list[str]) -> Groups:
    if not by:
        return Groups((), ((),))
    keys = pd.MultiIndex.from_frame(ref[by]).unique()
    return Groups(tuple(by), tuple(keys.tolist()))


def _check_duplicates(unit: np.ndarray, cell: np.ndarray, frame: pd.DataFrame, key_cols, arg: str) -> None:
    key = unit.astype(np.int64) * (int(cell.max()) + 1) + cell
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        where = format_key(key_cols, tuple(frame[key_cols].iloc[int(np.flatnonzero(dup)[0])]))
        raise InputError(f"`{arg}` of {FUNC} lists the same cell twice ({where}); give one row per cell")


def _pair_sums(unit: np.ndarray, cell: np.ndarray, values: np.ndarray, options: OptionTable):
    """Sum of values per (unit, question); returns unique (unit, question) pairs and their sums."""
    q = options.cell_question[cell]
    key = unit.astype(np.int64) * len(options.questions) + q
    uniq, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    return uniq // len(options.questions), uniq % len(options.questions), sums


def group_distributions(
    frame: pd.DataFrame, column: str, by: list[str], groups: Groups, options: OptionTable, tol: float, arg: str
) -> Distributions:
    """Distributions given per (group, question): ``reference`` or an aggregated ``simulated``."""
    g = groups.codes(frame, arg)
    cell = options.cell_codes(frame)
    key_cols = [*by, QUESTION, OPTION]
    _check_duplicates(g, cell, frame, key_cols, arg)
    values = check_probability_column(frame, column, key_cols, func=FUNC, arg=arg)
    gu, qu, sums = _pair_sums(g, cell, values, options)
    keys = pd.DataFrame({**{b: [groups.keys[i][k] for i in gu] for k, b in enumerate(by)},
                         QUESTION: options.questions[qu]})
    check_sums(keys, sums, tol=tol, column=column, func=FUNC, arg=arg)
    dist = np.zeros((len(groups), len(options.cells)))
    np.add.at(dist, (g, cell), values)
    return Distributions(dist, frozenset(zip(gu.tolist(), qu.tolist())))


def persona_answers(
    frame: pd.DataFrame, by: list[str], groups: Groups, options: OptionTable, tol: float, weights, strata
) -> PersonaAnswers:
    arg = "simulated"
    pid, personas = pd.factorize(frame[PERSONA])
    personas = pd.Index(personas, name=PERSONA)
    n = len(personas)
    if by:
        attrs = pd.DataFrame({b: per_unit_values(frame, PERSONA, b, personas, func=FUNC, arg=arg) for b in by})
        group = groups.codes(attrs, arg)
    else:
        group = np.zeros(n, dtype=np.intp)
    w = resolve_unit_weights(frame, PERSONA, personas, weights, func=FUNC, arg=arg)
    labels = None
    if strata is not None:
        if not isinstance(strata, str) or strata not in frame.columns:
            raise InputError(f"`strata` of {FUNC} must name a column of `simulated`; got {strata!r}")
        labels = per_unit_values(frame, PERSONA, strata, personas, func=FUNC, arg=arg)
    cell = options.cell_codes(frame)
    _check_duplicates(pid, cell, frame, [PERSONA, QUESTION, OPTION], arg)
    values = check_probability_column(frame, PROBABILITY, [PERSONA, QUESTION, OPTION], func=FUNC, arg=arg)
    pu, qu, sums = _pair_sums(pid, cell, values, options)
    keys = pd.DataFrame({PERSONA: personas[pu], QUESTION: options.questions[qu]})
    check_sums(keys, sums, tol=tol, column=PROBABILITY, func=FUNC, arg=arg)
    probs = sparse.csr_array((values, (pid, cell)), shape=(n, len(options.cells)))
    answered = sparse.csr_array((np.ones(pu.size), (pu, qu)), shape=(n, len(options.questions)))
    pairs = frozenset(zip(group[pu].tolist(), qu.tolist()))
    return PersonaAnswers(
        personas, probs, answered, group, np.ones(n) if w is None else w, w is not None, labels, pairs
    )


def check_pairs(sim_pairs: frozenset, ref_pairs: frozenset, groups: Groups, options: OptionTable) -> list:
    def show(pairs):
        return _listed(f"{groups.label(g)} / {options.questions[q]!r}" for g, q in sorted(pairs))

    only_sim, only_ref = sim_pairs - ref_pairs, ref_pairs - sim_pairs
    if only_sim or only_ref:
        raise MismatchError(
            f"`simulated` and `reference` of {FUNC} cover different (group, question) pairs: only in simulated: "
            f"{show(only_sim)}; only in reference: {show(only_ref)}"
        )
    return sorted(ref_pairs)
