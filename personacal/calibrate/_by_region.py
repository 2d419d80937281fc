"""Run one calibration method per region (50 states + DC in one call)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_param
from ..errors import EmptyCategoryError, InputError, UnknownCategoryError
from ._checks import SAMPLE
from ._encode import check_design_weights
from ._margins import Margins
from ._results import RegionalResult

__all__ = ["by_region"]


def by_region(fit, sample: pd.DataFrame, margins, *, by: str, label: str, progress: bool | None,
              weights=None, executor=None, **kwargs) -> RegionalResult:
    """Call ``fit(part, margins[region], weights=..., **kwargs)`` on each region's rows.

    ``executor`` (a :class:`~personacal.calibrate.RayExecutor`) fits chunks of regions as Ray tasks.
    """
    func = label
    check_param(func, "sample", sample, SAMPLE)
    if by not in sample.columns:
        raise InputError(f"`by` of {func} names column {by!r}, which the sample lacks")
    if not isinstance(margins, Mapping) or not all(isinstance(m, Margins) for m in margins.values()):
        raise InputError(f"with `by`, `margins` of {func} must be a mapping {{region: Margins}}")
    regions = sample[by]
    if regions.isna().any():
        raise InputError(f"column {by!r} has {int(regions.isna().sum())} missing region(s); every row needs one")
    present = pd.unique(regions)
    unknown = [r for r in present if r not in margins]
    if unknown:
        raise UnknownCategoryError(
            f"column {by!r} has regions without margins: {sorted(map(str, unknown))[:10]}; "
            f"margins are given for {sorted(map(str, margins))[:10]}"
        )
    present_set = set(present)  # built once: 3,000+ regions made the per-region rebuild quadratic
    empty = [r for r in margins if r not in present_set]
    if empty:
        raise EmptyCategoryError(
            f"margins are given for region(s) {sorted(map(str, empty))[:10]} that have no sample rows; "
            f"drop them from `margins` or add rows for them"
        )
    d = pd.Series(check_design_weights(weights, sample, func), index=sample.index)
    results = {}
    combined = np.empty(len(sample))
    groups = sample.groupby(by, sort=False).indices
    show = progress if progress is not None else len(margins) > 5
    if executor is not None:
        from ._ray_regions import by_region_on_ray

        return by_region_on_ray(fit, sample, margins, groups, d, executor=executor, label=label,
                                desc=f"{func} by {by}", show=show, kwargs=kwargs)
    for region in tqdm(list(margins), desc=f"{func} by {by}", disable=not show, unit="region"):
        rows = groups[region]
        part = sample.iloc[rows]
        region_margins = margins[region]
        if region_margins.name is None:
            region_margins = Margins(region_margins, name=str(region))
        res = fit(part, region_margins, weights=d.iloc[rows], **kwargs)
        results[str(region)] = res
        combined[rows] = res.weights.to_numpy()
    return RegionalResult(results, pd.Series(combined, index=sample.index, name="weight"), label)
