"""Replay an R survey reference case (tests/results/r_survey/) with personacal's numeric kernels.

Each case's ``steps`` say what R did (calibrate, poststratify, rake, trim_weights);
this module redoes them on the recorded data with the kernels of
``personacal.calibrate._greg``, ``_linearization``, ``_design_variance`` and
``_replicates``, then computes every estimate R reported with its standard error.
It is what phase 2's ``SurveyDesign`` will do behind its public methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd
import r_survey as ref

from personacal.calibrate._design_variance import design_vcov
from personacal.calibrate._greg import (
    calibrate_g,
    calibrate_within_clusters,
    cluster_mean,
    poststratify_weights,
    trim_g,
    trim_weights,
    unit_bounds,
)
from _reference_kernels import rake_units
from personacal.calibrate._linearization import (
    PostStratification,
    Raking,
    mean_influence,
    residualize,
    total_influence,
)
from personacal.calibrate._replicates import (
    poststratify_replicates,
    rake_replicates,
    recalibrate_replicates,
    replicate_means,
    replicate_totals,
    replicate_vcov,
)

CAL_TOL = 1e-13
RAKE_TOL = 1e-14


@dataclass
class Replay:
    weights: np.ndarray
    steps: list = field(default_factory=list)
    stage_projections: dict = field(default_factory=dict)
    replicate_weights: np.ndarray | None = None
    replicate_failures: list = field(default_factory=list)
    fits: list = field(default_factory=list)


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values).astype(str), sort=True)[0]


def _number(text) -> float:
    return float(text)


def _cells(data: pd.DataFrame, variables) -> pd.Series:
    return data[list(variables)].astype(str).agg("|".join, axis=1)


def _table_codes(data: pd.DataFrame, totals: pd.DataFrame, margin: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Each unit's cell code in a rake/postStratify table, the table's counts, and the cell labels."""
    rows = totals[totals["margin"] == margin]
    labels = list(rows["cell"])
    position = {label: i for i, label in enumerate(labels)}
    unit = _cells(data, margin.split("+"))
    missing = sorted(set(unit) - set(position))
    if missing:  # sample cells the table does not list: give them a zero population count
        labels += missing
        position.update({m: len(position) + i for i, m in enumerate(missing)})
    counts = np.concatenate([rows["value"].to_numpy(dtype=float), np.zeros(len(missing))])
    return unit.map(position).to_numpy(), counts, labels


def _calibrate(spec: dict, case: dict, data: pd.DataFrame, state: Replay) -> None:
    cid = case["id"]
    x_frame = ref.load_x(cid)
    x = x_frame.to_numpy(dtype=float)
    totals = ref.load_totals(cid)
    w = state.weights
    if spec["stage"]:
        by_cluster = {}
        for cell, value in zip(totals["cell"], totals["value"]):
            code, name = cell.split(":", 1)
            by_cluster.setdefault(code, {})[name] = value
        cluster = data["cluster1"].astype(str).to_numpy()
        target = {c: np.array([v[n] for n in x_frame.columns]) for c, v in by_cluster.items()}
        stage_weight = data["popsize1"].to_numpy(float) / data["sampsize1"].to_numpy(float)
        g, blocks = calibrate_within_clusters(x, w, stage_weight, cluster, target)
        state.stage_projections = {1: {_stage_code(data, c): b for c, b in blocks.items()}}
        state.weights = w * g
        return
    target = totals.set_index("cell")["value"].reindex(x_frame.columns).to_numpy(dtype=float)
    if spec["bounds"] == "per_unit":
        lower, upper = ref.load_unit_bounds(cid)
    else:
        lower, upper = _number(spec["bounds"]["lower"]), _number(spec["bounds"]["upper"])
    lo, hi = unit_bounds(lower, upper, w, on_weights=spec["bounds_const"])
    variance = None
    if spec.get("variance"):
        v = spec["variance"]
        variance = x @ np.atleast_1d(v["value"]) if v["kind"] == "coef" else data[v["column"]].to_numpy(float)
    cluster = None
    if spec.get("aggregate_stage"):
        cluster = _codes(data[f"cluster{spec['aggregate_stage']}"])
    elif spec.get("aggregate_index"):
        index = spec["aggregate_index"]
        cluster = _codes(data[index if isinstance(index, str) else index[0]])
    options = dict(calfun=spec["calfun"], lower=lo, upper=hi, variance=variance, tol=CAL_TOL, max_iter=1000)
    fit = calibrate_g(x, w, target, cluster=cluster, names=list(x_frame.columns), **options)
    state.fits.append(fit)
    g, projection = fit.g, fit.projection
    trim = None if spec.get("trim") is None else tuple(float(t) for t in spec["trim"])
    if trim is not None:
        g, _ = trim_g(g, w if cluster is None else cluster_mean(w, cluster), *trim)
        projection = replace(projection, g=g)
    state.weights = w * g
    state.steps.append(projection)
    if state.replicate_weights is not None:
        state.replicate_weights, state.replicate_failures = recalibrate_replicates(
            state.replicate_weights, x, target, trim=trim, cluster=cluster, **options)


