"""samplics 0.6.x: GREG calibration and Taylor SEs on the survey benchmark problem.

Run by benchmarks/bench_survey.py in samplics' own venv: ``python survey_samplics.py PROBLEM_DIR REPEATS``.
Prints one JSON object. samplics calibrates linearly only (its ``bounded=`` flag is accepted and
unused), so the timed call is the closed-form GREG: ``SampleWeight().calibrate(d, X, controls)``
with X the treatment-coded auxiliary matrix (built untimed: samplics needs it from the user).
Its ``TaylorEstimator`` treats the weights as fixed (no calibration residuals); one call per
outcome is timed. samplics 0.6 forms ``np.diag(d)``, an n x n matrix, inside ``calibrate``: at a
million rows that is 8 TB, so the call fails with MemoryError there (reported as such).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main(folder: str, repeats: int) -> None:
    import pandas as pd

    warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived"
    import samplics
    from samplics.estimation import TaylorEstimator
    from samplics.utils.types import PopParam
    from samplics.weighting import SampleWeight

    folder = Path(folder)
    meta = json.loads((folder / "problem.json").read_text())
    frame = pd.read_parquet(folder / "data.parquet")
    columns, controls = [np.ones(len(frame))], {"intercept": meta["population"]}
    for c in meta["categorical"]:  # reference coding: full dummy sets would make X'DX singular
        for level in list(meta["margins"][c])[1:]:
            columns.append((frame[c].astype(str) == level).to_numpy(float))
            controls[f"{c}={level}"] = meta["margins"][c][level]
    for c in meta["numeric"]:
        columns.append(frame[c].to_numpy(float))
        controls[c] = meta["totals"][c]
    x = np.column_stack(columns)
    d = frame["d"].to_numpy(float)
    out = {"library": f"samplics {samplics.__version__}", "calibrate_s": [], "means_s": []}
    for _ in range(repeats):
        start = time.perf_counter()
        weights = SampleWeight().calibrate(d, x, controls)
        out["calibrate_s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        ses = []
        for y in meta["outcomes"]:
            est = TaylorEstimator(PopParam.mean)
            est.estimate(frame[y].to_numpy(float), samp_weight=weights, stratum=frame["region"].to_numpy(),
                         psu=frame["psu"].to_numpy())
            ses.append(float(est.stderror))
        out["means_s"].append(time.perf_counter() - start)
    np.save(folder / "samplics_weights.npy", np.asarray(weights, dtype=float))
    out["se"] = ses
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
