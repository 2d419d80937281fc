"""Unit-level raking compiled with numba: one fused pass per margin, rows split across threads.

Used when nearly every unit is its own cell, so collapsing to cells cannot
help and the sweep is bound by passes over the rows. NumPy needs two passes
per margin (``bincount`` for the totals, then a gather-multiply); here the
rescale by margin m and the totals of margin m + 1 share one pass. Results are
identical (to rounding) to the plain NumPy kernel the tests keep as the reference
(``tests/_reference_kernels.py``).

Why threads and unsigned codes (benchmarks/results/raking.md, 1M rows, 8 margins):
the pass is bound by its scatter-add, not by memory bandwidth, so splitting the rows
over both cores nearly halves it; the kernels release the GIL, so plain Python
threads do this without an OpenMP runtime (which is not fork-safe, and PyMC forks).
Codes are read as unsigned integers of the same width, which spares the
sign-extension that negative-index handling costs on every row. The rows are
always cut into the same ``N_CHUNKS`` pieces, whatever the core count, so the
partial totals add up in the same order and the weights are bit-for-bit the same
on every machine.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from ._ipf_kernels import relative_errors

__all__ = ["rake_units_with_totals", "unit_totals", "blas_on_one_thread", "THREADED_FROM_ROWS"]

#: Rows below which one thread does the pass (a thread hand-off costs more than it saves).
THREADED_FROM_ROWS = 200_000
N_CHUNKS = 4


@numba.njit(cache=True, nogil=True)
def _totals(w, codes, size):
    out = np.zeros(size)
    for i in range(w.shape[0]):
        out[codes[i]] += w[i]
    return out


@numba.njit(cache=True, nogil=True)
def _scale_and_total(w, codes, factor, next_codes, next_size):
    out = np.zeros(next_size)
    for i in range(w.shape[0]):
        wi = w[i] * factor[codes[i]]
        w[i] = wi
        out[next_codes[i]] += wi
    return out


def _unsigned(codes: np.ndarray) -> np.ndarray:
    """The same non-negative codes, viewed as unsigned integers of the same width."""
    codes = np.ascontiguousarray(codes)
    if codes.dtype.kind == "i":
        return codes.view(np.dtype(f"u{codes.dtype.itemsize}"))
    return codes


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _SingleThreadedBlas:
    """BLAS on one thread while any row-threaded pass is open, process-wide: a count under a lock, so
    that contexts opened and closed by different Python threads restore the original limits once,
    when the last closes. threadpoolctl's view of the libraries is made once (it scans the process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limiter = None
        self._controller: ThreadpoolController | None = None

    def enter(self) -> None:
        with self._lock:
            if self._users == 0:
                self._controller = self._controller or ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_single_threaded_blas = _SingleThreadedBlas()


@contextmanager
def blas_on_one_thread():
    """For a large BLAS product on the path of a row-threaded calibration: a threaded call would leave
    OpenBLAS's threads spinning on the cores the next passes need."""
    _single_threaded_blas.enter()
    try:
        yield
    finally:
        _single_threaded_blas.exit()


_shared: dict[int, ThreadPoolExecutor] = {}
_shared_lock = threading.Lock()


def _shared_pool(workers: int) -> ThreadPoolExecutor:
    """One pool per process, reused by every pass: starting threads costs ~1 ms each here, as much as a
    pass over 100k rows, and a calibration makes a dozen passes. Keyed by pid because a forked child
    (PyMC's samplers) inherits the pool object but not its threads."""
    with _shared_lock:
        pool = _shared.get(os.getpid())
        if pool is None:
            _shared.clear()
            pool = _shared[os.getpid()] = ThreadPoolExecutor(workers, thread_name_prefix="personacal-rows")
        return pool


