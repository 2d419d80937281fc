"""Replay an R survey reference case (tests/results/r_survey/) through personacal's PUBLIC API.

Where ``_survey_cases.py`` feeds R's model matrix to the kernels, this module does
what a user does: builds a ``SurveyDesign`` from the data columns R's
``svydesign`` call names, turns R's population vector (treatment-coded model
matrix totals) into ``Margins`` of categories and numeric totals, and calls
``calibrate`` / ``rake`` / ``poststratify`` / ``trim`` and ``design.mean`` /
``design.total``. The translation of R's inputs is test code; the numbers it
is compared with are R's.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent / "results"))  # also when run as a script
import r_survey as ref  # noqa: E402

from personacal.calibrate import (  # noqa: E402
    Margins, SurveyDesign, calibrate, calibrate_within, poststratify, rake, trim,
)

#: R's svydesign calls (tests/results/README_survey.md), as SurveyDesign arguments on the data files.
DESIGNS = {
    "strat": dict(weights="pw", strata="stype", fpc="popsize1"),
    "strat_nofpc": dict(weights="pw", strata="stype"),
    "clus1": dict(weights="pw", clusters="dnum", fpc="popsize1"),
    "clus1_nofpc": dict(weights="pw", clusters="dnum"),
    "clus2": dict(clusters=["dnum", "snum"], fpc=["popsize1", "popsize2"]),
    "clus2a": dict(clusters=["dnum", "snum"], fpc=["popsize1", "popsize2"]),
    "lonely": dict(weights="pw", strata="cname"),
    "kalton": dict(),
    "badcal": dict(weights="weight"),
}
#: Factor columns of the api data; anything else in a model matrix is numeric.
FACTORS = ("stype", "sch.wide", "comp.imp", "cname")
#: Factors that only exist as model-matrix dummies in the reference files (reference level "1").
DUMMY_FACTORS = {"a": "a", "b": "b", "factor(x)": "x"}
#: Calls the public API does not offer - kernel replay only (none left: R's calibrate(stage=1) is calibrate_within).
NOT_PUBLIC: set[str] = set()


def _term(name: str) -> tuple[str, str] | None:
    """(factor, level) of a dummy column such as 'stypeH' or 'a2'; None for a numeric column."""
    for factor in FACTORS:
        if name.startswith(factor) and len(name) > len(factor):
            return factor, name[len(factor):]
    for factor, column in DUMMY_FACTORS.items():
        if name.startswith(factor) and name[len(factor):].isdigit():
            return column, name[len(factor):]
    return None


def sample_frame(case_id: str) -> pd.DataFrame:
    """The design data plus the columns that exist only in R's model matrix (kalton's a, b; badcal's x)."""
    case = ref.case_spec(case_id)
    data = ref.load_design_data(case["design"]).copy()
    x_cases = [c for c in [case_id] if any(s["op"] == "calibrate" for s in case["steps"])]
    for cid in x_cases:
        x = ref.load_x(cid)
        for column in x.columns:
            if column == "(Intercept)" or ":" in column:
                continue
            term = _term(column)
            if term is None and column not in data:
                data[column] = x[column].to_numpy(float)
            elif term is not None and term[0] not in data:
                factor = term[0]
                dummies = [c for c in x.columns if _term(c) and _term(c)[0] == factor and ":" not in c]
                level = np.full(len(x), "1", dtype=object)
                for c in dummies:
                    level[x[c].to_numpy() == 1] = _term(c)[1]
                data[factor] = level
    return data


def _levels(data: pd.DataFrame, factor: str) -> list[str]:
    return sorted(pd.unique(data[factor].astype(str)))


