"""Normalised 1-Wasserstein distance between answer distributions on an ordinal scale.

This is the per-question distance of OpinionQA (Santurkar et al., 2023, "Whose
Opinions Do Language Models Reflect?", ICML; code github.com/tatsu-lab/opinions_qa).
Their ``process_results.ipynb`` computes, for each question,

    WD = wasserstein_distance(ordinal, ordinal, D_M, D_H) / get_max_wd(ordinal)

where ``ordinal`` are the answer options' ordinal positions (refusal excluded),
``D_M`` / ``D_H`` are the model and human distributions renormalised over the
non-refusal options, and ``get_max_wd`` (``helpers.py``) is the distance between
point masses on the largest and the smallest position, i.e. ``max(o) - min(o)``
(``N - 1`` in the paper when positions are 1..N). Representativeness is then
``1 - mean(WD)`` over questions. Positions may be fractional (OpinionQA puts
"neither" at 1.5 between 1 and 2) and need not be sorted.

Pure numpy/scipy functions; no pandas.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from ..errors import DegenerateScaleError, DistributionError, InputError

__all__ = ["normalized_wasserstein", "normalized_wasserstein_batch", "split_refusal", "position_span"]


def position_span(positions: np.ndarray, *, label: str = "") -> float:
    """``max - min`` of the positions; raises when it is not positive."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 1 or pos.size == 0:
        raise InputError(f"`positions`{label} must be a non-empty 1-D array; got shape {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise InputError(f"`positions`{label} must be finite numbers; got {pos.tolist()}")
    span = float(pos.max() - pos.min())
    if span <= 0:
        raise DegenerateScaleError(
            f"the non-refusal options{label} all sit at position {pos[0]:g}, so max(position) - min(position) "
            "= 0 and the normalised Wasserstein distance is 0/0 (OpinionQA's code gives NaN here). "
            "Give the options distinct ordinal positions or drop this (nominal) question"
        )
    return span


def _check_weights(w: np.ndarray, name: str, label: str) -> None:
    if not np.all(np.isfinite(w)):
        raise DistributionError(f"`{name}`{label} holds NaN or infinite values: {w.tolist()}")
    if np.any(w < 0):
        raise DistributionError(f"`{name}`{label} holds negative probabilities: {w.tolist()}")
    if not w.sum() > 0:
        raise DistributionError(f"`{name}`{label} puts no mass on any non-refusal option; it cannot be renormalised")


def normalized_wasserstein(p, q, positions, *, label: str = "") -> float:
    """1-Wasserstein distance between ``p`` and ``q`` on ``positions``, divided by ``max - min``.

    ``p`` and ``q`` are non-negative weights over the same options (the
    non-refusal options of one question); like OpinionQA (and scipy) they are
    renormalised to sum to 1. The result lies in [0, 1].
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    pos = np.asarray(positions, dtype=float)
    if not (p.shape == q.shape == pos.shape) or p.ndim != 1:
        raise InputError(
            f"`p`, `q` and `positions`{label} must be 1-D arrays of one length; "
            f"got shapes {p.shape}, {q.shape}, {pos.shape}"
        )
    span = position_span(pos, label=label)
    _check_weights(p, "p", label)
    _check_weights(q, "q", label)
    return float(wasserstein_distance(pos, pos, u_weights=p, v_weights=q)) / span


def normalized_wasserstein_batch(P: np.ndarray, Q: np.ndarray, positions) -> np.ndarray:
    """Row-wise :func:`normalized_wasserstein` for many distributions at once (bootstrap replicates).

    ``P`` and ``Q`` have shape ``(..., k)`` and broadcast against each other.
    On a line, W1 is the area between the two CDFs: the sum over consecutive
    sorted positions of ``|CDF_p - CDF_q| * gap``, which is what
    ``scipy.stats.wasserstein_distance`` evaluates one pair at a time. Rows
    with no mass come back NaN instead of raising, so a degenerate bootstrap
    replicate can be counted and dropped by the caller.
    """
    pos = np.asarray(positions, dtype=float)
    span = position_span(pos)
    order = np.argsort(pos, kind="stable")
    gaps = np.diff(pos[order])
    P = np.asarray(P, dtype=float)[..., order]
    Q = np.asarray(Q, dtype=float)[..., order]
    with np.errstate(invalid="ignore", divide="ignore"):
        P = P / P.sum(axis=-1, keepdims=True)
        Q = Q / Q.sum(axis=-1, keepdims=True)
    cdf_gap = np.cumsum(P - Q, axis=-1)[..., :-1]
    return np.abs(cdf_gap) @ gaps / span


def split_refusal(p, is_refusal) -> tuple[np.ndarray, np.ndarray]:
    """Renormalise ``p`` (shape ``(..., k)``) over non-refusal options and return the refusal share.

    As in OpinionQA's ``extract_model_opinions`` / ``extract_human_opinions``:
    ``D = p[ordinal] / sum(p[ordinal])`` and ``R = sum(p[refusal]) / sum(p)``.
    Rows without non-refusal mass give NaN in ``D``.
    """
    p = np.asarray(p, dtype=float)
    refusal = np.asarray(is_refusal, dtype=bool)
    total = p.sum(axis=-1)
    ordinal = p[..., ~refusal]
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = ordinal / ordinal.sum(axis=-1, keepdims=True)
        share = p[..., refusal].sum(axis=-1) / total
    return dist, share
