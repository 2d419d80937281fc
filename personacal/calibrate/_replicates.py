"""Replicate weights (JK1, JKn, bootstrap), replicate estimates and their variance.

Built as R survey 4.1.1's ``as.svrepdesign`` builds them (``jk1weights``,
``jknweights``, ``bootweights``; our notes: benchmarks/NOTES_survey_variance.md):

* **JK1** (unstratified): one replicate per PSU, that PSU's weight 0 and every
  other multiplied by n/(n − 1); scale (n − 1)/n · f, f = (N − n)/N with a
  population size N, else 1.
* **JKn** (stratified): one replicate per PSU, the PSU dropped and the rest of
  its stratum multiplied by nₕ/(nₕ − 1), other strata unchanged; per-replicate
  scale ("rscale") fₕ(nₕ − 1)/nₕ, overall scale 1. Census strata (fₕ = 0) get no
  replicate; lonely strata follow ``lonely_psu``.
* **bootstrap** (Canty–Davison, as R's ``bootweights``): in each stratum nₕ
  PSUs are drawn with replacement (or, given Nₕ, nₕ without replacement from
  the PSU list repeated up to Nₕ); a PSU's multiplier is how often it was drawn;
  scale n̄/((n̄ − 1)(R − 1)) with n̄ the harmonic mean of the nₕ. R's RNG cannot
  be reproduced, so the tests feed R's recorded multipliers instead.

Replicate variance (R's ``svrVar``): scale · Σᵣ rscaleᵣ (θᵣ − θ̄)², θ̄ the mean of
the replicates (or the full-sample estimate with ``mse=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import check_random_state
from ..errors import InputError
from ._greg import calibrate_g, cluster_mean, trim_g
from ._rake_numba import rake_units_with_totals

__all__ = [
    "ReplicateWeights",
    "jk1_replicates",
    "jkn_replicates",
    "bootstrap_replicates",
    "replicate_vcov",
    "replicate_means",
    "replicate_totals",
    "poststratify_replicates",
    "rake_replicates",
    "recalibrate_replicates",
    "make_replicates",
]

REPLICATE_KINDS = ("JK1", "JKn", "bootstrap")


@dataclass(frozen=True)
class ReplicateWeights:
    """Replicate multipliers (n, R): replicate r's weights are d · multipliers[:, r]."""

    multipliers: np.ndarray
    scale: float
    rscales: np.ndarray
    kind: str
    mse: bool = False

    @property
    def n_replicates(self) -> int:
        return self.multipliers.shape[1]


def _first_appearance(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique values in order of first appearance, the first row of each, and each row's code."""
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], first[order], rank[inverse.ravel()]


