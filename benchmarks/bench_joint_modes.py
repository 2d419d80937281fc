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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="package")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    _configure(args.mode)
    for _ in range(args.repeat):
        print(json.dumps(fit(args.mode)), flush=True)


if __name__ == "__main__":
    main()
