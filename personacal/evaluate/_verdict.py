"""The before/after verdict: did calibration improve a number, made it worse, or can nobody tell?

A change is called an improvement only when its interval (from the paired bootstrap of
:mod:`._paired`) excludes 0 on the better side; a worsening when it excludes 0 on the worse
side; otherwise there is no detectable change. Without an interval (no bootstrap, or
aggregated answers that cannot be resampled) nothing is called improved or worse.

``Comparison.changes()["improved"]`` holds the tri-state ``True`` / ``False`` /
``"no detectable change"`` (:data:`NO_DETECTABLE_CHANGE`); ``verdict`` holds the same as a
:class:`Verdict`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal

import numpy as np

__all__ = ["Verdict", "NO_DETECTABLE_CHANGE", "Improved", "BETTER", "decide", "improved_value"]


class Verdict(str, Enum):
    """The verdict on one statistic's change (a ``str``, so it compares equal to its value)."""

    IMPROVED = "improved"
    WORSE = "worse"
    NO_DETECTABLE_CHANGE = "no detectable change"

    def __str__(self) -> str:
        return self.value


#: The third value of ``improved``: the interval of the change includes 0 (or there is no interval).
NO_DETECTABLE_CHANGE: Final = Verdict.NO_DETECTABLE_CHANGE.value
#: The type of ``Comparison.changes()["improved"]`` values.
Improved = bool | Literal["no detectable change"]

#: How to tell whether the calibrated number is better than the raw one.
BETTER = {"mae": "lower", "rmse": "lower", "mean_wd": "lower", "mean_signed_error": "closer to 0",
          "winner_accuracy": "higher", "alignment": "higher"}
#: Statistics judged on their magnitude: the verdict reads |calibrated| - |raw|.
CLOSER_TO_ZERO = tuple(s for s, rule in BETTER.items() if rule == "closer to 0")


def decide(rule: str, low: float, high: float) -> Verdict:
    """The verdict from the interval ``(low, high)`` of the tested change.

    ``rule`` is "lower" or "closer to 0" (the tested change is calibrated - raw, or
    |calibrated| - |raw|, and must lie below 0) or "higher" (it must lie above 0).
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return Verdict.NO_DETECTABLE_CHANGE
    below, above = high < 0, low > 0
    if rule in ("lower", "closer to 0"):
        return Verdict.IMPROVED if below else Verdict.WORSE if above else Verdict.NO_DETECTABLE_CHANGE
    if rule == "higher":
        return Verdict.IMPROVED if above else Verdict.WORSE if below else Verdict.NO_DETECTABLE_CHANGE
    return Verdict.NO_DETECTABLE_CHANGE


def improved_value(verdict: Verdict) -> Improved:
    """``True`` / ``False`` / ``"no detectable change"``."""
    if verdict is Verdict.IMPROVED:
        return True
    if verdict is Verdict.WORSE:
        return False
    return NO_DETECTABLE_CHANGE
