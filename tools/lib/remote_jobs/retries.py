"""Retries: urllib3's, within the run's --timeout, for the sessions of `HttpClient`."""

from __future__ import annotations

from typing import Any

import requests
from urllib3.exceptions import InvalidHeader, MaxRetryError, ProxyError, ResponseError
from urllib3.util.retry import Retry

from . import network
from .polling import Deadline

RETRIES = 5
BACKOFF = 0.5  # seconds; doubles with every retry
MAX_RETRY_AFTER = 300.0  # never sleep longer than this on a server's Retry-After
RETRY_STATUSES = (429, 502, 503, 504)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Refusals:
    """What the retries of one client's current request gave up waiting for (see RunRetry)."""

    def __init__(self) -> None:
        self.wait: float | None = None  # seconds the next retry would have waited


class RunRetry(Retry):
    """urllib3's Retry (its counts, backoff and Retry-After), within the run's --timeout.

    A Retry-After that urllib3 cannot read (neither seconds nor an HTTP date: "1.5") counts
    as absent, and the backoff applies: urllib3 would raise InvalidHeader. A hostile or
    confused one cannot park us for hours (MAX_RETRY_AFTER). And no retry is made whose wait,
    the server's or the backoff's, would end past the deadline: the request ends with what it
    got last, and `refusals` says so.
    """

    deadline: Deadline | None = None
    refusals: Refusals | None = None

    def new(self, **kw: Any) -> RunRetry:
        retry = super().new(**kw)
        retry.deadline, retry.refusals = self.deadline, self.refusals
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)

    def _is_connection_error(self, err: Exception) -> bool:
        """A proxy that answered CONNECT with 429/502/503/504 passed nothing on to the server:
        retried like any connection failure (urllib3 counts it as "other", never retried
        here), as the same answer to a plain-HTTP request through the proxy is."""
        if isinstance(err, ProxyError) and network.tunnel_status(err) in RETRY_STATUSES:
            return True
        return super()._is_connection_error(err)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RunRetry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.deadline is None:
            return retry
        wait = None
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = retry.get_backoff_time()
        if self.deadline.remaining() <= wait:
            if self.refusals is not None:
                self.refusals.wait = wait
            reason = error or ResponseError(f"HTTP {getattr(response, 'status', '?')}")
            raise MaxRetryError(_pool, url or "", reason)  # urllib3: the last answer stands
        return retry


def session(
    connect: int, other: int, backoff: float, deadline: Deadline | None, refusals: Refusals
) -> requests.Session:
    """A session whose requests are retried `connect` times when the connection was never
    made, and `other` times after the request may have reached the server (read errors,
    429 and 502/503/504), within `deadline`."""
    retry = RunRetry(
        total=connect + other,
        connect=connect,
        read=other,
        status=other,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS | {"POST"},
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.deadline, retry.refusals = deadline, refusals
    result = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    result.mount("http://", adapter)
    result.mount("https://", adapter)
    return result
