"""The API key stays secret whatever a server sends back (issue 14, item 7).

A local OpenAI-compatible server (stdlib, 127.0.0.1) that echoes the request's
Authorization header everywhere it can: in its error bodies, in the replies it
generates and in their ids, as a misconfigured gateway might. The key must appear
in no message, log line, cache entry, output file or report personacal writes.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from personacal.backends import OpenAIBackend, SamplingParams
from personacal.cli import main
from personacal.errors import BackendRequestError

KEY = "sk-live-3f9a1c77e2b04d5f8a6e-SECRET"


class _QuietServer(ThreadingHTTPServer):
    """A client that stops at its first fatal error drops its other requests mid-reply; that is
    expected here, so the server does not print their broken pipes into the stderr under test."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EchoServer:
    """Answers /v1/chat/completions; ``fail_with`` (an HTTP status) makes every answer an error."""

    def __init__(self):
        self.fail_with: int | None = None
        self.seen_keys: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                auth = self.headers.get("authorization", "")
                server.seen_keys.append(auth)
                if server.fail_with is not None:
                    status = server.fail_with
                    payload = {"error": {"message": f"gateway rejected request; headers: authorization={auth}; "
                                                    f"key fragment {auth[-14:]}", "code": status}}
                else:
                    status = 200
                    n = body.get("n", 1)
                    payload = {
                        "id": f"chatcmpl-{auth}", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": i, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": f"A. (you sent {auth})"}}
                                    for i in range(n)],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
                    }
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def _assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert KEY[-14:] not in text  # nor the fragment the server quotes


def test_error_bodies_and_replies_are_redacted_in_python(echo, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "cache.sqlite"
    backend = OpenAIBackend("m", base_url=echo.base_url, api_key=KEY, cache=cache, progress=False, max_retries=1,
                            backoff_base=0.01, random_state=0)
    outs = backend.generate(["hi", "there"], SamplingParams(temperature=1.0, max_tokens=8))
    assert outs[0].text == "A. (you sent Bearer [redacted])"  # the key was sent, and then hidden
    echo.fail_with = 500
    with pytest.raises(BackendRequestError) as err:
        backend.generate(["other"], SamplingParams(max_tokens=2))
    backend.close()
    assert echo.seen_keys[0] == f"Bearer {KEY}"
    message = str(err.value)
    assert "authorization=Bearer [redacted]" in message and "failed after 2 attempt(s): HTTP 500" in message
    # the openai exception (which holds the server's unredacted body) is neither chained nor shown in tracebacks
    assert err.value.__cause__ is None and err.value.__suppress_context__
    _assert_no_key(message, repr(outs), caplog.text)
    for path in tmp_path.iterdir():
        _assert_no_key(path.read_bytes().decode("latin-1"))


def test_cli_run_keeps_the_key_out_of_messages_and_files(echo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MY_GATEWAY_KEY", KEY)
    personas = tmp_path / "personas.csv"
    pd.DataFrame({"persona_id": ["p1", "p2"], "region": ["CA", "WY"], "age": ["35-44", "65+"]}).to_csv(
        personas, index=False)
    args = ["simulate", "--personas", str(personas), "--questions", "election-2024", "--method", "sample",
            "--n-samples", "2", "--backend", "openai", "--base-url", echo.base_url, "--model", "m",
            "--api-key-env", "MY_GATEWAY_KEY", "--cache", str(tmp_path / "cache.sqlite"), "--no-progress",
            "--out", str(tmp_path / "answers.csv"), "--replies-out", str(tmp_path / "replies.parquet")]
    assert main(args) == 0
    assert "Bearer [redacted]" in pd.read_parquet(tmp_path / "replies.parquet")["text"].iloc[0]
    ok = capsys.readouterr()
    echo.fail_with = 401
    assert main([*args[:-4], "--out", str(tmp_path / "again.csv"), "--seed", "7"]) == 1
    failed = capsys.readouterr()
    lines = failed.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("personacal: error [backend-request]:"), failed.err
    assert "[redacted]" in lines[0]
    _assert_no_key(ok.out, ok.err, failed.out, failed.err)
    for path in tmp_path.iterdir():
        _assert_no_key(path.read_bytes().decode("latin-1"))
