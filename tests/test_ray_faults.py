"""Faults, for real: a replica's process killed mid-run, and the driver killed mid-run.

- Replica: ``os.kill(pid, SIGKILL)`` on one replica while a batch runs. The batch must
  complete with the reference answers, every answer must be put in the cache exactly
  once (the ones finished before the kill are not redone), and Ray must bring the
  replica back in a new process.
- Driver: ``personacal simulate --backend ray`` in a subprocess, SIGKILLed mid-run; the
  same command run again must serve what the dead run cached (not redo it) and write
  the reference answers.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pandas as pd
import pytest

from _ray_fixtures import RAY_REPLICA_SET
from personacal.backends import RayBackend, ResponseCache, SamplingParams
from personacal.simulate import load_question_bank, simulate

pytestmark = pytest.mark.vllm

START_TIMEOUT_S = 300


class CountingCache(ResponseCache):
    """The real SQLite cache, counting how often each answer is put."""

    def __init__(self, path):
        super().__init__(path)
        self.puts: Counter[str] = Counter()

    def put(self, key, request_type, value) -> None:
        super().put(key, request_type, value)
        self.puts[key] += 1


def _rows(path) -> dict[str, float]:
    """key -> time written, read beside the driver (WAL lets it keep writing)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return dict(conn.execute("SELECT key, created FROM answers"))
    except sqlite3.OperationalError:  # the driver has created the file but not yet the table
        return {}


def test_killing_a_replica_mid_run_loses_nothing_and_redoes_nothing(ray_backend, vllm_backend, tiny_model_dir,
                                                                    tmp_path):
    cache = CountingCache(tmp_path / "answers.sqlite")
    backend = RayBackend(str(tiny_model_dir), replicas=2, replica_set=RAY_REPLICA_SET, random_state=0,
                         progress=False, cache=cache)
    victim = backend.replica_info()[0]
    prompts = [f"Persona {i} from county {i * 13 % 997} answers the survey:" for i in range(160)]
    params = SamplingParams(temperature=0.8, max_tokens=24)
    killed_after: list[int] = []

    def kill_when_a_quarter_is_cached() -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            done = sum(cache.puts.values())
            if done >= len(prompts) // 4:
                os.kill(victim["pid"], signal.SIGKILL)
                killed_after.append(done)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_when_a_quarter_is_cached, daemon=True)
    watcher.start()
    try:
        got = backend.generate(prompts, params)
    finally:
        watcher.join(timeout=5)
        backend.close()
    assert killed_after and killed_after[0] < len(prompts), "the replica must die while the batch runs"
    assert [o.texts for o in got] == [o.texts for o in vllm_backend.generate(prompts, params)]
    assert len(cache.puts) == len(prompts) and set(cache.puts.values()) == {1}
    assert len(_rows(cache.path)) == len(prompts)
    # Ray restarts the killed replica in a new process, and the driver puts it back to work
    backend.wait_until_up(timeout=START_TIMEOUT_S)
    after = {r["name"]: r for r in backend.replica_info()}
    assert after[victim["name"]]["failures"] == 1
    assert after[victim["name"]]["state"] == "up" and after[victim["name"]]["pid"] != victim["pid"]


def _personas(n: int) -> pd.DataFrame:
    ages = ["18 to 24 years", "25 to 34 years", "45 to 54 years", "65 to 74 years"]
    return pd.DataFrame({
        "persona_id": [f"p{i:03d}" for i in range(n)],
        "region": [["CA", "WY", "TX", "NY", "OH"][i % 5] for i in range(n)],
        "age": [ages[i % 4] for i in range(n)],
        "sex": ["Female" if i % 2 else "Male" for i in range(n)],
    })


def test_killing_the_driver_mid_run_then_rerunning_resumes_from_the_cache(ray_backend, ray_cluster, vllm_backend,
                                                                           tiny_model_dir, tmp_path):
    personas = _personas(40)
    personas.to_csv(tmp_path / "personas.csv", index=False)
    cache, out = tmp_path / "answers.sqlite", tmp_path / "answers.parquet"
    command = [
        sys.executable, "-m", "personacal.cli", "simulate", "--personas", str(tmp_path / "personas.csv"),
        "--questions", "elections", "--method", "sample", "--n-samples", "2", "--max-tokens", "16",
        "--backend", "ray", "--model", str(tiny_model_dir), "--address", ray_cluster,
        "--replica-set", RAY_REPLICA_SET, "--cache", str(cache), "--seed", "5", "--out", str(out), "--no-progress",
    ]
    total = len(personas) * len(load_question_bank("elections"))
    log = tmp_path / "driver.log"
    with open(log, "wb") as sink:
        driver = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and driver.poll() is None:
        if cache.exists() and len(_rows(cache)) >= total // 8:
            break
        time.sleep(0.02)
    assert driver.poll() is None, f"the driver ended before it could be killed:\n{log.read_text()[-3000:]}"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    before = _rows(cache)
    assert 0 < len(before) < total, "the driver must die mid-run"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    after = _rows(cache)
    assert len(after) == total
    assert {k: after[k] for k in before} == before  # what the dead run cached was served, not redone
    want = simulate(personas, load_question_bank("elections"), vllm_backend, method="sample", n_samples=2,
                    max_tokens=16, random_state=5, progress=False).to_frame()
    pd.testing.assert_frame_equal(pd.read_parquet(out), want, check_dtype=False)
