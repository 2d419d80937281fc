"""Fit one answer model with statsmodels and score it on held-out respondents (arrays in, results out).

``kind="multinomial"``: :class:`statsmodels.discrete.discrete_model.MNLogit` with an intercept
(Newton's method, analytic Hessian). ``kind="ordinal"``: the proportional-odds
:class:`statsmodels.miscmodels.ordinal_model.OrderedModel` (logit link, BFGS), for answers on an
ordered scale; it has fewer parameters and is several times slower to fit.
The design is treatment coding with each predictor's first category as reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["KINDS", "AnswerFit", "Holdout", "design_matrix", "fit_answer_model", "predict_proba", "holdout_scores"]

KINDS = ("multinomial", "ordinal")
_MAX_ITER = {"multinomial": 100, "ordinal": 2000}


def design_matrix(codes: Sequence[np.ndarray], n_levels: Sequence[int]) -> np.ndarray:
    """Treatment-coded dummies (first level = reference), no intercept: shape (n, sum(n_levels - 1))."""
    n = len(codes[0]) if len(codes) else 0
    blocks = []
    for c, k in zip(codes, n_levels):
        c = np.asarray(c)
        block = np.zeros((n, k - 1))
        rows = np.flatnonzero(c > 0)
        block[rows, c[rows] - 1] = 1.0
        blocks.append(block)
    return np.hstack(blocks) if blocks else np.zeros((n, 0))


@dataclass(frozen=True)
class AnswerFit:
    """One fitted answer model: the statsmodels results and the facts a summary shows."""

    kind: str
    results: object = field(repr=False)
    n: int
    n_outcomes: int
    llf: float
    llnull: float
    df_model: int
    converged: bool
    n_iter: int

    @property
    def lr_stat(self) -> float:
        """Likelihood-ratio statistic against the intercept-only (marginal) model."""
        return 2.0 * (self.llf - self.llnull)

    @property
    def lr_pvalue(self) -> float:
        return float(stats.chi2.sf(self.lr_stat, self.df_model))

    @property
    def pseudo_r2(self) -> float:
        """McFadden's pseudo-R²: 1 - llf / llnull."""
        return 1.0 - self.llf / self.llnull


def _add_constant(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X])


def fit_answer_model(y: np.ndarray, X: np.ndarray, n_outcomes: int, kind: str) -> AnswerFit:
    """Fit ``y`` (outcome codes 0..n_outcomes-1, every code present) on the design ``X``."""
    # statsmodels is imported here, not at module level: `import personacal.simulate` stays fast
    from statsmodels.discrete.discrete_model import MNLogit
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as StatsmodelsConvergenceWarning
    from statsmodels.tools.sm_exceptions import HessianInversionWarning

    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_outcomes)
    with warnings.catch_warnings():
        # non-convergence is reported through AnswerFit.converged and personacal's own warning
        warnings.simplefilter("ignore", StatsmodelsConvergenceWarning)
        warnings.simplefilter("ignore", HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "multinomial":
            results = MNLogit(y, _add_constant(X)).fit(method="newton", maxiter=_MAX_ITER[kind], disp=False)
            df_model = X.shape[1] * (n_outcomes - 1)
        else:
            results = OrderedModel(y, X, distr="logit").fit(method="bfgs", maxiter=_MAX_ITER[kind], disp=False)
            df_model = X.shape[1]
    shares = counts / counts.sum()
    llnull = float(np.sum(counts[counts > 0] * np.log(shares[counts > 0])))
    retvals = results.mle_retvals
    return AnswerFit(
        kind=kind, results=results, n=len(y), n_outcomes=n_outcomes, llf=float(results.llf), llnull=llnull,
        df_model=int(df_model), converged=bool(retvals.get("converged", False)),
        n_iter=int(retvals.get("iterations", -1)),
    )


def predict_proba(fit: AnswerFit, X: np.ndarray) -> np.ndarray:
    """Answer probabilities, shape (n, n_outcomes); rows sum to 1."""
    exog = _add_constant(X) if fit.kind == "multinomial" else X
    probs = np.asarray(fit.results.predict(exog), dtype=float).reshape(len(X), fit.n_outcomes)
    return probs / probs.sum(axis=1, keepdims=True)  # removes float round-off only


@dataclass(frozen=True)
class Holdout:
    """Mean log-loss (nats per respondent) of the model and of the marginal-only model on held-out rows."""

    n: int
    logloss_model: float
    logloss_marginal: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float


def holdout_scores(fit: AnswerFit, X_test: np.ndarray, y_test: np.ndarray, train_counts: np.ndarray,
                   level: float) -> Holdout:
    """Model vs marginal-only log-loss on the same held-out respondents, with a paired t interval.

    The marginal-only model predicts the training answer shares for everybody. ``diff`` =
    model - marginal (negative: the demographics help); its interval is the t interval of the
    per-respondent differences, a paired comparison.
    """
    y_test = np.asarray(y_test, dtype=np.int64)
    rows = np.arange(len(y_test))
    with np.errstate(divide="ignore"):
        loss_model = -np.log(predict_proba(fit, X_test)[rows, y_test])
        loss_marginal = -np.log((train_counts / train_counts.sum())[y_test])
    d = loss_model - loss_marginal
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(confidence_level=level) if len(d) > 1 else None
    return Holdout(
        n=len(y_test), logloss_model=float(loss_model.mean()), logloss_marginal=float(loss_marginal.mean()),
        diff=float(d.mean()), diff_ci_low=float(ci.low) if ci is not None else float("nan"),
        diff_ci_high=float(ci.high) if ci is not None else float("nan"),
    )
