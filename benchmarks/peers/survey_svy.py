"""svy (polars + Rust): GREG calibration and Taylor SEs on the survey benchmark problem.

Run by benchmarks/bench_survey.py in svy's own venv: ``python survey_svy.py PROBLEM_DIR REPEATS``.
Prints one JSON object. Timed: ``sample.weighting.calibrate(controls=...)`` (closed-form GREG:
svy has no bounded or logit calibration, so the bounded logit call is tried once and its
refusal recorded) and ``calibrated.estimation.mean(y)`` for each outcome (Taylor, crediting the
calibration; the list form ``mean(ys)`` drops the calibration record in svy 0.35, so it is not used).
Reading the Parquet file and building ``svy.Sample`` are untimed.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main(folder: str, repeats: int) -> None:
    import polars as pl
    import svy
    from svy.core.terms import Cat

    folder = Path(folder)
    meta = json.loads((folder / "problem.json").read_text())
    frame = pl.read_parquet(folder / "data.parquet")
    frame = frame.with_columns([pl.col(c).cast(pl.Utf8) for c in meta["categorical"]])
    sample = svy.Sample(data=frame, design=svy.Design(wgt="d", stratum="region", psu="psu"))
    controls = {Cat(c): meta["margins"][c] for c in meta["categorical"]}
    controls |= {c: meta["totals"][c] for c in meta["numeric"]}
    out = {"library": f"svy {svy.__version__} (polars {pl.__version__})", "calibrate_s": [], "means_s": []}
    try:
        sample.weighting.calibrate(controls=controls, bounds=tuple(meta["bounds"]), wgt_name="bounded")
        out["bounded_logit"] = "accepted"
    except Exception as exc:  # the refusal is the finding
        out["bounded_logit"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            calibrated = sample.weighting.calibrate(controls=controls, wgt_name="calib_wgt")
            out["calibrate_s"].append(time.perf_counter() - start)
            start = time.perf_counter()
            # one call per outcome: svy 0.35's list form, mean([...]), drops the calibration record
            # (its SEs equal the uncalibrated design's), while single calls credit it
            estimates = [calibrated.estimation.mean(y) for y in meta["outcomes"]]
            out["means_s"].append(time.perf_counter() - start)
    weights = calibrated.data.get_column("calib_wgt").to_numpy().astype(float)
    np.save(folder / "svy_weights.npy", weights)
    out["se"] = [float(_se(e)) for e in estimates]
    print(json.dumps(out))


def _se(estimate) -> float:
    table = estimate.to_polars() if hasattr(estimate, "to_polars") else estimate.estimates
    for name in ("se", "stderr", "std_err"):
        if name in table.columns:
            return table.get_column(name)[0]
    raise KeyError(f"no SE column in {table.columns}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
