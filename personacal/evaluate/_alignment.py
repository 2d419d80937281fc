"""Opinion alignment of simulated answers with a reference survey: OpinionQA representativeness.

Definition (Santurkar et al., 2023, "Whose Opinions Do Language Models
Reflect?", ICML; code: github.com/tatsu-lab/opinions_qa, ``process_results.ipynb``
and ``helpers.py``)::

    combined_df['WD'] = wasserstein_distance(ordinal, ordinal, D_M, D_H) / get_max_wd(ordinal)
    grouped['Rep'] = 1 - grouped['WD']            # after averaging WD over questions

``D_M``/``D_H`` are the model and human answer distributions renormalised over
the ordinal (non-refusal) options -- ``probs[:len(ordinal)] / sum(...)`` -- and
the refusal share is kept apart (``R_M``, ``R_H`` = refusal mass / total mass).
``get_max_wd(ordinal)`` is the distance between point masses on the largest and
smallest position, i.e. ``max(o) - min(o)``. This module does the same, with
``scipy.stats.wasserstein_distance`` (u_values=v_values=positions,
u_weights=p, v_weights=q). Where OpinionQA silently skips a group whose
non-refusal mass is 0 and yields NaN for a question with a single position,
this module raises.

Tidy input formats
------------------
``simulated`` -- either of

* persona level (has a ``persona_id`` column): ``persona_id``, ``question_id``,
  ``option``, ``probability``; optionally ``position``, ``is_refusal``, the
  ``by`` columns and a weight column. One row per persona x question x option;
  each persona's probabilities over a question's options (refusals included)
  sum to 1; an option without a row counts as probability 0 (so a sampled
  answer can be one row with probability 1, and a reference option no persona
  chose needs no row at all). ``by``, weight and ``strata``
  columns are persona attributes (constant within a persona). A group's
  simulated distribution on a question is the weighted mean over the
  personas of the group that answered it. Only this shape can be bootstrapped.
* aggregated (no ``persona_id``): ``question_id``, ``option``, ``probability``
  [, ``position``, ``is_refusal``, ``by`` columns]; one distribution per
  (group x) question, listing every option of the reference.

``reference``: ``question_id``, ``option``, ``share`` [, ``position``,
``is_refusal``, ``by`` columns]; shares sum to 1 per (group x) question,
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

from .._random import RandomState
from .._summary import Summary
from ..errors import DistributionError, InputError
from ._alignment_inputs import (
    FUNC,
    PERSONA,
    PROBABILITY,
    QUESTION,
    SHARE,
    check_pairs,
    group_distributions,
    option_table,
    persona_answers,
    reference_groups,
)
from ._bootstrap import BootstrapResult, bootstrap, weighted_counts
from ._tidy import as_column_list, as_frame, require_columns, require_complete
from ._wasserstein import normalized_wasserstein, normalized_wasserstein_batch, split_refusal

__all__ = ["AlignmentResult", "alignment"]

_FORMAT_SIM = "persona_id (optional), question_id, option, probability, position, is_refusal (optional), by columns"
_FORMAT_REF = "question_id, option, share, position, is_refusal (optional), by columns"


@dataclass(frozen=True, eq=False)
class AlignmentResult:
    """Representativeness ``1 - mean normalised W1`` per question, per group and overall.

    ``per_question`` has one row per (group, question): ``n_options``
    (non-refusal), ``position_range`` (max - min), ``w1`` (raw distance),
    ``wd`` (``w1 / position_range``), ``alignment`` (``1 - wd``),
    ``simulated_refusal`` and ``reference_refusal`` (refusal shares, kept apart
    from the distance). ``representativeness`` is ``1 - mean(wd)`` over all
    (group, question) rows (the mean of the group scores when every group
    answers the same questions). ``bootstrap`` holds the intervals when
    ``n_boot`` was given.
    """

    by: tuple[str, ...]
    per_question: pd.DataFrame
    per_group: pd.DataFrame
    representativeness: float
    mean_wd: float
    n_questions: int
    n_personas: int | None
    bootstrap: BootstrapResult | None

    @property
    def ci(self) -> tuple[float, float] | None:
        """Confidence interval of the overall representativeness (``None`` without bootstrap)."""
        return None if self.bootstrap is None else self.bootstrap.interval("representativeness")

    def to_frame(self, level: str = "question") -> pd.DataFrame:
        """Tidy results at ``level`` ``"question"``, ``"group"`` or ``"overall"``."""
        if level == "question":
            return self.per_question.copy()
        if level == "group":
            return self.per_group.copy()
        if level == "overall":
            row = {
                "representativeness": self.representativeness,
                "mean_wd": self.mean_wd,
                "n_questions": self.n_questions,
                "n_pairs": len(self.per_question),
                "simulated_refusal": self.per_question["simulated_refusal"].mean(),
                "reference_refusal": self.per_question["reference_refusal"].mean(),
            }
            if self.ci is not None:
                row["ci_low"], row["ci_high"] = self.ci
            return pd.DataFrame([row])
        raise InputError(f"`level` of AlignmentResult.to_frame must be 'question', 'group' or 'overall'; got {level!r}")

    def summary(self) -> Summary:
        facts: dict[str, object] = {"representativeness (1 - mean WD)": self.representativeness}
        if self.ci is not None:
            b = self.bootstrap
            facts[f"{b.ci:.0%} CI ({b.method} bootstrap, {b.n_boot} reps)"] = f"[{self.ci[0]:.4f}, {self.ci[1]:.4f}]"
        facts["mean normalised W1"] = self.mean_wd
        facts["questions"] = self.n_questions
        if self.by:
            facts["groups"] = len(self.per_group)
        if self.n_personas is not None:
            facts["personas"] = self.n_personas
        facts["mean refusal share, simulated"] = float(self.per_question["simulated_refusal"].mean())
        facts["mean refusal share, reference"] = float(self.per_question["reference_refusal"].mean())
        tables = {}
        if self.by:
            tables["per group"] = self.per_group
        worst = self.per_question.sort_values("wd", ascending=False).head(10)
        tables["least aligned questions"] = worst[[*self.by, QUESTION, "wd", "simulated_refusal", "reference_refusal"]]
        notes = [
            "WD = W1(simulated, reference) over ordinal positions / (max - min position), refusal options "
            "excluded and both distributions renormalised over the rest (OpinionQA, Santurkar et al. 2023).",
        ]
        return Summary("Opinion alignment (OpinionQA representativeness)", facts, tables, notes)


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


def _bootstrap(answers, groups, options, ref_values, pairs, *, n_boot, ci, random_state, progress):
    n = len(answers.personas)
    pair_group = np.array([g for g, _ in pairs])

    def statistic(idx, resampled_weights):
        totals = weighted_counts(idx, n, resampled_weights)
        values = answers.aggregate(totals, options, len(groups))
        wd = np.empty((totals.shape[0], len(pairs)))
        for k, (g, q) in enumerate(pairs):
            cells = options.question_cells[q]
            keep = ~options.refusal[cells]
            wd[:, k] = normalized_wasserstein_batch(
                values[:, g, cells][:, keep], ref_values[g, cells][keep][None, :], options.position[cells][keep]
            )
        per_group = [1 - wd[:, pair_group == g].mean(axis=1) for g in range(len(groups))] if groups.names else []
        return np.column_stack([1 - wd.mean(axis=1), *per_group])

    names = ["representativeness"]
    if groups.names:
        names += [f"representativeness[{groups.label(g)}]" for g in range(len(groups))]
    return bootstrap(
        statistic, n, weights=answers.weights if answers.weighted else None, strata=answers.strata,
        n_boot=n_boot, random_state=random_state, ci=ci, vectorized=True, names=names, progress=progress,
    )


def alignment(
    simulated: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    by: str | list[str] | None = None,
    weights: str | pd.Series | None = None,
    tol: float = 1e-6,
    n_boot: int = 0,
    ci: float = 0.95,
    strata: str | None = None,
    random_state: RandomState = None,
    progress: bool | None = None,
) -> AlignmentResult:
    """OpinionQA representativeness of simulated answers against a reference survey.

    Parameters
    ----------
    simulated, reference
        Tidy tables; see the module docstring for the exact columns.
    by
        Group column(s) present in both tables (e.g. ``"party"``); scores are
        given per group and overall.
    weights
        Persona weights: a column of ``simulated`` or a Series indexed by
        ``persona_id`` (persona-level ``simulated`` only).
    tol
        Allowed absolute deviation of each distribution's sum from 1.
    n_boot, ci, strata, random_state, progress
        With ``n_boot > 0`` personas are resampled (weights attached, within
        ``strata`` -- a persona column -- when given) and percentile intervals
        are returned for overall and per-group representativeness. Needs
        persona-level ``simulated``.
    """
    sim = as_frame(simulated, func=FUNC, arg="simulated")
    ref = as_frame(reference, func=FUNC, arg="reference")
    by = as_column_list(by, func=FUNC)
    if not (isinstance(tol, float | int) and 0 <= tol < 1):
        raise InputError(f"`tol` of {FUNC} must be a number in [0, 1); got {tol!r}")
    require_columns(sim, [QUESTION, "option", PROBABILITY, *by], func=FUNC, arg="simulated", fmt=_FORMAT_SIM)
    require_columns(ref, [QUESTION, "option", SHARE, *by], func=FUNC, arg="reference", fmt=_FORMAT_REF)
    persona_level = PERSONA in sim.columns
    require_complete(sim, [QUESTION, "option", *by, *([PERSONA] if persona_level else [])], func=FUNC, arg="simulated")
    require_complete(ref, [QUESTION, "option", *by], func=FUNC, arg="reference")
    if not persona_level and (weights is not None or strata is not None or n_boot):
        raise InputError(
            f"`weights`, `strata` and `n_boot` of {FUNC} need persona-level `simulated` (a '{PERSONA}' column); "
            "aggregated distributions cannot be reweighted or resampled"
        )

    options = option_table(sim, ref, persona_level=persona_level)
    groups = reference_groups(ref, by)
    reference_dist = group_distributions(ref, SHARE, by, groups, options, tol, "reference")
    answers = None
    if persona_level:
        answers = persona_answers(sim, by, groups, options, tol, weights, strata)
        sim_values = answers.aggregate(answers.weights, options, len(groups))[0]
        sim_pairs = answers.pairs
    else:
        agg = group_distributions(sim, PROBABILITY, by, groups, options, tol, "simulated")
        sim_values, sim_pairs = agg.values, agg.pairs
    pairs = check_pairs(sim_pairs, reference_dist.pairs, groups, options)

    per_question = _score_pairs(pairs, groups, options, sim_values, reference_dist.values)
    if by:
        per_group = per_question.groupby(by, sort=False, as_index=False).agg(
            n_questions=(QUESTION, "size"),
            mean_wd=("wd", "mean"),
            simulated_refusal=("simulated_refusal", "mean"),
            reference_refusal=("reference_refusal", "mean"),
        )
    else:
        per_group = pd.DataFrame(
            {
                "n_questions": [len(per_question)],
                "mean_wd": [per_question["wd"].mean()],
                "simulated_refusal": [per_question["simulated_refusal"].mean()],
                "reference_refusal": [per_question["reference_refusal"].mean()],
            }
        )
    per_group.insert(len(by) + 2, "representativeness", 1.0 - per_group["mean_wd"])

    boot = None
    if n_boot:
        boot = _bootstrap(answers, groups, options, reference_dist.values, pairs,
                          n_boot=n_boot, ci=ci, random_state=random_state, progress=progress)
        low, high = boot.ci_low, boot.ci_high
        per_group["ci_low"] = low[1:] if by else low[:1]
        per_group["ci_high"] = high[1:] if by else high[:1]

    mean_wd = float(per_question["wd"].mean())
    return AlignmentResult(
        by=tuple(by),
        per_question=per_question,
        per_group=per_group,
        representativeness=1.0 - mean_wd,
        mean_wd=mean_wd,
        n_questions=len(options.questions),
        n_personas=None if answers is None else len(answers.personas),
        bootstrap=boot,
    )
