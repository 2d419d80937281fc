"""Weight diagnostics: pure functions on arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["kish_ess", "design_effect", "weight_ratio", "asmd", "weight_diagnostics", "WEIGHT_DIAGNOSTIC_LABELS"]


def kish_ess(weights: np.ndarray) -> float:
    """Kish's effective sample size, (Σw)² / Σw²."""
    w = np.asarray(weights, dtype=float)
    s2 = float(np.dot(w, w))
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def design_effect(weights: np.ndarray) -> float:
    """Kish's design effect from unequal weighting, n Σw² / (Σw)² = 1 + CV²."""
    w = np.asarray(weights, dtype=float)
    ess = kish_ess(w)
    return len(w) / ess if ess > 0 else float("inf")


def weight_ratio(weights: np.ndarray) -> float:
    """Largest over smallest positive weight."""
    w = np.asarray(weights, dtype=float)
    positive = w[w > 0]
    return float(positive.max() / positive.min()) if len(positive) else float("nan")


def asmd(sample_share: np.ndarray, target_share: np.ndarray) -> np.ndarray:
    """Absolute standardised mean difference of category indicators.

    Standardised by the target's standard deviation sqrt(p(1 − p)), as the
    ``balance`` package does with ``std_type="target"``; NaN where p is 0 or 1.
    """
    p = np.asarray(target_share, dtype=float)
    sd = np.sqrt(p * (1 - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(np.asarray(sample_share, dtype=float) - p) / sd
    return np.where(sd > 0, out, np.nan)


def weight_diagnostics(weights) -> dict[str, float]:
    """The weight facts every result reports, computed in one place.

    Keys: ``rows``, ``rows_zero`` (rows with weight 0), ``sum``, ``ess`` (Kish),
    ``design_effect`` (Kish, 1 + CV²), ``weight_ratio`` (max/min positive weight),
    ``min_weight`` (smallest positive weight) and ``max_weight``.
    """
    w = np.asarray(weights, dtype=float)
    positive = w[w > 0]
    return {
        "rows": int(len(w)),
        "rows_zero": int((w == 0).sum()),
        "sum": float(w.sum()),
        "ess": kish_ess(w),
        "design_effect": design_effect(w),
        "weight_ratio": weight_ratio(w),
        "min_weight": float(positive.min()) if len(positive) else float("nan"),
        "max_weight": float(w.max()) if len(w) else float("nan"),
    }


#: How summaries label the keys of :func:`weight_diagnostics`.
WEIGHT_DIAGNOSTIC_LABELS = {
    "rows": "rows",
    "rows_zero": "rows with weight 0",
    "sum": "sum of weights",
    "ess": "Kish effective sample size",
    "design_effect": "design effect (1 + CV²)",
    "weight_ratio": "max/min weight ratio",
    "min_weight": "min weight",
    "max_weight": "max weight",
}
