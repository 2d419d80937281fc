"""Starting a vLLM engine in a process that has already imported numba."""

from __future__ import annotations

import contextlib
import sys

__all__ = ["hide_unscannable_modules"]


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
