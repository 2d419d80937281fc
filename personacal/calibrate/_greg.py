"""Deville–Särndal calibration on a numeric auxiliary matrix, and R survey's weight-trimming rules.

Pure NumPy kernels under the survey-design layer (issue 10). They take the
calibration matrix ``x`` (one row per unit: dummies of categorical margins and
numeric columns alike), the design weights ``d`` and the population totals, and
return g = w/d together with what the linearised variance needs later (the
regression that the residuals are taken from).

Conventions follow R survey 4.1.1 (``calibrate``, ``grake``, ``regcalibrate``,
``trimWeights``; see benchmarks/NOTES_survey_variance.md):

* bounds are on g unless the caller turns bounds on the weights into bounds on
  g with :func:`unit_bounds` (R's ``bounds.const=TRUE``); they may be scalars
  or one pair per unit, and either side may be infinite;
* ``variance`` (R's ``variance=``, the heteroskedasticity σ²ᵢ) makes
  gᵢ = F(xᵢ'η / σ²ᵢ); linear calibration without finite bounds is the closed
  form GREG, as R's ``regcalibrate``;
* ``cluster`` (R's ``aggregate.stage`` / ``aggregate.index``) replaces every
  row of ``x`` and every dᵢ by its cluster mean first, so g is constant
  within a cluster.

The Newton iteration itself is :func:`~._newton_kernel.newton_calibrate`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from scipy.optimize import linprog

from ..errors import ConvergenceError, EmptyCategoryError, InfeasibleBoundsError, InputError, UnknownCategoryError
from ._coded_matrix import CodedMatrix
from ._linearization import Projection
from ._newton_kernel import CALIBRATION_FUNCTIONS, newton_calibrate

__all__ = [
    "CalibrationFit",
    "calibrate_g",
    "calibrate_within_clusters",
    "check_feasible",
    "poststratify_weights",
    "cluster_mean",
    "unit_bounds",
    "trim_g",
    "trim_weights",
]


@dataclass(frozen=True)
class CalibrationFit:
    """Result of :func:`calibrate_g`: w = d · g."""

    g: np.ndarray
    converged: bool
    n_iter: int
    max_error: float
    projection: Projection
    dropped: np.ndarray  # indices of constraints dropped (all-zero column with total 0)
    #: X'(d·g) on every column of x, when the solver measured it (not with ``cluster`` or a dropped column)
    achieved: np.ndarray | None = None


def cluster_mean(values: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Each row replaced by the mean of its cluster (R's ``ave``); ``cluster`` holds integer codes."""
    values = np.asarray(values, dtype=float)
    codes = np.asarray(cluster)
    counts = np.bincount(codes)
    if values.ndim == 1:
        return (np.bincount(codes, weights=values, minlength=len(counts)) / counts)[codes]
    sums = np.stack([np.bincount(codes, weights=col, minlength=len(counts)) for col in values.T], axis=1)
    return (sums / counts[:, None])[codes]


