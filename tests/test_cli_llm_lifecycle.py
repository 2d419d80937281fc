"""The LLM commands as a user runs them: they start as written, exit when done, and stop on Ctrl-C.

Each test runs ``python -m personacal.cli`` in a subprocess (its own session, so that a
SIGINT reaches the whole process group, as Ctrl-C in a terminal does) against the real
vLLM CPU build and the tiny local model, with none of the VLLM_* variables that
``--cpu-fast-start`` must set by itself (issue 14, items 1-4).
"""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
#: Seconds a command may take to exit once it printed its last line (it used to hang until killed).
EXIT_AFTER_OUTPUT_S = 20
#: Seconds a command may take to stop after Ctrl-C.
STOP_AFTER_CTRL_C_S = 30
#: Variables --cpu-fast-start must set itself: the subprocesses start without them.
HELPER_VARIABLES = ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_CPU_KVCACHE_SPACE")


def _env(llm_env, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HELPER_VARIABLES}
    env.update({k: v for k, v in llm_env.items() if k not in HELPER_VARIABLES})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**env, **extra}


def _answers_in(cache: Path) -> int:
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.Error:
        return 0


class Run:
    """A CLI subprocess whose output is collected line by line, with the time each line arrived."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path):
        self.argv = args
        self.proc = subprocess.Popen([sys.executable, "-m", "personacal.cli", *args], env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        self._threads = [threading.Thread(target=self._read, args=(s, sink), daemon=True)
                         for s, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, sink):
        for raw in iter(stream.readline, b""):
            sink.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
            self.ended = time.monotonic()
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"still running after {timeout} s:\n{self.text()[-3000:]}") from None
        for t in self._threads:
            t.join(timeout=10)
        return code

    def text(self) -> str:
        return "\n".join(line for _, line in sorted(self.out + self.err))

    def stderr_lines(self) -> list[str]:
        return [line.split("\r")[-1] for _, line in self.err if line.split("\r")[-1].strip()]


def _simulate_args(personas: Path, out: Path, cache: Path | None, model: Path) -> list[str]:
    args = ["simulate", "--personas", str(personas), "--questions", "election-2024", "--method", "sample",
            "--n-samples", "3", "--max-tokens", "48", "--backend", "vllm", "--model", str(model),
            "--cpu-fast-start", "--out", str(out)]
    return args + (["--cache", str(cache)] if cache else [])


@pytest.fixture(scope="module")
def personas(tmp_path_factory) -> Path:
    from personacal.generate import sample_meta_personas, state_joints

    path = tmp_path_factory.mktemp("lifecycle") / "personas.csv"
    joint = state_joints(["CA", "WY"], method="ipf", anchor="pep", random_state=0)
    sample_meta_personas(joint, 60, random_state=0).to_csv(path, index=False)
    return path


def _interrupt_when_cached(run: Run, cache: Path, at_least: int, timeout: float = 400) -> float:
    """Send Ctrl-C to the run's process group once its cache holds ``at_least`` answers; return when."""
    deadline = time.monotonic() + timeout
    while _answers_in(cache) < at_least:
        assert run.proc.poll() is None, f"the run ended before it was interrupted:\n{run.text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {at_least} answers after {timeout} s:\n{run.text()[-3000:]}"
        time.sleep(0.2)
    sent = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)
    return sent


def _the_interrupted_line(run: Run, cache: Path) -> int:
    lines = [line for line in run.stderr_lines() if line.startswith("personacal:")]
    assert len(lines) == 1, run.text()[-3000:]
    head, _, command = lines[0].partition("; the same command resumes from there: ")
    assert head.startswith("personacal: interrupted; ") and f"saved in {cache.resolve()} (" in head, lines[0]
    assert command == shlex.join(["python", "-m", "personacal.cli", *run.argv])
    return int(head.split("interrupted; ")[1].split(" answer(s)")[0])


