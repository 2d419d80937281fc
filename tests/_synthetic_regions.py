"""Synthetic county-like regions: a persona sample and margins per region, for many-region runs.

Deterministic given ``seed``. Each region has its own population size (log-normal,
like US counties), its own age/sex/education mix and a sample of 40-120 rows in
which every combination occurs, so raking is feasible in every region. The
benchmark (benchmarks/bench_ray.py) uses the same generator with 3,143 regions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personacal.calibrate import Margins

AGES = ("18-29", "30-44", "45-64", "65+")
SEXES = ("F", "M")
EDUCATION = ("hs", "college", "graduate")


def _mix(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.dirichlet(np.full(k, 8.0))


def synthetic_regions(n_regions: int, *, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Margins]]:
    """``(sample, {region: Margins})`` with margins age, sex, education and age x sex."""
    rng = np.random.default_rng(seed)
    frames, margins = [], {}
    for r in range(n_regions):
        region = f"C{r:05d}"
        population = float(np.round(np.exp(rng.normal(10.2, 1.4)))) + 1000.0
        age, sex, edu = _mix(rng, len(AGES)), _mix(rng, len(SEXES)), _mix(rng, len(EDUCATION))
        age_sex = np.outer(age, sex) * population
        n = int(rng.integers(40, 121))
        # every age x sex x education combination once (so raking is feasible), the rest drawn
        # from a tilted mix: a sample biased against the population
        full = pd.MultiIndex.from_product([AGES, SEXES, EDUCATION]).to_frame(index=False).to_numpy().T
        rows = {
            name: np.concatenate([full[k], rng.choice(levels, n - full.shape[1], p=_mix(rng, len(levels)))])
            for k, (name, levels) in enumerate((("age", AGES), ("sex", SEXES), ("education", EDUCATION)))
        }
        frames.append(pd.DataFrame({"region": region, **rows, "d": rng.uniform(0.5, 2.0, n)}))
        margins[region] = Margins({
            "age": dict(zip(AGES, age * population)),
            "sex": dict(zip(SEXES, sex * population)),
            "education": dict(zip(EDUCATION, edu * population)),
            ("age", "sex"): pd.Series(age_sex.ravel(), index=pd.MultiIndex.from_product([AGES, SEXES],
                                                                                         names=["age", "sex"])),
        }, name=region)
    sample = pd.concat(frames, ignore_index=True)
    # shuffle so that a region's rows are scattered through the sample, as in real files
    return sample.sample(frac=1.0, random_state=seed).reset_index(drop=True), margins


def synthetic_seed(*, seed: int = 0, n: int = 5000) -> pd.DataFrame:
    """National microdata with age x education structure, for ``reconstruct_joint(method="ipf")``."""
    rng = np.random.default_rng(seed + 1)
    age = rng.choice(AGES, n)
    older = np.isin(age, AGES[2:])
    edu = np.where(older & (rng.random(n) < 0.5), "hs", rng.choice(EDUCATION, n))
    return pd.DataFrame({"age": age, "sex": rng.choice(SEXES, n), "education": edu})
