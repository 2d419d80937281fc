"""Design-based covariance of estimated totals for stratified multistage samples.

The with-replacement-at-each-stage (Horvitz–Thompson) estimator of R survey's
``svyrecvar``/``multistage``/``onestage``/``onestrat`` (survey 4.1.1), written
from our reading of it (benchmarks/NOTES_survey_variance.md):

* stage 1: in every stratum h, with nₕ sampled PSUs (from the design, not from
  the rows at hand), PSU totals tₕⱼ of the influence values z, centred at their
  mean over nₕ PSUs (PSUs without rows count as zeros), give
  Vₕ = fₕ nₕ/(nₕ − 1) Σⱼ (tₕⱼ − t̄ₕ)(tₕⱼ − t̄ₕ)', with fₕ = (Nₕ − nₕ)/Nₕ when the
  population size Nₕ is known, else 1;
* later stages (only when population sizes are given and there is more than one
  stage): inside each first-stage PSU the same formula on the next stage's
  strata and clusters, times the first-stage sampling fraction n₁/N₁, added up;
  a calibration done within first-stage clusters (``calibrate(stage=1)``) is
  taken out of z there, before the second-stage variance;
* strata with a single PSU follow ``lonely_psu`` (R's ``survey.lonely.psu``):
  "fail" raises, "certainty" and "remove" give 0, "adjust" measures the lonely
  PSU against zero instead of its stratum mean, "average" leaves the stratum
  out and scales the total by (strata)/(strata with a variance).

Pure NumPy: strata, clusters, sample and population sizes come as integer
codes / numbers, one column per stage.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["LONELY_PSU_RULES", "design_vcov", "stage_sample_sizes"]

LONELY_PSU_RULES = ("fail", "certainty", "remove", "adjust", "average")

#: Sampling fractions this close to 1 make a stratum a census (R's threshold).
CENSUS_TOL = 1e-7


def _columns(a, n: int, name: str) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a)
    a = a[:, None] if a.ndim == 1 else a
    if a.shape[0] != n:
        raise InputError(f"`{name}` of design_vcov must have one row per unit ({n}); got shape {a.shape}")
    return a


def stage_sample_sizes(strata: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Number of distinct clusters in each unit's stratum, per stage (R's ``fpc$sampsize``)."""
    strata = np.asarray(strata)
    clusters = np.asarray(clusters)
    strata = strata[:, None] if strata.ndim == 1 else strata
    clusters = clusters[:, None] if clusters.ndim == 1 else clusters
    out = np.empty(strata.shape, dtype=float)
    for k in range(strata.shape[1]):
        s_codes = np.unique(strata[:, k], return_inverse=True)[1].ravel()
        pairs = np.unique(np.column_stack([s_codes, np.unique(clusters[:, k], return_inverse=True)[1].ravel()]), axis=0)
        out[:, k] = np.bincount(pairs[:, 0], minlength=s_codes.max() + 1)[s_codes]
    return out


def design_vcov(
    z: np.ndarray,
    strata,
    clusters,
    sampsize,
    popsize=None,
    *,
    lonely_psu: str = "fail",
    present: np.ndarray | None = None,
    stage_projections: dict | None = None,
) -> np.ndarray:
    """(p, p) covariance of the totals of the columns of ``z``.

    Parameters
    ----------
    z
        (n, p) influence values (after :func:`~._linearization.residualize`).
    strata, clusters
        (n, stages) integer codes; cluster codes are unique within a stratum.
    sampsize
        (n, stages) sampled clusters in each unit's stratum (see :func:`stage_sample_sizes`).
    popsize
        (n, stages) population clusters in the stratum (inf for none), or None
        for sampling with replacement (no finite-population correction, one stage).
    present
        Rows that belong to the analysed subset when it was cut out of an
        uncalibrated design (R then drops the other rows): strata with no such
        row are left out entirely. None: every row counts (calibrated designs
        keep out-of-domain rows with weight 0).
    stage_projections
        {stage: {cluster code: (row indices, Projection)}} for calibrations done
        within the clusters of that stage (R's ``calibrate(stage=)``).
    """
    z = np.asarray(z, dtype=float)
    z = z[:, None] if z.ndim == 1 else z
    n = z.shape[0]
    if lonely_psu not in LONELY_PSU_RULES:
        raise InputError(f"`lonely_psu` of design_vcov must be one of {LONELY_PSU_RULES}; got {lonely_psu!r}")
    strata = _columns(strata, n, "strata")
    clusters = _columns(clusters, n, "clusters")
    sampsize = _columns(sampsize, n, "sampsize").astype(float)
    popsize = _columns(popsize, n, "popsize")
    present = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    return _multistage(z, strata, clusters, sampsize, None if popsize is None else popsize.astype(float),
                       lonely_psu, present, stage_projections or {}, stage=1, rows=np.arange(n))


