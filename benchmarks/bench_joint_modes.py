"""Time the 50 states + DC NUTS fit of ``reconstruct_joint(method="bayes")`` under PyTensor's modes.

    python benchmarks/bench_joint_modes.py --mode MODE [--repeat N]

MODE is how PyTensor compiles the model's log-density and gradient:

``package``
    whatever personacal does on its own (run it on two checkouts for a before/after pair);
``c-noblas``
    PyTensor's C backend with no BLAS linked and its GEMM rewrites off, so matrix products
    run as NumPy calls (personacal before issue 9, minus the "could not link" warning);
``c-openblas``
    the C backend linked to the OpenBLAS that SciPy's wheel bundles;
``numba``
    PyTensor's NUMBA backend (``compile_kwargs={"mode": "NUMBA"}``).

``--gradient`` times what NUTS repeats at every leapfrog step instead: one evaluation of the
model's log-density and gradient, compiled three ways in ONE process (NumPy dot without BLAS
rewrites, the C backend on SciPy's OpenBLAS, NUMBA) and timed in interleaved rounds, so every
mode meets the same machine load. Whole fits on a shared machine are too noisy to rank modes
whose difference is a few tens of percent.

The problem is the one of ``bench_joint.py`` section 3 (432 cells per region, the five 1-D
ACS 2023 margins and PEP age x sex; DC has PEP margins only; ACS 2012 national seed; 4 chains
x 1,000 draws). Prints one line of JSON per fit: wall and CPU seconds, PyMC's own sampling
time, the load average before and after (other jobs may share the machine), and R-hat/ESS.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={tempfile.gettempdir()}/personacal-pytensor-bench")

MODES = ("package", "c-noblas", "c-openblas", "numba")


def _configure(mode: str) -> None:
    if mode == "package":
        return
    if mode in ("c-noblas", "numba"):  # no BLAS, said the way a user says it (personacal respects it)
        os.environ["PYTENSOR_FLAGS"] += ",blas__ldflags="
    import pytensor

    if mode == "c-openblas":
        import scipy

        libs = os.path.realpath(os.path.join(os.path.dirname(scipy.__file__), os.pardir, "scipy.libs"))
        lib = glob.glob(os.path.join(libs, "libscipy_openblas-*.so"))[0]
        renames = " ".join(f"-D{n}=scipy_{n}" for n in ("sgemm_", "dgemm_", "sgemv_", "dgemv_", "sger_", "dger_",
                                                          "sdot_", "ddot_"))
        pytensor.config.blas__ldflags = f"-Wl,-L{libs} -l:{os.path.basename(lib)} -Wl,-rpath,{libs} {renames}"
    if mode == "numba":  # every function PyMC compiles for the fit
        from personacal.calibrate import _joint_bayes_model as model

        model._compile_mode = lambda: "NUMBA"


class _SamplingTime(logging.Handler):
    seconds = float("nan")

    def emit(self, record):
        found = re.search(r"took ([0-9.]+) seconds", record.getMessage())
        if found:
            self.seconds = float(found.group(1))


def fit(mode: str) -> dict:
    from bench_joint import VARIABLES_51, states_51

    from personacal.calibrate import reconstruct_joint

    margins, seed = states_51()
    handler = _SamplingTime()
    logging.getLogger("pymc").addHandler(handler)
    load_before = os.getloadavg()
    before, start = os.times(), time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = reconstruct_joint(margins, seed=seed, method="bayes", variables=VARIABLES_51, random_state=2026,
                                   progress=False)
    wall, after = time.perf_counter() - start, os.times()
    overall = result.diagnostics.loc["(all sampled)"]
    import personacal

    return {
        "mode": mode, "personacal": str(Path(personacal.__file__).parent), "wall_s": round(wall, 1),
        "cpu_s": round(after.user - before.user + after.children_user - before.children_user, 1),
        "pymc_sampling_s": handler.seconds, "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()], "converged": bool(result.converged),
        "max_rhat": round(float(overall["r_hat_max"]), 4), "min_bulk_ess": round(float(overall["ess_bulk_min"])),
        "warnings": sorted({str(w.message).splitlines()[0][:90] for w in caught}),
    }


def gradient(rounds: int, evaluations: int) -> dict:
    """Microseconds per log-density + gradient evaluation of the 51-region model, per compile mode."""
    import numpy as np
    import pandas as pd
    import pytensor
    from bench_joint import VARIABLES_51, states_51
    from pytensor.compile.mode import get_mode
    from threadpoolctl import threadpool_limits

    from personacal.calibrate import _joint_bayes_model as model_module
    from personacal.calibrate._joint import seed_table
    from personacal.calibrate._joint_tables import encode_margins, grid_categories, seed_on_grid

    margins, seed = states_51()
    categories = grid_categories(margins, VARIABLES_51)
    grid = pd.MultiIndex.from_product(categories, names=list(VARIABLES_51))
    totals = np.array([m.total for m in margins.values()])
    encoded = encode_margins(margins, VARIABLES_51, categories, totals, 0.02, None)
    counts = seed_on_grid(seed_table(seed, VARIABLES_51), grid, VARIABLES_51, 0.0, None)
    model, _ = model_module.build_joint_model(tuple(len(c) for c in categories), encoded, counts)
    assert pytensor.config.blas__ldflags, "SciPy's OpenBLAS was not linked"
    modes = {"numpy dot, no BLAS rewrites": get_mode(None).excluding("BlasOpt"),
             "C on SciPy's OpenBLAS": get_mode(None), "NUMBA": "NUMBA"}
    functions, compile_s = {}, {}
    for label, mode in modes.items():
        start = time.perf_counter()
        f = model.logp_dlogp_function(ravel_inputs=True, mode=mode)
        f.set_extra_values({})
        functions[label] = f._pytensor_function
        point = np.concatenate([np.ravel(v) for v in model.initial_point(0).values()])
        functions[label](point)  # NUMBA compiles on the first call
        compile_s[label] = round(time.perf_counter() - start, 1)
    rng = np.random.default_rng(0)
    points = [point + 0.1 * rng.standard_normal(point.size) for _ in range(evaluations)]
    values = {label: f(points[0])[0] for label, f in functions.items()}
    assert np.allclose(list(values.values()), next(iter(values.values())), rtol=1e-9), values
    # CPU time of this process (time lost to other jobs is not counted) per evaluation, every mode
    # once per round, so each round compares the modes under the same load.
    per_round = {label: [] for label in functions}
    load_before = os.getloadavg()
    with threadpool_limits(limits=1, user_api="blas"):  # as during a fit
        for _ in range(rounds):
            for label, f in functions.items():
                start = time.process_time()
                for x in points:
                    f(x)
                per_round[label].append((time.process_time() - start) / evaluations * 1e6)
    base = np.array(per_round["numpy dot, no BLAS rewrites"])
    return {"CPU microseconds per logp+gradient (median over rounds)": {k: round(float(np.median(v)), 1)
                                                                        for k, v in per_round.items()},
            "range over rounds": {k: [round(min(v), 1), round(max(v), 1)] for k, v in per_round.items()},
            "median ratio to numpy dot, paired by round": {k: round(float(np.median(np.array(v) / base)), 3)
                                                           for k, v in per_round.items()},
            "compile s (first call included)": compile_s, "rounds": rounds, "evaluations per round": evaluations,
            "parameters": int(point.size), "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="package")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--gradient", action="store_true", help="time one logp+gradient evaluation per mode")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--evaluations", type=int, default=200)
    args = parser.parse_args()
    if args.gradient:
        print(json.dumps(gradient(args.rounds, args.evaluations)), flush=True)
        return
    _configure(args.mode)
    for _ in range(args.repeat):
        print(json.dumps(fit(args.mode)), flush=True)


if __name__ == "__main__":
    main()