def margins_from_r(case_id: str, data: pd.DataFrame) -> Margins:
    """R's population vector (model-matrix totals) as categorical margins and numeric totals.

    Each margin's cell totals solve C' t = T, C the treatment-coded columns (intercept, main
    effects and interactions inside the margin's variables) evaluated at each cell.
    """
    x = ref.load_x(case_id)
    totals = ref.load_totals(case_id).set_index("cell")["value"]
    terms = {c: [] if c == "(Intercept)" else [_term(t) for t in c.split(":")] for c in x.columns}
    numeric = {c: float(totals[c]) for c, parts in terms.items() if parts and any(p is None for p in parts)}
    factor_sets = [tuple(dict.fromkeys(p[0] for p in parts)) for c, parts in terms.items()
                   if parts and c not in numeric]
    maximal = [s for s in dict.fromkeys(factor_sets) if not any(set(s) < set(o) for o in factor_sets)]
    margins = {}
    for variables in maximal:
        columns = [c for c, parts in terms.items() if c not in numeric and {p[0] for p in parts} <= set(variables)]
        cells = list(pd.MultiIndex.from_product([_levels(data, v) for v in variables], names=list(variables)))
        basis = np.array([[all(dict(zip(variables, cell))[f] == lvl for f, lvl in terms[c]) for c in columns]
                          for cell in cells], dtype=float)
        cell_totals = np.linalg.solve(basis.T, totals[columns].to_numpy(float))
        index = pd.MultiIndex.from_tuples(cells, names=list(variables)) if len(variables) > 1 \
            else pd.Index([c[0] for c in cells], name=variables[0])
        margins[variables if len(variables) > 1 else variables[0]] = pd.Series(cell_totals, index=index)
    population = float(totals["(Intercept)"]) if "(Intercept)" in totals and not margins else None
    return Margins(margins or None, totals=numeric or None, population=population)


def _table(case_id: str, margin: str, data: pd.DataFrame) -> pd.Series:
    rows = ref.load_totals(case_id)
    rows = rows[rows["margin"] == margin]
    variables = margin.split("+")
    cells = [tuple(c.split("|")) for c in rows["cell"]]
    index = pd.MultiIndex.from_tuples(cells, names=variables) if len(variables) > 1 \
        else pd.Index([c[0] for c in cells], name=variables[0])
    return pd.Series(rows["value"].to_numpy(float), index=index)


def margins_by_cluster(case_id: str) -> dict[str, Margins]:
    """R's list of per-cluster total vectors ('<cluster>:(Intercept)', '<cluster>:api99') as Margins per cluster."""
    by_cluster: dict[str, dict[str, float]] = {}
    for cell, value in ref.load_totals(case_id)[["cell", "value"]].itertuples(index=False):
        cluster, name = cell.split(":", 1)
        by_cluster.setdefault(cluster, {})[name] = float(value)
    return {cluster: Margins(totals={k: v for k, v in totals.items() if k != "(Intercept)"},
                             population=totals["(Intercept)"]) for cluster, totals in by_cluster.items()}


def _calibrate(design, spec, case_id, data):
    if spec["stage"]:
        return calibrate_within(design, margins_by_cluster(case_id)).design
    margins = margins_from_r(case_id, data)
    if spec["bounds"] == "per_unit":
        bounds = ref.load_unit_bounds(case_id)
    else:
        lower, upper = float(spec["bounds"]["lower"]), float(spec["bounds"]["upper"])
        bounds = None if np.isinf(lower) and np.isinf(upper) else (lower, upper)
    variance = None
    if spec.get("variance"):
        v = spec["variance"]
        variance = v["column"] if v["kind"] == "column" else ref.load_x(case_id).to_numpy(float) @ np.atleast_1d(
            v["value"])
    cluster = True if spec.get("aggregate_stage") else spec.get("aggregate_index")
    trim_g = None if spec.get("trim") is None else tuple(float(t) for t in spec["trim"])
    return calibrate(design, margins, method=spec["calfun"], bounds=bounds,
                     bounds_on="weights" if spec["bounds_const"] else "g", variance=variance, cluster=cluster,
                     trim=trim_g, tol=1e-13, max_iter=1000, on_nonconvergence="raise").design


