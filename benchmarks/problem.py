"""The raking problem every library in the benchmark is asked to solve.

Only numpy + stdlib here (plus pandas/pyarrow in ``write_problem``), so the same
module can be imported by the harness and, for ``max_margin_error``, by any check.

A problem is ``M`` categorical columns whose categories come from thresholding
correlated Gaussians (one shared latent factor ``z``), so the columns are
associated with each other. Sample category shares fall off geometrically with the
category index; population targets rise with it, so every margin is skewed
*against* its target, and the correlation between columns is what makes IPF need
many sweeps (fixing one margin undoes part of the others). Targets are integer population totals that sum
to the same population in every margin (consistent, exactly representable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

POPULATION = 50_000_000


@dataclass(frozen=True)
class Spec:
    name: str
    n: int
    levels: tuple[int, ...]
    rho: float  # loading of every column on the shared latent factor
    skew: float  # log-ratio between last and first category share
    seed: int
    infeasible: bool = False  # empty one sample category that keeps a positive target


MAIN = Spec("main", 1_000_000, (5, 7, 9, 4, 50), rho=0.7, skew=1.5, seed=20240611)
BIG = Spec("big", 10_000_000, (5, 7, 9, 4, 50), rho=0.7, skew=1.5, seed=20240611)
UNIQUE = Spec(
    "unique_cells",
    1_000_000,
    (10, 12, 14, 16, 18, 20, 15, 11),
    rho=0.5,
    skew=1.0,
    seed=7,
)


def column_names(spec: Spec) -> list[str]:
    return [f"c{j + 1}" for j in range(len(spec.levels))]


def category_labels(col: str, n_levels: int) -> list[str]:
    return [f"{col}_{k:02d}" for k in range(n_levels)]


def _geometric_shares(n_levels: int, log_ratio: float) -> np.ndarray:
    k = np.arange(n_levels) / max(n_levels - 1, 1)
    p = np.exp(log_ratio * k)
    return p / p.sum()


def _integer_totals(shares: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding, so every margin sums to exactly ``total``."""
    raw = shares * total
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(raw - out)[::-1][:short]] += 1
    return out


def make_problem(spec: Spec) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return (codes, targets): one small-int code array and one float64 total array per column."""
    rng = np.random.default_rng(spec.seed)
    z = rng.standard_normal(spec.n)
    inv = NormalDist().inv_cdf
    codes, targets = [], []
    for n_levels in spec.levels:
        sample_shares = _geometric_shares(n_levels, -spec.skew)
        target_shares = _geometric_shares(n_levels, spec.skew)
        cuts = np.array([inv(c) for c in np.cumsum(sample_shares)[:-1]])
        u = spec.rho * z + np.sqrt(1.0 - spec.rho**2) * rng.standard_normal(spec.n)
        dtype = np.int8 if n_levels <= 127 else np.int16
        codes.append(np.searchsorted(cuts, u).astype(dtype))
        targets.append(_integer_totals(target_shares, POPULATION).astype(np.float64))
    if spec.infeasible:
        # the last column's category 0 loses all its rows to category 1
        last = codes[-1]
        last[last == 0] = 1
    return codes, targets


def max_margin_error(
    weights: np.ndarray, codes: list[np.ndarray], targets: list[np.ndarray]
) -> float:
    """max over margins and categories of |weighted total - target| / target."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != codes[0].shape:
        return float("nan")
    worst = 0.0
    for c, t in zip(codes, targets):
        tot = np.bincount(c, weights=weights, minlength=len(t))
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.where(t > 0, np.abs(tot - t) / t, np.where(tot == 0, 0.0, np.inf))
        worst = max(worst, float(np.max(err)))
    return worst


def n_distinct_cells(codes: list[np.ndarray], levels: tuple[int, ...]) -> int:
    flat = np.ravel_multi_index(tuple(c.astype(np.intp) for c in codes), levels)
    return int(np.unique(flat).size)


def write_problem(spec: Spec, folder: Path) -> dict:
    """Write sample.parquet (pandas Categorical columns), codes.npz and targets.json."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    codes, targets = make_problem(spec)
    cols = column_names(spec)
    frame = pd.DataFrame(
        {
            col: pd.Categorical.from_codes(c, categories=category_labels(col, len(t)))
            for col, c, t in zip(cols, codes, targets)
        }
    )
    frame.to_parquet(folder / "sample.parquet", index=False)
    np.savez(
        folder / "codes.npz",
        **{f"codes_{col}": c for col, c in zip(cols, codes)},
        **{f"targets_{col}": t for col, t in zip(cols, targets)},
    )
    meta = {
        "name": spec.name,
        "n": spec.n,
        "columns": cols,
        "levels": list(spec.levels),
        "population": POPULATION,
        "targets": {
            col: dict(zip(category_labels(col, len(t)), t.tolist()))
            for col, t in zip(cols, targets)
        },
    }
    (folder / "targets.json").write_text(json.dumps(meta))
    return meta
