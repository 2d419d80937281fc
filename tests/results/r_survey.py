"""Load the R survey-design reference results committed under ``tests/results/r_survey/``.

The files are produced by ``Rscript tests/results/r_survey_reference.R`` (R 4.2.2,
survey 4.1.1; see README_survey.md next to this file). Only pandas is needed, so
the tests run without R.

Running this module as a script checks, with plain pandas, that the committed
files are consistent: every calibrated case meets its totals, every case has its
weights, and the replicate multipliers have the shape R's rules give them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "r_survey"
LABEL_COLUMNS = ("stype", "sch.wide", "comp.imp", "cname", "a", "b", "cluster1", "cluster2", "strata1", "strata2")

def _read(path: Path) -> pd.DataFrame:
    """CSV with label columns as strings and 'inf'/'-inf' read as floats."""
    head = pd.read_csv(path, nrows=0).columns
    dtype = {c: "string" for c in head if c in LABEL_COLUMNS or c in ("case", "margin", "cell", "statistic",
                                                                       "variable", "by", "group")}
    return pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=[""])

@lru_cache(maxsize=None)
def load_metadata() -> dict:
    return json.loads((RESULTS_DIR / "metadata.json").read_text())

def list_cases(group: str | None = None, *, refusals: bool = False) -> list[str]:
    """Case ids, optionally of one group ('numeric', 'bounds', 'trim', 'poststratify', 'cluster', 'rake',
    'lonely', 'replicate', 'plain'); ``refusals=True`` lists the cases where R stops with an error."""
    out = []
    for case in load_metadata()["cases"]:
        if ("error" in case) != refusals:
            continue
        if group is None or case["group"] == group:
            out.append(case["id"])
    return out

def case_spec(case_id: str) -> dict:
    for case in load_metadata()["cases"]:
        if case["id"] == case_id:
            return case
    raise KeyError(case_id)

@lru_cache(maxsize=None)
def load_design_data(name: str) -> pd.DataFrame:
    """Rows of a design's data with R's design columns: weight, cluster<k>, strata<k>, sampsize<k>, popsize<k>."""
    return _read(RESULTS_DIR / "data" / f"{name}.csv")

@lru_cache(maxsize=None)
def _table(name: str) -> pd.DataFrame:
    """One of the long tables: weights, estimates, totals, bounds."""
    return _read(RESULTS_DIR / f"{name}.csv")


def load_weights(case_id: str) -> np.ndarray:
    """R's final weights of a case, in data row order."""
    frame = _table("weights")
    rows = frame[frame["case"] == case_id].sort_values("row")
    return rows["weight"].to_numpy(dtype=float)

def load_estimates(case_id: str) -> pd.DataFrame:
    """statistic ('mean'/'total'), variable (R's column name, e.g. 'api00', 'stypeH'), by, group, estimate, se."""
    frame = _table("estimates")
    rows = frame[frame["case"] == case_id].reset_index(drop=True)
    rows[["by", "group"]] = rows[["by", "group"]].fillna("")
    return rows

def load_totals(case_id: str) -> pd.DataFrame:
    """margin ('' for a calibrate() vector, else the table's variables joined by '+'), cell, value."""
    frame = _table("totals")
    rows = frame[frame["case"] == case_id].reset_index(drop=True)
    rows["margin"] = rows["margin"].fillna("")
    return rows

def load_x(case_id: str) -> pd.DataFrame:
    """R's model matrix of a calibration case (columns named as R names them)."""
    return pd.read_csv(RESULTS_DIR / "x" / f"{case_id}.csv")

def load_unit_bounds(case_id: str) -> tuple[np.ndarray, np.ndarray]:
    frame = _table("bounds")
    rows = frame[frame["case"] == case_id].sort_values("row")
    return rows["lower"].to_numpy(dtype=float), rows["upper"].to_numpy(dtype=float)

def load_replicates(name: str) -> tuple[np.ndarray, float, np.ndarray, dict]:
    """(multipliers (n, R), scale, rscales, metadata) of a replicate design such as 'jk1_clus1'."""
    meta = load_metadata()["replicate_designs"][name]
    mult = pd.read_csv(RESULTS_DIR / meta["multipliers"]).to_numpy(dtype=float)
    scales = pd.read_csv(RESULTS_DIR / meta["scales"])
    return mult, float(scales["scale"].iloc[0]), scales["rscale"].to_numpy(dtype=float), meta

def load_repweights(case_id: str) -> np.ndarray | None:
    """R's final replicate (analysis) weights (n, R) of a replicate case, when they were written."""
    path = RESULTS_DIR / "repweights" / f"{case_id}.csv"
    return pd.read_csv(path).to_numpy(dtype=float) if path.exists() else None

def _check_all() -> list[str]:
    lines = []
    meta = load_metadata()
    for case in meta["cases"]:
        cid = case["id"]
        if "error" in case:
            lines.append(f"{cid:45s} R refuses: {case['error']}")
            continue
        data = load_design_data(case["design"])
        w = load_weights(cid)
        assert len(w) == len(data), f"{cid}: {len(w)} weights for {len(data)} rows"
        line = f"{cid:45s} n={len(w):4d} sum(w)={w.sum():12.4f}"
        if "max_rel_total_error" in case:
            x = load_x(cid)
            totals = load_totals(cid).set_index("cell")["value"].reindex(x.columns)
            err = float(np.max(np.abs(x.to_numpy().T @ w - totals.to_numpy()) / np.abs(totals.to_numpy())))
            assert err < 1e-9, f"{cid}: totals missed by {err:.3g}"
            line += f"  totals met to {err:.1e}"
        lines.append(line)
    for name in meta["replicate_designs"]:
        mult, scale, rscales, info = load_replicates(name)
        lines.append(f"{name:45s} {info['type']:9s} {mult.shape[1]:3d} replicates, scale {scale:.6g}")
    return lines

if __name__ == "__main__":
    print("\n".join(_check_all()))
