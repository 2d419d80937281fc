"""How OpenAIBackend decides whether to retry a failed request, how long it waits, and what it may say.

The policy follows openai-python's (``_base_client.py``: ``_should_retry``,
``_calculate_retry_timeout``), made explicit so that it shows in our progress
bar and logs: the server's ``x-should-retry`` header wins; otherwise timeouts,
connection errors, 408, 409, 429 and 5xx are retried; the server's
``retry-after`` (or ``retry-after-ms``) is honoured, and a wait longer than the
backend's ceiling ends the run with one line instead of a silent long sleep.

Everything a server sends back is text we do not control, so each message
built from it goes through :func:`redact` first: a gateway that echoes the
request's ``Authorization`` header must not make personacal print the key.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np

__all__ = ["Secret", "safe_url", "redact", "retry_after_seconds", "RetryDecision", "decide_retry", "RETRY_STATUS"]

RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
REDACTED = "[redacted]"
#: A run of this many characters of the key, anywhere in a text, counts as the key (servers echo parts of it).
KEY_FRAGMENT = 8
#: Server error text kept in a message (the rest is cut): one line, enough to say what went wrong.
MAX_DETAIL = 300


class Secret:
    """Holds the API key so that no repr, log line or traceback local shows it."""

    __slots__ = ("_value", "_pattern")

    def __init__(self, value: str):
        self._value = value
        self._pattern = None

    def reveal(self) -> str:
        return self._value

    def pattern(self) -> re.Pattern | None:
        """Finds the start of every run of :data:`KEY_FRAGMENT` characters of the key (None: nothing to hide)."""
        if self._pattern is None and len(self._value) >= KEY_FRAGMENT:
            key = self._value
            fragments = sorted({key[i : i + KEY_FRAGMENT] for i in range(len(key) - KEY_FRAGMENT + 1)})
            self._pattern = re.compile("(?=(" + "|".join(map(re.escape, fragments)) + "))")
        return self._pattern

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("the API key holder cannot be pickled")


def redact(text: str, secret: Secret | None) -> str:
    """``text`` with the key, and every run of :data:`KEY_FRAGMENT` or more of its characters, replaced.

    Placeholder keys of local servers ("EMPTY") are too short to be secrets and are left alone.
    """
    pattern = secret.pattern() if secret is not None and isinstance(text, str) else None
    if pattern is None:
        return text
    spans: list[list[int]] = []
    for match in pattern.finditer(text):  # overlapping: one match per start position
        start, end = match.start(), match.start() + KEY_FRAGMENT
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return text
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], REDACTED]
        at = end
    return "".join(out) + text[at:]


def one_line(text: str, secret: Secret | None, limit: int = MAX_DETAIL) -> str:
    """Server text made fit for a one-line message: redacted, whitespace collapsed, cut at ``limit``."""
    flat = " ".join(redact(str(text), secret).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """The URL without any user:password part."""
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), if it did."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float = 0.0
    #: why the request is given up (empty when it is retried)
    reason: str = ""


def decide_retry(status: int | None, headers: Mapping[str, str] | None, attempt: int, *, max_retries: int,
                 max_retry_after: float, backoff_base: float, backoff_max: float,
                 jitter: np.random.Generator) -> RetryDecision:
    """Retry the ``attempt``-th failure (0 = the first try failed) of a request, or give it up, and why.

    ``status`` is the HTTP status, ``None`` for a timeout or a connection error.
    """
    should = (headers or {}).get("x-should-retry")
    if should == "true":
        retryable, why_not = True, ""
    elif should == "false":
        retryable, why_not = False, "(the server said not to retry: x-should-retry: false)"
    else:
        retryable = status is None or status in RETRY_STATUS
        why_not = "(not retryable)"
    if not retryable:
        return RetryDecision(False, reason=why_not)
    if attempt >= max_retries:
        return RetryDecision(False, reason=f"after {attempt + 1} attempt(s)")
    asked = retry_after_seconds(headers)
    if asked is not None and asked > max_retry_after:
        return RetryDecision(False, reason=(
            f"(the server asked to wait {asked:,.0f} s before a retry, longer than `max_retry_after`="
            f"{max_retry_after:g} s: try again later, or raise max_retry_after)"))
    if asked is not None:
        return RetryDecision(True, asked)
    return RetryDecision(True, float(jitter.uniform(0.0, min(backoff_max, backoff_base * 2**attempt))))