def _stage_code(data: pd.DataFrame, cluster_label: str):
    """The integer code the variance kernel sees for a first-stage cluster label."""
    codes = _codes(data["cluster1"])
    labels = data["cluster1"].astype(str).to_numpy()
    return codes[np.flatnonzero(labels == cluster_label)[0]]


def _poststratify(spec: dict, case: dict, data: pd.DataFrame, state: Replay) -> None:
    margin = "+".join(spec["strata"])
    codes, counts, labels = _table_codes(data, ref.load_totals(case["id"]), margin)
    old = state.weights
    state.weights = poststratify_weights(old, codes, counts, partial=spec["partial"], labels=labels)
    state.steps.append(PostStratification(codes, old, state.weights))
    if state.replicate_weights is not None:
        state.replicate_weights = poststratify_replicates(state.replicate_weights, codes, counts)


def _rake(spec: dict, case: dict, data: pd.DataFrame, state: Replay) -> None:
    totals = ref.load_totals(case["id"])
    tables = [_table_codes(data, totals, margin) for margin in spec["margins"]]
    codes = [t[0] for t in tables]
    targets = [t[1] for t in tables]
    state.weights, _, _, _ = rake_units(state.weights, codes, targets, tol=RAKE_TOL, max_iter=1000)
    # R keeps, per margin, the weights right after that margin's post-stratification in the last
    # sweep; at convergence they equal the final weights to ~1e-13.
    state.steps.append(Raking(tuple(codes), tuple(state.weights for _ in codes)))
    if state.replicate_weights is not None:
        state.replicate_weights, state.replicate_failures = rake_replicates(
            state.replicate_weights, codes, targets, tol=RAKE_TOL)


def _trim_weights(spec: dict, case: dict, data: pd.DataFrame, state: Replay) -> None:
    state.weights, _ = trim_weights(state.weights, _number(spec["lower"]), _number(spec["upper"]),
                                    strict=spec["strict"])


STEP_RUNNERS = {"calibrate": _calibrate, "poststratify": _poststratify, "rake": _rake,
                "trim_weights": _trim_weights}


@lru_cache(maxsize=None)
def replay(case_id: str) -> tuple[Replay, dict, pd.DataFrame]:
    """Redo a case's weighting steps; returns the state, the case spec and the design data (cached: read only)."""
    case = ref.case_spec(case_id)
    data = ref.load_design_data(case["design"])
    state = Replay(weights=data["weight"].to_numpy(dtype=float).copy())
    if case.get("replicate"):
        mult, _, _, _ = ref.load_replicates(case["replicate"])
        state.replicate_weights = state.weights[:, None] * mult
    for spec in case["steps"]:
        STEP_RUNNERS[spec["op"]](spec, case, data, state)
    return state, case, data


def _indicator(data: pd.DataFrame, variable: str) -> np.ndarray:
    """The y column R's estimate refers to: a numeric column, or a factor dummy such as 'stypeH'."""
    if variable in data.columns:
        return data[variable].to_numpy(dtype=float)
    for column in ("sch.wide", "comp.imp", "stype"):
        if variable.startswith(column):
            return (data[column].astype(str) == variable[len(column):]).to_numpy(dtype=float)
    raise KeyError(variable)


def design_arrays(data: pd.DataFrame) -> dict:
    stages = sorted(int(c[len("cluster"):]) for c in data.columns if c.startswith("cluster"))
    strata = np.column_stack([_codes(data[f"strata{k}"]) for k in stages])
    clusters = np.column_stack([_codes(data[f"cluster{k}"]) for k in stages])
    sampsize = np.column_stack([data[f"sampsize{k}"].to_numpy(float) for k in stages])
    popsize = None
    if "popsize1" in data.columns:
        popsize = np.column_stack([data[f"popsize{k}"].to_numpy(float) for k in stages])
    return dict(strata=strata, clusters=clusters, sampsize=sampsize, popsize=popsize)


def estimates(case_id: str) -> pd.DataFrame:
    """R's estimate table for a case with personacal's estimate and SE beside R's."""
    state, case, data = replay(case_id)
    table = ref.load_estimates(case_id).copy()
    arrays = design_arrays(data)
    calibrated = bool(state.steps or state.stage_projections)
    mult_scale = None
    if case.get("replicate"):
        _, scale, rscales, _ = ref.load_replicates(case["replicate"])
        mult_scale = (scale, rscales)
    ours, ses = [], []
    for row in table.itertuples():
        y = _indicator(data, row.variable)
        domain = None if row.by == "" else (data[row.by].astype(str) == row.group).to_numpy()
        influence = mean_influence if row.statistic == "mean" else total_influence
        estimate, z = influence(y, state.weights, domain)
        ours.append(float(estimate[0]))
        if mult_scale is not None:
            reps = (replicate_means if row.statistic == "mean" else replicate_totals)(y, state.replicate_weights, domain)
            var = replicate_vcov(reps, estimate, mult_scale[0], mult_scale[1])
        else:
            z = residualize(z, state.steps)
            present = domain if (domain is not None and not calibrated) else None
            var = design_vcov(z, **arrays, lonely_psu=case["lonely_psu"], present=present,
                              stage_projections=state.stage_projections)
        ses.append(float(np.sqrt(var[0, 0])))
    table["ours"] = ours
    table["our_se"] = ses
    return table
