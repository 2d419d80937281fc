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
    """Kish's design effect from unequal weighting, n Σw² / (Σw)² = 1 + CV², over the units that
    carry weight.

    n counts the units with w ≠ 0 (for the non-negative weights of every method but unbounded
    linear calibration: w > 0), and the CV is theirs. A row with weight 0 (a unit a calibration
    dropped, e.g. from a cell with target 0) is not part of the weighted sample: counting it
    would raise the design effect with no loss of precision. So 1 / design_effect is the ESS
    per weighted unit, ``weight_diagnostics()["ess_ratio"]``.
    """
    w = np.asarray(weights, dtype=float)
    ess = kish_ess(w)
    return np.count_nonzero(w) / ess if ess > 0 else float("inf")


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
    ``ess_ratio`` (ESS per unit that carries weight, = 1 / design_effect), ``design_effect``
    (Kish, 1 + CV², over the ``rows - rows_zero`` units that carry weight: see
    :func:`design_effect`), ``weight_ratio`` (max/min positive weight), ``min_weight``
    (smallest positive weight) and ``max_weight``.
    """
    w = np.asarray(weights, dtype=float)
    positive = w[w > 0]
    ess = kish_ess(w)
    weighted = np.count_nonzero(w)
    return {
        "rows": int(len(w)),
        "rows_zero": int(len(w) - weighted),
        "sum": float(w.sum()),
        "ess": ess,
        "ess_ratio": ess / weighted if weighted else float("nan"),
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
    "ess_ratio": "ESS / rows with weight ≠ 0",
    "design_effect": "design effect (1 + CV², rows with weight ≠ 0)",
    "weight_ratio": "max/min weight ratio",
    "min_weight": "min weight",
    "max_weight": "max weight",
}
