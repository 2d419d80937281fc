"""Raw and calibrated resampled together: one bootstrap gives each version and the change its interval.

``compare`` scores the same simulated personas twice, once with their raw weights and
once with their calibrated weights, so the two numbers share most of their sampling
noise. Bootstrapping them separately (different resamples) leaves the change without an
interval and overstates its uncertainty. Here every replicate draws ONE set of persona
indices and computes raw, calibrated and calibrated - raw on it ("paired"). When the two
tables hold different personas, pairing is impossible: each side is then resampled on its
own inside one bootstrap (strata split by side), which is the independent-samples
bootstrap of the difference ("unpaired").

Every statistic is linear in per-persona weight totals (:class:`UnitStatistic`), so a
replicate is one matrix of draw counts shared by both versions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .._random import RandomState
from ..errors import InputError, PersonacalError
from . import _alignment, _elections
from ._alignment import AlignmentResult
from ._bootstrap import BootstrapResult, UnitStatistic, bootstrap, weighted_counts
from ._elections import ElectionResult

__all__ = ["PairedBootstrap", "paired_bootstrap", "PAIRINGS", "change_frame", "unit_statistic", "single_bootstrap", "attach",
           "recalibration"]

#: How raw and calibrated were resampled, in words (for summaries and the report).
PAIRINGS = {
    "paired": "raw and calibrated resampled with the same persona indices (paired bootstrap)",
    "unpaired": "raw and calibrated hold different personas, so each was resampled on its own (unpaired bootstrap)",
}
VERSIONS = ("raw", "calibrated")


@dataclass(frozen=True, eq=False)
class PairedBootstrap:
    """One bootstrap of raw, calibrated and their change.

    ``bootstrap`` holds the components ``raw[name]``, ``calibrated[name]`` for every
    statistic, ``change[stat]`` (calibrated - raw) and ``abs_change[stat]``
    (|calibrated| - |raw|, for statistics that are better closer to 0) for the headline
    statistics. ``pairing`` is ``"paired"`` or ``"unpaired"`` (see :data:`PAIRINGS`).
    """

    pairing: str
    bootstrap: BootstrapResult
    names: dict[str, tuple[str, ...]]
    headline: tuple[str, ...]

    def version(self, version: str) -> BootstrapResult:
        """The bootstrap of one version alone, with that version's own component names."""
        return _select(self.bootstrap, [f"{version}[{n}]" for n in self.names[version]], self.names[version])

    def interval(self, component: str) -> tuple[float, float]:
        return self.bootstrap.interval(component)

    def estimate(self, component: str) -> float:
        return float(self.bootstrap.estimate[self.bootstrap.names.index(component)])

    def has(self, component: str) -> bool:
        return component in self.bootstrap.names


def _select(result: BootstrapResult, components: Sequence[str], names: Sequence[str]) -> BootstrapResult:
    idx = [result.names.index(c) for c in components]
    return replace(result, names=tuple(names), estimate=result.estimate[idx], ci_low=result.ci_low[idx],
                   ci_high=result.ci_high[idx], standard_error=result.standard_error[idx],
                   distribution=result.distribution[:, idx], n_failed=result.n_failed[idx])


def _pairing(raw: UnitStatistic, cal: UnitStatistic) -> str:
    same = (len(raw.units) == len(cal.units) and raw.units.is_unique and cal.units.is_unique
            and set(raw.units) == set(cal.units))
    if not same:
        return "unpaired"
    if (raw.strata is None) != (cal.strata is None):
        return "unpaired"
    if raw.strata is not None:
        order = cal.units.get_indexer(raw.units)
        if not np.array_equal(raw.strata.astype(str), cal.strata[order].astype(str)):
            raise InputError("the same personas of `raw` and `calibrated` sit in different strata (states); a "
                             "persona's state must be the same in both tables")
    return "paired"


