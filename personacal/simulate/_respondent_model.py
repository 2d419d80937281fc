"""DemographicModel: answer distributions predicted from demographics by models fitted on real surveys.

The baseline the literature compares silicon samples with: does the LLM know more about a
persona's answers than the persona's sex, age, race, education and employment already say?
Each known question gets its own statsmodels model fitted on the shipped GSS 2018 or ANES
extract (the question -> survey variable -> option table is ``banks/respondent-model-map.csv``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._random import RandomState, check_random_state
from .._summary import Summary, one_line_repr
from .._validation import Interval, Options, check_param
from ..errors import BackendCapabilityError, ConvergenceWarning, DataError, InputError, MismatchError
from ._question import Question
from ._respondent_covariates import DEFAULT_PREDICTORS, SURVEY_PREDICTORS, persona_covariates, survey_table
from ._respondent_fit import KINDS, AnswerFit, Holdout, design_matrix, fit_answer_model, holdout_scores, predict_proba
from ._respondent_questions import QuestionMapping, mapped_question, question_map_frame, question_mappings

__all__ = ["DemographicModel", "QuestionFit"]

logger = logging.getLogger(__name__)
_FUNC = "DemographicModel"


@dataclass(frozen=True)
class QuestionFit:
    """The model of one question: its mapping, predictors, the fit on all rows and the held-out check."""

    mapping: QuestionMapping
    question: Question
    predictors: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    outcome_labels: tuple[str, ...]  # survey labels in the order the model's outcome codes use
    fit: AnswerFit
    n_dropped: int
    holdout: Holdout | None

    def design(self, covariates: pd.DataFrame) -> np.ndarray:
        codes = [pd.Categorical(covariates[v], categories=list(lv)).codes
                 for v, lv in zip(self.predictors, self.levels)]
        return design_matrix(codes, [len(lv) for lv in self.levels])

    def term_names(self) -> list[str]:
        return [f"{v}[{level}]" for v, lv in zip(self.predictors, self.levels) for level in lv[1:]]


class DemographicModel:
    """A respondent model: per question, a logit of the survey answer on persona demographics.

    Pass it as ``backend`` to :func:`personacal.simulate.simulate`; it answers the questions
    in :attr:`question_ids` (their Question objects: :attr:`questions`) and refuses any other.

    Parameters
    ----------
    questions
        Ids (or Questions) to fit; default all that :meth:`question_map` lists: the 17 GSS
        spending items of the ``subpop-gss2022`` bank, GSS ``natcrime``, GSS party ID
        (``gss-partyid``) and ideology (``gss-polviews``), and ANES 2012 party ID (``anes-pid7``).
    predictors
        Per survey (``"GSS"``, ``"ANES"``), the demographic variables (shared category names).
        Default: GSS sex, age, race3, education3, employment3; ANES age, race_eth4, region
        (Census region) -- what personacal's Meta personas carry. The GSS also offers
        education5, ANES education4; personas then need a column at least that fine.
    kind
        ``"multinomial"`` (MNLogit; default) or ``"ordinal"`` (proportional-odds OrderedModel;
        every mapped question is on an ordered scale).
    holdout
        Share of each survey's respondents held out to score the model against the
        marginal-only model (0 skips the check). The model that answers is then refitted on
        every respondent.
    level
        Confidence level of the held-out log-loss difference's interval.
    random_state
        Seeds the held-out split.
    """

    def __init__(
        self,
        questions: Sequence[str | Question] | None = None,
        *,
        predictors: Mapping[str, Sequence[str]] | None = None,
        kind: str = "multinomial",
        holdout: float = 0.2,
        level: float = 0.95,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        check_param(_FUNC, "kind", kind, Options(KINDS))
        check_param(_FUNC, "holdout", holdout, Interval("real", 0, 1, closed="left"))
        check_param(_FUNC, "level", level, Interval("real", 0, 1, closed="neither"))
        self.kind, self.holdout_share, self.level = kind, float(holdout), float(level)
        self.predictors = _checked_predictors(predictors)
        ids = _checked_questions(questions)
        rng = check_random_state(random_state, func=_FUNC)
        tables: dict[tuple, pd.DataFrame] = {}
        fits: dict[str, QuestionFit] = {}
        for qid in tqdm(ids, desc="fitting demographic models", disable=not progress):
            m = question_mappings()[qid]
            key = (m.survey, m.years)
            if key not in tables:
                tables[key] = survey_table(m.survey, m.years)
            fits[qid] = _fit_question(m, tables[key], self.predictors[m.survey], kind, self.holdout_share,
                                      self.level, rng)
        self.fits: Mapping[str, QuestionFit] = fits
        surveys = sorted({(f.mapping.survey, f.mapping.years) for f in fits.values()})
        data = ", ".join(f"{s} {'+'.join(map(str, y))}" for s, y in surveys)
        self.model = f"demographic model ({kind} logit; {data})"
        bad = [q for q, f in fits.items() if not f.fit.converged]
        if bad:
            warnings.warn(f"{_FUNC}: the {kind} logit of {bad} did not converge; see summary()",
                          ConvergenceWarning, stacklevel=2)

    # -- what it knows -------------------------------------------------------
    @property
    def question_ids(self) -> tuple[str, ...]:
        return tuple(self.fits)

    @property
    def questions(self) -> tuple[Question, ...]:
        """The fitted questions, as the banks ask them (pass these to simulate)."""
        return tuple(f.question for f in self.fits.values())

    @property
    def converged(self) -> bool:
        return all(f.fit.converged for f in self.fits.values())

    @staticmethod
    def question_map() -> pd.DataFrame:
        """Every question a DemographicModel can fit: bank, survey variable and each option's survey label."""
        return question_map_frame()

    # -- answering -----------------------------------------------------------
    def predict_distributions(self, personas: pd.DataFrame, question: Question) -> np.ndarray:
        """Answer probabilities of every persona, shape (n_personas, question.n_options).

        Columns follow ``question.options``; refusal options get 0 (survey non-response is
        left out of the fit).
        """
        f = self._fit_for(question)
        covariates = persona_covariates(personas, f.predictors, func="simulate")
        probs = predict_proba(f.fit, f.design(covariates))
        out = np.zeros((len(personas), question.n_options))
        for j, label in enumerate(f.outcome_labels):
            option = f.mapping.options[f.mapping.survey_labels.index(label)]
            out[:, question.options.index(option)] = probs[:, j]
        return out

    def describe_personas(self, personas: pd.DataFrame, question_ids: Sequence[str]) -> list[str]:
        """Per persona, the attribute values the models of ``question_ids`` use (in the survey's labels)."""
        used = list(dict.fromkeys(v for q in question_ids for v in self.fits[q].predictors))
        covariates = persona_covariates(personas, used, func="simulate").astype(str)
        return ["\n".join(f"- {v}: {row[v]}" for v in used) for row in covariates.to_dict("records")]

    def _fit_for(self, question: Question) -> QuestionFit:
        f = self.fits.get(question.id)
        if f is None:
            raise BackendCapabilityError(
                f"the demographic model has no model of question {question.id!r}; it answers only "
                f"{list(self.fits)} (see DemographicModel.question_map()); use an LLM backend for the others"
            )
        substantive = {o for o, r in zip(question.options, question.is_refusal) if not r}
        if substantive != set(f.mapping.options):
            raise MismatchError(
                f"question {question.id!r} offers the substantive options {sorted(substantive)}, but the demographic "
                f"model was fitted on {list(f.mapping.options)}; pass the bank's question (DemographicModel.questions)"
            )
        return f

    # -- reporting -----------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Fit diagnostics, one row per question (see :meth:`summary`)."""
        rows = []
        for qid, f in self.fits.items():
            h = f.holdout
            rows.append({
                "question_id": qid, "survey": f.mapping.survey, "years": "|".join(map(str, f.mapping.years)),
                "survey_variable": f.mapping.survey_variable, "kind": f.fit.kind, "n": f.fit.n,
                "n_dropped": f.n_dropped, "n_outcomes": f.fit.n_outcomes, "llf": f.fit.llf, "llnull": f.fit.llnull,
                "lr_stat": f.fit.lr_stat, "lr_df": f.fit.df_model, "lr_pvalue": f.fit.lr_pvalue,
                "pseudo_r2": f.fit.pseudo_r2, "converged": f.fit.converged, "n_iter": f.fit.n_iter,
                "holdout_n": h.n if h else 0,
                "logloss_model": h.logloss_model if h else np.nan,
                "logloss_marginal": h.logloss_marginal if h else np.nan,
                "logloss_diff": h.diff if h else np.nan,
                "logloss_diff_ci_low": h.diff_ci_low if h else np.nan,
                "logloss_diff_ci_high": h.diff_ci_high if h else np.nan,
            })
        return pd.DataFrame(rows)

    def coefficients(self) -> pd.DataFrame:
        """Tidy coefficients: question_id, equation (outcome vs the first, or ``"thresholds"``), term, coef, std_err."""
        frames = []
        for qid, f in self.fits.items():
            params, bse = np.asarray(f.fit.results.params), np.asarray(f.fit.results.bse)
            terms = f.term_names()
            if f.fit.kind == "multinomial":
                for j in range(params.shape[1]):
                    frames.append(pd.DataFrame({
                        "question_id": qid, "equation": f"{f.outcome_labels[j + 1]} vs {f.outcome_labels[0]}",
                        "term": ["Intercept", *terms], "coef": params[:, j], "std_err": bse[:, j]}))
            else:
                cuts = [f"cut {a} | {b}" for a, b in zip(f.outcome_labels[:-1], f.outcome_labels[1:])]
                frames.append(pd.DataFrame({
                    "question_id": qid, "equation": ["slopes"] * len(terms) + ["thresholds"] * len(cuts),
                    "term": terms + cuts, "coef": params, "std_err": bse}))
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> Summary:
        table = self.to_frame().set_index("question_id")
        facts = {
            "model": self.model,
            "questions": len(self.fits),
            "predictors": "; ".join(f"{s}: {', '.join(v)}" for s, v in self.predictors.items()),
            "all converged": self.converged,
            "held-out share": self.holdout_share,
            "median McFadden pseudo-R²": float(table["pseudo_r2"].median()),
        }
        if self.holdout_share > 0:
            better = int((table["logloss_diff_ci_high"] < 0).sum())
            facts[f"questions where demographics beat the marginal shares ({self.level:.0%} CI < 0)"] = better
        shown = table[["survey", "n", "n_dropped", "pseudo_r2", "llf", "llnull", "lr_stat", "lr_df", "lr_pvalue",
                       "converged", "logloss_model", "logloss_marginal", "logloss_diff", "logloss_diff_ci_low",
                       "logloss_diff_ci_high"]]
        notes = [
            "Fitted unweighted: the shipped GSS 2018 and ANES extracts carry no survey weights.",
            "Respondents with a missing predictor or answer (non-response, split-ballot items not asked, "
            "'other party') are dropped (n_dropped); refusal options get probability 0.",
            "Held-out log-loss (nats per respondent) comes from a fit on the other respondents; "
            "logloss_diff = model - marginal-only, with a paired t interval. The answering model is fitted on all.",
        ]
        return Summary("personacal demographic respondent model", facts, {"Fit per question": shown}, notes)

    def __repr__(self) -> str:
        return one_line_repr(self, questions=len(self.fits), kind=self.kind, converged=self.converged)


