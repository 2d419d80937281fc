"""Ray plumbing shared by the Ray backend and the many-region calibration: connect, and run chunks.

personacal never builds its own scheduler: independent pieces of work (a chunk
of regions, a chunk of prompts) become Ray tasks or actor calls. This module
holds the two things both users need:

* :func:`connect` joins the Ray cluster named by ``address``, or starts a
  private one on this machine, bound to 127.0.0.1 (nothing listens on other
  interfaces);
* :class:`RayExecutor` runs a function over chunks as Ray tasks, a bounded
  number at a time, and hands the results back in input order with one
  progress bar in the driver. Errors and warnings raised inside a task come
  back as the same typed errors and warnings a serial run raises.

Ray is an optional dependency (``pip install personacal[ray]``); it is
imported only when one of these is used.
"""

from __future__ import annotations

import contextlib
import math
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from ._validation import InstanceOf, Interval, Options, check_param, check_params

__all__ = ["NAMESPACE", "NEEDS_BY", "RayExecutor", "connect", "import_ray", "as_executor"]

#: Ray namespace of personacal's named actors (replica sets), whoever started Ray.
NAMESPACE = "personacal"

#: Ray reads this at import and then resolves "127.0.0.1" to the machine's
#: outward address; switched off, a local cluster binds every server to loopback.
_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray(func: str):
    """The ``ray`` module, or an ImportError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f"{func} runs on Ray, which is not installed: run `pip install personacal[ray]` "
            "(or `pip install 'ray[data]'`)"
        ) from exc
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None, temp_dir: str | None = None,
            func: str = "connect") -> bool:
    """Join a Ray cluster; returns True when this call started a new local one.

    ``address`` is ``None`` or ``"local"`` (a private cluster on this machine,
    bound to 127.0.0.1), ``"auto"`` (the cluster that ``ray start`` runs on this
    machine) or a cluster address (``"10.0.0.5:6379"``, ``"ray://head:10001"``).
    When Ray is already initialised in this process it is used as it is.
    ``num_cpus`` caps the CPUs a new local cluster offers (default: all); ``temp_dir``
    is where it keeps its sockets and logs (default Ray's, under the system temp
    folder; Unix socket paths must stay under 108 bytes).
    """
    check_params(
        func,
        {"address": [None, InstanceOf(str, name="a cluster address string")],
         "num_cpus": [None, Interval("int", 1, None)]},
        {"address": address, "num_cpus": num_cpus},
    )
    ray = import_ray(func)
    if ray.is_initialized():
        return False
    local = address in (None, "local")
    host = "" if local else address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    with _loopback_only(local or host in ("127.0.0.1", "localhost", "::1")):
        if local:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, namespace=NAMESPACE,
                     _node_ip_address="127.0.0.1", _temp_dir=temp_dir)
        else:
            ray.init(address=address, namespace=NAMESPACE)
    return local


@contextlib.contextmanager
def _loopback_only(on: bool):
    """While Ray starts: use 127.0.0.1 as this node's address instead of the outward one."""
    if not on:
        yield
        return
    from ray._private import ray_constants  # the switch is read from here at call time

    saved_env, saved_flag = os.environ.get(_LOOPBACK_SWITCH), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_LOOPBACK_SWITCH] = "0"  # inherited by the raylet, so by every worker it starts
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(_LOOPBACK_SWITCH, None)
        else:
            os.environ[_LOOPBACK_SWITCH] = saved_env


