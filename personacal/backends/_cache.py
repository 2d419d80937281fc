"""A persistent SQLite cache of LLM answers, written one answer at a time.

Each completed answer is committed as soon as it arrives, so a run that is
interrupted (server down, Ctrl-C, crash) loses nothing it already paid for:
re-running the same call serves those answers from the cache and only asks
for the rest.

Keys hash what determines an answer: the backend's identity (kind, model and
settings that change replies, never credentials or URLs), the request type,
the prompt, the sampling parameters and the seed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["ResponseCache", "request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    request_type TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def request_key(request_type: str, identity: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything that determines the answer."""
    blob = _canonical({"v": 1, "type": request_type, "backend": dict(identity), "request": dict(payload)})
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite (WAL) store of JSON answers keyed by :func:`request_key`.

    Safe to share between the threads of one process; several processes may
    read it at once, and WAL lets one write while others read.
    """

    #: Every cache file opened in this process -> answers this process stored in it (for "interrupted" lines).
    _opened: dict[Path, int] = {}

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"`path` of ResponseCache must be a file, not a folder; got {str(self.path)!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # autocommit: every put is its own durable transaction
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"answer cache {str(self.path)!r} is not a personacal cache (an SQLite file): {exc}; "
                             "give a new file name or delete that file") from None
        self._resolved = self.path.resolve()
        ResponseCache._opened.setdefault(self._resolved, 0)

    @classmethod
    def opened_in_this_process(cls) -> list[tuple[Path, int, int]]:
        """``(path, answers stored in it, answers this process stored)`` for every cache opened so far."""
        found = []
        for path, written in cls._opened.items():
            try:
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as conn:
                    total = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            except sqlite3.Error:
                total = written
            found.append((path, int(total), written))
        return found

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The stored values of those ``keys`` that are present."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite caps bound parameters
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT key, value FROM answers WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows)
        return found

    def put(self, key: str, request_type: str, value: Any) -> None:
        """Store one answer now (committed before returning)."""
        blob = _canonical(value)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO answers (key, request_type, value, created) VALUES (?, ?, ?, ?)",
                (key, request_type, blob, time.time()),
            )
            ResponseCache._opened[self._resolved] += 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