class _RowChunks:
    """Runs a kernel on fixed row chunks (in threads for large inputs) and sums the partial totals.

    The calling thread works through the chunks itself, and the pool's workers (one fewer than the
    cores) take chunks from the same queue as soon as they wake: a waiting caller adds nothing, and
    waking a sleeping worker can take a millisecond or more on a virtual machine, a sizeable part of
    a pass; a late worker then takes fewer chunks instead of holding the caller up. Partial results
    are added in chunk order, so the sum is the same whichever thread ran a chunk.

    Tasks must not themselves use ``_RowChunks`` (they are numba kernels): the pool is shared.
    """

    def __init__(self, n_rows: int):
        n_chunks = N_CHUNKS if n_rows >= THREADED_FROM_ROWS else 1
        edges = np.linspace(0, n_rows, n_chunks + 1).astype(np.int64)
        self.slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.helpers = min(N_CHUNKS, _usable_cores()) - 1 if n_chunks > 1 else 0
        self.pool = _shared_pool(self.helpers) if self.helpers > 0 else None
        self._open = False

    def __enter__(self):
        # Inside the context BLAS runs on one thread: BLAS calls between passes otherwise leave
        # OpenBLAS's threads spinning on the cores the row threads need (measured at 1M rows: the
        # five passes of a bounded logit calibration took 44 ms with them spinning, 26 ms without).
        if self.pool is not None and not self._open:
            _single_threaded_blas.enter()
            self._open = True
        return self

    def __exit__(self, *exc):
        if self._open:
            _single_threaded_blas.exit()
            self._open = False

    def _run(self, task) -> list:
        """task(rows) of every chunk, in chunk order."""
        if not self.pool:
            return [task(rows) for rows in self.slices]
        parts = [None] * len(self.slices)
        claim = iter(range(len(self.slices)))
        lock = threading.Lock()

        def work():
            while True:
                with lock:
                    i = next(claim, None)
                if i is None:
                    return
                parts[i] = task(self.slices[i])

        helpers = [self.pool.submit(work) for _ in range(self.helpers)]
        work()
        for helper in helpers:
            helper.result()  # re-raises a task's error
        return parts

    def each(self, task) -> None:
        """Run ``task`` on every chunk for its side effects (e.g. filling its rows of an output)."""
        self._run(task)

    def sum(self, task) -> np.ndarray:
        parts = self._run(task)
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out


def _all_totals(w, codes, sizes, chunks: _RowChunks) -> list[np.ndarray]:
    return [chunks.sum(lambda rows, c=c, size=size: _totals(w[rows], c[rows], size)) for c, size in zip(codes, sizes)]


def _max_error(totals, targets, total: float) -> float:
    return max(float(np.max(relative_errors(a, t, total), initial=0.0)) for a, t in zip(totals, targets))


def unit_totals(w: np.ndarray, cell_of_unit: Sequence[np.ndarray], sizes: Sequence[int]) -> list[np.ndarray]:
    """Each margin's weighted total per cell: ``np.bincount(cells, weights=w, minlength=size)`` per margin."""
    w = np.ascontiguousarray(w, dtype=float)
    with _RowChunks(w.shape[0]) as chunks:
        return _all_totals(w, [_unsigned(c) for c in cell_of_unit], sizes, chunks)


def rake_units_with_totals(
    weights: np.ndarray,
    cell_of_unit: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    *,
    tol: float,
    max_iter: int,
    initial: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, int, np.ndarray, float, list[np.ndarray]]:
    """Rake unit weights: ``cell_of_unit[m][i]`` is unit i's cell in flat target ``targets[m]``.

    Returns ``(weights, n_iter, history, max_error, totals)``: ``history[k]`` is the largest
    relative margin error met during sweep ``k + 1``, ``max_error`` is measured on the returned
    weights, and ``totals`` are their per-margin totals. ``initial``: the caller's per-margin
    totals of ``weights``, if it has them (saves one pass over the rows).
    """
    w = np.array(weights, dtype=float, copy=True)
    codes = [_unsigned(c) for c in cell_of_unit]
    sizes = [t.size for t in targets]
    total = float(targets[0].sum()) or 1.0
    m_count = len(codes)
    history: list[float] = []
    n_iter = 0
    with _RowChunks(w.shape[0]) as chunks:
        current = list(initial) if initial is not None else _all_totals(w, codes, sizes, chunks)
        achieved = current[0]
        max_error = _max_error(current, targets, total)
        while max_error > tol and n_iter < max_iter:
            n_iter += 1
            sweep_error = 0.0
            for m in range(m_count):
                target = targets[m]
                sweep_error = max(sweep_error, float(np.max(relative_errors(achieved, target, total), initial=0.0)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = np.where(achieved > 0, target / achieved, 0.0)
                following = (m + 1) % m_count
                achieved = chunks.sum(
                    lambda rows, c=codes[m], f=factor, nc=codes[following], ns=sizes[following]:
                    _scale_and_total(w[rows], c[rows], f, nc[rows], ns)
                )
            history.append(sweep_error)
            # the last sweep always lands here, so `current` ends as the totals of the returned weights
            if sweep_error <= tol or n_iter == max_iter:
                current = _all_totals(w, codes, sizes, chunks)
                max_error = _max_error(current, targets, total)
    return w, n_iter, np.asarray(history), max_error, current