def _psu_codes(strata: np.ndarray, psu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row of each PSU and each row's PSU code; a PSU is a (stratum, cluster) pair."""
    s_code = np.unique(strata, return_inverse=True)[1].ravel()
    c_code = np.unique(psu, return_inverse=True)[1].ravel()
    _, first, code = _first_appearance(s_code * (c_code.max() + 1) + c_code)
    return first, code


def _fpc_factor(popsize, n: int, where: str) -> float:
    if popsize is None or np.isinf(popsize):
        return 1.0
    if popsize < n:
        raise InputError(f"population size {popsize:g} is smaller than the {n} sampled PSUs in {where}")
    return (popsize - n) / popsize


def jk1_replicates(psu: np.ndarray, popsize=None) -> ReplicateWeights:
    """Delete-one-PSU jackknife for an unstratified design (R's ``type="JK1"``)."""
    _, first, code = _first_appearance(np.asarray(psu))
    n = len(first)
    if n < 2:
        raise InputError("JK1 replicates need at least two PSUs")
    if popsize is not None:
        sizes = np.unique(np.asarray(popsize, dtype=float))
        if len(sizes) > 1:
            raise InputError(f"JK1 replicates need one population size for the whole design; got {sizes[:5].tolist()}")
        popsize = float(sizes[0])
    f = _fpc_factor(popsize, n, "the design")
    multipliers = np.where(code[:, None] == np.arange(n)[None, :], 0.0, n / (n - 1))
    return ReplicateWeights(multipliers, f * (n - 1) / n, np.ones(n), "JK1")


def jkn_replicates(strata: np.ndarray, psu: np.ndarray, popsize=None, *, lonely_psu: str = "fail") -> ReplicateWeights:
    """Stratified delete-one-PSU jackknife (R's ``type="JKn"``)."""
    strata = np.asarray(strata)
    psu = np.asarray(psu)
    units = len(strata)
    psu_first, psu_code = _psu_codes(strata, psu)
    stratum_values, stratum_first, stratum_code = _first_appearance(strata)
    n_strata = len(stratum_values)
    columns, rscales = [], []
    n_skipped = 0
    for h in range(n_strata):
        in_h = stratum_code == h
        members = np.unique(psu_code[in_h])
        n_h = len(members)
        f = _fpc_factor(None if popsize is None else float(np.asarray(popsize, dtype=float)[stratum_first[h]]),
                        n_h, f"stratum {stratum_values[h]!r}")
        if f == 0:
            continue  # a census stratum has no sampling variance: no replicate (R's survey.drop.replicates)
        if n_h == 1:
            if lonely_psu == "fail":
                raise InputError(
                    f"stratum {stratum_values[h]!r} has only one PSU, so JKn cannot drop it; set lonely_psu to "
                    "'certainty', 'remove', 'adjust' or 'average', or merge that stratum with a neighbour"
                )
            if lonely_psu == "adjust":
                columns.append(np.where(in_h, 0.0, n_strata / (n_strata - 1)))
                rscales.append((n_strata - 1) / n_strata)
            else:
                n_skipped += 1
            continue
        for j in members:
            columns.append(np.where(in_h, np.where(psu_code == j, 0.0, n_h / (n_h - 1)), 1.0))
            rscales.append(f * (n_h - 1) / n_h)
    if not columns:
        raise InputError("every stratum is a census (all PSUs sampled): there is no sampling variance to replicate")
    scale = 1.0
    if lonely_psu == "average" and n_skipped:
        scale = len(psu_first) / len(columns)
    return ReplicateWeights(np.column_stack(columns) if units else np.empty((0, 0)), scale, np.asarray(rscales), "JKn")


def bootstrap_replicates(
    strata: np.ndarray, psu: np.ndarray, popsize=None, *, replicates: int = 50, random_state=None
) -> ReplicateWeights:
    """Canty–Davison bootstrap multipliers (R's ``type="bootstrap"``), drawn with ``random_state``."""
    rng = check_random_state(random_state, func="bootstrap_replicates")
    if not (isinstance(replicates, (int, np.integer)) and replicates >= 2):
        raise InputError(f"`replicates` of bootstrap_replicates must be an int >= 2; got {replicates!r}")
    strata = np.asarray(strata)
    psu_first, psu_code = _psu_codes(strata, np.asarray(psu))
    counts = np.zeros((len(psu_first), replicates))
    psu_stratum = strata[psu_first]
    sizes = []
    for h in np.unique(psu_stratum):
        members = np.flatnonzero(psu_stratum == h)
        n_h = len(members)
        sizes.append(n_h)
        size = None if popsize is None else float(np.asarray(popsize, dtype=float)[psu_first[members[0]]])
        if size is not None and size < n_h:
            raise InputError(f"population size {size:g} is smaller than the {n_h} sampled PSUs in stratum {h!r}")
        for r in range(replicates):
            if size is None or np.isinf(size):
                drawn = rng.integers(0, n_h, size=n_h)
            else:
                pool = np.resize(rng.permutation(n_h), int(size))
                drawn = rng.choice(pool, size=n_h, replace=False)
            counts[members, r] = np.bincount(drawn, minlength=n_h)
    mean_n = 1.0 / np.mean(1.0 / np.asarray(sizes, dtype=float))
    scale = mean_n / ((mean_n - 1.0) * (replicates - 1))
    return ReplicateWeights(counts[psu_code], scale, np.ones(replicates), "bootstrap")


def replicate_totals(y, weights: np.ndarray, domain: np.ndarray | None = None) -> np.ndarray:
    """(R, k) totals of the columns of ``y`` under each column of ``weights`` (n, R)."""
    y = np.asarray(y, dtype=float)
    y = y[:, None] if y.ndim == 1 else y
    w = weights if domain is None else weights * np.asarray(domain, dtype=bool)[:, None]
    return w.T @ y


def replicate_means(y, weights: np.ndarray, domain: np.ndarray | None = None) -> np.ndarray:
    """(R, k) weighted means of the columns of ``y`` under each replicate's weights."""
    w = weights if domain is None else weights * np.asarray(domain, dtype=bool)[:, None]
    return replicate_totals(y, w) / w.sum(axis=0)[:, None]


def replicate_vcov(thetas: np.ndarray, estimate: np.ndarray, scale: float, rscales: np.ndarray,
                   *, mse: bool = False) -> np.ndarray:
    """scale · Σᵣ rscaleᵣ (θᵣ − c)(θᵣ − c)', c = mean of the replicates with rscale > 0 (or the estimate)."""
    thetas = np.asarray(thetas, dtype=float)
    thetas = thetas[:, None] if thetas.ndim == 1 else thetas
    rscales = np.asarray(rscales, dtype=float)
    centre = np.asarray(estimate, dtype=float) if mse else thetas[rscales > 0].mean(axis=0)
    dev = (thetas - centre) * np.sqrt(rscales)[:, None]
    return scale * (dev.T @ dev)


def poststratify_replicates(weights: np.ndarray, stratum: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Each replicate's weights scaled, stratum by stratum, to the population counts (R's postStratify)."""
    size = len(population)
    out = np.empty_like(weights)
    for r in range(weights.shape[1]):
        achieved = np.bincount(stratum, weights=weights[:, r], minlength=size)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, r] = weights[:, r] * (population / achieved)[stratum]
    return out


def make_replicates(kind: str, psu, *, strata=None, popsize=None, lonely_psu: str = "fail",
                    replicates: int = 50, random_state=None) -> ReplicateWeights:
    """Replicate weights of ``kind`` for a design, refusing the combinations R refuses.

    JK1 needs an unstratified design and JKn a stratified one (R: "Can't use JK1
    for a stratified design", "Must use JK1 or bootstrap for an unstratified design").
    """
    if kind not in REPLICATE_KINDS:
        raise InputError(f"`kind` of make_replicates must be one of {REPLICATE_KINDS}; got {kind!r}")
    stratified = strata is not None
    if kind == "JK1":
        if stratified:
            raise InputError("JK1 replicates are for unstratified designs; use kind='JKn' for a stratified one")
        return jk1_replicates(psu, popsize)
    if kind == "JKn":
        if not stratified:
            raise InputError("JKn replicates need strata; use kind='JK1' or 'bootstrap' for an unstratified design")
        return jkn_replicates(strata, psu, popsize, lonely_psu=lonely_psu)
    strata = np.zeros(len(psu), dtype=int) if strata is None else strata
    return bootstrap_replicates(strata, psu, popsize, replicates=replicates, random_state=random_state)


def recalibrate_replicates(weights: np.ndarray, x: np.ndarray, totals: np.ndarray, *, trim=None,
                           cluster=None, **calibrate_options) -> tuple[np.ndarray, list[int]]:
    """Calibrate every replicate's weights afresh (R's ``calibrate`` on a replicate design).

    Returns the calibrated replicate weights and the replicates whose
    calibration did not converge (R only warns about those and keeps the last
    iterate; the caller decides). ``trim`` = (lower, upper) on g as
    ``calibrate(trim=)``, applied per replicate.
    """
    out = np.empty_like(weights)
    failed = []
    for r in range(weights.shape[1]):
        fit = calibrate_g(x, weights[:, r], totals, cluster=cluster, **calibrate_options)
        g = fit.g
        if trim is not None:
            base = weights[:, r] if cluster is None else cluster_mean(weights[:, r], cluster)
            g, _ = trim_g(g, base, *trim)
        if not fit.converged:
            failed.append(r)
        out[:, r] = weights[:, r] * g
    return out, failed


def rake_replicates(weights: np.ndarray, cell_of_unit, targets, *, tol: float = 1e-13,
                    max_iter: int = 1000) -> tuple[np.ndarray, list[int]]:
    """Rake every replicate's weights to the margins (R's ``rake`` on a replicate design)."""
    out = np.empty_like(weights)
    failed = []
    for r in range(weights.shape[1]):
        out[:, r], _, _, error, _ = rake_units_with_totals(weights[:, r], cell_of_unit, targets, tol=tol,
                                                          max_iter=max_iter)
        if error > tol:
            failed.append(r)
    return out, failed
