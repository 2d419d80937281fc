"""Influence values of means and totals, and their residuals after each weighting step.

The linearised variance of an estimator on a weighted survey is the design
variance of its influence values zᵢ (one column per estimate) after every
weighting step has been "taken out" of them, as R survey's ``svyrecvar`` does
with the ``postStrata`` a design carries (survey 4.1.1; our account of it is in
benchmarks/NOTES_survey_variance.md):

* :class:`Projection` — a calibration (GREG, raking or logit through
  ``calibrate``, also cluster-level): z ↦ c ⊙ (I − P_A)(z ⊘ c), i.e. the
  residual of the least-squares regression of z/c on A, times c. For a
  unit-level calibration this is wᵢ (yᵢ − xᵢ'B̂) with B̂ the d-weighted
  regression coefficient and wᵢ = dᵢgᵢ the calibrated weight.
* :class:`PostStratification` — z ↦ z − wᵢ · ē_h, ē_h the mean of z/w in
  post-stratum h weighted by the weights before post-stratifying.
* :class:`Raking` — ``rake()``'s approximation: ten sweeps of subtracting,
  margin by margin, w times the *unweighted* cell mean of z/w.

All kernels are pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._code_patterns import pattern_residual, scaled_pattern_sums
from ._rake_numba import _RowChunks

__all__ = [
    "Projection",
    "PostStratification",
    "Raking",
    "total_influence",
    "mean_influence",
    "residualize",
    "least_squares_residual",
    "LeastSquares",
    "RAKE_SWEEPS",
]

#: Sweeps of R's raking residual (``svyrecvar`` hard-codes 10).
RAKE_SWEEPS = 10


@dataclass(frozen=True)
class Projection:
    """A calibration step: z ↦ c ⊙ (I − P_A)(z ⊘ c), with c = g · factor.

    ``design`` is A (n × p), the calibration matrix with row i scaled by the
    square root of its regression weight; ``g`` the calibration factors;
    ``factor`` what turns g into c (√dᵢ for ``calibrate``, σᵢ√dᵢ for the closed
    form with ``variance=``). Trimming g (``calibrate(trim=)``) keeps A and
    factor and replaces g.
    """

    design: np.ndarray
    g: np.ndarray
    factor: np.ndarray
    #: A = design * row_scale[:, None] when given: spares a copy of a large calibration matrix.
    row_scale: np.ndarray | None = None

    @property
    def scale(self) -> np.ndarray:
        return self.g * self.factor

    @cached_property
    def _least_squares(self) -> "LeastSquares":
        # depends on A only: computed once however many estimates are linearised (frozen: set via __dict__)
        return LeastSquares.of(self.design, self.row_scale)

    def apply(self, z: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """The residual map; ``overwrite``: z may be written over (as SciPy's ``overwrite_a``: a permission)."""
        c = self.scale
        if getattr(self.design, "patterns", None) is not None:
            return self._least_squares.scaled_residual(z, c, overwrite=overwrite)
        with np.errstate(divide="ignore", invalid="ignore"):
            response = np.where(c[:, None] != 0, z / c[:, None], 0.0)
        return self._least_squares.residual(response) * c[:, None]


@dataclass(frozen=True)
class LeastSquares:
    """Least squares on S = diag(row_scale) A diag(col_scale) (unit-norm columns; a zero column gets
    col_scale 0), through the pseudo-inverse of its Gram matrix. S is never formed: A is a dense
    array (Gram in row blocks) or a :class:`~._coded_matrix.CodedMatrix` (codes + numeric columns)."""

    a: object
    row_scale: np.ndarray
    col_scale: np.ndarray
    gram_pinv: np.ndarray
    refine: bool

    @classmethod
    def of(cls, a, row_scale: np.ndarray | None = None) -> "LeastSquares":
        """Of A, or of A·diag-rows(row_scale) without forming it."""
        rows = np.ones(a.shape[0]) if row_scale is None else np.asarray(row_scale, dtype=float)
        gram = _gram(a, rows * rows)
        norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
        keep = norms > 0
        col_scale = np.where(keep, 1.0 / np.where(keep, norms, 1.0), 0.0)
        values, vectors = np.linalg.eigh(gram[np.ix_(keep, keep)] * np.outer(col_scale[keep], col_scale[keep]))
        kept = values > 1e-12 * values.max(initial=0.0)
        inverse = np.where(kept, 1.0 / np.where(values > 0, values, 1.0), 0.0)
        gram_pinv = np.zeros_like(gram)
        gram_pinv[np.ix_(keep, keep)] = (vectors * inverse) @ vectors.T
        # the refinement step only matters when the Gram matrix is ill-conditioned (its error grows as κ²)
        condition = values.max(initial=0.0) / values[kept].min(initial=np.inf) if kept.any() else 1.0
        return cls(a, rows, col_scale, gram_pinv, bool(condition > REFINE_ABOVE))

    def _fit(self, b: np.ndarray) -> np.ndarray:
        """S (S'S)⁺ S' b."""
        coef = self.gram_pinv @ (self.col_scale[:, None] * (self.a.T @ (b * self.row_scale[:, None])))
        return (self.a @ (self.col_scale[:, None] * coef)) * self.row_scale[:, None]

    def residual(self, b: np.ndarray) -> np.ndarray:
        residual = b - self._fit(b)
        return residual - self._fit(residual) if self.refine else residual

    def scaled_residual(self, z: np.ndarray, c: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
        """c ⊙ residual(z ⊘ c) (0 where c = 0) for a coded A with code patterns: each fit is two fused passes
        over the rows (``_code_patterns``), with no (n, k) temporaries; with ``overwrite`` the residual is
        written over z (each row is read before it is written; a fresh (n, k) array costs its page faults)."""
        a, patterns = self.a, self.a.patterns
        contiguous = np.ascontiguousarray(z, dtype=float)
        overwrite = overwrite or contiguous is not z  # a copy made here is ours
        z = contiguous
        c = np.ascontiguousarray(c, dtype=float)
        rs = np.ascontiguousarray(self.row_scale, dtype=float)
        size, nd = patterns.size, a.n_dummy
        out = z if overwrite and z.flags.writeable else np.empty_like(z)
        with _RowChunks(len(z)) as chunks:
            b, divide = z, True
            for last in ([False, True] if self.refine else [True]):
                sums = chunks.sum(lambda rows: scaled_pattern_sums(patterns.pattern[rows], a.numeric[rows], b[rows],
                                                                   c[rows], rs[rows], size, divide))
                coef = self.col_scale[:, None] * (self.gram_pinv @ (
                    self.col_scale[:, None] * np.concatenate([patterns.spread(sums[:size]), sums[size:]])))
                by_pattern = patterns.gather(coef[:nd])
                tail = np.ascontiguousarray(coef[nd:])
                target = out  # the refinement pass rewrites the first residual in place (row by row)
                chunks.each(lambda rows: pattern_residual(patterns.pattern[rows], a.numeric[rows], b[rows], c[rows],
                                                          rs[rows], by_pattern, tail, divide, last, target[rows]))
                b, divide = target, False
        return out


def _gram(a, weights: np.ndarray) -> np.ndarray:
    """A' diag(weights) A: in row blocks for a dense A (no n x p temporary), one pass for a coded one."""
    if not isinstance(a, np.ndarray):
        return a.gram(weights)
    gram = np.zeros((a.shape[1], a.shape[1]))
    for block in _row_blocks(a.shape[0]):
        gram += a[block].T @ (a[block] * weights[block, None])
    return gram


#: Rows per block of the least-squares passes (a block of a 30-column matrix stays in cache).
ROW_BLOCK = 32_768
#: Gram condition number above which a refinement step is taken.
REFINE_ABOVE = 1e6


def _row_blocks(n: int):
    return [slice(start, min(start + ROW_BLOCK, n)) for start in range(0, n, ROW_BLOCK)] or [slice(0, 0)]


def least_squares_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b − A β̂ for least squares β̂, through the Gram matrix of the column-scaled A.

    One pass over A for A'A and one refinement step (β̂ += (A'A)⁺ A'r) give the
    residual to QR accuracy for well-scaled problems at a fraction of the cost
    of QR or SVD on millions of rows. The pseudo-inverse (eigenvalues below
    1e-12 of the largest dropped) makes collinear columns harmless, as R's
    pivoted QR does.
    """
    return LeastSquares.of(a).residual(b)


@dataclass(frozen=True)
class PostStratification:
    """A post-stratification step: ``stratum`` codes, weights before and after it."""

    stratum: np.ndarray
    old_weights: np.ndarray
    new_weights: np.ndarray

    def apply(self, z: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """The residual map (a new array: ``overwrite`` is accepted for a uniform call and not used)."""
        new = self.new_weights
        # R guards units out of every stratum (old = new = 0); a unit post-stratified to weight 0 (a
        # population count of 0) carries no influence either: both get ratio 0 instead of 0/0 or x/0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = z * np.where(new > 0, self.old_weights / new, 0.0)[:, None]
        size = int(self.stratum.max()) + 1
        denom = np.bincount(self.stratum, weights=self.old_weights, minlength=size)
        means = _group_sums(ratio, self.stratum, size)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(denom[:, None] > 0, means / denom[:, None], 0.0)
        return z - means[self.stratum] * new[:, None]


@dataclass(frozen=True)
class Raking:
    """``rake()``'s step: one (codes, weights after that margin) pair per margin, in sweep order."""

    strata: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]
    sweeps: int = RAKE_SWEEPS

    def apply(self, z: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """The residual map; ``overwrite``: z (float) may be written over."""
        z = z if overwrite and z.dtype == float and z.flags.writeable else np.array(z, dtype=float, copy=True)
        for _ in range(self.sweeps):
            for codes, w in zip(self.strata, self.weights):
                size = int(codes.max()) + 1
                counts = np.bincount(codes, minlength=size)
                means = _group_sums(z / w[:, None], codes, size) / np.maximum(counts, 1)[:, None]
                z -= w[:, None] * means[codes]
        return z


def _group_sums(values: np.ndarray, codes: np.ndarray, size: int) -> np.ndarray:
    return np.stack([np.bincount(codes, weights=col, minlength=size) for col in values.T], axis=1)


def _as_matrix(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return y[:, None] if y.ndim == 1 else y


def total_influence(y, w: np.ndarray, domain: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted totals of the columns of ``y`` (over ``domain`` rows) and their influence values wᵢyᵢ."""
    z = _as_matrix(y) * np.asarray(w, dtype=float)[:, None]
    if domain is not None:
        z = z * np.asarray(domain, dtype=bool)[:, None]
    return z.sum(axis=0), z


def mean_influence(y, w: np.ndarray, domain: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means of the columns of ``y`` and their influence values wᵢ(yᵢ − ȳ)/Σw.

    With ``domain`` the mean is over the domain's rows and the influence is zero
    elsewhere (R keeps those rows with weight 0 on a calibrated design).
    """
    y = _as_matrix(y)
    w = np.asarray(w, dtype=float)
    if domain is not None:
        w = w * np.asarray(domain, dtype=bool)
    total = w.sum()
    mean = (w @ y) / total
    return mean, (y - mean) * (w / total)[:, None]


def residualize(z: np.ndarray, steps, *, overwrite: bool = False) -> np.ndarray:
    """Apply the weighting steps' residual maps to influence values, first step first; ``overwrite``:
    z may be written over (the caller no longer needs it)."""
    z = _as_matrix(z)
    for step in steps:
        result = step.apply(z, overwrite=overwrite)
        overwrite = overwrite or result is not z  # a step's fresh output is ours to overwrite
        z = result
    return z