def unit_bounds(lower, upper, d: np.ndarray, *, on_weights: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit bounds on g from scalar or per-unit bounds.

    With ``on_weights`` (R's ``bounds.const=TRUE``) the bounds are on w = d·g
    and are divided by dᵢ where dᵢ > 0, as R does. Otherwise a scalar bound comes
    back as a read-only broadcast view (no copy of n values).
    """
    d = np.asarray(d, dtype=float)
    lo, hi = np.broadcast_arrays(np.asarray(lower, dtype=float), np.asarray(upper, dtype=float))
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise InputError("bounds must not be NaN; use -inf / inf for a side without a bound")
    if (lo > hi).any():
        i = int(np.flatnonzero(np.atleast_1d(lo > hi))[0])
        pair = (np.atleast_1d(lo)[i], np.atleast_1d(hi)[i])
        raise InputError(f"bounds must have lower <= upper; unit {i} has ({pair[0]:g}, {pair[1]:g})")
    lo, hi = np.broadcast_to(lo, d.shape), np.broadcast_to(hi, d.shape)
    if on_weights:
        lo, hi = lo.copy(), hi.copy()
        positive = d > 0
        lo[positive] /= d[positive]
        hi[positive] /= d[positive]
    return lo, hi


def distinct_values(bound: np.ndarray) -> np.ndarray:
    """The one value of a broadcast (zero-stride) bound, else the bound: for checks over every unit."""
    return bound[:1] if bound.ndim == 1 and bound.size and bound.strides == (0,) else bound


def calibrate_g(
    x: np.ndarray,
    d: np.ndarray,
    totals: np.ndarray,
    *,
    calfun: str = "linear",
    lower=-np.inf,
    upper=np.inf,
    variance: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    names=None,
) -> CalibrationFit:
    """g such that Σ dᵢ gᵢ xᵢ = totals, closest to 1 in the distance of ``calfun``.

    Parameters
    ----------
    x
        (n, p) calibration matrix: an array, or a :class:`~._coded_matrix.CodedMatrix`
        (category codes + numeric columns; made dense for ``variance``, ``cluster``
        or a dropped constraint).
    d
        Design weights (n,), >= 0.
    totals
        Population totals (p,).
    calfun
        ``"linear"`` (chi-square distance; the closed-form GREG when both
        bounds are infinite for every unit), ``"raking"`` or ``"logit"``
        (finite bounds L < 1 < U for every unit).
    lower, upper
        Bounds on g: scalars or one value per unit (see :func:`unit_bounds`).
    variance
        σ²ᵢ per unit (n,), or None for 1.
    cluster
        Integer cluster code per unit: calibrate at cluster level.
    names
        Constraint names, for error messages.

    Non-convergence is reported (``converged=False``), not raised: the caller
    owns the policy.
    """
    coded = isinstance(x, CodedMatrix)
    if coded and (variance is not None or cluster is not None):
        x, coded = x.dense(), False
    x = x if coded else np.asarray(x, dtype=float)
    d = np.asarray(d, dtype=float)
    totals = np.asarray(totals, dtype=float)
    if len(x.shape) != 2 or x.shape[0] != d.shape[0] or x.shape[1] != totals.shape[0]:
        raise InputError(f"calibrate_g needs x (n, p), d (n,), totals (p,); got {x.shape}, {d.shape}, {totals.shape}")
    if calfun not in CALIBRATION_FUNCTIONS:
        raise InputError(f"`calfun` of calibrate_g must be one of {sorted(CALIBRATION_FUNCTIONS)}; got {calfun!r}")
    lo, hi = unit_bounds(lower, upper, d)
    sigma2 = None if variance is None else np.asarray(variance, dtype=float)
    if sigma2 is not None and (sigma2.shape != d.shape or not (sigma2 > 0).all()):
        raise InputError("`variance` of calibrate_g must hold one positive value per unit")
    xw, dw = x, d
    if cluster is not None:
        xw, dw = cluster_mean(x, cluster), cluster_mean(d, cluster)
        sigma2 = None if sigma2 is None else cluster_mean(sigma2, cluster)
    zero = np.flatnonzero(totals == 0)
    keep = np.ones(len(totals), dtype=bool)
    keep[zero[(_columns(xw, zero) == 0).all(axis=0)]] = False
    dropped = np.flatnonzero(~keep)
    if len(dropped):  # (a column copy only when a constraint is dropped)
        xw = xw.dense() if coded else xw
        xw, totals = xw[:, keep], totals[keep]
    lo_values, hi_values = distinct_values(lo), distinct_values(hi)
    if calfun == "linear" and np.isinf(lo_values).all() and np.isinf(hi_values).all():
        fit = _closed_form(xw, dw, totals, sigma2, dropped)
        return fit if cluster is None else replace(fit, achieved=None)
    _check_reachable_zeros(xw, totals, calfun, names=None if names is None else [n for n, k in zip(names, keep) if k])
    if calfun == "logit" and not (np.isfinite(lo_values).all() and np.isfinite(hi_values).all() and
                                  (lo_values < 1).all() and (hi_values > 1).all()):
        raise InputError(
            "calfun='logit' needs finite bounds with L < 1 < U for every unit (R: 'Logit calibration requires "
            "finite bounds'); pass e.g. bounds=(0.5, 2.5), or use 'linear' / 'raking' for one-sided bounds"
        )
    # u = x'η/σ² is the Newton problem in (x/σ², d·σ²): the same totals and Jacobian (see the notes).
    unit_variance = sigma2 is None
    g, n_iter, _, error, achieved = newton_calibrate(
        xw if unit_variance else xw / sigma2[:, None], dw if unit_variance else dw * sigma2, totals,
        CALIBRATION_FUNCTIONS[calfun], lo, hi,
        population=float(np.abs(totals).max(initial=1.0)), tol=tol, max_iter=max_iter,
    )
    root = np.sqrt(dw)
    projection = Projection(design=xw, g=g, factor=root, row_scale=root)
    # (x/σ², d·σ²) has the totals of (x, d); cluster means do not
    return CalibrationFit(g, bool(error <= tol), n_iter, float(error), projection, dropped,
                          achieved if cluster is None and not len(dropped) else None)


def _check_reachable_zeros(x, totals, calfun, names) -> None:
    """Raking and logit keep every g > 0: a zero total of a non-negative, non-zero column is out of reach."""
    if calfun == "linear":
        return
    zero = np.flatnonzero(totals == 0)
    columns = _columns(x, zero)
    bad = zero[(columns >= 0).all(axis=0) & (columns > 0).any(axis=0)]
    if len(bad):
        shown = [names[j] if names is not None else f"column {j}" for j in bad[:5]]
        raise InputError(
            f"calfun={calfun!r} keeps every weight positive, but the totals of {shown} are 0 while sample units "
            "have positive values there; drop those units, or use calfun='linear' with bounds (0, U)"
        )


def _columns(x, index) -> np.ndarray:
    """Dense columns ``index`` of an array or a CodedMatrix."""
    return x.columns(index) if isinstance(x, CodedMatrix) else x[:, index]


def check_feasible(x, d, totals, lower, upper, *, names=None, tol: float = 1e-7) -> None:
    """Raise InfeasibleBoundsError when no weights d·g with lower <= g <= upper meet the totals.

    A linear programme (SciPy HiGHS) finds bounded weights whose totals are as
    close as possible to the targets (L1, relative to max(|T|, 1)); any slack
    left proves infeasibility and names the constraints that cannot all hold.
    """
    x = x.dense() if isinstance(x, CodedMatrix) else np.asarray(x, dtype=float)
    d = np.asarray(d, dtype=float)
    totals = np.asarray(totals, dtype=float)
    lo, hi = unit_bounds(lower, upper, d)
    n, p = x.shape
    scale = np.maximum(np.abs(totals), 1.0)
    a_eq = np.hstack([x.T / scale[:, None], np.eye(p), -np.eye(p)])
    # w = d·g; an infinite bound on g stays unbounded (None) for the LP
    w_lo = [lo_ * d_ if np.isfinite(lo_) else None for lo_, d_ in zip(lo, d)]
    w_hi = [hi_ * d_ if np.isfinite(hi_) else None for hi_, d_ in zip(hi, d)]
    bounds = list(zip(w_lo, w_hi)) + [(0, None)] * (2 * p)
    res = linprog(np.concatenate([np.zeros(n), np.ones(2 * p)]), A_eq=a_eq, b_eq=totals / scale, bounds=bounds,
                  method="highs")
    if res.status != 0:  # pragma: no cover - the relaxed problem is always feasible and bounded
        raise RuntimeError(f"feasibility LP failed: {res.message}")
    slack = res.x[n:n + p] + res.x[n + p:]
    bad = np.flatnonzero(slack > tol)
    if len(bad):
        shown = "; ".join(f"{names[j] if names is not None else f'column {j}'} (off by {slack[j]:.3g} relative)"
                          for j in bad[np.argsort(-slack[bad])][:6])
        raise InfeasibleBoundsError(
            f"no weights within the bounds meet every population total: {shown}. Widen the bounds, or drop or "
            "merge those auxiliaries",
            conflicting=[names[j] if names is not None else j for j in bad],
        )


def poststratify_weights(w, stratum, population, *, partial: bool = False, labels=None) -> np.ndarray:
    """w · N_h / Σ_{i∈h} wᵢ, post-stratum by post-stratum (R's ``postStratify``).

    ``stratum`` holds codes into ``population`` (N_h per code; NaN = no count).
    A stratum with sample units but no population count is an error (a count
    of 0 gives its units weight 0, as R); a stratum with a positive count but
    no sample units is an error unless ``partial`` (then it is ignored and Σw
    falls short of ΣN_h, as R's ``partial=TRUE``).
    """
    w = np.asarray(w, dtype=float)
    population = np.asarray(population, dtype=float)
    achieved = np.bincount(stratum, weights=w, minlength=len(population))
    name = (lambda h: labels[h]) if labels is not None else (lambda h: h)
    no_pop = (achieved > 0) & np.isnan(population)
    if no_pop.any():
        raise UnknownCategoryError(
            f"post-strata {[name(h) for h in np.flatnonzero(no_pop)[:8]]} hold sample units but have no population "
            "count; add their counts or drop those units"
        )
    no_sample = (population > 0) & ~(achieved > 0)
    if no_sample.any() and not partial:
        raise EmptyCategoryError(
            f"post-strata {[name(h) for h in np.flatnonzero(no_sample)[:8]]} have population counts but no sample "
            "units; merge them with a neighbour, or pass partial=True to leave them out (the weights then fall "
            "short of the population total)"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(achieved > 0, np.nan_to_num(population) / achieved, 0.0)
    return w * factor[stratum]


def _closed_form(x, d, totals, sigma2, dropped) -> CalibrationFit:
    """R's regcalibrate: g = 1 + x'(X' D Σ⁻¹ X)⁻¹ (T − X'd) / σ², one linear solve (σ² None: 1)."""
    q = d if sigma2 is None else d / sigma2
    tmat = (x * q[:, None]).T @ x
    # pinv rather than solve: collinear columns with consistent totals give the same unique g.
    coef = np.linalg.pinv(tmat, rcond=1e-12) @ (totals - x.T @ d)
    g = x @ coef
    if sigma2 is not None:
        g /= sigma2
    g += 1.0
    achieved = x.T @ (d * g)
    error = float(np.max(np.abs(achieved - totals) / np.maximum(np.abs(totals), 1.0), initial=0.0))
    root = np.sqrt(q)
    factor = root if sigma2 is None else np.sqrt(d * sigma2)
    projection = Projection(design=x, g=g, factor=factor, row_scale=root)
    return CalibrationFit(g, True, 1, error, projection, dropped, None if len(dropped) else achieved)


def calibrate_within_clusters(
    x: np.ndarray,
    w: np.ndarray,
    stage_weight: np.ndarray,
    cluster: np.ndarray,
    totals: dict,
    *,
    variance: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """GREG inside each cluster to that cluster's own totals (R's ``calibrate(..., stage=1)``).

    Within cluster c the weight that counts is the conditional one, wᵢ / swᵢ
    (``stage_weight`` = the inverse inclusion probability of the cluster), and
    the closed form is solved with it. Returns g per unit and the
    per-cluster :class:`Projection` blocks that the multistage variance applies
    to the within-cluster stage ({cluster code: (row indices, Projection)}).
    """
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    conditional = w / np.asarray(stage_weight, dtype=float)
    sigma2 = np.ones_like(w) if variance is None else np.asarray(variance, dtype=float)
    g = np.ones_like(w)
    blocks = {}
    for code in np.unique(cluster):
        if code not in totals:
            raise InputError(f"calibrate_within_clusters: no population totals for cluster {code!r}")
        rows = np.flatnonzero(cluster == code)
        xi, ci, si = x[rows], conditional[rows], sigma2[rows]
        target = np.asarray(totals[code], dtype=float)
        keep = ~((target == 0) & (np.abs(xi).sum(axis=0) == 0))
        xi, target = xi[:, keep], target[keep]
        q = ci / si
        coef = np.linalg.pinv((xi * q[:, None]).T @ xi, rcond=1e-12) @ (target - xi.T @ ci)
        g[rows] = 1.0 + (xi @ coef) / si
        blocks[code] = (rows, Projection(design=xi * np.sqrt(q)[:, None], g=g[rows], factor=np.sqrt(si) * w[rows]))
    return g, blocks


def trim_g(g: np.ndarray, d: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, int]:
    """R's ``calibrate(trim=)``: clip g to [lower, upper], spread the clipped weight over the rest.

    The excess Σ (gᵢ − clipped gᵢ) dᵢ is added to the units inside the limits in
    proportion to their dᵢ (one pass; those units may end outside the limits).
    Returns the new g and the number of units trimmed.
    """
    g = np.asarray(g, dtype=float)
    d = np.asarray(d, dtype=float)
    clipped = np.clip(g, lower, upper)
    outside = (g < lower) | (g > upper)
    if not outside.any():
        return g.copy(), 0
    if outside.all():
        raise InputError(f"trim=({lower:g}, {upper:g}) leaves no unit inside the limits to take the trimmed weight")
    clipped[~outside] += float(np.sum((g - clipped) * d)) / float(d[~outside].sum())
    return clipped, int(outside.sum())


def trim_weights(
    w: np.ndarray, lower: float = -np.inf, upper: float = np.inf, *, strict: bool = False, max_rounds: int = 1000
) -> tuple[np.ndarray, int]:
    """R's ``trimWeights``: clip w to [lower, upper] and add the excess equally to every other unit.

    The amount trimmed, Σ (wᵢ − clipped wᵢ), is shared out equally (additively,
    not in proportion to the weights) over the units that were inside the
    limits. One pass by default, which can push some of them outside;
    ``strict=True`` repeats until every weight is inside. Returns the weights and
    the number of passes that changed something.
    """
    w = np.asarray(w, dtype=float).copy()
    if not lower <= upper:
        raise InputError(f"`lower` of trim_weights must be <= `upper`; got ({lower:g}, {upper:g})")
    if strict and not len(w) * lower <= w.sum() <= len(w) * upper:
        # trimming keeps Σw, so no weights can all fit (R recurses until its stack overflows)
        raise InputError(
            f"trim_weights(strict=True): {len(w)} weights summing to {w.sum():g} cannot all lie in "
            f"[{lower:g}, {upper:g}]; widen the limits"
        )
    rounds = 0
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any():
            return w, rounds
        if rounds == max_rounds:
            raise ConvergenceError(
                f"trim_weights(strict=True) still had {int(outside.sum())} weights outside [{lower:g}, {upper:g}] "
                f"after {max_rounds} passes; widen the limits"
            )
        if outside.all():
            raise InputError(
                f"trim_weights: every weight lies outside [{lower:g}, {upper:g}], so none can take the trimmed "
                "amount; widen the limits"
            )
        clipped = np.clip(w, lower, upper)
        clipped[~outside] += float(np.sum(w - clipped)) / float((~outside).sum())
        w = clipped
        rounds += 1
        if not strict:
            return w, rounds
