"""Tidy answer tables, checked and encoded as arrays: shared by alignment, poststratify_answers and mrp.

* :func:`scale_table` -- the options of each question, their ordinal positions and refusal
  flags, agreed between a simulated and a reference table (:func:`alignment`);
* :func:`prepare_answers` -- persona answers and the persona table as index arrays for the
  share kernels (:func:`poststratify_answers`, :func:`mrp`);
* :func:`domain_table` -- the output domains (region x group, pooled rows) of each unit.

Tidy input formats
------------------
``answers`` (``SimulationResult.to_frame()``, or any frame with these columns):
``persona_id``, ``question_id``, ``option``, ``probability``; optional option
metadata ``option_index``, ``position``, ``is_refusal``, ``party`` (constant per
question x option). One row per persona x question x option; each persona's
probabilities on a question sum to 1 (refusals included); a missing option row
counts as 0. A persona x question whose probabilities are all NaN is a failed
answer (as ``simulate`` writes them): it is left out of that question's base and
counted in ``n_failed``. Partly NaN distributions are an error.

``personas``: one row per ``persona_id`` with the region column (``by``), the
group columns and the calibration variables. ``None`` takes these columns from
``answers`` (they must then be constant within each persona).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DegenerateScaleError, DistributionError, InputError, MismatchError
from ._tidy import as_frame, check_sums, format_key, listed, plain, require_columns, require_complete

__all__ = ["ALL", "OPTION_META", "OptionTable", "scale_table", "option_values", "AnswerData", "prepare_answers",
           "domain_table"]

#: Label of a domain that pools every region (or every group).
ALL = "(all)"
PERSONA, QUESTION, OPTION, PROBABILITY = "persona_id", "question_id", "option", "probability"
POSITION, REFUSAL = "position", "is_refusal"
OPTION_META = ("option_index", "position", "is_refusal", "party")
#: Largest allowed |Σ p - 1| of one persona's distribution over a question's options.
SUM_TOL = 1e-6


# ----------------------------------------------------------------- the ordinal scale of each question
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


def option_values(frame: pd.DataFrame, column: str, *, func: str, arg: str) -> pd.Series:
    """``frame[column]`` indexed by (question_id, option); raises unless it is one value per question and option."""
    pairs = frame[[QUESTION, OPTION, column]].drop_duplicates()
    dup = pairs.duplicated([QUESTION, OPTION], keep=False)
    if dup.any():
        q, o = pairs.loc[dup, [QUESTION, OPTION]].iloc[0]
        vals = pairs.loc[(pairs[QUESTION] == q) & (pairs[OPTION] == o), column].tolist()
        raise InputError(
            f"column '{column}' of `{arg}` ({func}) gives question {q!r}, option {o!r} more than one value: "
            f"{vals}; it must be one value per question and option"
        )
    return pairs.set_index([QUESTION, OPTION])[column]


def _as_bool(values: pd.Series, *, func: str, arg: str) -> pd.Series:
    ok = values.map(lambda v: isinstance(v, (bool, np.bool_)) or (not pd.isna(v) and v in (0, 1)))
    if not ok.all():
        q, o = values.index[~ok.to_numpy()][0]
        raise InputError(
            f"column '{REFUSAL}' of `{arg}` ({func}) must be True/False; question {q!r}, option {o!r} has "
            f"{plain(values[~ok.to_numpy()].iloc[0])!r}"
        )
    return values.astype(bool)


def _merge_attribute(sim: pd.DataFrame, ref: pd.DataFrame, column: str, cells: pd.MultiIndex, func: str):
    found = {arg: option_values(f, column, func=func, arg=arg).reindex(cells)
             for arg, f in (("reference", ref), ("simulated", sim)) if column in f.columns}
    if not found:
        return None
    if column == REFUSAL:
        found = {arg: _as_bool(v, func=func, arg=arg) for arg, v in found.items()}
    if len(found) == 2:
        a, b = found["reference"], found["simulated"]
        if column == POSITION:
            same = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-12, equal_nan=True)
        else:
            same = a.to_numpy() == b.to_numpy()
        if not same.all():
            q, o = cells[~same][0]
            raise MismatchError(
                f"`simulated` and `reference` of {func} disagree on '{column}' of question {q!r}, option {o!r}: "
                f"{plain(b[(q, o)])!r} vs {plain(a[(q, o)])!r}; give the same value in both (or the column in one only)"
            )
    return next(iter(found.values()))


def scale_table(sim: pd.DataFrame, ref: pd.DataFrame, *, persona_level: bool, func: str) -> OptionTable:
    """The reference's (question, option) cells with their positions; ``simulated`` must use exactly these.

    Persona-level answers may leave a reference option without any row (no
    persona chose it: probability 0); aggregated distributions must list
    every option. An option only ``simulated`` knows always raises.
    """
    ref_q, sim_q = pd.Index(pd.unique(ref[QUESTION])), pd.Index(pd.unique(sim[QUESTION]))
    only_sim, only_ref = sim_q.difference(ref_q, sort=False), ref_q.difference(sim_q, sort=False)
    if len(only_sim) or len(only_ref):
        raise MismatchError(
            f"`simulated` and `reference` of {func} cover different questions: only in simulated: "
            f"{listed(only_sim)}; only in reference: {listed(only_ref)}. Evaluate the same questions on both sides"
        )
    ref_cells = pd.MultiIndex.from_frame(ref[[QUESTION, OPTION]]).unique()
    sim_cells = pd.MultiIndex.from_frame(sim[[QUESTION, OPTION]]).unique()
    for q in ref_q:
        r = ref_cells[ref_cells.get_level_values(0) == q].get_level_values(1)
        s = sim_cells[sim_cells.get_level_values(0) == q].get_level_values(1)
        if not set(s) <= set(r) or (not persona_level and set(r) != set(s)):
            raise MismatchError(
                f"question {q!r} has different options in `simulated` and `reference` of {func}: only in "
                f"simulated: {sorted(map(repr, set(s) - set(r)))}; only in reference: "
                f"{sorted(map(repr, set(r) - set(s)))}. Map option labels to one coding first"
            )
    cells = ref_cells.set_names([QUESTION, OPTION])
    refusal = _merge_attribute(sim, ref, REFUSAL, cells, func)
    refusal = np.zeros(len(cells), dtype=bool) if refusal is None else refusal.to_numpy(dtype=bool)
    position = _merge_attribute(sim, ref, POSITION, cells, func)
    if position is None:
        raise InputError(
            f"{func} needs a '{POSITION}' column (the ordinal position of each non-refusal option) in "
            "`reference` or `simulated`"
        )
    try:
        position = pd.to_numeric(position, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"column '{POSITION}' of {func} must be numeric ({exc})") from exc
    bad = ~refusal & ~np.isfinite(position)
    if bad.any():
        q, o = cells[bad][0]
        raise InputError(
            f"non-refusal option {o!r} of question {q!r} has no finite '{POSITION}' ({func}); give every "
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
            f"question(s) {listed(degenerate)} have fewer than two distinct '{POSITION}' values among their "
            "non-refusal options, so max(position) - min(position) = 0 and the normalised Wasserstein distance "
            "is 0/0 (OpinionQA's code gives NaN). Give them distinct ordinal positions or drop these nominal questions"
        )
    return OptionTable(ref_q, cells, cell_question, position, refusal, question_cells)


# ----------------------------------------------------------------- persona answers as arrays
@dataclass(frozen=True)
class AnswerData:
    personas: pd.DataFrame  # one row per unit, positional index 0..n-1, with persona_id
    options: pd.DataFrame  # question_id, option, [meta...]; row = option index
    option_question: np.ndarray
    questions: pd.Index
    row_unit: np.ndarray
    row_option: np.ndarray
    row_prob: np.ndarray
    pair_unit: np.ndarray
    pair_question: np.ndarray
    failed: pd.DataFrame  # persona_id, question_id of failed answers

    @property
    def n_units(self) -> int:
        return len(self.personas)


def _persona_table(answers: pd.DataFrame, personas, columns: list[str], *, func: str) -> pd.DataFrame:
    if personas is None:
        require_columns(answers, columns, func=func, arg="answers",
                        fmt="persona columns must be in `answers` when `personas` is None")
        table = answers[[PERSONA, *columns]].drop_duplicates()
        dup = table[PERSONA].duplicated(keep=False)
        if dup.any():
            bad = table.loc[dup, PERSONA].iloc[0]
            raise InputError(
                f"persona columns {columns} of `answers` ({func}) must be constant within each persona; "
                f"persona_id={plain(bad)!r} has several values. Pass a `personas` table instead"
            )
        return table.reset_index(drop=True)
    table = as_frame(personas, func=func, arg="personas")
    require_columns(table, [PERSONA, *columns], func=func, arg="personas")
    dup = table[PERSONA].duplicated()
    if dup.any():
        raise InputError(
            f"`personas` of {func} lists persona_id {table.loc[dup, PERSONA].unique()[:5].tolist()} more than once; "
            "one row per persona"
        )
    return table.reset_index(drop=True)


def _option_table(answers: pd.DataFrame, *, func: str) -> pd.DataFrame:
    meta = [c for c in OPTION_META if c in answers.columns]
    table = answers[[QUESTION, OPTION, *meta]].drop_duplicates()
    if meta:
        dup = table.duplicated([QUESTION, OPTION], keep=False)
        if dup.any():
            key = tuple(table.loc[dup, [QUESTION, OPTION]].iloc[0])
            raise InputError(
                f"option metadata {meta} of `answers` ({func}) must be constant per question x option; "
                f"{format_key([QUESTION, OPTION], key)} has several values"
            )
    table = table.reset_index(drop=True)
    if "option_index" in table.columns:
        order = table.assign(_q=pd.factorize(table[QUESTION])[0]).sort_values(["_q", "option_index"], kind="stable")
        table = order.drop(columns="_q").reset_index(drop=True)
    return table


def prepare_answers(answers, personas, *, columns: list[str], func: str) -> AnswerData:
    """Check the answers and the persona table; encode rows, options, answered pairs and failures."""
    answers = as_frame(answers, func=func, arg="answers")
    require_columns(answers, [PERSONA, QUESTION, OPTION, PROBABILITY], func=func, arg="answers",
                    fmt="persona_id, question_id, option, probability [, position, is_refusal, party]")
    require_complete(answers, [PERSONA, QUESTION, OPTION], func=func, arg="answers")
    table = _persona_table(answers, personas, columns, func=func)
    require_complete(table, columns, func=func, arg="personas")
    unit_of = pd.Index(table[PERSONA])
    row_unit = unit_of.get_indexer(answers[PERSONA])
    if (row_unit < 0).any():
        unknown = pd.unique(answers.loc[row_unit < 0, PERSONA])
        raise MismatchError(
            f"`answers` of {func} has persona_id(s) missing from `personas`: {[plain(u) for u in unknown[:8]]} "
            f"({len(unknown)} in all); every answering persona needs a row with its attributes"
        )
    if answers.duplicated([PERSONA, QUESTION, OPTION]).any():
        row = answers.loc[answers.duplicated([PERSONA, QUESTION, OPTION]), [PERSONA, QUESTION, OPTION]].iloc[0]
        raise InputError(f"`answers` of {func} has two rows for {format_key(list(row.index), tuple(row))}")
    try:
        prob = pd.to_numeric(answers[PROBABILITY], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise DistributionError(f"column 'probability' of `answers` ({func}) must be numeric ({exc})") from exc
    options = _option_table(answers, func=func)
    option_index = pd.MultiIndex.from_frame(options[[QUESTION, OPTION]])
    row_option = option_index.get_indexer(pd.MultiIndex.from_frame(answers[[QUESTION, OPTION]]))
    questions = pd.Index(pd.unique(options[QUESTION]), name=QUESTION)
    option_question = questions.get_indexer(options[QUESTION])
    row_question = option_question[row_option]

    pair = row_unit.astype(np.int64) * len(questions) + row_question
    pair_ids, pair_of_row = np.unique(pair, return_inverse=True)
    nan = np.isnan(prob)
    nan_rows = np.bincount(pair_of_row, weights=nan, minlength=pair_ids.size)
    rows = np.bincount(pair_of_row, minlength=pair_ids.size)
    partial = (nan_rows > 0) & (nan_rows < rows)
    if partial.any():
        p = pair_ids[np.flatnonzero(partial)[0]]
        raise DistributionError(
            f"`answers` of {func}: persona_id={plain(unit_of[p // len(questions)])!r}, "
            f"question_id={plain(questions[p % len(questions)])!r} has NaN probabilities for some options only; "
            "a distribution is either complete or failed (all NaN)"
        )
    failed_pair = nan_rows == rows
    ok_row = ~failed_pair[pair_of_row]
    bad = ok_row & (~np.isfinite(prob) | (prob < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DistributionError(
            f"column 'probability' of `answers` ({func}) has {int(bad.sum())} infinite or negative value(s), the "
            f"first at {format_key([PERSONA, QUESTION, OPTION], tuple(answers[[PERSONA, QUESTION, OPTION]].iloc[i]))}"
            f" ({prob[i]!r}); probabilities must be finite and >= 0"
        )
    sums = np.bincount(pair_of_row[ok_row], weights=prob[ok_row], minlength=pair_ids.size)
    answered = pair_ids[~failed_pair]
    keys = pd.DataFrame({PERSONA: unit_of[answered // len(questions)], QUESTION: questions[answered % len(questions)]})
    check_sums(keys, sums[~failed_pair], tol=SUM_TOL, column=PROBABILITY, func=func, arg="answers")
    failed_ids = pair_ids[failed_pair]
    failed = pd.DataFrame({PERSONA: unit_of[failed_ids // len(questions)],
                           QUESTION: questions[failed_ids % len(questions)]})
    return AnswerData(
        personas=table,
        options=options,
        option_question=option_question,
        questions=questions,
        row_unit=row_unit[ok_row],
        row_option=row_option[ok_row],
        row_prob=prob[ok_row],
        pair_unit=answered // len(questions),
        pair_question=answered % len(questions),
        failed=failed,
    )


def _levels(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        used = set(column.dropna().unique())
        return [c for c in column.cat.categories if c in used]
    return list(pd.unique(column.dropna()))


def domain_table(personas: pd.DataFrame, region: str | None, groups: list[str], *, regions: list | None,
                 total: bool, group_levels: list[tuple] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Domains (rows: region and group labels) and each unit's domain per layer (-1: not in the layer).

    Layers: region x group; region x all groups (with groups); all regions x group and all x all
    (with ``total`` and more than one region). The same ``regions`` and ``group_levels`` give the
    same domain order, so two tables (personas, census cells) can share one domain index.
    """
    n = len(personas)
    region_values = personas[region].to_numpy(dtype=object) if region else np.full(n, ALL, dtype=object)
    region_levels = list(regions) if regions is not None else (_levels(personas[region]) if region else [ALL])
    if groups:
        group_keys = list(personas[groups].itertuples(index=False, name=None))
        if group_levels is None:
            present = set(group_keys)
            group_levels = [k for k in itertools.product(*(_levels(personas[g]) for g in groups)) if k in present]
    else:
        group_keys, group_levels = [()] * n, [()]
    all_group = tuple(ALL for _ in groups)
    region_list = region_levels + ([ALL] if total and region and len(region_levels) > 1 else [])
    group_list = group_levels + ([all_group] if groups else [])
    domains = [(r, g) for r in region_list for g in group_list]
    index = {d: i for i, d in enumerate(domains)}
    layers = [(False, False)]
    if groups:
        layers.append((False, True))
    if ALL in region_list and region_list[-1] == ALL and region:
        layers.append((True, False))
        if groups:
            layers.append((True, True))
    out = np.full((n, len(layers)), -1, dtype=np.int64)
    for j, (pool_region, pool_group) in enumerate(layers):
        for i in range(n):
            key = (ALL if pool_region else region_values[i], all_group if pool_group else group_keys[i])
            out[i, j] = index.get(key, -1)
    labels = pd.DataFrame({"region": [plain(d[0]) for d in domains]})
    for k, g in enumerate(groups):
        labels[g] = [plain(d[1][k]) for d in domains]
    return labels, out
