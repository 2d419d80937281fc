"""Memory-bandwidth floor for unit-level raking.

One IPF sweep over M margins must, for each margin, (a) total the current weights
by that margin's category and (b) rescale every weight by its category's factor.
(b) of margin j and (a) of margin j+1 can share one pass, but margin j+1's totals
need *all* of margin j's rescaling first, so a sweep is at least M passes over the
rows. The cheapest pass reads the weight (8 B), writes it (8 B) and reads two
small-int code columns (2 x code bytes): ``16 + 2*code_bytes`` bytes per row.

    floor_seconds = sweeps * M * N * (16 + 2*code_bytes) / bandwidth

``sweeps`` is what plain IPF needs on the problem (the numpy baseline's count), and
``bandwidth`` is the best read+write streaming rate measured here on arrays of the
same size (numpy copy and in-place scale; single thread and both cores), so the
floor is optimistic: no real implementation reaches it.
"""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np


def _best_time(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _threaded(fn_for_slice, n: int, n_threads: int):
    bounds = np.linspace(0, n, n_threads + 1).astype(int)

    def run():
        threads = [
            threading.Thread(target=fn_for_slice, args=(slice(lo, hi),))
            for lo, hi in itertools.pairwise(bounds)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return run


def measure(n: int, n_threads: int = 2, repeats: int = 7) -> dict[str, float]:
    """Achieved GB/s of simple streaming kernels over ``n`` float64 rows (+ int8 codes)."""
    rng = np.random.default_rng(0)
    x = rng.random(n)
    y = np.empty_like(x)
    codes = rng.integers(0, 50, n).astype(np.int8)
    factors = rng.random(50)
    gb = 1e9
    out = {}
    out["read (max), 1 thread"] = 8 * n / _best_time(lambda: np.max(x), repeats) / gb
    out["copy, 1 thread"] = 16 * n / _best_time(lambda: np.copyto(y, x), repeats) / gb
    out["scale in place, 1 thread"] = (
        16 * n / _best_time(lambda: np.multiply(x, 1.0000001, out=x), repeats) / gb
    )
    out[f"copy, {n_threads} threads"] = (
        16
        * n
        / _best_time(_threaded(lambda s: np.copyto(y[s], x[s]), n, n_threads), repeats)
        / gb
    )
    out[f"scale in place, {n_threads} threads"] = (
        16
        * n
        / _best_time(
            _threaded(lambda s: np.multiply(x[s], 1.0000001, out=x[s]), n, n_threads),
            repeats,
        )
        / gb
    )
    # the two kernels a numpy raking sweep is made of, on their minimal bytes
    out["bincount(codes, weights), 1 thread"] = (
        9
        * n
        / _best_time(lambda: np.bincount(codes, weights=x, minlength=50), repeats)
        / gb
    )
    out["w *= f[codes], 1 thread"] = (
        17 * n / _best_time(lambda: np.multiply(x, factors[codes], out=x), repeats) / gb
    )
    return out


def best_stream_bandwidth(measured: dict[str, float]) -> float:
    """Best read+write streaming rate (GB/s) among the copy/scale kernels."""
    return max(v for k, v in measured.items() if k.startswith(("copy", "scale")))


def floor_seconds(
    n: int, n_margins: int, sweeps: int, gbps: float, code_bytes: int = 1
) -> float:
    return sweeps * n_margins * n * (16 + 2 * code_bytes) / (gbps * 1e9)
