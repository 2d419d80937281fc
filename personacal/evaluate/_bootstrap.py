"""Nonparametric bootstrap over units (personas), weights attached, optionally stratified.

Weighted data: a unit is resampled together with its weight, and the statistic
is recomputed with the resampled weights. Without design information (PSUs,
strata of the sampling design) this is the standard naive bootstrap for
survey-weighted estimates; it ignores the extra variance that came from
computing the weights themselves (raking, GREG), so the intervals are
somewhat too narrow for heavily calibrated weights.

Stratified resampling draws ``n_h`` units with replacement inside every
stratum ``h`` (for example a state), so each stratum keeps its size; use it
whenever per-stratum estimates (per-state vote shares) must stay defined.

Intervals (``method``): "percentile" reads the quantiles of the bootstrap
distribution; "basic" reflects them around the estimate (2 x estimate - quantiles),
which removes a bias the replicates share (an absolute error such as MAE comes out
larger on resampled data because resampling adds noise, so its percentile interval
sits above the estimate); "bca" (Efron's bias-corrected and accelerated interval,
as ``scipy.stats.bootstrap(method="BCa")``) corrects for that bias and for skewness,
its acceleration estimated by a delete-a-group jackknife (units split into
``JACKKNIFE_GROUPS`` groups, round-robin within each stratum; delete-one when there
are fewer units). Which one ``compare`` uses by default was chosen by the coverage
simulation in ``benchmarks/paired_verdict.py``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .._random import RandomState, check_random_state
from .._summary import Summary, one_line_repr
from .._validation import Interval, Options, check_params, renamed_parameters
from ..errors import DiagnosticsWarning, InputError, InvalidValueError
from ._compat import renamed_fields
from ._tidy import LEVEL

__all__ = ["BootstrapResult", "bootstrap", "weighted_counts", "UnitStatistic"]

logger = logging.getLogger(__name__)

#: Upper bound on ``batch * n_units`` index cells generated at once.
_CELLS_PER_BATCH = 2_000_000
#: Show a progress bar by default from this many replicates on.
_PROGRESS_FROM = 1000
#: Interval methods (see the module docstring).
METHODS = ("percentile", "basic", "bca")
#: Delete-a-group jackknife of BCa's acceleration: at most this many groups.
JACKKNIFE_GROUPS = 100


@renamed_fields(ci="level")
@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap distribution and confidence intervals of one or more statistics.

    ``estimate``, ``ci_low``, ``ci_high`` and ``standard_error`` have one entry
    per statistic component (named by ``names``); ``distribution`` has shape
    ``(n_boot, n_components)``. Replicates in which a component came out NaN
    (for example an empty cell) are left out of that component's interval;
    ``n_failed`` counts them. ``level`` is the confidence level and ``method``
    how the interval is read off the distribution ("percentile", "basic" or "bca").
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    standard_error: np.ndarray
    distribution: np.ndarray
    n_failed: np.ndarray
    level: float
    method: str
    n_boot: int
    stratified: bool

    def interval(self, name: str) -> tuple[float, float]:
        """``(low, high)`` of the component called ``name``."""
        try:
            i = self.names.index(name)
        except ValueError:
            raise KeyError(f"no bootstrap component {name!r}; have {list(self.names)}") from None
        return float(self.ci_low[i]), float(self.ci_high[i])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": list(self.names),
                "estimate": self.estimate,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "standard_error": self.standard_error,
                "n_failed": self.n_failed,
            }
        )

    def summary(self) -> Summary:
        facts = {
            "replicates": self.n_boot,
            "confidence level": self.level,
            "interval method": self.method,
            "resampling": "stratified" if self.stratified else "simple",
        }
        return Summary("Bootstrap confidence intervals", facts, {"intervals": self.to_frame()})

    def __repr__(self) -> str:
        return one_line_repr(self, components=len(self.names), n_boot=self.n_boot, level=self.level,
                             method=self.method, stratified=self.stratified)


@dataclass(frozen=True, eq=False)
class UnitStatistic:
    """A statistic of per-unit weight totals, with the units it is computed over.

    ``function(totals)`` maps per-unit totals ``(b, n_units)`` (how often each unit was
    drawn times its weight) to ``(b, k)`` values named ``names``; its first
    ``len(headline)`` columns are the headline numbers. On ``totals = weights`` it gives
    the point estimate. ``strata`` holds per-unit resampling strata (or ``None``). The
    election and alignment metrics are linear in these totals, which is what lets
    ``compare`` resample raw and calibrated personas with the same indices.
    """

    units: pd.Index
    weights: np.ndarray
    strata: np.ndarray | None
    names: tuple[str, ...]
    headline: tuple[str, ...]
    function: Callable[[np.ndarray], np.ndarray]


def weighted_counts(indices: np.ndarray, n_units: int, resampled_weights: np.ndarray | None = None) -> np.ndarray:
    """Turn resampled indices ``(b, m)`` into per-unit totals ``(b, n_units)``.

    Entry ``[r, i]`` is how often unit ``i`` was drawn in replicate ``r``, or
    the sum of the weights attached to those draws when ``resampled_weights``
    (same shape as ``indices``, as passed to a bootstrap statistic) is given.
    Most statistics of this package are linear in these totals.
    """
    idx = np.atleast_2d(np.asarray(indices))
    b = idx.shape[0]
    flat = (idx + n_units * np.arange(b)[:, None]).ravel()
    w = None if resampled_weights is None else np.asarray(resampled_weights, dtype=float).reshape(idx.shape).ravel()
    return np.bincount(flat, weights=w, minlength=b * n_units).reshape(b, n_units).astype(float)


_CONSTRAINTS = {"n_units": Interval("int", 1, None), "n_boot": Interval("int", 2, None), "level": LEVEL,
                "method": Options(METHODS)}


def _check_args(n_units, weights, strata, n_boot, level, method):
    check_params("bootstrap", _CONSTRAINTS, {"n_units": n_units, "n_boot": n_boot, "level": level, "method": method})
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (n_units,):
            raise InputError(f"`weights` of bootstrap must have one entry per unit ({n_units}); got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise InvalidValueError("`weights` of bootstrap must be finite, >= 0 and not all 0")
    groups = None
    if strata is not None:
        s = np.asarray(strata)
        if s.shape != (n_units,):
            raise InputError(f"`strata` of bootstrap must have one label per unit ({n_units}); got shape {s.shape}")
        if pd.isna(s).any():
            raise InputError("`strata` of bootstrap holds missing labels; give every unit a stratum")
        groups = [np.flatnonzero(s == v) for v in pd.unique(s)]
    return w, groups


def _draw(rng: np.random.Generator, n_units: int, groups, size: int) -> np.ndarray:
    if groups is None:
        return rng.integers(0, n_units, size=(size, n_units))
    # Each stratum keeps its own size: draw positions inside it, map back to unit ids.
    parts = [members[rng.integers(0, members.size, size=(size, members.size))] for members in groups]
    return np.concatenate(parts, axis=1)


@renamed_parameters(ci="level")
def bootstrap(
    statistic: Callable,
    n_units: int,
    *,
    weights: Sequence[float] | np.ndarray | None = None,
    strata: Sequence | np.ndarray | None = None,
    n_boot: int = 2000,
    random_state: RandomState = None,
    level: float = 0.95,
    method: str = "percentile",
    vectorized: bool = False,
    names: Sequence[str] | None = None,
    progress: bool | None = None,
) -> BootstrapResult:
    """Bootstrap a statistic of ``n_units`` units by resampling unit indices with replacement.

    Parameters
    ----------
    statistic
        ``statistic(indices, weights)``. ``indices`` are the resampled unit
        indices (shape ``(n_units,)``) and ``weights`` the weights attached to
        them (``weights[indices]``, or ``None`` when no weights were given).
        Returns a number or a 1-D array. With ``vectorized=True`` it receives
        ``(b, n_units)`` arrays for ``b`` replicates at once and returns
        ``(b,)`` or ``(b, k)``. The point estimate is ``statistic`` on
        ``arange(n_units)``.
    weights
        Per-unit weights, resampled together with their units.
    strata
        Per-unit labels; when given, units are resampled within each stratum
        so stratum sizes stay fixed.
    n_boot, random_state, level
        Number of replicates, seed or Generator, confidence level (``ci`` before
        issue 9; the old name still works for one release).
    method
        ``"percentile"`` (quantiles of the bootstrap distribution, as
        ``scipy.stats.bootstrap(method="percentile")``), ``"basic"``
        (``2 * estimate - quantiles``) or ``"bca"`` (bias-corrected and accelerated;
        the statistic is also evaluated on up to ``JACKKNIFE_GROUPS`` delete-a-group
        jackknife samples, whose index rows are shorter than ``n_units``).
    progress
        Show a tqdm bar; by default from 1000 replicates on.
    """
    w, groups = _check_args(n_units, weights, strata, n_boot, level, method)
    rng = check_random_state(random_state, func="bootstrap")

    def call(idx: np.ndarray) -> np.ndarray:
        rw = None if w is None else w[idx]
        if vectorized:
            out = np.asarray(statistic(idx, rw), dtype=float)
            return out.reshape(idx.shape[0], -1)
        rows = [np.atleast_1d(np.asarray(statistic(i, None if rw is None else rw[r]), dtype=float))
                for r, i in enumerate(idx)]
        return np.stack(rows)

    # One BLAS thread: a replicate batch is a few small matrix products, and on a busy 2-core
    # machine OpenBLAS threads fighting over the cores made them ten times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        estimate = call(np.arange(n_units)[None, :])[0]
        batch = max(1, min(n_boot, _CELLS_PER_BATCH // n_units)) if vectorized else max(1, min(n_boot, 256))
        show = n_boot >= _PROGRESS_FROM if progress is None else bool(progress)
        chunks = []
        with tqdm(total=n_boot, desc="bootstrap", unit="rep", disable=not show, leave=False) as bar:
            done = 0
            while done < n_boot:
                size = min(batch, n_boot - done)
                chunks.append(call(_draw(rng, n_units, groups, size)))
                done += size
                bar.update(size)
        dist = np.concatenate(chunks, axis=0)
        if dist.shape[1] != estimate.shape[0]:
            raise InputError(
                f"`statistic` of bootstrap returned {estimate.shape[0]} value(s) on the full sample but "
                f"{dist.shape[1]} on a replicate; it must return the same number each time"
            )
        jack = _jackknife(call, n_units, groups) if method == "bca" else None
    return _summarise(dist, estimate, level=level, method=method, names=names, stratified=groups is not None,
                      jackknife=jack)


def jackknife_groups(n_units: int, strata_members=None, n_groups: int = JACKKNIFE_GROUPS) -> list[np.ndarray]:
    """Units split into at most ``n_groups`` groups, round-robin within each stratum (delete-one if fewer units).

    Round-robin in unit order spreads every stratum over the groups, so deleting a group
    removes about the same share of each stratum.
    """
    g = min(n_units, n_groups)
    label = np.empty(n_units, dtype=np.intp)
    for members in strata_members if strata_members is not None else [np.arange(n_units)]:
        label[members] = np.arange(members.size) % g
    return [np.flatnonzero(label != k) for k in range(g)]


def _jackknife(call, n_units: int, groups) -> np.ndarray:
    """The statistic with each jackknife group deleted: ``(n_groups, k)`` (rows may hold NaN)."""
    kept = jackknife_groups(n_units, groups)
    sizes = {k.size for k in kept}
    if len(sizes) == 1:  # equal-length rows: one vectorised call
        return call(np.stack(kept))
    return np.concatenate([call(k[None, :]) for k in kept], axis=0)


def bca_interval(dist: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray, level: float):
    """BCa ``(low, high)`` per column of ``dist`` (``(n_boot, k)``), as scipy.stats.bootstrap computes it.

    The bias correction counts replicates equal to the estimate as half below it (statistics with
    many ties, such as a winner count, would otherwise be shifted), and is clipped to the range the
    replicates can resolve. The acceleration comes from the jackknife rows; a constant jackknife gives 0.
    """
    k = dist.shape[1]
    low, high = np.full(k, np.nan), np.full(k, np.nan)
    alpha = (1 - level) / 2
    for j in range(k):
        theta = dist[:, j][np.isfinite(dist[:, j])]
        if theta.size < 2 or not np.isfinite(estimate[j]):
            continue
        b = theta.size
        below = (np.sum(theta < estimate[j]) + 0.5 * np.sum(theta == estimate[j])) / b
        z0 = ndtri(np.clip(below, 0.5 / b, 1 - 0.5 / b))
        jk = jackknife[:, j][np.isfinite(jackknife[:, j])]
        dev = jk.mean() - jk if jk.size else np.zeros(1)
        denom = 6.0 * np.sum(dev**2) ** 1.5
        a = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
        z = ndtri(np.array([alpha, 1 - alpha]))
        adjusted = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
        low[j], high[j] = np.quantile(theta, np.clip(adjusted, 0, 1))
    return low, high


def _summarise(dist, estimate, *, level, method, names, stratified, jackknife=None) -> BootstrapResult:
    k = estimate.shape[0]
    if names is None:
        names = ("statistic",) if k == 1 else tuple(f"statistic[{i}]" for i in range(k))
    names = tuple(names)
    if len(names) != k:
        raise InputError(f"`names` of bootstrap has {len(names)} entries for {k} statistic component(s)")
    failed = np.isnan(dist).sum(axis=0)
    if failed.any():
        worst = int(np.argmax(failed))
        warnings.warn(
            f"{int(failed.max())} of {dist.shape[0]} bootstrap replicates gave NaN for {names[worst]!r} "
            "(an empty group or cell in the resample); its interval uses the remaining replicates",
            DiagnosticsWarning,
            stacklevel=3,
        )
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN components stay NaN
        q = np.nanquantile(dist, [alpha, 1 - alpha], axis=0)
        se = np.nanstd(dist, axis=0, ddof=1)
    low, high = q[0], q[1]
    if method == "basic":
        low, high = 2 * estimate - high, 2 * estimate - low
    elif method == "bca":
        low, high = bca_interval(dist, estimate, jackknife, level)
    logger.debug("bootstrap: %d replicates, %d components", dist.shape[0], k)
    return BootstrapResult(
        names=names,
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        standard_error=se,
        distribution=dist,
        n_failed=failed,
        level=float(level),
        method=method,
        n_boot=int(dist.shape[0]),
        stratified=stratified,
    )