def _rake(design, spec, case_id, data):
    tables = {}
    for margin in spec["margins"]:
        key = tuple(margin.split("+"))
        tables[key if len(key) > 1 else key[0]] = _table(case_id, margin, data)
    return rake(design, Margins(tables), tol=1e-14, max_iter=1000).design


def _poststratify(design, spec, case_id, data):
    return poststratify(design, _table(case_id, "+".join(spec["strata"]), data), partial=spec["partial"]).design


def _trim(design, spec, case_id, data):
    return trim(design, rule="additive", lower=float(spec["lower"]), upper=float(spec["upper"]),
                strict=spec["strict"]).design


STEPS = {"calibrate": _calibrate, "rake": _rake, "poststratify": _poststratify, "trim_weights": _trim}


def base_design(case_id: str) -> SurveyDesign:
    case = ref.case_spec(case_id)
    return SurveyDesign(sample_frame(case_id), lonely_psu=case["lonely_psu"], **DESIGNS[case["design"]])


@lru_cache(maxsize=None)
def public_design(case_id: str) -> SurveyDesign:
    """The case's design, with R's replicates (JK1/JKn rebuilt, bootstrap as R drew it) and weighting steps."""
    case = ref.case_spec(case_id)
    design = base_design(case_id)
    if case.get("replicate"):
        mult, scale, rscales, meta = ref.load_replicates(case["replicate"])
        if meta["type"] in ("JK1", "JKn"):
            design = design.with_replicates(meta["type"])
        else:
            design = design.with_replicate_weights(mult, multipliers=True, scale=scale, rscales=rscales,
                                                   kind=meta["type"])
    data = design.data
    for spec in case["steps"]:
        design = STEPS[spec["op"]](design, spec, case_id, data)
    return design


def _split_variable(name: str, data: pd.DataFrame) -> tuple[str, str]:
    """R's estimate name ('api00', 'stypeH', 'sch.wideNo') as (column, category)."""
    if name in data.columns:
        return name, ""
    term = _term(name)
    return term if term else (name, "")


def public_estimates(case_id: str) -> pd.DataFrame:
    """R's estimates table with ours (from design.mean / design.total) beside it: columns ours, our_se."""
    design = public_design(case_id)
    table = ref.load_estimates(case_id).copy()
    data = design.data
    ours = pd.Series(np.nan, index=table.index)
    our_se = pd.Series(np.nan, index=table.index)
    for (statistic, by), rows in table.groupby(["statistic", "by"]):
        parsed = [_split_variable(v, data) for v in rows["variable"]]
        columns = list(dict.fromkeys(p[0] for p in parsed))
        method = design.mean if statistic == "mean" else design.total
        result = method(columns, group=by or None).table
        result = result.assign(_group=result[by].astype(str) if by else "")
        key = result.set_index(["variable", "category", "_group"])
        for i, (column, category), group in zip(rows.index, parsed, rows["group"]):
            ours[i] = key.loc[(column, category, group), "estimate"]
            our_se[i] = key.loc[(column, category, group), "se"]
    table["ours"] = ours
    table["our_se"] = our_se
    return table


