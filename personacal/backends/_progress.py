"""One tqdm bar per batch call, with cache hits, retries and failures in its postfix."""

from __future__ import annotations

import threading

from tqdm.auto import tqdm

__all__ = ["BatchProgress"]


class BatchProgress:
    """Counts what happened to a batch; the bar shows requests/s and generated tokens/s.

    Answers served from the cache start the bar (tqdm's ``initial``), so they
    count towards the total but not towards the rate: a fully cached batch
    shows no rate at all instead of millions of requests per second.
    """

    def __init__(self, total: int, desc: str, enabled: bool, *, cached: int = 0):
        self._lock = threading.Lock()  # async backends report from a worker thread
        self.cached = cached
        self.retries = 0
        self.failures = 0
        self.tokens = 0
        self._bar = tqdm(total=total, initial=cached, desc=desc, unit="req", dynamic_ncols=True, disable=not enabled)
        self._postfix()

    def _postfix(self) -> None:
        elapsed = self._bar.format_dict.get("elapsed") or 0.0
        tok_s = self.tokens / elapsed if elapsed > 0 else 0.0
        # as text: tqdm prints large numbers in the postfix as "1e+5"
        self._bar.set_postfix(cached=str(self.cached), retries=str(self.retries), failed=str(self.failures),
                              tok_s=f"{tok_s:.1f}", refresh=False)

    def done(self, n_generated_tokens: int | None = None) -> None:
        with self._lock:
            self.tokens += n_generated_tokens or 0
            self._bar.update(1)
            self._postfix()

    def retry(self) -> None:
        with self._lock:
            self.retries += 1
            self._postfix()
            self._bar.refresh()

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._postfix()
            self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
