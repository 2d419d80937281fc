"""A small HTTP proxy in front of the real vLLM server that injects faults on demand.

It forwards every request to the upstream server (stdlib only) and records
what it saw, so tests can count requests and check headers. Faults are queued
and consumed one per matching request:

- ``{"status": 429, "headers": {"retry-after": "1"}}`` answer with that status (and
  ``"message"``, the error text, if given);
- ``{"delay": 3.0}`` wait before forwarding (for client timeouts);
- ``{"drop": True}`` close the connection without answering (a dying server);
- ``{"strip_logprobs": True}`` forward, then null the ``logprobs`` of every choice;
- ``{"replace_text": "..."}`` forward, then overwrite every choice's text (a server
  that ignores guided decoding).

``drop_after(n)`` forwards the next ``n`` requests and then drops every later
one until ``heal()``, like a server that dies in the middle of a batch.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FaultProxy"]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")  # e.g. http://127.0.0.1:8000 (no /v1)
        self.lock = threading.RLock()
        self.faults: deque[dict] = deque()
        self.seen: list[dict] = []  # every request that reached the proxy
        self.forwarded: list[dict] = []  # those passed on to the real server
        self._drop_after: int | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                proxy._handle(self, None)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                proxy._handle(self, self.rfile.read(length))

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # dropped connections are the point
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    # -- test controls ----------------------------------------------------------
    def add_faults(self, *faults: dict) -> None:
        with self.lock:
            self.faults.extend(faults)

    def drop_after(self, n: int) -> None:
        with self.lock:
            self._drop_after = n

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()
            self._drop_after = None

    def reset(self) -> None:
        with self.lock:
            self.heal()
            self.seen.clear()
            self.forwarded.clear()

    def count(self, path_suffix: str = "", forwarded: bool = True) -> int:
        with self.lock:
            items = self.forwarded if forwarded else self.seen
            return sum(1 for r in items if r["path"].endswith(path_suffix))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- request handling -------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        record = {
            "path": h.path,
            "headers": {k.lower(): v for k, v in h.headers.items()},
            "body": json.loads(body) if body else None,
        }
        with self.lock:
            self.seen.append(record)
            fault = self.faults.popleft() if self.faults and h.path.startswith("/v1/") and body else {}
            if not fault and self._drop_after is not None and body:
                if self._drop_after <= 0:
                    fault = {"drop": True}
                else:
                    self._drop_after -= 1
        if fault.get("drop"):
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        if "status" in fault:
            message = fault.get("message", f"injected {fault['status']}")
            payload = json.dumps({"error": {"message": message, "code": fault["status"]}})
            self._reply(h, fault["status"], {"content-type": "application/json", **fault.get("headers", {})},
                        payload.encode())
            return
        if "delay" in fault:
            time.sleep(fault["delay"])
        with self.lock:
            self.forwarded.append(record)
        req = urllib.request.Request(
            self.upstream + h.path,
            data=body,
            method=h.command,
            headers={k: v for k, v in h.headers.items() if k.lower() not in _HOP},
        )
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                status, headers, data = resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            status, headers, data = err.code, dict(err.headers.items()), err.read()
        if (fault.get("strip_logprobs") or "replace_text" in fault) and status == 200:
            doc = json.loads(data)
            for choice in doc.get("choices", []):
                if fault.get("strip_logprobs"):
                    choice["logprobs"] = None
                if "replace_text" in fault:
                    if "message" in choice:
                        choice["message"]["content"] = fault["replace_text"]
                    else:
                        choice["text"] = fault["replace_text"]
            data = json.dumps(doc).encode()
        self._reply(h, status, {k: v for k, v in headers.items() if k.lower() not in _HOP}, data)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, headers: dict, data: bytes) -> None:
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)