#: The README's feature table: each public feature, its R counterpart, and the reference cases behind it.
FEATURES = [
    ("numeric auxiliaries (`Margins(totals=)`), linear / raking / logit", "`calibrate(design, ~stype + api99, pop)`",
     ["a01", "a02", "a03", "a04", "a09", "a11", "a12", "a13", "a14", "a16"]),
    ("ratio-type calibration (`variance=`)", "`calibrate(..., variance=)`", ["a07", "a08", "a10"]),
    ("bounded calibration (truncated linear, bounded raking, logit)", "`calibrate(bounds=c(L, U))`",
     ["a05", "a06", "a12", "b04", "b05"]),
    ("one-sided bounds (`bounds=(None, U)`)", "`bounds=c(-Inf, U)`", ["b01", "b02", "b03"]),
    ("per-unit bounds", "`bounds=list(lower=, upper=)`", ["b08", "b09"]),
    ("bounds on the weights (`bounds_on=\"weights\"`)", "`bounds.const=TRUE`", ["b06", "b07", "b10"]),
    ("`calibrate(trim=(a, b))`", "`calibrate(trim=)`", ["c03"]),
    ("`trim(rule=\"additive\")`, one pass and `strict=True`", "`trimWeights(strict=)`", ["c01", "c02", "c04", "c05"]),
    ("`poststratify`, `partial=True`", "`postStratify(partial=)`", ["d01", "d02", "d03", "d04", "d05"]),
    ("cluster-level calibration (`cluster=True` / a column)", "`aggregate.stage=1`, `aggregate.index=`",
     ["e01", "e02", "e03", "e04", "e05", "e07", "r08"]),
    ("calibration within first-stage clusters (`calibrate_within`)", "`calibrate(..., stage=1)`", ["e06"]),
    ("`rake(design, ...)`: R's rake() residuals", "`rake()`", ["g01", "g03", "g04", "g05"]),
    ("`calibrate(method=\"raking\")`: GREG residuals", "`calibrate(calfun=\"raking\")`", ["g02", "g06"]),
    ("linearised SEs: strata, PSUs, fpc, two stages", "`svydesign` + `svymean/svytotal/svyby`",
     ["plain_strat", "plain_strat_nofpc", "plain_clus1", "plain_clus1_nofpc", "plain_clus2"]),
    ("lonely PSU rules (`lonely_psu=`)", "`options(survey.lonely.psu=)`", ["l_certainty", "l_remove", "l_adjust",
                                                                          "l_average"]),
    ("JK1 replicates, weighting redone per replicate", "`as.svrepdesign(type=\"JK1\")`",
     ["r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r19"]),
    ("JKn replicates", "`as.svrepdesign(type=\"JKn\")`", ["r10", "r11", "r12", "r13", "r14", "r22"]),
    ("bootstrap replicates (R's draws via `with_replicate_weights`)", "`as.svrepdesign(type=\"bootstrap\")`",
     ["r15", "r16", "r17", "r18", "r20", "r21"]),
]


def _cases(prefixes):
    return [c for c in ref.list_cases() if any(c == p or c.startswith(p + "_") for p in prefixes)
            and c not in NOT_PUBLIC and c != "a15_badcal_raking_bounded"]


def feature_differences() -> pd.DataFrame:
    """Largest relative differences from R per feature (weights, estimates, non-zero SEs), public API."""
    rows = []
    for feature, r_name, prefixes in FEATURES:
        worst = {"weights": 0.0, "estimates": 0.0, "SEs": 0.0}
        counts = {"cases": 0, "weights": 0, "estimates": 0}
        for case_id in _cases(prefixes):
            counts["cases"] += 1
            w, r = public_design(case_id).weights.to_numpy(), ref.load_weights(case_id)
            worst["weights"] = max(worst["weights"], float(np.max(np.abs(w - r) / np.abs(r))))
            counts["weights"] += len(w)
            table = public_estimates(case_id)
            if not len(table):
                continue
            counts["estimates"] += len(table)
            worst["estimates"] = max(worst["estimates"],
                                     float(np.max(np.abs(table.ours - table.estimate) / table.estimate.abs())))
            if case_id != "r09_jk1_clus1_trim":
                nonzero = table.se >= 1e-8 * table.estimate.abs()
                worst["SEs"] = max(worst["SEs"], float(np.max(np.abs(table.our_se - table.se)[nonzero]
                                                              / table.se[nonzero])))
        rows.append({"feature": feature, "R": r_name, **counts, **worst})
    return pd.DataFrame(rows)


if __name__ == "__main__":  # python tests/_survey_public.py: the README's feature table
    import warnings

    warnings.simplefilter("ignore")
    frame = feature_differences()
    for row in frame.itertuples(index=False):
        print(f"| {row.feature} | {row.R} | {row.cases} | {row.weights:.1e} | "
              f"{row.estimates:.1e} | {row.SEs:.1e} |")
