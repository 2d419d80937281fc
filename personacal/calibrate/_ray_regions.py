"""Many regions as Ray tasks: ``by=`` calibration and ``reconstruct_joint`` with ``executor=``.

Each task fits a contiguous chunk of regions with exactly the calls a serial
run makes (same function, same rows, same design weights, same options), and
the driver assembles the results in region order the way the serial loop
does, so the outcome is identical to ``executor=None``: same weights bit for
bit, same per-region results, the same first error and the same warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .._ray import RayExecutor, import_ray
from ._margins import Margins
from ._results import RegionalResult

__all__ = ["by_region_on_ray", "joint_on_ray"]


def _named(margins: Margins, region) -> Margins:
    return margins if margins.name is not None else Margins(margins, name=str(region))


def by_region_on_ray(fit: Callable, sample: pd.DataFrame, margins: Mapping, groups: Mapping, d: pd.Series, *,
                     executor: RayExecutor, label: str, desc: str, show: bool, kwargs: dict) -> RegionalResult:
    """The ``by=`` loop of :func:`~personacal.calibrate._regions.by_region`, one chunk of regions per task."""
    ray = import_ray(label)
    chunks = executor.chunks(list(margins), ray)
    tasks = []
    for chunk in chunks:
        rows = [groups[r] for r in chunk]
        take = np.concatenate(rows)
        starts = np.cumsum([0] + [len(r) for r in rows])
        tasks.append({
            "margins": [_named(margins[r], r) for r in chunk],
            "sample": sample.iloc[take],
            "design": d.iloc[take],
            "slices": list(zip(starts[:-1], starts[1:])),
        })
    fitted = executor.map(_fit_chunk, tasks, shared={"fit": fit, "kwargs": kwargs}, desc=desc, progress=show)
    results = {}
    combined = np.empty(len(sample))
    for task, chunk, chunk_results in zip(tasks, chunks, fitted):
        for region, region_margins, res in zip(chunk, task["margins"], chunk_results):
            res = replace(res, margins=region_margins)  # the very object the fit was given, as in a serial run
            results[str(region)] = res
            combined[groups[region]] = res.weights.to_numpy()
    return RegionalResult(results, pd.Series(combined, index=sample.index, name="weight"), label)


def _fit_chunk(task: dict, shared: dict) -> list:
    """Fit a chunk's regions; each result travels back without its margins, which the driver holds.

    (Margins are indexed Series: unpickling them was over half the cost of bringing a result back.)
    """
    fit, kwargs = shared["fit"], shared["kwargs"]
    out = []
    for region_margins, (lo, hi) in zip(task["margins"], task["slices"]):
        res = fit(task["sample"].iloc[lo:hi], region_margins, weights=task["design"].iloc[lo:hi], **kwargs)
        out.append(replace(res, margins=None))
    return out


def joint_on_ray(by_region: Mapping[Any, Margins], seed_counts: pd.Series | None, *, executor: RayExecutor,
                 method: str, variables: tuple[str, ...], smoothing: float, tol: float, max_iter: int, show: bool,
                 single: bool):
    """The per-region loop of ``reconstruct_joint`` (methods "independent" and "ipf"), one chunk per task.

    Each task runs ``reconstruct_joint`` itself on its chunk of regions, from the
    seed table the caller already built; the chunks' tables and margin errors,
    each in region order, are joined in chunk order (the notes depend on the
    method and smoothing only, so any chunk's are the run's).
    """
    from ._results import JointResult

    ray = import_ray("reconstruct_joint")
    options = {"method": method, "variables": variables, "smoothing": smoothing, "tol": tol, "max_iter": max_iter}
    chunks = executor.chunks(list(by_region.items()), ray)
    fitted = executor.map(_joint_chunk, chunks, shared={"seed": seed_counts, "options": options, "single": single},
                          desc=f"joint ({method})", progress=show)
    if single:
        return fitted[0]
    margin_errors = pd.concat([f.margin_errors for f in fitted], ignore_index=True)
    return JointResult(
        table=pd.concat([f.table for f in fitted]).rename("count"),
        method=method,
        regions=tuple(r for f in fitted for r in f.regions),
        variables=variables,
        converged=all(f.converged for f in fitted),
        max_margin_error=float(margin_errors["rel_error"].max()),
        margin_errors=margin_errors,
        notes=fitted[0].notes,
    )


def _joint_chunk(chunk: list, shared: dict):
    from ._joint import reconstruct_joint

    margins = chunk[0][1] if shared["single"] else dict(chunk)
    return reconstruct_joint(margins, seed=shared["seed"], progress=False, **shared["options"])