def test_ctrl_c_stops_with_one_line_and_the_rerun_resumes_identically(personas, tiny_model_dir, llm_env, tmp_path):
    env, cache = _env(llm_env), tmp_path / "answers.sqlite"
    args = _simulate_args(personas, tmp_path / "resumed.csv", cache, tiny_model_dir)
    run = Run(args, env, tmp_path)
    sent = _interrupt_when_cached(run, cache, at_least=5)
    assert run.wait(STOP_AFTER_CTRL_C_S) == 130
    assert time.monotonic() - sent < STOP_AFTER_CTRL_C_S
    saved = _the_interrupted_line(run, cache)
    assert 5 <= saved == _answers_in(cache) < 120
    assert "Traceback" not in run.text()

    again = Run(args, env, tmp_path)  # the command the line gave
    assert again.wait(600) == 0, again.text()[-3000:]
    assert f"cached={saved}" in "\n".join(line for _, line in again.err)

    fresh = Run(_simulate_args(personas, tmp_path / "fresh.csv", None, tiny_model_dir), env, tmp_path)
    assert fresh.wait(600) == 0, fresh.text()[-3000:]
    wrote = [t for t, line in fresh.out if line.startswith("Wrote ")]
    assert wrote and fresh.ended - wrote[-1] < EXIT_AFTER_OUTPUT_S  # the in-process engine exits promptly too
    resumed, uninterrupted = pd.read_csv(tmp_path / "resumed.csv"), pd.read_csv(tmp_path / "fresh.csv")
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_a_multiprocess_engine_exits_once_the_output_is_written(personas, tiny_model_dir, llm_env, tmp_path):
    # The engine in a child process used to keep the command alive after its output, until Ctrl-C.
    extra = {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    few = tmp_path / "few.csv"
    pd.read_csv(personas).head(4).to_csv(few, index=False)
    args = ["simulate", "--personas", str(few), "--questions", "election-2024", "--backend", "vllm",
            "--model", str(tiny_model_dir), "--cpu-fast-start", "--out", str(tmp_path / "a.csv"), "--no-progress"]
    run = Run(args, _env(llm_env, **extra), tmp_path)
    code = run.wait(600)
    assert code == 0, run.text()[-3000:]
    wrote = [t for t, line in run.out if line.startswith("Wrote ")]
    assert wrote, run.text()[-3000:]
    assert run.ended - wrote[-1] < EXIT_AFTER_OUTPUT_S
    assert pd.read_csv(tmp_path / "a.csv")["persona_id"].nunique() == 4


def test_ctrl_c_stops_a_multiprocess_engine_without_tracebacks(personas, tiny_model_dir, llm_env, tmp_path):
    cache = tmp_path / "answers.sqlite"
    args = _simulate_args(personas, tmp_path / "a.csv", cache, tiny_model_dir)
    run = Run(args, _env(llm_env, VLLM_ENABLE_V1_MULTIPROCESSING="1"), tmp_path)
    sent = _interrupt_when_cached(run, cache, at_least=5)
    assert run.wait(STOP_AFTER_CTRL_C_S) == 130
    assert time.monotonic() - sent < STOP_AFTER_CTRL_C_S
    assert _the_interrupted_line(run, cache) >= 5
    assert "EngineDeadError" not in run.text() and "KeyboardInterrupt" not in run.text()


def test_ctrl_c_stops_the_openai_backend(personas, vllm_server, fault_proxy, llm_env, tmp_path):
    fault_proxy.add_faults(*[{"delay": 0.5}] * 200)  # a slow server: about 2 answers a second
    cache = tmp_path / "answers.sqlite"
    args = ["simulate", "--personas", str(personas), "--questions", "election-2024", "--backend", "openai",
            "--base-url", fault_proxy.base_url, "--model", vllm_server.model, "--max-concurrency", "1",
            "--cache", str(cache), "--out", str(tmp_path / "a.csv")]
    run = Run(args, _env(llm_env), tmp_path)
    sent = _interrupt_when_cached(run, cache, at_least=3)
    assert run.wait(STOP_AFTER_CTRL_C_S) == 130
    assert time.monotonic() - sent < 10
    assert _the_interrupted_line(run, cache) >= 3
    assert "Traceback" not in run.text()
