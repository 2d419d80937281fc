"""Feed a batch to a set of engine replicas, survive replicas that die, hand back each answer once.

The driver keeps a queue of requests still to do. Every replica that is up gets
chunks of them (at most ``depth`` chunks queued at a time, so its engine never
waits for the driver) and streams its answers back one by one; each answer
goes to ``on_result`` (which caches it) the moment it arrives. When a replica
dies, the requests it had not answered go back to the front of the queue for
whichever replica is up; Ray restarts the dead one, and it gets work again once
it answers a ``describe()`` call. Only when no replica is left does the call fail.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendError, PersonacalError
from ._progress import BatchProgress

__all__ = ["ReplicaState", "dispatch", "probe", "settle"]

#: Chunks a replica holds at once: one running, one waiting, so it never idles between chunks.
DEPTH = 2
#: Largest chunk. A replica runs its chunks one after another, so a batch split finer than one
#: chunk per replica only shrinks what the engine decodes at once (measured: 2 replicas were
#: slower than 1 at sampling with 4 chunks each). A replica that dies loses nothing by large
#: chunks (answers stream back one by one); larger ones would only delay rebalancing.
MAX_CHUNK = 512


@dataclass
class ReplicaState:
    """One replica as the driver sees it, kept across calls."""

    handle: Any
    name: str
    info: dict | None = None  # its describe(): pid, node, model, options, identity
    probe: Any = None  # an outstanding describe() while it (re)starts
    dead: bool = False
    failures: int = field(default=0)

    @property
    def up(self) -> bool:
        return not self.dead and self.probe is None and self.info is not None


def probe(handle):
    """A describe() call that waits while Ray restarts the replica, and fails once Ray gives it up."""
    return handle.describe.options(max_task_retries=-1).remote()


def settle(ray, replica: ReplicaState, ref) -> None:
    """Record the outcome of a replica's describe() call (asking again if it is still restarting)."""
    replica.probe = None
    try:
        replica.info = ray.get(ref)
    except ray.exceptions.ActorUnavailableError:
        replica.probe = probe(replica.handle)
    except ray.exceptions.RayActorError:  # ActorDiedError: Ray gave it up
        replica.dead = True


def _chunk_size(n: int, up: int, chunk_size: int | None) -> int:
    """One chunk per replica up to MAX_CHUNK; beyond that, MAX_CHUNK-sized chunks, DEPTH per replica."""
    if chunk_size is not None:
        return chunk_size
    return max(1, min(MAX_CHUNK, math.ceil(n / max(up, 1))))


def _raise_task_error(exc, replica: ReplicaState) -> None:
    """An error raised inside a replica's call: personacal's own errors come back as themselves."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, PersonacalError):
        raise cause
    raise BackendError(f"replica {replica.name} failed: {cause or exc}") from exc


def dispatch(ray, replicas: list[ReplicaState], method: str, requests: list, on_result: Callable[[int, Any], None],
             bar: BatchProgress, *, chunk_size: int | None = None) -> None:
    """Run ``requests`` on the replicas; ``on_result(i, answer)`` exactly once per request."""
    n = len(requests)
    pending = deque(range(n))
    finished = [False] * n
    remaining = n
    streams: dict[Any, tuple[ReplicaState, list[int]]] = {}
    probes = {r.probe: r for r in replicas if r.probe is not None and not r.dead}
    size = _chunk_size(n, sum(r.up for r in replicas), chunk_size)

    def requeue(replica: ReplicaState) -> None:
        for gen, (owner, chunk) in list(streams.items()):
            if owner is replica:
                del streams[gen]
                pending.extendleft(reversed([i for i in chunk if not finished[i]]))
        replica.failures += 1
        replica.info = None
        replica.probe = probe(replica.handle)
        probes[replica.probe] = replica
        bar.retry()

    while remaining:
        for replica in replicas:
            busy = sum(owner is replica for owner, _ in streams.values())
            while replica.up and busy < DEPTH and pending:
                chunk = [pending.popleft() for _ in range(min(size, len(pending)))]
                call = getattr(replica.handle, method).options(num_returns="streaming")
                streams[call.remote([requests[i] for i in chunk])] = (replica, chunk)
                busy += 1
        if not streams and not probes:
            lost = ", ".join(r.name for r in replicas if r.dead)
            raise BackendError(
                f"every replica is gone ({lost}: Ray could not restart them) with {remaining} of {n} request(s) "
                "unanswered; the answers already received are in the cache, so rerun to resume once the cluster "
                "has room for a replica"
            )
        (ready,), _ = ray.wait(list(streams) + list(probes), num_returns=1)
        if ready in probes:
            replica = probes.pop(ready)
            settle(ray, replica, ready)
            if replica.probe is not None:
                probes[replica.probe] = replica
            continue
        replica, chunk = streams[ready]
        try:
            position, answer = ray.get(next(ready))
        except StopIteration:  # the chunk is done; anything it did not answer goes back in the queue
            del streams[ready]
            pending.extendleft(reversed([i for i in chunk if not finished[i]]))
            continue
        except ray.exceptions.RayActorError:
            requeue(replica)
            continue
        except ray.exceptions.RayTaskError as exc:
            _raise_task_error(exc, replica)
        i = chunk[position]
        if not finished[i]:
            finished[i] = True
            remaining -= 1
            on_result(i, answer)