# -- fitting one question ---------------------------------------------------------
def _fit_question(m: QuestionMapping, table: pd.DataFrame, predictors: tuple[str, ...], kind: str,
                  holdout: float, level: float, rng: np.random.Generator) -> QuestionFit:
    frame = table[[*predictors, m.survey_column]].dropna()
    n_dropped = len(table) - len(frame)
    outcome_labels = tuple(c for c in table[m.survey_column].cat.categories if c in m.survey_labels)
    y = pd.Categorical(frame[m.survey_column], categories=list(outcome_labels)).codes.astype(np.int64)
    levels = []
    for v in predictors:
        counts = frame[v].value_counts()
        empty = [str(c) for c in frame[v].cat.categories if counts.get(c, 0) == 0]
        if empty:
            raise DataError(
                f"{m.survey} has no respondent with {v} = {empty} among those who answered {m.question_id!r}; "
                f"fit the model with a coarser predictor than `{v}`"
            )
        levels.append(tuple(str(c) for c in frame[v].cat.categories))
    codes = [frame[v].cat.codes.to_numpy() for v in predictors]
    X = design_matrix(codes, [len(lv) for lv in levels])
    k = len(outcome_labels)
    scores = None
    if holdout > 0:
        test = np.zeros(len(y), dtype=bool)
        test[rng.permutation(len(y))[: int(round(holdout * len(y)))]] = True
        train_counts = np.bincount(y[~test], minlength=k)
        if (train_counts == 0).any():
            raise DataError(f"the training part of {m.question_id!r} has no respondent answering "
                            f"{[outcome_labels[i] for i in np.flatnonzero(train_counts == 0)]}; lower `holdout`")
        train_fit = fit_answer_model(y[~test], X[~test], k, kind)
        scores = holdout_scores(train_fit, X[test], y[test], train_counts, level)
    fit = fit_answer_model(y, X, k, kind)
    logger.info("%s: %s logit on %d %s respondents, pseudo-R2 %.3f", m.question_id, kind, fit.n, m.survey,
                fit.pseudo_r2)
    return QuestionFit(mapping=m, question=mapped_question(m.question_id), predictors=predictors,
                       levels=tuple(levels), outcome_labels=outcome_labels, fit=fit, n_dropped=n_dropped,
                       holdout=scores)


