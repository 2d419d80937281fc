"""Session fixtures for tests that run a REAL vLLM (CPU build) on a tiny local model.

Loaded as a pytest plugin from tests/conftest.py. Fixtures, for every test module to use:

- ``llm_env``        session: environment for vLLM (offline, small KV cache, tmp caches)
- ``tiny_model_dir`` session: folder with a random-weight Llama + ChatML tokenizer
- ``vllm_engine``    session: the ONE offline ``vllm.LLM`` of the test session
- ``vllm_backend``   session: ``VLLMBackend`` wrapping ``vllm_engine`` (no cache, no bar)
- ``vllm_server``    session: ``python -m vllm.entrypoints.openai.api_server`` on a free port
- ``openai_backend`` session: ``OpenAIBackend`` pointed at ``vllm_server`` (chat endpoint)
- ``fault_proxy``    function: a fault-injecting HTTP proxy in front of ``vllm_server``

If vLLM is not installed these fixtures ERROR (they never skip): the test
extra installs it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

TINY_MODEL_SEED = 0
SERVED_MODEL_NAME = "tiny"
#: The engine settings every test engine and server use; float32 so that
#: scores can be checked tightly against a plain transformers forward pass.
ENGINE_KWARGS = {
    "dtype": "float32",
    "max_model_len": 2048,
    "enforce_eager": True,
    "distributed_executor_backend": "uni",
    "max_logprobs": -1,
    "enable_prefix_caching": True,
    # vLLM 0.32 on CPU crashes on seeded requests whose prefill is chunked
    "enable_chunked_prefill": False,
    "max_num_batched_tokens": 8192,
    "seed": 0,
    # compact JSON under guided decoding: a random-weight model would otherwise
    # ramble in whitespace until max_tokens
    "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
}
SERVER_MAX_LOGPROBS = 20
SERVER_START_TIMEOUT_S = 240


@pytest.fixture(scope="session")
def llm_env(tmp_path_factory) -> dict[str, str]:
    """Set (for the whole session) the environment vLLM needs on a CPU-only test box."""
    root = tmp_path_factory.mktemp("vllm-env")
    env = {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # in-process engine: fast start, no sockets
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_CACHE_ROOT": str(root / "vllm-cache"),
        "XDG_CACHE_HOME": str(root / "xdg-cache"),
        "TMPDIR": str(root / "tmp"),
    }
    for name in ("vllm-cache", "xdg-cache", "tmp"):
        (root / name).mkdir()
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    yield env
    mp.undo()


@pytest.fixture(scope="session")
def tiny_model_dir(llm_env, tmp_path_factory) -> Path:
    from personacal.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", random_state=TINY_MODEL_SEED)


@pytest.fixture(scope="session")
def vllm_engine(llm_env, tiny_model_dir):
    """The single offline engine of the session (~15 s to build; do not build another)."""
    import vllm  # an ImportError here is a test ERROR, on purpose

    from personacal.backends._vllm_engine import hide_unscannable_modules

    with hide_unscannable_modules():
        llm = vllm.LLM(model=str(tiny_model_dir), **ENGINE_KWARGS)
    yield llm
    del llm


@pytest.fixture(scope="session")
def vllm_backend(vllm_engine, tiny_model_dir):
    from personacal.backends import VLLMBackend

    return VLLMBackend(str(tiny_model_dir), llm=vllm_engine, random_state=0, progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class VLLMServer:
    process: subprocess.Popen
    port: int
    model: str
    log_path: Path

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def start_vllm_server(model_dir: Path, log_path: Path, env: dict[str, str]) -> VLLMServer:
    port = _free_port()
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", SERVED_MODEL_NAME,
        "--dtype", ENGINE_KWARGS["dtype"],
        "--max-model-len", str(ENGINE_KWARGS["max_model_len"]),
        "--max-logprobs", str(SERVER_MAX_LOGPROBS),
        "--enforce-eager",
        "--distributed-executor-backend", "uni",
        "--enable-prefix-caching",
        "--no-enable-chunked-prefill",
        "--max-num-batched-tokens", str(ENGINE_KWARGS["max_num_batched_tokens"]),
        "--structured-outputs-config", json.dumps(ENGINE_KWARGS["structured_outputs_config"]),
        "--seed", "0",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
    log.close()
    server = VLLMServer(proc, port, SERVED_MODEL_NAME, log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM server exited with code {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"vLLM server not ready after {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def vllm_server(llm_env, tiny_model_dir, tmp_path_factory):
    """A real OpenAI-compatible vLLM server on 127.0.0.1 (stopped by PID at session end)."""
    import vllm  # noqa: F401  # fail (not skip) when vLLM is missing

    server = start_vllm_server(tiny_model_dir, tmp_path_factory.mktemp("server") / "server.log", llm_env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openai_backend(vllm_server):
    from personacal.backends import OpenAIBackend

    return OpenAIBackend(
        vllm_server.model, base_url=vllm_server.base_url, random_state=0, progress=False, max_retries=2, timeout=60
    )


@pytest.fixture
def fault_proxy(vllm_server):
    from _fault_proxy import FaultProxy

    proxy = FaultProxy(vllm_server.root_url)
    yield proxy
    proxy.close()
