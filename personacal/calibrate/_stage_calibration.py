"""``calibrate_within``: GREG inside each first-stage cluster to that cluster's own totals.

R survey's ``calibrate(design, formula, population, stage=1)`` on a two-stage
design, where ``population`` is a list with one total vector per first-stage
cluster (``tests/caleg.R``: each school district's api99 total). Within cluster
c the weight that counts is the conditional one, wᵢ / swᵢ, swᵢ the inverse
sampling fraction of the first stage, and g solves the linear (chi-square)
calibration to T_c in closed form. The standard errors take the calibration out
of the second-stage (within-cluster) variance only, as R's ``svyrecvar`` does
with a stage-1 calibration: the first-stage variance of the cluster totals is
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from .._validation import InstanceOf, check_param
from ..errors import InputError, SurveyDesignError
from ._auxiliary import calibration_matrix
from ._checks import finish
from ._design_steps import DesignStep
from ._greg import calibrate_within_clusters
from ._ipf_kernels import relative_errors
from ._margins import Margins
from ._results import MarginCheck, WeightingResult
from ._survey_design import SurveyDesign
from ._unit_calibration import CLOSED_FORM_TOL, _variance

__all__ = ["calibrate_within"]

FUNC = "calibrate_within"


def calibrate_within(design: SurveyDesign, margins: Mapping, *, variance=None, tol: float = 1e-10,
                     on_nonconvergence: str = "raise") -> WeightingResult:
    """Calibrate within each first-stage cluster of a two-stage design (R's ``calibrate(..., stage=1)``).

    Parameters
    ----------
    design
        A :class:`SurveyDesign` with two stages of clusters and the first stage's
        ``fpc`` (it gives each cluster's sampling fraction, whose inverse turns
        the weights into within-cluster weights).
    margins
        ``{first-stage cluster label: Margins}``: each cluster's own population
        totals, every one with the same categories and numeric columns (R's list
        of total vectors). Give ``population=`` in each for R's intercept.
    variance
        σ²ᵢ per unit (a column name or an array), as :func:`calibrate`.
    tol
        Largest allowed relative error of any cluster's totals (the solution is
        closed-form; a larger error means totals outside the span of the
        auxiliaries).

    Returns
    -------
    WeightingResult
        ``.design`` is the calibrated design; its linearised SEs carry the
        within-cluster calibration. ``to_frame()`` lists every cluster's totals
        (margin ``"<cluster column>=<label>: <auxiliary>"``).

    Linear calibration only, as the closed form R uses; replicate weights cannot
    be made from the result (R's replicate designs have no ``stage=`` either).
    """
    check_param(FUNC, "design", design, InstanceOf(SurveyDesign, name="a SurveyDesign"))
    check_param(FUNC, "margins", margins, InstanceOf(Mapping, name="a dict {cluster label: Margins}"))
    column, codes, label_of = _first_stage_clusters(design)
    if any(step.stage_projections for step in design._steps):
        raise SurveyDesignError(f"{FUNC}: the design is already calibrated within its clusters; calibrate once")
    by_label = _margins_by_label(margins, set(label_of.values()), column)
    frame, d = design.data, design._weights.copy()
    sigma2 = _variance(variance, frame, FUNC)
    first = next(iter(by_label.values()))
    aux = calibration_matrix(frame, first, d, func=FUNC, coded=False)
    rows_of = pd.Series(np.arange(len(codes))).groupby(codes).indices  # {code: row positions}, one pass
    totals = {}
    for code, label in label_of.items():
        rows = rows_of[code]
        own = calibration_matrix(frame.iloc[rows], by_label[label], d[rows], func=FUNC, coded=False)
        if own.names != aux.names:
            raise InputError(
                f"margins of {column}={label} give the auxiliaries {own.names}, but those of the first cluster give "
                f"{aux.names}; every cluster needs the same variables, categories and numeric columns")
        totals[code] = own.totals
    stage_weight = _stage_weight(design, column)
    g, blocks = calibrate_within_clusters(aux.x, d, stage_weight, codes, totals, variance=sigma2)
    w = d * g
    conditional = d / stage_weight
    names, target, initial, achieved = [], [], [], []
    for code, label in label_of.items():
        rows = rows_of[code]
        names += [f"{column}={label}: {name}" for name in aux.names]
        target.append(totals[code])
        initial.append(aux.x[rows].T @ conditional[rows])
        achieved.append(aux.x[rows].T @ (conditional[rows] * g[rows]))
    target, initial, achieved = (np.concatenate(v) for v in (target, initial, achieved))
    errors = relative_errors(achieved, target, float(np.abs(target).max(initial=1.0)))
    error = float(errors.max(initial=0.0))
    label = "calibrate within stage-1 clusters (linear)"
    result = WeightingResult(
        weights=pd.Series(w, index=frame.index, name="weight"),
        design_weights=pd.Series(d, index=frame.index, name="design_weight"),
        converged=error <= max(tol, CLOSED_FORM_TOL), n_iter=1, history=np.array([error]), max_margin_error=error,
        method=label, tol=tol, margins=None, margin_check=MarginCheck(None, [], numeric=(names, target, initial,
                                                                                        achieved)),
        notes=(f"totals per first-stage cluster of {column!r} ({len(label_of)} clusters), on the within-cluster "
               "weights w / (first-stage fpc weight)",),
    )
    step = DesignStep(label, None, _no_replicates, stage_projections={1: blocks})
    result = replace(result, design=design.with_step(w, step))
    return finish(result, on_nonconvergence,
                  hint="The totals of some cluster lie outside the span of its auxiliaries: check those clusters' "
                       "margins against their rows.")


def _first_stage_clusters(design: SurveyDesign) -> tuple[str, np.ndarray, dict]:
    """(cluster column, the design's stage-1 cluster code per row, {code: label})."""
    columns = design._spec["clusters"]
    if design.stages < 2 or not columns:
        raise SurveyDesignError(f"{FUNC} needs a two-stage design (clusters=[first stage, second stage]); this one "
                                f"has {design.stages} stage(s). For one calibration over the whole sample use calibrate")
    column, codes = columns[0], design._clusters[:, 0]
    labels = design.data[column].to_numpy()
    first_row = pd.Series(np.arange(len(codes))).groupby(codes).first()
    label_of = {int(code): _python_scalar(labels[row]) for code, row in first_row.items()}
    if len(set(label_of.values())) < len(label_of):
        raise SurveyDesignError(f"first-stage cluster labels of {column!r} repeat across strata (nest=True); give "
                                f"{FUNC} a design whose cluster column holds one label per cluster")
    return column, codes, label_of


def _python_scalar(value):
    """A NumPy scalar as its Python value, so that messages read ``dnum=132``, not ``np.int64(132)``."""
    return value.item() if isinstance(value, np.generic) else value


def _margins_by_label(margins: Mapping, labels: set, column: str) -> dict:
    """Each cluster's Margins, keyed by the design's labels (matched as strings when types differ)."""
    as_text = {str(k): k for k in labels}
    out, unknown = {}, []
    for key, value in margins.items():
        label = key if key in labels else as_text.get(str(key))
        if label is None:
            unknown.append(key)
            continue
        out[label] = value if isinstance(value, Margins) else Margins(value)
    if unknown:
        raise InputError(f"margins of {FUNC} name cluster(s) {unknown[:8]} that are not first-stage clusters of "
                         f"{column!r} in the design")
    missing = [k for k in labels if k not in out]
    if missing:
        raise InputError(f"margins of {FUNC} give no totals for cluster(s) {sorted(missing, key=str)[:8]} of "
                         f"{column!r}; every sampled first-stage cluster needs its own totals")
    return out


def _stage_weight(design: SurveyDesign, column: str) -> np.ndarray:
    """The first stage's inverse sampling fraction per row: it turns w into the within-cluster weight."""
    popsize = design._popsize
    if popsize is None or not np.isfinite(popsize[:, 0]).all():
        raise SurveyDesignError(f"{FUNC} needs the first stage's fpc (population number of clusters of {column!r}): "
                                "the within-cluster weight is w divided by the inverse first-stage sampling fraction")
    return popsize[:, 0] / design._sampsize[:, 0]


def _no_replicates(weights: np.ndarray):
    raise SurveyDesignError(f"replicate weights cannot redo {FUNC} (R's replicate designs have no calibrate(stage=) "
                            "either); make the replicates before calibrating, or use the linearised SEs")
