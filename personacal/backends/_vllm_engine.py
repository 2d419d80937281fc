"""The life of an offline vLLM engine: its environment, its model folder, its start, Ctrl-C and its end.

Everything here works around how vLLM 0.32 behaves in a plain Python process:

- the CPU build sizes its KV cache from ``VLLM_CPU_KVCACHE_SPACE`` and otherwise
  reserves 90% of *total* memory, refusing to start when less is free;
- an engine runs in a child process unless ``VLLM_ENABLE_V1_MULTIPROCESSING=0``,
  and that child keeps the interpreter alive after the work is done unless the
  engine is shut down (``llm.llm_engine.engine_core.shutdown()``);
- a KeyboardInterrupt raised in the middle of an engine step leaves the
  in-process scheduler half-updated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = [
    "hide_unscannable_modules", "cpu_fast_start_env", "apply_cpu_fast_start_env", "check_model_source",
    "shutdown_engine", "deferred_interrupt",
]

logger = logging.getLogger(__name__)

#: KV-cache size on CPU: this share of the memory free at start, in whole GiB, within these bounds.
KV_CACHE_SHARE, KV_CACHE_MIN_GIB, KV_CACHE_MAX_GIB = 0.1, 1, 4


def _available_gib() -> float | None:
    """Memory the kernel says a new process can use (MemAvailable), in GiB; None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20  # kB -> GiB
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def cpu_fast_start_env() -> dict[str, str]:
    """The environment ``cpu_fast_start=True`` needs: a KV cache sized from free memory, one process.

    Without ``VLLM_CPU_KVCACHE_SPACE`` the CPU build asks for 90% of all memory and
    refuses to start on a machine where anything else runs. The in-process engine
    (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) starts faster, has no child process to
    outlive the run, and stops cleanly on Ctrl-C.
    """
    available = _available_gib()
    gib = KV_CACHE_MIN_GIB if available is None else int(available * KV_CACHE_SHARE)
    gib = max(KV_CACHE_MIN_GIB, min(KV_CACHE_MAX_GIB, gib))
    return {"VLLM_CPU_KVCACHE_SPACE": str(gib), "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}


def apply_cpu_fast_start_env() -> dict[str, str]:
    """Set :func:`cpu_fast_start_env` where the user has not set those variables; return what was set.

    vLLM reads both variables when it builds an engine, so this must run before
    the engine is built (personacal runs it before it imports vLLM).
    """
    applied = {}
    for name, value in cpu_fast_start_env().items():
        if os.environ.get(name, "") == "":
            os.environ[name] = value
            applied[name] = value
    if applied:
        logger.info("cpu_fast_start: set %s", ", ".join(f"{k}={v}" for k, v in applied.items()))
    return applied


def check_model_source(model: str | os.PathLike) -> str:
    """Fail early, in one line, on a model folder that is missing or is not a model folder.

    A string that names an existing path must be a Hugging Face model folder (with
    ``config.json``). One that does not exist but cannot be a hub id (``org/name``)
    either, such as ``/no/such/dir`` or ``./model``, is a missing folder: without this
    check transformers prints a long traceback ending in "Repo id must be in the form".
    """
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"`model` {text!r} is a file; give the model's folder (the one holding config.json)")
        if not (path / "config.json").is_file():
            raise InputError(f"`model` folder {text!r} has no config.json, so it is not a Hugging Face model folder; "
                             "give the folder that holds the model's config.json and weights")
        return text if not text.startswith("~") else str(path)
    hub_like = not path.is_absolute() and not text.startswith((".", "~")) and text.count("/") <= 1 and "\\" not in text
    if not hub_like or text.strip() != text or not text:
        raise InputError(f"`model` folder {text!r} does not exist; give a model folder or a Hugging Face id "
                         "such as 'meta-llama/Llama-3.1-8B-Instruct'")
    return text


def shutdown_engine(llm: Any) -> None:
    """Stop ``llm``'s engine core and its workers (child processes included); safe to call twice."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if engine_core is None:
        return
    try:
        engine_core.shutdown()
    except Exception:  # noqa: BLE001 - best effort at exit; a dead engine has nothing left to stop
        logger.debug("vLLM engine shutdown failed", exc_info=True)


class _Interrupt:
    requested = False


@contextlib.contextmanager
def deferred_interrupt():
    """Let a Ctrl-C finish the engine step under way; ``state.requested`` says one came.

    A KeyboardInterrupt raised inside a step leaves the in-process scheduler
    half-updated, so the first Ctrl-C only sets a flag that the stepping loop
    checks after each step (a fraction of a second); a second Ctrl-C raises at
    once. Only the main thread may set signal handlers, and a handler someone
    else installed is left alone: there the interrupt works as before.
    """
    state = _Interrupt()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state
        return

    def handler(signum, frame):
        if state.requested:
            raise KeyboardInterrupt
        state.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def hide_unscannable_modules():
    """Hide modules that break vLLM 0.32's CPU kernel rebinding while an engine starts.

    That rebinding calls ``vars(value).get`` on every attribute of every module
    in ``sys.modules``; llvmlite's ``ffi.lib`` (imported with numba, which
    personacal.calibrate and PyMC use) answers ``__dict__`` with a function
    wrapper, and the engine fails to start. The modules are put back as soon as
    the engine is built; nothing else sees them missing.
    """
    hidden = {}
    with warnings.catch_warnings():  # touching deprecated attributes (torch.distributed.reduce_op) warns
        warnings.simplefilter("ignore")
        for name, module in list(sys.modules.items()):
            namespace = getattr(module, "__dict__", None) or {}
            for value in list(namespace.values()):
                try:
                    breaks = hasattr(value, "__dict__") and not hasattr(vars(value), "get")
                except Exception:  # noqa: BLE001 - any attribute that cannot be inspected is left alone
                    breaks = False
                if breaks:
                    hidden[name] = sys.modules.pop(name)
                    break
    try:
        yield
    finally:
        sys.modules.update(hidden)
