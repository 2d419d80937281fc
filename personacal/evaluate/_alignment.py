"""Opinion alignment of simulated answers with a reference survey: OpinionQA representativeness.

Definition (Santurkar et al., 2023, "Whose Opinions Do Language Models Reflect?",
ICML; code github.com/tatsu-lab/opinions_qa): per question, WD = W1 between the
simulated and the reference distribution over the ordinal (non-refusal) options,
both renormalised over them, divided by ``max(position) - min(position)``;
representativeness = 1 - mean WD. Refusal shares are kept apart. The derivation
from OpinionQA's code is in :mod:`._wasserstein`. Where OpinionQA silently skips a
group whose non-refusal mass is 0 and yields NaN for a question with a single
position, this module raises.

Tidy input formats
------------------
``simulated`` -- either of

* persona level (has a ``persona_id`` column): ``persona_id``, ``question_id``,
  ``option``, ``probability``; optionally ``position``, ``is_refusal``, the
  ``group`` columns and a weight column. One row per persona x question x option;
  each persona's probabilities over a question's options (refusals included)
  sum to 1; an option without a row counts as probability 0 (so a sampled
  answer can be one row with probability 1, and a reference option no persona
  chose needs no row at all). ``group``, weight and ``strata``
  columns are persona attributes (constant within a persona). A group's
  simulated distribution on a question is the weighted mean over the
  personas of the group that answered it. Only this shape can be bootstrapped.
* aggregated (no ``persona_id``): ``question_id``, ``option``, ``probability``
  [, ``position``, ``is_refusal``, ``group`` columns]; one distribution per
  (group x) question, listing every option of the reference.

``reference``: ``question_id``, ``option``, ``share`` [, ``position``,
``is_refusal``, ``group`` columns]; shares sum to 1 per (group x) question,
refusals included. The reference defines each question's options (the union
over its groups); a group without a row for an option has share 0 there.

``position`` (float; fractional allowed, e.g. 1.5 for "neither") is the
ordinal position of a non-refusal option; refusal rows may leave it NaN.
``is_refusal`` (bool, default False) marks options excluded from the
distance. Both may come from either frame; where both frames give them they
must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .._random import RandomState
from .._summary import Summary, one_line_repr
from .._validation import Interval, Options, check_param, check_params, renamed_parameters
from ..errors import DistributionError, InputError, MismatchError
from ._alignment_kernels import group_means, pair_distances, pair_sums, representativeness
from ._answers_table import OPTION, OptionTable, scale_table
from ._bootstrap import BootstrapResult, UnitStatistic, bootstrap, weighted_counts
from ._compat import renamed_fields
from ._tidy import (
    LEVEL,
    N_BOOT,
    as_column_list,
    as_frame,
    check_probability_column,
    check_sums,
    format_key,
    listed,
    per_unit_values,
    require_columns,
    require_complete,
    resolve_unit_weights,
)
from ._wasserstein import normalized_wasserstein, split_refusal

__all__ = ["AlignmentResult", "alignment", "unit_statistic"]

QUESTION, PROBABILITY, SHARE, PERSONA = "question_id", "probability", "share", "persona_id"
FUNC = "alignment"

_FORMAT_SIM = "persona_id (optional), question_id, option, probability, position, is_refusal (optional), group columns"
_FORMAT_REF = "question_id, option, share, position, is_refusal (optional), group columns"
_LEVELS = ("question", "group", "overall")


@renamed_fields(by="group", ci="confidence_interval")
@dataclass(frozen=True, eq=False)
class AlignmentResult:
    """Representativeness ``1 - mean normalised W1`` per question, per group and overall.

    ``per_question`` has one row per (group, question): ``n_options``
    (non-refusal), ``position_range`` (max - min), ``w1`` (raw distance),
    ``wd`` (``w1 / position_range``), ``alignment`` (``1 - wd``),
    ``simulated_refusal`` and ``reference_refusal`` (refusal shares, kept apart
    from the distance). ``representativeness`` is ``1 - mean(wd)`` over all
    (group, question) rows (the mean of the group scores when every group
    answers the same questions). ``group`` names the group columns.
    ``bootstrap`` holds the intervals when ``n_boot`` was given.
    """

    group: tuple[str, ...]
    per_question: pd.DataFrame
    per_group: pd.DataFrame
    representativeness: float
    mean_wd: float
    n_questions: int
    n_personas: int | None
    bootstrap: BootstrapResult | None

    @property
    def confidence_interval(self) -> tuple[float, float] | None:
        """``(low, high)`` of the overall representativeness (``None`` without bootstrap)."""
        return None if self.bootstrap is None else self.bootstrap.interval("representativeness")

    def to_frame(self, level: str = "question") -> pd.DataFrame:
        """Tidy results at ``level`` ``"question"``, ``"group"`` or ``"overall"``."""
        check_param("AlignmentResult.to_frame", "level", level, Options(_LEVELS))
        if level == "question":
            return self.per_question.copy()
        if level == "group":
            return self.per_group.copy()
        row = {
            "representativeness": self.representativeness,
            "mean_wd": self.mean_wd,
            "n_questions": self.n_questions,
            "n_pairs": len(self.per_question),
            "simulated_refusal": self.per_question["simulated_refusal"].mean(),
            "reference_refusal": self.per_question["reference_refusal"].mean(),
        }
        if self.confidence_interval is not None:
            row["ci_low"], row["ci_high"] = self.confidence_interval
        return pd.DataFrame([row])

    def summary(self) -> Summary:
        facts: dict[str, object] = {"representativeness (1 - mean WD)": self.representativeness}
        if self.confidence_interval is not None:
            b, (low, high) = self.bootstrap, self.confidence_interval
            facts[f"{b.level:.0%} CI ({b.method} bootstrap, {b.n_boot} reps)"] = f"[{low:.4f}, {high:.4f}]"
        facts["mean normalised W1"] = self.mean_wd
        facts["questions"] = self.n_questions
        if self.group:
            facts["groups"] = len(self.per_group)
        if self.n_personas is not None:
            facts["personas"] = self.n_personas
        facts["mean refusal share, simulated"] = float(self.per_question["simulated_refusal"].mean())
        facts["mean refusal share, reference"] = float(self.per_question["reference_refusal"].mean())
        tables = {}
        if self.group:
            tables["per group"] = self.per_group
        worst = self.per_question.sort_values("wd", ascending=False).head(10)
        shown = [*self.group, QUESTION, "wd", "simulated_refusal", "reference_refusal"]
        tables["least aligned questions"] = worst[shown]
        notes = [
            "WD = W1(simulated, reference) over ordinal positions / (max - min position), refusal options "
            "excluded and both distributions renormalised over the rest (OpinionQA, Santurkar et al. 2023).",
        ]
        return Summary("Opinion alignment (OpinionQA representativeness)", facts, tables, notes)

    def __repr__(self) -> str:
        return one_line_repr(self, representativeness=self.representativeness, n_questions=self.n_questions,
                             groups=len(self.per_group) if self.group else 0, n_personas=self.n_personas,
                             bootstrap=self.bootstrap is not None)


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
        """Group distributions ``(b, G, J)`` for per-persona weight totals ``(b, n)`` (see ``group_means``)."""
        return group_means(self.probabilities, self.answered, self.group, totals, options.cell_question, n_groups)


def _reference_groups(ref: pd.DataFrame, columns: list[str]) -> Groups:
    if not columns:
        return Groups((), ((),))
    keys = pd.MultiIndex.from_frame(ref[columns]).unique()
    return Groups(tuple(columns), tuple(keys.tolist()))


def _check_duplicates(unit: np.ndarray, cell: np.ndarray, frame: pd.DataFrame, key_cols, arg: str) -> None:
    key = unit.astype(np.int64) * (int(cell.max()) + 1) + cell
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        where = format_key(key_cols, tuple(frame[key_cols].iloc[int(np.flatnonzero(dup)[0])]))
        raise InputError(f"`{arg}` of {FUNC} lists the same cell twice ({where}); give one row per cell")


def _group_distributions(
    frame: pd.DataFrame, column: str, groups: Groups, options: OptionTable, tol: float, arg: str
) -> Distributions:
    """Distributions given per (group, question): ``reference`` or an aggregated ``simulated``."""
    g = groups.codes(frame, arg)
    cell = options.cell_codes(frame)
    key_cols = [*groups.names, QUESTION, OPTION]
    _check_duplicates(g, cell, frame, key_cols, arg)
    values = check_probability_column(frame, column, key_cols, func=FUNC, arg=arg)
    gu, qu, sums = pair_sums(g, cell, values, options.cell_question, len(options.questions))
    keys = pd.DataFrame({**{c: [groups.keys[i][k] for i in gu] for k, c in enumerate(groups.names)},
                         QUESTION: options.questions[qu]})
    check_sums(keys, sums, tol=tol, column=column, func=FUNC, arg=arg)
    dist = np.zeros((len(groups), len(options.cells)))
    np.add.at(dist, (g, cell), values)
    return Distributions(dist, frozenset(zip(gu.tolist(), qu.tolist())))


def _persona_answers(
    frame: pd.DataFrame, groups: Groups, options: OptionTable, tol: float, weights, strata
) -> PersonaAnswers:
    arg = "simulated"
    pid, personas = pd.factorize(frame[PERSONA])
    personas = pd.Index(personas, name=PERSONA)
    n = len(personas)
    if groups.names:
        attrs = pd.DataFrame({c: per_unit_values(frame, PERSONA, c, personas, func=FUNC, arg=arg)
                              for c in groups.names})
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
    pu, qu, sums = pair_sums(pid, cell, values, options.cell_question, len(options.questions))
    keys = pd.DataFrame({PERSONA: personas[pu], QUESTION: options.questions[qu]})
    check_sums(keys, sums, tol=tol, column=PROBABILITY, func=FUNC, arg=arg)
    probs = sparse.csr_array((values, (pid, cell)), shape=(n, len(options.cells)))
    answered = sparse.csr_array((np.ones(pu.size), (pu, qu)), shape=(n, len(options.questions)))
    pairs = frozenset(zip(group[pu].tolist(), qu.tolist()))
    return PersonaAnswers(
        personas, probs, answered, group, np.ones(n) if w is None else w, w is not None, labels, pairs
    )


def _check_pairs(sim_pairs: frozenset, ref_pairs: frozenset, groups: Groups, options: OptionTable) -> list:
    def show(pairs):
        return listed(f"{groups.label(g)} / {options.questions[q]!r}" for g, q in sorted(pairs))

    only_sim, only_ref = sim_pairs - ref_pairs, ref_pairs - sim_pairs
    if only_sim or only_ref:
        raise MismatchError(
            f"`simulated` and `reference` of {FUNC} cover different (group, question) pairs: only in simulated: "
            f"{show(only_sim)}; only in reference: {show(only_ref)}"
        )
    return sorted(ref_pairs)


def _score_pairs(pairs, groups, options, sim_values, ref_values):
    rows = []
    for g, q in pairs:
        cells = options.question_cells[q]
        keep = ~options.refusal[cells]
        pos = options.position[cells][keep]
        label = f" (question {options.questions[q]!r}, group {groups.label(g)})"
        dists = {}
        for side, values in (("simulated", sim_values), ("reference", ref_values)):
            dist, refusal = split_refusal(values[g, cells], options.refusal[cells])
            if not np.isfinite(dist).all():
                raise DistributionError(
                    f"`{side}` of {FUNC} puts all its mass on refusal options{label}; the non-refusal "
                    "distribution cannot be renormalised. Drop the question or fix the distribution"
                )
            dists[side] = (dist, float(refusal))
        wd = normalized_wasserstein(dists["simulated"][0], dists["reference"][0], pos, label=label)
        span = float(pos.max() - pos.min())
        rows.append(
            {
                **dict(zip(groups.names, groups.keys[g])),
                QUESTION: options.questions[q],
                "n_options": int(keep.sum()),
                "position_range": span,
                "w1": wd * span,
                "wd": wd,
                "alignment": 1.0 - wd,
                "simulated_refusal": dists["simulated"][1],
                "reference_refusal": dists["reference"][1],
            }
        )
    return pd.DataFrame(rows)


def _prepare(sim, ref, columns, persona_level, weights, strata, tol):
    """Options, groups, reference and simulated distributions, persona answers and the scored pairs."""
    options = scale_table(sim, ref, persona_level=persona_level, func=FUNC)
    groups = _reference_groups(ref, columns)
    reference_dist = _group_distributions(ref, SHARE, groups, options, tol, "reference")
    answers = None
    if persona_level:
        answers = _persona_answers(sim, groups, options, tol, weights, strata)
        sim_values = answers.aggregate(answers.weights, options, len(groups))[0]
        sim_pairs = answers.pairs
    else:
        agg = _group_distributions(sim, PROBABILITY, groups, options, tol, "simulated")
        sim_values, sim_pairs = agg.values, agg.pairs
    pairs = _check_pairs(sim_pairs, reference_dist.pairs, groups, options)
    return options, groups, reference_dist, answers, sim_values, pairs


def _statistic(answers, groups, options, ref_values, pairs):
    """``totals (b, n) -> (b, 1 + G)``: overall representativeness, then per group (when grouped)."""
    pair_group = np.array([g for g, _ in pairs])
    n_group_columns = len(groups) if groups.names else 0

    def function(totals):
        values = answers.aggregate(totals, options, len(groups))
        wd = pair_distances(values, ref_values, pairs, options.question_cells, options.refusal, options.position)
        return representativeness(wd, pair_group, n_group_columns)

    names = ("representativeness", *(f"representativeness[{groups.label(g)}]" for g in range(n_group_columns)))
    return function, names


def unit_statistic(simulated: pd.DataFrame, reference: pd.DataFrame, *, group=None, weights=None, strata=None,
                   tol: float = 1e-6) -> UnitStatistic:
    """The persona-level statistic of :func:`alignment` on the same (persona-level) input.

    Columns: ``alignment`` (representativeness), ``mean_wd`` (1 - alignment), then the
    representativeness of each group.
    """
    columns = as_column_list(group, func=FUNC, arg="group")
    options, groups, reference_dist, answers, _, pairs = _prepare(
        simulated, reference, columns, True, weights, strata, tol)
    inner, names = _statistic(answers, groups, options, reference_dist.values, pairs)

    def function(totals):
        values = inner(totals)
        return np.column_stack([values[:, 0], 1.0 - values[:, 0], values[:, 1:]])

    return UnitStatistic(units=answers.personas, weights=answers.weights, strata=answers.strata,
                         names=("alignment", "mean_wd", *names[1:]), headline=("alignment", "mean_wd"),
                         function=function)


def _bootstrap(answers, groups, options, ref_values, pairs, *, n_boot, level, random_state, progress):
    n = len(answers.personas)
    function, names = _statistic(answers, groups, options, ref_values, pairs)

    def statistic(idx, resampled_weights):
        return function(weighted_counts(idx, n, resampled_weights))

    return bootstrap(
        statistic, n, weights=answers.weights if answers.weighted else None, strata=answers.strata,
        n_boot=n_boot, random_state=random_state, level=level, vectorized=True, names=names, progress=progress,
    )


_CONSTRAINTS = {"tol": Interval("real", 0, 1, closed="left"), "n_boot": N_BOOT, "level": LEVEL}


@renamed_parameters(by="group", ci="level")
def alignment(
    simulated: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    group: str | list[str] | None = None,
    weights: str | pd.Series | None = None,
    tol: float = 1e-6,
    n_boot: int = 0,
    level: float = 0.95,
    strata: str | None = None,
    random_state: RandomState = None,
    progress: bool | None = None,
) -> AlignmentResult:
    """OpinionQA representativeness of simulated answers against a reference survey.

    Parameters
    ----------
    simulated, reference
        Tidy tables; see the module docstring for the exact columns.
    group
        Group column(s) present in both tables (e.g. ``"party"``); scores are
        given per group and overall. (Called ``by`` before issue 9; ``by`` now
        always means the region column. The old name works for one release.)
    weights
        Persona weights: a column of ``simulated`` or a Series indexed by
        ``persona_id`` (persona-level ``simulated`` only).
    tol
        Allowed absolute deviation of each distribution's sum from 1.
    n_boot, level, strata, random_state, progress
        With ``n_boot > 0`` personas are resampled (weights attached, within
        ``strata`` -- a persona column -- when given) and percentile intervals
        at confidence ``level`` are returned for overall and per-group
        representativeness. Needs persona-level ``simulated``.
    """
    sim = as_frame(simulated, func=FUNC, arg="simulated")
    ref = as_frame(reference, func=FUNC, arg="reference")
    columns = as_column_list(group, func=FUNC, arg="group")
    check_params(FUNC, _CONSTRAINTS, {"tol": tol, "n_boot": n_boot, "level": level})
    require_columns(sim, [QUESTION, "option", PROBABILITY, *columns], func=FUNC, arg="simulated", fmt=_FORMAT_SIM)
    require_columns(ref, [QUESTION, "option", SHARE, *columns], func=FUNC, arg="reference", fmt=_FORMAT_REF)
    persona_level = PERSONA in sim.columns
    require_complete(sim, [QUESTION, "option", *columns, *([PERSONA] if persona_level else [])], func=FUNC,
                     arg="simulated")
    require_complete(ref, [QUESTION, "option", *columns], func=FUNC, arg="reference")
    if not persona_level and (weights is not None or strata is not None or n_boot):
        raise InputError(
            f"`weights`, `strata` and `n_boot` of {FUNC} need persona-level `simulated` (a '{PERSONA}' column); "
            "aggregated distributions cannot be reweighted or resampled"
        )

    options, groups, reference_dist, answers, sim_values, pairs = _prepare(
        sim, ref, columns, persona_level, weights, strata, tol)

    per_question = _score_pairs(pairs, groups, options, sim_values, reference_dist.values)
    stats = {"n_questions": (QUESTION, "size"), "mean_wd": ("wd", "mean"),
             "simulated_refusal": ("simulated_refusal", "mean"), "reference_refusal": ("reference_refusal", "mean")}
    if columns:
        per_group = per_question.groupby(columns, sort=False, as_index=False).agg(**stats)
    else:
        per_group = per_question.assign(_all=0).groupby("_all").agg(**stats).reset_index(drop=True)
    per_group.insert(len(columns) + 2, "representativeness", 1.0 - per_group["mean_wd"])

    boot = None
    if n_boot:
        boot = _bootstrap(answers, groups, options, reference_dist.values, pairs,
                          n_boot=n_boot, level=level, random_state=random_state, progress=progress)
        low, high = boot.ci_low, boot.ci_high
        per_group["ci_low"] = low[1:] if columns else low[:1]
        per_group["ci_high"] = high[1:] if columns else high[:1]

    mean_wd = float(per_question["wd"].mean())
    return AlignmentResult(
        group=tuple(columns),
        per_question=per_question,
        per_group=per_group,
        representativeness=1.0 - mean_wd,
        mean_wd=mean_wd,
        n_questions=len(options.questions),
        n_personas=None if answers is None else len(answers.personas),
        bootstrap=boot,
    )
