"""One engine replica: a Ray actor holding one :class:`VLLMBackend`, streaming answers back one by one.

The driver sends a chunk of already-seeded requests; the replica runs them on its
engine and yields ``(position in chunk, answer)`` as each one finishes (a Ray
streaming generator), so the driver can cache every answer at once and a replica
that dies loses only what it had not finished.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ._progress import BatchProgress

__all__ = ["Replica", "replica_options"]

_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Replica:
    """Actor body (wrapped with ``ray.remote`` by the driver, so this module imports without Ray)."""

    def __init__(self, model: str, options: dict[str, Any]):
        if options.get("cpu_fast_start"):
            # the in-process engine that CPU_FAST_START assumes; this process is the replica's own
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from ._vllm import VLLMBackend

        self.model = model
        self.options = dict(options)
        self.backend = VLLMBackend(model, random_state=0, cache=None, progress=False, **options)

    def describe(self) -> dict[str, Any]:
        """What the driver needs: who this is (PID, node), what it runs, and what answers it gives."""
        import ray
        import torch

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "threads": torch.get_num_threads(),  # Ray sets OMP_NUM_THREADS to the replica's CPUs
            "model": self.model,
            "options": self.options,
            "identity": self.backend.identity(),
        }

    def generate(self, requests: list) -> Iterator[tuple[int, Any]]:
        yield from _stream(self.backend._run_generate, requests)

    def score(self, requests: list) -> Iterator[tuple[int, Any]]:
        yield from _stream(self.backend._run_scoring, requests)


def _stream(run: Callable, requests: list) -> Iterator[tuple[int, Any]]:
    """Turn the engine's "call back as each request finishes" into a generator.

    The engine loop runs in a helper thread and hands answers over a queue; an
    error inside it is raised here, in the actor's call, as itself.
    """
    handoff: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            run(requests, lambda j, answer: handoff.put((j, answer)), BatchProgress(len(requests), "", False))
            handoff.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the actor call below
            handoff.put(_Failed(exc))

    worker = threading.Thread(target=work, name="personacal-replica-engine", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        # also when the caller went away mid-chunk: the engine must be idle before the next call uses it
        worker.join()


def replica_options(resources: dict[str, float], max_restarts: int, name: str | None,
                    namespace: str) -> dict[str, Any]:
    """``actor.options(...)`` for one replica: its resources, restarts, and name if it is shared."""
    resources = dict(resources)
    options: dict[str, Any] = {
        "num_cpus": resources.pop("CPU", 0),
        "num_gpus": resources.pop("GPU", 0),
        "resources": resources,
        # Ray restarts a killed replica; the driver, not Ray, re-sends what it had not finished
        "max_restarts": max_restarts,
        "max_task_retries": 0,
    }
    if name is not None:
        # a named replica outlives the driver that started it, so another run can attach to it
        options.update(name=name, namespace=namespace, lifetime="detached", get_if_exists=True)
    return options
