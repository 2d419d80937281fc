"""Numeric kernels of simulate(): option orders, letter probabilities, reply counts.

Pure functions on NumPy arrays; labels and pandas live in _simulate.py.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MISSING_RULES",
    "option_order",
    "to_original_order",
    "letter_probabilities",
    "reply_counts",
]

#: How an option letter absent from the returned top-k log-probabilities is scored.
MISSING_RULES = ("opinionqa", "zero")


def option_order(rng: np.random.Generator, is_refusal: np.ndarray, *, shuffle: bool) -> np.ndarray:
    """Original option indices in the order shown.

    Substantive options are permuted; refusal options stay last, in their own
    order, as in the questionnaires. The permutation is drawn even when
    ``shuffle`` is False so that later draws from ``rng`` (the sampling seed)
    do not depend on ``shuffle``.
    """
    is_refusal = np.asarray(is_refusal, dtype=bool)
    substantive = np.flatnonzero(~is_refusal)
    permuted = rng.permutation(substantive)
    return np.concatenate([permuted if shuffle else substantive, np.flatnonzero(is_refusal)])


def to_original_order(values_shown: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Reorder values given per shown letter into the question's option order."""
    values_shown = np.asarray(values_shown)
    out = np.empty_like(values_shown)
    out[np.asarray(order)] = values_shown
    return out


def letter_probabilities(
    option_logprobs: np.ndarray,
    *,
    unseen_mass: float | None = None,
    min_reported_logprob: float | None = None,
    missing: str = "opinionqa",
) -> tuple[np.ndarray, float, np.ndarray]:
    """OpinionQA's first-token rule: renormalised option probabilities.

    Parameters
    ----------
    option_logprobs
        Log-probability of each option letter (bare and space-prefixed tokens
        combined), ``-inf`` where the letter was not among the tokens returned.
    unseen_mass
        Probability mass outside the returned top-k tokens (``1 - sum(top-k)``).
    min_reported_logprob
        The smallest log-probability among all returned top-k tokens.
    missing
        ``"opinionqa"`` (Santurkar et al. 2023, ``helpers.get_probabilities``):
        each missing letter gets ``min(p_min, unseen_mass / n_missing)`` -- it
        can be no likelier than the least likely token that was returned, and
        the missing letters share at most the mass outside the top-k. When
        ``min_reported_logprob`` is not known, ``p_min`` is bounded by the
        smallest returned option letter (letters that were returned are in the
        top-k). ``"zero"``: missing letters get probability 0.

    Returns
    -------
    probabilities, mass, missing_letters
        Probabilities renormalised to sum to 1 (NaN everywhere when no option
        has positive mass); the unrenormalised probability of the returned
        letters (a diagnostic: low mass means the model mostly wanted to say
        something else); which letters were not returned (and so scored by
        the rule).
    """
    if missing not in MISSING_RULES:
        raise ValueError(f"missing must be one of {MISSING_RULES}; got {missing!r}")
    lp = np.asarray(option_logprobs, dtype=float)
    if np.isnan(lp).any() or (lp > 1e-6).any():
        raise ValueError("option log-probabilities must be <= 0 or -inf, without NaN")
    present = np.isfinite(lp)
    unnorm = np.exp(np.where(present, lp, -np.inf))
    mass = float(unnorm.sum())
    n_missing = int((~present).sum())
    if n_missing and missing == "opinionqa":
        if unseen_mass is None:
            raise ValueError("the 'opinionqa' missing-option rule needs the mass outside the top-k (unseen_mass)")
        if min_reported_logprob is not None:
            p_min = float(np.exp(min_reported_logprob))
        else:
            p_min = float(unnorm[present].min()) if present.any() else 1.0
        fill = min(p_min, max(0.0, float(unseen_mass)) / n_missing)
        unnorm = np.where(present, unnorm, fill)
    total = unnorm.sum()
    probs = unnorm / total if total > 0 else np.full(lp.shape, np.nan)
    return probs, mass, ~present


def reply_counts(choices: np.ndarray, n_options: int) -> tuple[np.ndarray, int]:
    """Counts per option (shown order) of parsed replies, and the number unparseable (``-1``)."""
    choices = np.asarray(choices, dtype=int)
    parsed = choices[choices >= 0]
    return np.bincount(parsed, minlength=n_options), int((choices < 0).sum())