def _checked_predictors(predictors: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    if predictors is None:
        return dict(DEFAULT_PREDICTORS)
    if not isinstance(predictors, Mapping):
        raise InputError(f"`predictors` of {_FUNC} must be a dict survey -> variables; got {type(predictors).__name__}")
    out = dict(DEFAULT_PREDICTORS)
    for survey, variables in predictors.items():
        if survey not in SURVEY_PREDICTORS:
            raise InputError(
                f"`predictors` of {_FUNC} must name surveys among {list(SURVEY_PREDICTORS)}; got {survey!r}")
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        unknown = [v for v in variables if v not in SURVEY_PREDICTORS[survey]]
        if unknown or not variables or len(set(variables)) != len(variables):
            raise InputError(
                f"`predictors` of {_FUNC} for {survey} must be distinct variables among "
                f"{list(SURVEY_PREDICTORS[survey])}, at least one; got {list(variables)}"
            )
        out[survey] = variables
    return out


def _checked_questions(questions: Sequence[str | Question] | None) -> list[str]:
    known = list(question_mappings())
    if questions is None:
        return known
    if isinstance(questions, (str, Question)):
        questions = [questions]
    ids = [q.id if isinstance(q, Question) else q for q in questions]
    unknown = [q for q in ids if q not in known]
    if unknown or not ids:
        raise InputError(
            f"`questions` of {_FUNC} must be ids it can fit ({known}); got {unknown or 'an empty list'}"
        )
    return list(dict.fromkeys(ids))
