"""Driver shared by every adapter: runs in the peer's own venv (numpy + stdlib only).

An adapter module defines
    version() -> str
    load(problem) -> data                       once, untimed (read files)
    prepare(data, params) -> state              per call, untimed by "library call" time
    call(state) -> raw                          the library's weighting call: timed
    finish(state, raw, captured_stdout) -> (weights ndarray in row order, claim dict)
and ends with ``_common.main(sys.modules[__name__])``.

``prepare`` runs again before every call because several libraries mutate their
inputs. Peak memory of a call is VmHWM after the call minus VmRSS just before it,
with the high-water mark reset through /proc/self/clear_refs before each call, so
it counts C/Rust/numba allocations that tracemalloc does not see. The process peak
is the max of VmHWM over the run (this process's own; ru_maxrss of a child would
also carry the parent's RSS at fork time into it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import json
import math
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Params:
    tol: float
    max_iter: int
    mode: str
    library_defaults: (
        bool  # leave secondary stopping rules (stall detection) at their defaults
    )


class Problem:
    def __init__(self, folder: Path):
        self.folder = folder
        self.meta = json.loads((folder / "targets.json").read_text())
        self.columns: list[str] = self.meta["columns"]
        self.levels: list[int] = self.meta["levels"]
        self.population: float = float(self.meta["population"])
        self.targets_by_label: dict[str, dict[str, float]] = self.meta["targets"]
        self.n: int = self.meta["n"]

    def labels(self, col: str) -> list[str]:
        return list(self.targets_by_label[col])

    def codes_and_targets(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        with np.load(self.folder / "codes.npz") as z:
            codes = [z[f"codes_{c}"] for c in self.columns]
            targets = [z[f"targets_{c}"] for c in self.columns]
        return codes, targets

    @property
    def parquet(self) -> Path:
        return self.folder / "sample.parquet"


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def dense_cell_counts(
    codes: list[np.ndarray], levels: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Dense cross-tab of the sample (for table-based libraries) and each row's flat cell id."""
    flat = np.ravel_multi_index(tuple(c.astype(np.intp) for c in codes), tuple(levels))
    counts = np.bincount(flat, minlength=int(np.prod(levels))).astype(np.float64)
    return counts.reshape(levels), flat


def monotone_coupling(
    targets: dict[str, dict[str, float]],
) -> tuple[list[dict[str, str]], list[float]]:
    """Rows of a joint table whose weighted 1-D margins are exactly ``targets``.

    Lays every margin's categories along [0, total) and cuts at the union of their
    boundaries (north-west-corner rule): at most sum(levels) rows. Used for
    libraries that take a target *frame* instead of margin totals.
    """
    cols = list(targets)
    bounds = []
    for col in cols:
        cum = np.cumsum(list(targets[col].values()))
        bounds.append(cum)
    cuts = np.unique(np.concatenate([[0.0], *bounds]))
    total = min(b[-1] for b in bounds)
    rows, weights = [], []
    for lo, hi in itertools.pairwise(cuts):
        if hi <= lo or lo >= total:
            continue
        mid = 0.5 * (lo + hi)
        row = {}
        for col, cum in zip(cols, bounds):
            k = int(np.searchsorted(cum, mid, side="right"))
            row[col] = list(targets[col])[min(k, len(cum) - 1)]
        rows.append(row)
        weights.append(float(hi - lo))
    return rows, weights


def main(adapter) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problem", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--mode", default="")
    ap.add_argument("--library-defaults", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    params = Params(args.tol, args.max_iter, args.mode, args.library_defaults)
    result: dict = {
        "status": "ok",
        "times_call": [],
        "times_e2e": [],
        "peak_rss_delta": 0,
    }
    process_peak = 0  # VmHWM is reset before each call, so keep the running max here
    try:
        result["version"] = adapter.version()
        problem = Problem(args.problem)
        data = adapter.load(problem)
        result["rss_after_load"] = _status("VmRSS")
        weights, claim = None, {}
        for rep in range(1 + args.repeats):  # rep 0 is the warm-up
            weights = None
            gc.collect()
            t0 = time.perf_counter()
            state = adapter.prepare(data, params)
            t1 = time.perf_counter()
            gc.collect()
            process_peak = max(process_peak, _status("VmHWM"))
            peak_ok = _reset_peak()
            rss0 = _status("VmRSS")
            buf = io.StringIO()
            t2 = time.perf_counter()
            with contextlib.redirect_stdout(buf):
                raw = adapter.call(state)
            t3 = time.perf_counter()
            hwm = _status("VmHWM")
            weights, claim = adapter.finish(state, raw, buf.getvalue())
            t4 = time.perf_counter()
            del state, raw
            if rep == 0:
                result["time_first_call"] = t3 - t2  # includes JIT / lazy-import costs
            if rep > 0 or args.repeats == 0:
                result["times_call"].append(t3 - t2)
                result["times_e2e"].append((t1 - t0) + (t3 - t2) + (t4 - t3))
            if peak_ok:
                result["peak_rss_delta"] = max(result["peak_rss_delta"], hwm - rss0)
            else:
                result["peak_rss_delta"] = None
        process_peak = max(process_peak, _status("VmHWM"))
        w = np.asarray(weights, dtype=np.float64)
        np.save(args.out / "weights.npy", w)
        result["claim"] = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in claim.items()
        }
    # a library refusing the problem (raising) is a result, reported as such
    except Exception as exc:  # noqa: BLE001
        result["status"] = "error"
        result["error"] = f"{type(exc).__name__}: {exc}"[:400]
        result["traceback"] = traceback.format_exc()[-3000:]
    result["process_peak_rss"] = max(process_peak, _status("VmHWM"))
    (args.out / "result.json").write_text(json.dumps(result, default=str))
    sys.exit(0)