def paired_bootstrap(
    raw: UnitStatistic,
    calibrated: UnitStatistic,
    *,
    n_boot: int,
    level: float,
    method: str,
    random_state: RandomState,
    progress: bool | None,
    closer_to_zero: Sequence[str] = (),
    recalibrate: Callable[[np.ndarray], np.ndarray] | None = None,
) -> PairedBootstrap:
    """Bootstrap raw, calibrated and the change of their headline statistics in one run.

    ``closer_to_zero`` names headline statistics whose verdict compares magnitudes (the
    lean): they also get ``abs_change`` = |calibrated| - |raw|. ``recalibrate`` maps the
    calibrated side's per-unit draw counts (in ``calibrated.units`` order) to its weight
    totals, redoing the calibration on each replicate; a replicate whose calibration
    fails (raises :class:`~personacal.errors.PersonacalError`) is left out. Without it the
    calibrated weights are resampled as they are (fixed weights).
    """
    if raw.headline != calibrated.headline:
        raise InputError(f"raw and calibrated statistics differ: {raw.headline} vs {calibrated.headline}")
    pairing = _pairing(raw, calibrated)
    n_raw = len(raw.units)
    if pairing == "paired":
        n = n_raw
        # Units are numbered in raw's order; column j of calibrated is the unit raw holds at cal_pos[j].
        raw_pos, cal_pos = np.arange(n_raw), raw.units.get_indexer(calibrated.units)
        strata = raw.strata
    else:
        n = n_raw + len(calibrated.units)
        raw_pos, cal_pos = np.arange(n_raw), np.arange(n_raw, n)
        sides = [np.full(n_raw, "raw", dtype=object), np.full(len(calibrated.units), "calibrated", dtype=object)]
        if raw.strata is not None and calibrated.strata is not None:
            sides = [sides[0] + "|" + raw.strata.astype(str), sides[1] + "|" + calibrated.strata.astype(str)]
        strata = np.concatenate(sides)
    headline = raw.headline
    m = len(headline)
    magnitude = [headline.index(s) for s in closer_to_zero if s in headline]

    def cal_totals(counts):
        if recalibrate is None:
            return counts * calibrated.weights
        rows = []
        for row in counts:
            try:
                rows.append(np.asarray(recalibrate(row), dtype=float))
            except PersonacalError:
                rows.append(np.full(row.shape, np.nan))
        return np.stack(rows)

    def statistic(idx, _):
        counts = weighted_counts(idx, n)
        a = raw.function(counts[:, raw_pos] * raw.weights)
        c = calibrated.function(cal_totals(counts[:, cal_pos]))
        parts = [a, c, c[:, :m] - a[:, :m]]
        if magnitude:
            parts.append(np.abs(c[:, magnitude]) - np.abs(a[:, magnitude]))
        return np.column_stack(parts)

    names = [*(f"raw[{s}]" for s in raw.names), *(f"calibrated[{s}]" for s in calibrated.names),
             *(f"change[{s}]" for s in headline), *(f"abs_change[{headline[j]}]" for j in magnitude)]
    result = bootstrap(statistic, n, strata=strata, n_boot=n_boot, random_state=random_state, level=level,
                       method=method, vectorized=True, names=names, progress=progress)
    result = _percentile_where_folded(result, level)
    return PairedBootstrap(pairing=pairing, bootstrap=result,
                           names={"raw": tuple(raw.names), "calibrated": tuple(calibrated.names)}, headline=headline)


#: Statistics whose interval is always the percentile one: counts of correct winners (few values,
#: many ties) and magnitudes |calibrated| - |raw| (replicates folded at 0). BCa's bias correction
#: and the basic interval's reflection read those shapes as bias of the statistic, which they are not.
PERCENTILE_ONLY = ("abs_change[", "winner_accuracy]")


def _percentile_where_folded(result: BootstrapResult, level: float) -> BootstrapResult:
    if result.method == "percentile":
        return result
    idx = [i for i, name in enumerate(result.names) if name.startswith(PERCENTILE_ONLY[0])
           or name.endswith(PERCENTILE_ONLY[1])]
    if not idx:
        return result
    alpha = (1 - level) / 2
    low, high = result.ci_low.copy(), result.ci_high.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN components stay NaN
        q = np.nanquantile(result.distribution[:, idx], [alpha, 1 - alpha], axis=0)
    low[idx], high[idx] = q[0], q[1]
    return replace(result, ci_low=low, ci_high=high)


