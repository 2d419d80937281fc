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

from ..errors import InputError, SurveyDesignError
from ._code_patterns import pattern_sums

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


def _dense_codes(values: np.ndarray) -> np.ndarray:
    """0..k-1 codes in the sorted order of the distinct values (np.unique's inverse); O(n) by a lookup
    table when the values are small non-negative integers, as a design's codes are."""
    values = np.asarray(values).ravel()
    if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 4 * len(values) + 1024:
        seen = np.bincount(values) > 0
        return (np.cumsum(seen) - 1)[values]
    return np.unique(values, return_inverse=True)[1].ravel()


def stage_sample_sizes(strata: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Number of distinct clusters in each unit's stratum, per stage (R's ``fpc$sampsize``)."""
    strata = np.asarray(strata)
    clusters = np.asarray(clusters)
    strata = strata[:, None] if strata.ndim == 1 else strata
    clusters = clusters[:, None] if clusters.ndim == 1 else clusters
    out = np.empty(strata.shape, dtype=float)
    for k in range(strata.shape[1]):
        s_codes = np.unique(strata[:, k], return_inverse=True)[1].ravel().astype(np.int64)
        c_codes = np.unique(clusters[:, k], return_inverse=True)[1].ravel().astype(np.int64)
        pairs = np.unique(s_codes * (c_codes.max() + 1) + c_codes)  # one key per (stratum, cluster)
        out[:, k] = np.bincount(pairs // (c_codes.max() + 1), minlength=s_codes.max() + 1)[s_codes]
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
    diagonal: bool = False,
) -> np.ndarray:
    """(p, p) covariance of the totals of the columns of ``z`` (only its diagonal, (p,), with ``diagonal``).

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
    diagonal
        Return the variances only: O(n p) instead of O(n p²) for many columns.
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
                       lonely_psu, present, stage_projections or {}, stage=1, rows=np.arange(n), diagonal=diagonal)


def _multistage(z, strata, clusters, sampsize, popsize, lonely, present, projections, *, stage, rows, diagonal):
    v = _one_stage(z, strata[:, 0], clusters[:, 0], sampsize[:, 0], None if popsize is None else popsize[:, 0],
                   lonely, present, stage, diagonal)
    if popsize is None or strata.shape[1] == 1:
        return v
    blocks = projections.get(stage, {})
    psu = np.unique(np.column_stack([strata[:, 0], clusters[:, 0]]), axis=0, return_inverse=True)[1].ravel()
    order = np.argsort(psu, kind="stable")
    for idx in np.split(order, np.flatnonzero(np.diff(psu[order])) + 1):  # the rows of each PSU, in row order
        zc = z[idx]
        code = clusters[idx[0], 0]
        if code in blocks:
            block_rows, projection = blocks[code]
            if not np.array_equal(np.asarray(block_rows), rows[idx]):
                raise InputError(f"stage-{stage} calibration rows of cluster {code!r} do not match the design's")
            zc = projection.apply(zc)
        fraction = sampsize[idx[0], 0] / popsize[idx[0], 0]
        v = v + fraction * _multistage(zc, strata[idx, 1:], clusters[idx, 1:], sampsize[idx, 1:], popsize[idx, 1:],
                                       lonely, present[idx], projections, stage=stage + 1, rows=rows[idx],
                                       diagonal=diagonal)
    return v


def _one_stage(z, strata, clusters, sampsize, popsize, lonely, present, stage, diagonal=False):
    """One stage's covariance, every stratum at once (PSU totals by bincount, no loop over strata)."""
    p = z.shape[1]
    if not present.any():
        return np.zeros(p) if diagonal else np.zeros((p, p))
    if not present.all():  # (a boolean subset copies z: only when some rows are out)
        z, strata, clusters, sampsize = z[present], strata[present], clusters[present], sampsize[present]
        popsize = None if popsize is None else popsize[present]
    s_code = _dense_codes(strata)
    c_code = _dense_codes(clusters)
    psu = _dense_codes(s_code * (c_code.max() + 1) + c_code)
    n_psu_here = int(psu.max()) + 1
    first = np.full(n_psu_here, len(psu))
    np.minimum.at(first, psu, np.arange(len(psu)))  # the first row of every PSU
    totals = pattern_sums(psu, np.empty((len(psu), 0)), np.ascontiguousarray(z), n_psu_here)  # PSU totals, one pass
    psu_stratum = s_code[first]
    n_strata = int(s_code.max()) + 1
    n_h = np.zeros(n_strata)
    n_h[s_code] = sampsize  # the design's PSU count of each stratum (constant within it)
    if popsize is None:
        f = np.ones(n_psu_here)
    else:
        size = popsize[first]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(np.isinf(size), 1.0, (size - n_h[psu_stratum]) / size)
    census = np.bincount(psu_stratum, weights=(f >= CENSUS_TOL).astype(float), minlength=n_strata) == 0
    lonely_h = (n_h <= 1) & ~census
    if lonely_h.any() and lonely == "fail":
        h = int(np.flatnonzero(lonely_h)[0])
        raise SurveyDesignError(
            f"stratum {strata[s_code == h][0]!r} has only one PSU at stage {stage}, so its variance cannot be "
            "estimated. Set lonely_psu to 'certainty', 'remove', 'adjust' or 'average', or merge that stratum "
            "with a neighbour"
        )
    dropped = census | (lonely_h if lonely == "average" else np.zeros(n_strata, dtype=bool))
    here = np.bincount(psu_stratum, minlength=n_strata)
    scale = np.where(n_h[psu_stratum] > 1, f * n_h[psu_stratum] / np.maximum(n_h[psu_stratum] - 1, 1), f)
    # mean over the design's n_h PSUs: the PSUs without rows here count as zeros
    means = np.stack([np.bincount(psu_stratum, weights=col, minlength=n_strata) for col in totals.T], axis=1)
    means /= np.maximum(n_h, 1)[:, None]
    centred = ~(lonely_h & (here == 1)) if lonely == "adjust" else np.ones(n_strata, dtype=bool)
    dev = totals - np.where(centred[psu_stratum][:, None], means[psu_stratum], 0.0)
    keep = ~dropped[psu_stratum]
    scaled = dev[keep] * np.sqrt(scale[keep])[:, None]
    v = np.einsum("ij,ij->j", scaled, scaled) if diagonal else scaled.T @ scaled
    pads = np.maximum(n_h - here, 0) * ~dropped
    if pads.any():
        # each missing PSU adds (0 − mean)(0 − mean)' with the scale of the stratum's first PSU
        strata_with_psu, first_psu = np.unique(psu_stratum, return_index=True)
        first_scale = np.zeros(n_strata)
        first_scale[strata_with_psu] = scale[first_psu]
        weight = pads * first_scale
        v += np.einsum("hj,hj->j", means * weight[:, None], means) if diagonal else (means * weight[:, None]).T @ means
    n_present = len(here)
    n_ok = n_present - int((lonely_h & (lonely == "average")).sum())
    return v * (n_present / n_ok) if n_ok else v
