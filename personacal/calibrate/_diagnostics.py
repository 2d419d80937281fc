"""Weight diagnostics: pure functions on arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["kish_ess", "design_effect", "weight_ratio", "asmd"]


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