def change_frame(paired: PairedBootstrap) -> pd.DataFrame:
    """One row per headline statistic: change and abs_change with their intervals (NaN where absent)."""
    rows = []
    for stat in paired.headline:
        row = {"statistic": stat}
        for kind in ("change", "abs_change"):
            name = f"{kind}[{stat}]"
            if paired.has(name):
                low, high = paired.interval(name)
                row |= {kind: paired.estimate(name), f"{kind}_ci_low": low, f"{kind}_ci_high": high}
        rows.append(row)
    return pd.DataFrame(rows)


def unit_statistic(result, part: pd.DataFrame, weights, settings: dict) -> UnitStatistic:
    """The persona-level statistic of one version's result (election or alignment)."""
    if settings["kind"] == "election":
        return _elections.unit_statistic(result, part, state_col=settings["state_col"], dem=settings["dem"],
                                         rep=settings["rep"], weights=weights)
    return _alignment.unit_statistic(part, settings["truth"], group=settings["group"], weights=weights,
                                     strata=settings["strata"])


def single_bootstrap(stat, *, n_boot, level, method, progress, random_state) -> BootstrapResult:
    """One version alone (the other side is aggregated): its own intervals, none for the change."""
    n = len(stat.units)

    def statistic(idx, resampled_weights):
        return stat.function(weighted_counts(idx, n, resampled_weights))

    return _percentile_where_folded(bootstrap(
        statistic, n, weights=stat.weights, strata=stat.strata, n_boot=n_boot, level=level, method=method,
        random_state=random_state, vectorized=True, names=stat.names, progress=progress), level)


def attach(result: ElectionResult | AlignmentResult, boot: BootstrapResult):
    """``result`` with ``boot``'s intervals (per state, or per group of an alignment)."""
    if isinstance(result, ElectionResult):
        table = result.per_state.copy()
        bounds = {s: boot.interval(f"share[{s}]") for s in table["state"]}
        table["ci_low"] = [bounds[s][0] for s in table["state"]]
        table["ci_high"] = [bounds[s][1] for s in table["state"]]
        return replace(result, per_state=table, bootstrap=boot)
    # alignment: the version's own names (representativeness, then per group), without mean_wd
    keep = [n for n in boot.names if n != "mean_wd"]
    renamed = [("representativeness" if n == "alignment" else n) for n in keep]
    own = _select(boot, keep, renamed)
    per_group = result.per_group.copy()
    rows = slice(1, None) if result.group else slice(0, 1)
    per_group["ci_low"], per_group["ci_high"] = own.ci_low[rows], own.ci_high[rows]
    return replace(result, per_group=per_group, bootstrap=own)


def recalibration(reweight, tier, stat: UnitStatistic, func: str = "compare"):
    """``counts -> weights`` in ``stat.units`` order from the user's Series-based ``reweight``, checked once."""
    fn = reweight.get(tier) if isinstance(reweight, Mapping) else reweight
    if fn is None:
        return None
    if not callable(fn):
        raise InputError(f"`reweight` of {func} must be a callable or {{tier: callable}}; got {type(fn).__name__}")

    def redo(counts: np.ndarray) -> np.ndarray:
        out = fn(pd.Series(counts, index=stat.units))
        if not isinstance(out, pd.Series) or out.index.difference(stat.units).size or stat.units.difference(
                out.index).size:
            raise InputError(f"`reweight` of {func} must return a Series of weights indexed by the calibrated "
                             "personas' persona_id")
        return out.reindex(stat.units).to_numpy(float)

    again = redo(np.ones(len(stat.units)))
    # rtol 1e-4: a replicate's raking may stop at a looser tolerance than the original one (the
    # workflow's 1e-6 against 1e-8 showed 2e-6 relative differences on weights of ~500,000); a
    # reweight that redoes some other calibration misses by far more.
    scale = max(1.0, float(np.abs(stat.weights).max()))
    if not np.allclose(again, stat.weights, rtol=1e-4, atol=1e-12 * scale):
        worst = np.abs(again - stat.weights) / np.maximum(np.abs(stat.weights), 1e-12 * scale)
        raise InputError(f"`reweight` of {func} does not reproduce the calibrated weights on the original personas "
                         f"(largest relative difference {worst.max():.3g}); it must redo the calibration that "
                         "made them")
    return redo
