"""Load the R reference calibration results committed under ``tests/results/r_reference/``.

The files are produced by ``Rscript tests/results/r_reference.R`` (see README.md
next to this file). Only pandas is needed, so the tests can run without R.

Running this module as a script checks, with plain pandas, that every R result
meets its targets and respects its bounds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "r_reference"
DESIGN_WEIGHT = "d"
LOGLIN_VARIABLES = ("a", "b", "c", "d")


class LoglinCase(NamedTuple):
    seed: pd.DataFrame  # columns a, b, c, d, value (one row per cell)
    margins: pd.DataFrame  # long format: margin, a, b, c, d, value
    fit: pd.DataFrame  # R's fitted table, same layout as seed
    metadata: dict


def _read_labels(path: Path, label_columns) -> pd.DataFrame:
    return pd.read_csv(path, dtype={c: "string" for c in label_columns}, keep_default_na=False, na_values=[""])


def load_metadata(name: str | None = None) -> dict:
    """Metadata of one problem ('P1', 'P2', 'P3', 'loglin') or, with no name, the summary."""
    path = RESULTS_DIR / "metadata.json" if name is None else RESULTS_DIR / name / "metadata.json"
    return json.loads(path.read_text())


def list_problems() -> list[str]:
    return sorted(p.name for p in RESULTS_DIR.iterdir() if p.is_dir() and p.name.startswith("P"))


def list_methods(name: str) -> list[str]:
    return list(load_metadata(name)["methods"])


def load_problem(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(sample, targets in long format, design weight column) of problem ``name``.

    ``sample`` has ``id``, one string column per categorical variable and ``d``.
    ``targets`` has ``margin`` ("age" or "age:sex"), one column per variable
    (missing where the variable is not in that margin) and ``value``.
    """
    variables = load_metadata(name)["variables"]
    sample = _read_labels(RESULTS_DIR / name / "sample.csv", ["id", *variables])
    targets = _read_labels(RESULTS_DIR / name / "targets.csv", ["margin", *variables])
    return sample, targets, DESIGN_WEIGHT


def load_poststrat_targets(name: str) -> pd.DataFrame:
    """Long-format population table of the post-strata used by ``postStratify`` (P1, P2)."""
    variables = load_metadata(name)["variables"]
    return _read_labels(RESULTS_DIR / name / "targets_poststrat.csv", ["margin", *variables])


def load_r_weights(name: str, method: str) -> pd.Series:
    """R's final weights of ``method`` on problem ``name``, indexed by ``id``.

    Methods: rake, linear, linear_bounded, raking, raking_bounded, logit_bounded,
    poststratify (P1, P2 only).
    """
    frame = _read_labels(RESULTS_DIR / name / f"weights_{method}.csv", ["id"])
    return frame.set_index("id")["weight"].rename(f"{name}:{method}")


def load_bounds(name: str, method: str) -> tuple[float, float] | None:
    """Bounds (lower, upper) on g = w/d used by ``method``, or None when unbounded."""
    entry = load_metadata(name)["methods"][method]
    if "bounds" not in entry:
        return None
    return entry["bounds"]["lower"], entry["bounds"]["upper"]


def load_kish() -> dict:
    """R's Kish effective sample size and design effect hand-checks on P1."""
    return json.loads((RESULTS_DIR / "P1" / "kish.json").read_text())


def load_loglin(variant: str = "dense") -> LoglinCase:
    """Seed, target margins and R's ``loglin`` fit; ``variant`` is 'dense' or 'zeros'."""
    labels = list(LOGLIN_VARIABLES)
    root = RESULTS_DIR / "loglin"
    return LoglinCase(
        seed=_read_labels(root / f"seed_{variant}.csv", labels),
        margins=_read_labels(root / f"margins_{variant}.csv", ["margin", *labels]),
        fit=_read_labels(root / f"fit_{variant}.csv", labels),
        metadata=load_metadata("loglin"),
    )


def max_relative_margin_error(cells: pd.DataFrame, weight: pd.Series, targets: pd.DataFrame) -> float:
    """Largest |weighted total - target| / |target| over every row of ``targets``."""
    worst = 0.0
    for label, block in targets.groupby("margin", sort=False):
        variables = str(label).split(":")
        got = weight.groupby([cells[v] for v in variables]).sum()
        want = block.set_index(variables)["value"]
        got = got.reindex(want.index, fill_value=0.0)
        worst = max(worst, float(((got - want).abs() / want.abs()).max()))
    return worst


