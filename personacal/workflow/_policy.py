"""Per-region raking with an explicit policy for the margins a region's personas cannot meet.

A few dozen personas per region rarely hold every category of every margin, and raking
cannot weight up a group with nobody in it. What happens then is the user's choice
(``on_infeasible``), and whatever happened is recorded per region and margin (policy is data):

* ``"raise"`` (default): stop with a typed error naming the region, the margin, the
  categories and the options below.
* ``"collapse"``: move the target of a category with no personas onto a neighbouring
  category (:data:`MERGE_INTO`, else the nearest category in the margin's order that has
  personas) and rake; if the region still cannot be raked, raise.
* ``"drop"``: collapse, then drop whole margins, lowest priority first, until raking succeeds.
  Priority is the order of ``priority``: census margins come first and the partisan margin
  last, so the partisan margin is the first to go.

``RegionCalibration.records`` has one row per region and margin: status "met", "merged" or
"dropped", what was merged or why it was dropped, and the final weights' largest relative
error against the ORIGINAL targets (0 for met margins; what a merge or a drop cost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._summary import Summary, one_line_repr
from .._validation import Options, check_param
from ..calibrate import Margins, rake, weight_diagnostics
from ..errors import CalibrationError, ConvergenceError, EmptyCategoryError, InputError

__all__ = ["ON_INFEASIBLE", "MERGE_INTO", "RegionCalibration", "calibrate_regions"]

FUNC = "calibrate_regions"
ON_INFEASIBLE = ("raise", "collapse", "drop")
#: Preferred destinations of an empty category's target, per variable (the first that has personas).
MERGE_INTO = {"race_eth4": ("Other non-Hispanic",), "vote_2020": ("Did not vote", "Other"),
              "party_id": ("Independent",)}
RECORD_COLUMNS = ["region", "margin", "status", "detail", "n_personas", "max_rel_error"]
#: Looser tolerance for the re-raking of bootstrap replicates (speed; far below sampling noise).
REPLICATE_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class RegionCalibration:
    """Weights from raking every region to its margins, and what the policy did where it could not.

    ``weights`` is aligned to the pool's index. ``records``: region, margin, status ("met",
    "merged", "dropped"), detail, n_personas, max_rel_error (final weights against the
    original targets). ``margins_used[region]`` are the margins each region was raked to
    (after merges and drops), which :meth:`recalibrate` reuses.
    """

    weights: pd.Series
    records: pd.DataFrame
    margins_used: Mapping[str, Margins]
    on_infeasible: str
    by: str
    notes: tuple[str, ...] = ()
    pool: pd.DataFrame = field(default=None, repr=False)
    design: np.ndarray = field(default=None, repr=False)

    @property
    def n_merged(self) -> int:
        return int((self.records["status"] == "merged").sum())

    @property
    def n_dropped(self) -> int:
        return int((self.records["status"] == "dropped").sum())

    def to_frame(self) -> pd.DataFrame:
        """The per-region, per-margin records."""
        return self.records.copy()

    def summary(self) -> Summary:
        facts = {"regions": self.records["region"].nunique(), "policy (on_infeasible)": self.on_infeasible,
                 "margins met": int((self.records["status"] == "met").sum()), "margins merged": self.n_merged,
                 "margins dropped": self.n_dropped}
        facts |= {k: v for k, v in weight_diagnostics(self.weights.dropna().to_numpy()).items()
                  if k in ("ess", "design_effect", "weight_ratio")}
        return Summary("Per-region calibration", facts, {"margins per region": self.records}, list(self.notes))

    def __repr__(self) -> str:
        return one_line_repr(self, regions=int(self.records["region"].nunique()), on_infeasible=self.on_infeasible,
                             merged=self.n_merged, dropped=self.n_dropped)

    def recalibrate(self, design: np.ndarray) -> np.ndarray:
        """Rake the same personas again with new design weights (a bootstrap replicate's draw counts).

        Every region is raked to :attr:`margins_used`; a category that has lost all its personas
        in the replicate hands its target to a neighbour, as "collapse" would (resampling, not the
        data, emptied it). Raises :class:`~personacal.errors.CalibrationError` or
        :class:`~personacal.errors.ConvergenceError` when a replicate cannot be raked.
        """
        design = np.asarray(design, dtype=float) * self.design
        out = np.zeros(len(self.pool))
        regions = self.pool[self.by].to_numpy()
        for region, margins in self.margins_used.items():
            rows = np.flatnonzero(regions == region)
            d = design[rows]
            if not d.sum() > 0:
                raise EmptyCategoryError(f"region {region!r}: no persona drawn in this replicate")
            part = self.pool.iloc[rows]
            merged, _ = _merge_empty(part, margins, d)
            fit = rake(part, merged, weights=d, tol=REPLICATE_TOL, max_iter=500)
            out[rows] = fit.weights.to_numpy()
        return out


def _present(pool: pd.DataFrame, variable: str, d: np.ndarray) -> set:
    return set(pool.loc[d > 0, variable])


def _merge_empty(pool: pd.DataFrame, margins: Margins, d: np.ndarray) -> tuple[Margins, dict[str, list[str]]]:
    """Targets of categories without personas moved onto a neighbour: ``(margins, {margin: [what moved]})``."""
    kept, merges = {}, {}
    for m in margins:
        target = m.values.astype(float).copy()
        if len(m.variables) != 1:
            kept[m.key] = target
            continue
        (variable,) = m.variables
        present = _present(pool, variable, d)
        order = list(target.index)
        for category in [c for c in order if c not in present and target[c] > 0]:
            options = [c for c in MERGE_INTO.get(variable, ()) if c in present and c != category]
            if options:
                into = options[0]
            else:
                candidates = [c for c in order if c in present]
                if not candidates:
                    raise EmptyCategoryError(f"margin '{m.label}': no category has personas")
                position = order.index(category)
                into = min(candidates, key=lambda c: (abs(order.index(c) - position), order.index(c)))
            target[into] += target[category]
            target[category] = 0.0
            merges.setdefault(m.label, []).append(f"'{category}' into '{into}'")
        kept[m.key] = target
    return Margins(kept, name=margins.name), merges


def _empty_cells(pool: pd.DataFrame, margins: Margins, d: np.ndarray) -> dict[str, list[str]]:
    """``{margin: [categories with a positive target and no personas]}``."""
    out = {}
    for m in margins:
        variables = list(m.variables)
        cells = set(map(tuple, pool.loc[d > 0, variables].astype(object).to_numpy().tolist()))
        empty = []
        for key, value in m.values.items():
            key = key if isinstance(key, tuple) else (key,)
            if value > 0 and key not in cells:
                empty.append(" × ".join(map(str, key)))
        if empty:
            out[m.label] = empty
    return out


def _errors(pool: pd.DataFrame, w: np.ndarray, margins: Margins) -> dict[str, float]:
    """Largest relative error per margin (zero targets: the mass over the margin's total)."""
    out = {}
    for m in margins:
        variables = list(m.variables)
        keys = pool[variables].astype(object).itertuples(index=False, name=None)
        achieved = pd.Series(w).groupby(pd.Index(list(keys))).sum() if len(variables) > 1 else \
            pd.Series(w).groupby(pool[variables[0]].to_numpy()).sum()
        target = m.values.astype(float)
        a = achieved.reindex(target.index, fill_value=0.0).to_numpy()
        t = target.to_numpy()
        rel = np.where(t > 0, np.abs(a - t) / np.where(t > 0, t, 1.0), a / t.sum())
        out[m.label] = float(rel.max()) if len(rel) else 0.0
    return out


def _region(pool, margins: Margins, d, region, priority, policy, tol):
    """Weights of one region and its records."""
    n = int((d > 0).sum())
    empty = _empty_cells(pool, margins, d)
    if empty and policy == "raise":
        shown = "; ".join(f"'{k}': {v}" for k, v in empty.items())
        raise EmptyCategoryError(
            f"{FUNC}: region {region!r} has {n} personas and none in {shown}; raking cannot weight up a group "
            "with nobody in it. Generate more personas, or pass on_infeasible='collapse' (merge each such "
            "category into a neighbour, recorded) or 'drop' (also drop margins that still cannot be met)")
    merged, merges = _merge_empty(pool, margins, d) if empty else (margins, {})
    keys = [k for k in priority if k in {m.key for m in merged}] + [m.key for m in merged if m.key not in priority]
    dropped: dict[str, str] = {}
    while True:
        try:
            fit = rake(pool, merged.subset(keys), weights=d, tol=tol)
            break
        except (CalibrationError, ConvergenceError) as exc:
            if policy != "drop" or len(keys) == 1:
                hint = "" if policy == "drop" else (" Pass on_infeasible='drop' to drop margins (lowest priority "
                                                    "first) until the rest can be met")
                raise type(exc)(f"{FUNC}: region {region!r} ({n} personas, policy {policy!r}): {exc}.{hint}") \
                    from exc
            label = next(m.label for m in merged if m.key == keys[-1])
            dropped[label] = f"{n} personas cannot meet it together with the higher-priority margins ({exc})"
            keys = keys[:-1]
    w = fit.weights.to_numpy()
    errors = _errors(pool, w, margins)
    rows = []
    for m in margins:
        status = "dropped" if m.label in dropped else "merged" if m.label in merges else "met"
        detail = dropped.get(m.label) or ("; ".join(merges[m.label]) if m.label in merges else "")
        rows.append({"region": region, "margin": m.label, "status": status, "detail": detail, "n_personas": n,
                     "max_rel_error": errors[m.label]})
    return w, rows, merged.subset(keys)


def calibrate_regions(
    pool: pd.DataFrame,
    targets: Mapping[str, Margins],
    *,
    by: str = "region",
    weights=None,
    on_infeasible: str = "raise",
    priority: Sequence | None = None,
    tol: float = 1e-8,
) -> RegionCalibration:
    """Rake each region's personas to its margins; ``on_infeasible`` says what to do where that cannot work.

    Parameters
    ----------
    pool
        Personas: the region column ``by`` and one column per margin variable.
    targets
        ``{region: Margins}``; every region of the pool needs margins.
    weights
        Design weights (None, a column name or an array); rows with weight 0 count as absent.
    on_infeasible
        "raise" (default), "collapse" or "drop" (see the module docstring).
    priority
        Margin keys, most important first (default: the order of each region's margins); "drop"
        removes margins from the end.
    tol
        Relative tolerance of the raking.
    """
    check_param(FUNC, "on_infeasible", on_infeasible, Options(ON_INFEASIBLE))
    if by not in pool.columns:
        raise InputError(f"`pool` of {FUNC} has no region column {by!r}; it has {list(pool.columns)}")
    d_all = np.ones(len(pool)) if weights is None else (
        pool[weights].to_numpy(float) if isinstance(weights, str) else np.asarray(weights, dtype=float))
    regions = pool[by].astype(str).to_numpy()
    missing = sorted(set(regions) - set(map(str, targets)))
    if missing:
        raise InputError(f"`targets` of {FUNC} has no margins for region(s) {missing[:8]} of the pool")
    out = np.full(len(pool), np.nan)
    records, used, notes = [], {}, []
    priority = [p if isinstance(p, str) else tuple(p) for p in (priority or [])]
    for region, margins in targets.items():
        rows = np.flatnonzero(regions == str(region))
        if not len(rows):
            if on_infeasible != "drop":
                raise EmptyCategoryError(f"{FUNC}: region {region!r} has margins but no personas; pass "
                                         "on_infeasible='drop' to leave it out (recorded)")
            records += [{"region": str(region), "margin": m.label, "status": "dropped", "detail": "no personas",
                         "n_personas": 0, "max_rel_error": np.nan} for m in margins]
            continue
        part = pool.iloc[rows]
        w, rows_records, used[str(region)] = _region(part, margins, d_all[rows], str(region), priority,
                                                     on_infeasible, tol)
        out[rows] = w
        records += rows_records
    table = pd.DataFrame(records, columns=RECORD_COLUMNS)
    for status in ("merged", "dropped"):
        hit = table[table["status"] == status]
        if len(hit):
            notes.append(f"{len(hit)} margin(s) {status} in {hit['region'].nunique()} region(s) "
                         f"(on_infeasible={on_infeasible!r}); see the calibration records")
    pool_copy = pool.reset_index(drop=True).assign(**{by: regions})
    return RegionCalibration(weights=pd.Series(out, index=pool.index, name="weight"), records=table,
                             margins_used=used, on_infeasible=on_infeasible, by=by, notes=tuple(notes),
                             pool=pool_copy, design=d_all)