def _multistage(z, strata, clusters, sampsize, popsize, lonely, present, projections, *, stage, rows):
    v = _one_stage(z, strata[:, 0], clusters[:, 0], sampsize[:, 0], None if popsize is None else popsize[:, 0],
                   lonely, present, stage)
    if popsize is None or strata.shape[1] == 1:
        return v
    blocks = projections.get(stage, {})
    psu = np.unique(np.column_stack([strata[:, 0], clusters[:, 0]]), axis=0, return_inverse=True)[1].ravel()
    for k in range(psu.max() + 1):
        idx = np.flatnonzero(psu == k)
        zc = z[idx]
        code = clusters[idx[0], 0]
        if code in blocks:
            block_rows, projection = blocks[code]
            if not np.array_equal(np.asarray(block_rows), rows[idx]):
                raise InputError(f"stage-{stage} calibration rows of cluster {code!r} do not match the design's")
            zc = projection.apply(zc)
        fraction = sampsize[idx[0], 0] / popsize[idx[0], 0]
        v = v + fraction * _multistage(zc, strata[idx, 1:], clusters[idx, 1:], sampsize[idx, 1:], popsize[idx, 1:],
                                       lonely, present[idx], projections, stage=stage + 1, rows=rows[idx])
    return v


def _one_stage(z, strata, clusters, sampsize, popsize, lonely, present, stage):
    p = z.shape[1]
    total = np.zeros((p, p))
    n_strata = 0
    n_ok = 0
    for h in np.unique(strata[present]):
        idx = np.flatnonzero((strata == h) & present)
        n_strata += 1
        vh = _one_stratum(z[idx], clusters[idx], sampsize[idx[0]], None if popsize is None else popsize[idx],
                          lonely, h, stage)
        if vh is not None:
            total += vh
            n_ok += 1
    return total * (n_strata / n_ok) if n_ok else total


def _one_stratum(z, clusters, n_psu, popsize, lonely, stratum, stage):
    """One stratum's covariance; None when the lonely-PSU rule 'average' leaves it out."""
    psu, first, codes = np.unique(clusters, return_index=True, return_inverse=True)
    codes = codes.ravel()
    if popsize is None:
        f = np.ones(len(psu))
    else:
        size = popsize[first]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isinf(size), 1.0, (size - n_psu) / size)
    if (f < CENSUS_TOL).all():
        return np.zeros((z.shape[1], z.shape[1]))
    scale = f * n_psu / (n_psu - 1) if n_psu > 1 else f
    totals = np.stack([np.bincount(codes, weights=col, minlength=len(psu)) for col in z.T], axis=1)
    n_here = len(psu)
    n_pad = max(int(n_psu) - n_here, 0)
    if n_pad:  # sampled PSUs with no rows here are zeros, with the scale of the first PSU
        totals = np.vstack([totals, np.zeros((n_pad, totals.shape[1]))])
        scale = np.concatenate([scale, np.full(n_pad, scale[0])])
    if n_psu <= 1 and lonely == "fail":
        raise InputError(
            f"stratum {stratum!r} has only one PSU at stage {stage}, so its variance cannot be estimated. Set "
            "lonely_psu to 'certainty', 'remove', 'adjust' or 'average', or merge that stratum with a neighbour"
        )
    if n_psu <= 1 and lonely == "average":
        return None
    centre = not (lonely == "adjust" and n_here == 1 and n_psu <= 1)
    if centre:
        totals = totals - totals.mean(axis=0)
    scaled = totals * np.sqrt(scale)[:, None]
    return scaled.T @ scaled
