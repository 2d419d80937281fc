"""Inputs of the Bayesian joint fit: margins and seed as arrays on one cell grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, MappingError
from ._joint_bayes_design import EncodedMargin

__all__ = ["grid_categories", "encode_margins", "seed_on_grid"]

FUNC = "reconstruct_joint(method='bayes')"
#: 90% margins of error (the ACS convention) to standard errors.
Z90 = 1.6448536269514722
#: Smallest SD of an observed margin share, so that empty cells keep a finite scale.
SD_FLOOR = 1e-4


def grid_categories(by_region, variables) -> list[pd.Index]:
    """Each variable's categories, which every region naming it must list identically."""
    out = []
    for v in variables:
        found = [(r, m.categories(v)) for r, m in by_region.items() if v in m.variables]
        if not found:
            raise InputError(f"no region's margins name variable {v!r}; {FUNC} needs it in at least one region")
        first_region, first = found[0]
        for region, cats in found[1:]:
            if set(cats) != set(first):
                raise InputError(
                    f"regions {first_region!r} and {region!r} list different categories of {v!r}: "
                    f"{sorted(map(str, set(first) ^ set(cats)))[:5]} differ; give every region the same categories"
                )
        out.append(first)
    return out


def encode_margins(by_region, variables, categories, totals, noise, moe) -> list[EncodedMargin]:
    """Every margin key over ``variables``, as regions x cells shares (NaN where a region lacks it),
    with ``sd = sqrt((noise * share)^2 + (moe / 1.645 / total)^2 + SD_FLOOR^2)``."""
    if moe is not None:
        unknown = sorted(map(str, set(moe) - set(by_region)))
        if unknown or not all(hasattr(table, "get") for table in moe.values()):
            raise InputError(f"`moe` of {FUNC} must map regions of the margins to {{margin key: Series}}; "
                             f"unknown regions: {unknown[:5]}")
    keys = list(dict.fromkeys(
        tuple(sorted(k.variables, key=variables.index))
        for m in by_region.values() for k in m if set(k.variables) <= set(variables)
    ))
    out = []
    for key in keys:
        axes = tuple(variables.index(v) for v in key)
        cells = pd.MultiIndex.from_product([categories[a] for a in axes], names=list(key))
        observed = np.full((len(by_region), len(cells)), np.nan)
        moe_share = np.zeros_like(observed)
        for i, (region, m) in enumerate(by_region.items()):
            margin = next((k for k in m if set(k.variables) == set(key)), None)
            if margin is None:
                continue
            observed[i] = _aligned(margin.values, key, cells) / totals[i]
            given = _region_moe(moe, region, margin)
            if given is not None:
                moe_share[i] = np.nan_to_num(_aligned(given, key, cells)) / Z90 / totals[i]
        sd = np.sqrt((noise * observed) ** 2 + moe_share**2 + SD_FLOOR**2)
        out.append(EncodedMargin(":".join(key), axes, observed, sd))
    if not out:
        raise InputError(f"no margin of {FUNC} covers only the variables {list(variables)}")
    return out


def _aligned(values: pd.Series, key, cells: pd.MultiIndex) -> np.ndarray:
    if len(key) == 1:
        return values.reindex(cells.get_level_values(0)).to_numpy(float)
    return values.reorder_levels(list(key)).reindex(cells).to_numpy(float)


def _region_moe(moe, region, margin):
    """The 90% MOE Series of one region's margin, or None where ``moe`` gives none."""
    if moe is None or region not in moe:
        return None
    given = moe[region].get(margin.key)
    if given is not None and not isinstance(given, pd.Series):
        raise InputError(f"`moe[{region!r}][{margin.key!r}]` of {FUNC} must be a pandas Series like the margin; "
                         f"got {type(given).__name__}")
    return given


def seed_on_grid(seed: pd.Series, grid: pd.MultiIndex, variables, smoothing: float, seed_size) -> np.ndarray:
    """The seed's counts on the grid, mixed with ``smoothing`` of its own independence table
    and rescaled to ``seed_size`` (its effective sample size) when given."""
    aligned = seed.reindex(grid, fill_value=0.0)
    outside = seed[~seed.index.isin(grid)]
    if len(outside) and outside.sum() > 0:
        cell = dict(zip(variables, outside.index[0]))
        raise MappingError(
            f"seed cell {cell} uses categories the margins do not list; pass `mapping` to reconstruct_joint "
            "to map seed categories onto the target categories"
        )
    counts = aligned.to_numpy(float)
    if counts.sum() <= 0:
        raise InputError(f"the seed of {FUNC} has no mass on the margins' categories")
    if smoothing:
        dense = counts.reshape([len(level) for level in grid.levels])
        indep = np.ones_like(dense)
        for axis in range(dense.ndim):
            others = tuple(a for a in range(dense.ndim) if a != axis)
            indep = indep * dense.sum(axis=others, keepdims=True) / dense.sum()
        counts = (1 - smoothing) * counts + smoothing * indep.ravel() * counts.sum()
    size = counts.sum() if seed_size is None else seed_size
    return counts * (size / counts.sum())