def calibration_function(method: str, bounds: tuple[float, float] | None):
    """(g -> u, u -> g) of R's calibration function for ``method`` (u = x'eta, g = w/d)."""
    lower, upper = bounds if bounds is not None else (-np.inf, np.inf)
    if method.startswith("linear"):
        return (lambda g: g - 1.0), (lambda u: np.clip(1.0 + u, lower, upper))
    if method.startswith("logit"):
        a = (upper - lower) / ((upper - 1.0) * (1.0 - lower))

        def inverse(u):
            e = np.exp(a * u)
            return (lower * (upper - 1.0) + upper * (1.0 - lower) * e) / (upper - 1.0 + (1.0 - lower) * e)

        return (lambda g: np.log((g - lower) * (upper - 1.0) / ((upper - g) * (1.0 - lower))) / a), inverse
    return np.log, (lambda u: np.clip(np.exp(u), lower, upper))


def fixed_point_residual(name: str, method: str) -> float:
    """max |g - F^-1(x'eta)| with eta least-squares fitted on the units strictly inside the bounds.

    Near zero means R's weights have the calibration-estimator form (units at a
    bound are clamped there, the rest lie on one F^-1(x'eta) surface).
    """
    sample, targets, dcol = load_problem(name)
    cells = sample.set_index("id")
    blocks = []
    for label in targets["margin"].unique():
        key = cells[str(label).split(":")].astype(str).agg("|".join, axis=1)
        blocks.append(pd.get_dummies(key).astype(float))
    x = pd.concat(blocks, axis=1).to_numpy()
    g = load_r_weights(name, method).reindex(cells.index).to_numpy() / cells[dcol].to_numpy()
    bounds = load_bounds(name, method)
    to_u, to_g = calibration_function(method, bounds)
    interior = np.ones(len(g), dtype=bool)
    if bounds is not None:
        interior = (np.abs(g - bounds[0]) > 1e-9) & (np.abs(g - bounds[1]) > 1e-9)
    eta, *_ = np.linalg.lstsq(x[interior], to_u(g[interior]), rcond=None)
    return float(np.abs(to_g(x @ eta) - g).max())


def _check_all(tolerance: float = 1e-9) -> list[str]:
    lines = []
    for name in list_problems():
        sample, targets, dcol = load_problem(name)
        design = sample.set_index("id")[dcol]
        cells = sample.set_index("id")
        for method in list_methods(name):
            weights = load_r_weights(name, method).reindex(cells.index)
            assert weights.notna().all(), f"{name}/{method}: ids do not match the sample"
            used = load_poststrat_targets(name) if method == "poststratify" else targets
            err = max_relative_margin_error(cells, weights, used)
            assert err < tolerance, f"{name}/{method}: margin error {err:.3g}"
            line = f"{name:3s} {method:15s} max rel margin error {err:.2e}"
            bounds = load_bounds(name, method)
            if bounds is not None:
                g = weights / design
                lower, upper = bounds
                assert g.min() >= lower - 1e-12 and g.max() <= upper + 1e-12, f"{name}/{method}: g outside bounds"
                at_lower = int(((g - lower).abs() < 1e-9).sum())
                at_upper = int(((g - upper).abs() < 1e-9).sum())
                line += f"  g in [{g.min():.6f}, {g.max():.6f}] bounds {bounds} at L/U: {at_lower}/{at_upper}"
            if method in ("rake", "raking", "linear_bounded", "raking_bounded", "logit_bounded"):
                residual = fixed_point_residual(name, method)
                assert residual < 1e-10, f"{name}/{method}: not of calibration form ({residual:.3g})"
                line += f"  fixed-point residual {residual:.1e}"
            lines.append(line)
        rake, raking = load_r_weights(name, "rake"), load_r_weights(name, "raking")
        lines.append(f"{name:3s} rake vs calibrate(raking): max rel diff {float(((rake - raking) / raking).abs().max()):.2e}")
    for variant in ("dense", "zeros"):
        case = load_loglin(variant)
        labels = list(LOGLIN_VARIABLES)
        fit = case.fit.set_index(labels)["value"]
        cells = fit.index.to_frame(index=False)
        err = max_relative_margin_error(cells, pd.Series(fit.to_numpy()), case.margins)
        assert err < tolerance, f"loglin/{variant}: margin error {err:.3g}"
        zero_seed = case.seed["value"].to_numpy() == 0
        assert (case.fit["value"].to_numpy()[zero_seed] == 0).all(), "zero seed cells must stay zero"
        lines.append(f"loglin {variant:6s} max rel margin error {err:.2e} (zero seed cells: {int(zero_seed.sum())})")
    kish = load_kish()
    for key in ("design_weights", "rake_weights"):
        w = load_r_weights("P1", "rake") if key == "rake_weights" else load_problem("P1")[0][DESIGN_WEIGHT]
        ess = float(w.sum() ** 2 / (w**2).sum())
        assert abs(ess - kish[key]["kish_ess"]) < 1e-9 * ess
        lines.append(f"P1  Kish ESS ({key}) {ess:.6f} matches R {kish[key]['kish_ess']:.6f}")
    return lines


if __name__ == "__main__":
    print("\n".join(_check_all()))