@dataclass(frozen=True)
class RayExecutor:
    """Run independent regions as Ray tasks instead of one after another.

    Pass it as ``executor=`` to ``rake``/``calibrate``/``poststratify`` with ``by=``
    and to ``reconstruct_joint`` (``executor="ray"`` is ``RayExecutor()``).

    Parameters
    ----------
    workers
        Tasks in flight at once; default: the cluster's CPUs divided by ``num_cpus``.
    chunk_size
        Regions per task; default: enough for about four tasks per worker
        (a single region is too little work to pay a task's overhead).
    address
        The cluster to use when Ray is not yet initialised (see :func:`connect`).
    num_cpus
        CPUs each task reserves.
    """

    workers: int | None = None
    chunk_size: int | None = None
    address: str | None = None
    num_cpus: float = 1.0

    def __post_init__(self) -> None:
        check_params(
            "RayExecutor",
            {"workers": [None, Interval("int", 1, None)], "chunk_size": [None, Interval("int", 1, None)],
             "address": [None, InstanceOf(str, name="a cluster address string")],
             "num_cpus": Interval("real", 0, None, closed="neither")},
            {"workers": self.workers, "chunk_size": self.chunk_size, "address": self.address,
             "num_cpus": self.num_cpus},
        )

    def chunks(self, items: Sequence, ray) -> list[list]:
        """Contiguous chunks of ``items``, in order."""
        size = self.chunk_size or max(1, math.ceil(len(items) / (4 * self._workers(ray))))
        return [list(items[i : i + size]) for i in range(0, len(items), size)]

    def _workers(self, ray) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.num_cpus))

    def map(self, func: Callable, chunks: list[list], *, shared: Any = None, desc: str, progress: bool) -> list:
        """``[func(chunk, shared) for chunk in chunks]`` as Ray tasks, in input order.

        ``shared`` is put in the object store once and reaches every task.
        The bar counts items (regions), not chunks. An error raised by a task is
        raised here as itself, the one of the earliest chunk first (what a
        serial run would raise); warnings are re-issued in chunk order.
        """
        ray = import_ray("RayExecutor")
        connect(self.address, func="RayExecutor")
        # a task lost with its worker (node failure, OOM) is run again: regions are pure functions of their inputs
        remote = ray.remote(num_cpus=self.num_cpus, max_retries=3)(_run_chunk)
        shared_ref = ray.put(shared)
        workers = self._workers(ray)
        outcomes: dict[int, tuple] = {}
        running: dict[Any, int] = {}
        following = iter(range(len(chunks)))
        first_error: int | None = None
        bar = tqdm(total=sum(map(len, chunks)), desc=desc, unit="region", disable=not progress)
        try:
            while True:
                while len(running) < workers and first_error is None:
                    k = next(following, None)
                    if k is None:
                        break
                    running[remote.remote(func, chunks[k], shared_ref)] = k
                if not running:
                    break
                (ref,), _ = ray.wait(list(running), num_returns=1)
                k = running.pop(ref)
                outcomes[k] = ray.get(ref)
                bar.update(len(chunks[k]))
                if outcomes[k][0] == "error" and (first_error is None or k < first_error):
                    first_error = k
                if first_error is not None and all(j > first_error for j in running.values()):
                    break  # every chunk that could fail earlier has finished
        finally:
            bar.close()
            for ref in running:
                ray.cancel(ref)
        stop = len(chunks) if first_error is None else first_error + 1
        for k in range(stop):
            for message in outcomes[k][2]:
                warnings.warn(message, stacklevel=3)
        if first_error is not None:
            _, exc, _, remote_tb = outcomes[first_error]
            exc.add_note(f"(raised in a Ray task; its traceback:)\n{remote_tb}")
            raise exc
        return [outcomes[k][1] for k in range(len(chunks))]


def _run_chunk(func: Callable, chunk: list, shared: Any) -> tuple:
    """Ray task body: the chunk's result or error, and the warnings it raised (as values)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = func(chunk, shared)
        except Exception as exc:  # noqa: BLE001 - handed back to the driver, which raises it as itself
            return ("error", exc, [w.message for w in caught], traceback.format_exc())
    return ("ok", result, [w.message for w in caught], "")


#: Why ``executor=`` does not apply to a call without ``by``.
NEEDS_BY = "fits regions in parallel, so it needs `by` (the region column); got by=None"


def as_executor(executor, *, func: str, applies: bool = True, why: str = "") -> RayExecutor | None:
    """Check an ``executor=`` argument (None, "ray" or a RayExecutor) and normalise it.

    ``applies`` is False where this call has nothing to run in parallel; ``why`` then says so.
    """
    check_param(func, "executor", executor, [None, Options(("ray",)), InstanceOf(RayExecutor, name="a RayExecutor")])
    if executor is None:
        return None
    if not applies:
        from .errors import InputError

        raise InputError(f"`executor` of {func} {why}")
    return RayExecutor() if executor == "ray" else executor
