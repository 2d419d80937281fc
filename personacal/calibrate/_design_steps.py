"""What a weighting step leaves on a survey design: its linearisation record and its replicate recipe.

R survey keeps, on a calibrated design, one record per weighting step (its
``postStrata``) that ``svyrecvar`` uses to take the step out of the influence
values, and on a replicate design it redoes the step on every replicate. A
:class:`DesignStep` holds both:

* ``residual`` — the linearisation record (:class:`~._linearization.Projection`
  for ``calibrate``, ``PostStratification``, ``Raking`` for ``rake``), or None
  for a step that R does not record (``trimWeights``);
* ``reweight`` — a function that redoes the step on replicate weights (n, R),
  so that replicates made *after* the weighting (``with_replicates``) equal
  replicates weighted alongside it;
* ``stage_projections`` — for a calibration inside the clusters of a stage
  (``calibrate_within``), {stage: {cluster code: (rows, Projection)}}: the
  multistage variance takes it out of that stage's within-cluster part only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._linearization import PostStratification, Projection, Raking
from ._replicates import poststratify_replicates, rake_replicates, recalibrate_replicates, trim_replicates

__all__ = ["DesignStep", "calibration_step", "poststratification_step", "raking_step", "trimming_step"]

#: Replicate re-weighting: (n, R) weights -> (re-weighted weights, replicates that did not converge).
Reweight = Callable[[np.ndarray], tuple[np.ndarray, list[int]]]


@dataclass(frozen=True)
class DesignStep:
    """One weighting step of a design: a label, its linearisation record and its replicate recipe."""

    label: str
    residual: Projection | PostStratification | Raking | None
    reweight: Reweight
    stage_projections: dict = field(default_factory=dict)


def calibration_step(label: str, projection: Projection, x: np.ndarray, totals: np.ndarray, *, calfun: str,
                     lower, upper, on_weights: bool, variance, cluster, trim, tol: float,
                     max_iter: int) -> DesignStep:
    """A ``calibrate`` step; replicates are calibrated afresh (with ``trim`` per replicate, as R)."""

    def reweight(weights: np.ndarray):
        return recalibrate_replicates(weights, x, totals, trim=trim, cluster=cluster, bounds_on_weights=on_weights,
                                      calfun=calfun, lower=lower, upper=upper, variance=variance, tol=tol,
                                      max_iter=max_iter)

    return DesignStep(label, projection, reweight)


def raking_step(codes: list[np.ndarray], weights: np.ndarray, targets: list[np.ndarray], *, tol: float,
                max_iter: int) -> DesignStep:
    """A ``rake`` step. R keeps, per margin, the weights right after that margin's post-stratification in
    the last sweep; at convergence they equal the final weights (to ~1e-13 here)."""

    def reweight(replicate_weights: np.ndarray):
        return rake_replicates(replicate_weights, codes, targets, tol=tol, max_iter=max_iter)

    return DesignStep("rake", Raking(tuple(codes), tuple(weights for _ in codes)), reweight)


def poststratification_step(stratum: np.ndarray, old: np.ndarray, new: np.ndarray,
                            population: np.ndarray) -> DesignStep:
    """A ``poststratify`` step: each replicate is scaled to the stratum counts."""

    def reweight(weights: np.ndarray):
        return poststratify_replicates(weights, stratum, population), []

    return DesignStep("poststratify", PostStratification(stratum, old, new), reweight)


def trimming_step(label: str, lower: float, upper: float, *, strict: bool) -> DesignStep:
    """R's ``trimWeights``: no linearisation record (the calibration records stay), each replicate trimmed."""

    def reweight(weights: np.ndarray):
        return trim_replicates(weights, lower, upper, strict=strict), []

    return DesignStep(label, None, reweight)
