"""The one HTTP layer: time-outs, readable errors, and the requests of every service.

Service modules call `HttpClient.request` and friends; nothing here knows any service.
Retries are in retries.py, transfers (uploads, downloads, bodies read as they arrive) in
transfer.py, event streams in sse.py.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from . import __version__, network, transfer
from .credentials import without_login
from .errors import AuthError, InputError, NetworkError, RemoteJobError, RemoteJobsError
from .polling import Deadline
from .retries import BACKOFF, IDEMPOTENT_METHODS, RETRIES, RETRY_STATUSES, Refusals, session

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"remote-jobs/{__version__} (Galaxy remote job runner)"


def redact_url(url: str) -> str:
    """A URL without its query string and without a user and password before its host:
    presigned links, logins and a self-hosted service's basic auth carry secrets there."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, default ports filled in: where a credential may go."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is not a number: no origin of ours
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def resolve_link(document_url: str, link: str) -> str:
    """A link a server handed out, resolved as a browser resolves an href on that page.

    An absolute URL stays as it is, an absolute path ('/apps/x/api/v1/jobs/1') keeps the
    document's scheme and host, a relative path ('1/results') is taken from the document's
    folder.
    """
    return urljoin(document_url, link.strip())


def _describe(exc: BaseException, url: str, setting: str | None = None) -> str:
    """A short reason for a transport failure of a request to `url`, without URLs (their
    queries may hold secrets): the network module's words (shared with `remote-jobs check`),
    naming the host, what failed and what to try; `setting` is the variable holding the URL."""
    failure = network.explain(exc, url, setting)
    if failure is not None:
        return str(failure)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke during the transfer"
    if isinstance(exc, requests.exceptions.RetryError):
        return "too many failed attempts"
    text = re.sub(r"https?://\S+|/\S*\?\S*", "<url>", str(exc))
    return f"{type(exc).__name__}: {text[:200]}"


def server_words(response: requests.Response) -> str:
    """What the server said about an error, in its own words, on one line."""
    try:
        body = response.json()
    except ValueError:
        text = response.text or ""
        for pattern in (r"<Message>(.*?)</Message>", r"<title>(.*?)</title>", r"<h1>(.*?)</h1>"):
            match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
            if match:
                return " ".join(match.group(1).split())
        return " ".join(text.split())[:200] or response.reason or "no message"
    if isinstance(body, dict):
        for key in ("detail", "message", "error", "error_msg"):
            if body.get(key):
                value = body[key]
                return value if isinstance(value, str) else json.dumps(value)[:300]
    if isinstance(body, str):
        return body
    return json.dumps(body)[:300]


K = TypeVar("K")


def at_once(calls: Mapping[K, Callable[[], object]], until: float) -> dict[K, str | None]:
    """Make the last calls of a run that is ending (deleting or cancelling its remote jobs) all
    at once, each in a thread of its own, and wait for them until `until` (time.monotonic())
    at the latest, however many they are.

    Returns, per call, None when it succeeded, else why not in a few words. A call still
    waiting for its answer then is left behind: its thread is a daemon, which ends with the
    process, so a server that does not answer cannot hold the run (Galaxy sends SIGKILL one
    second after SIGTERM). Written here because requests has no concurrency of its own and
    concurrent.futures' threads are not daemons: the interpreter would wait for them at exit.
    """
    started = time.monotonic()
    outcomes: dict[K, str | None] = {}

    def call(key: K, function: Callable[[], object]) -> None:
        try:
            function()
            outcomes[key] = None
        except RemoteJobsError as exc:
            outcomes[key] = exc.message
        except Exception as exc:  # an answer shaped unlike the docs: say so, end the run anyway
            outcomes[key] = f"{type(exc).__name__}: {exc}"

    threads = [
        threading.Thread(target=call, args=(key, function), daemon=True, name="last-call")
        for key, function in calls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    unanswered = f"no answer within {max(0.0, until - started):.1f} s"
    return {key: outcomes.get(key, unanswered) for key in calls}


class HttpClient:
    """A requests session per service with time-outs and urllib3 retries.

    Two sessions: calls that are safe to repeat are retried on connection errors,
    429 and 502/503/504; other calls only when the connection was never made.

    `setting` names the variable that holds `base_url` (BAKTA_API_URL...): a failure to reach
    that origin says to check it. `bearer` is the service's token: it goes only to the origin
    (scheme, host, port) of `base_url`. A link to any other host (a storage service, or one
    handed out by a confused server) is fetched without it; requests drops it, too, on a
    redirect to another host. A user and password in `base_url` go the same way, as basic
    auth on the requests that carry no token; `base_url` is kept without them.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        bearer: str | None = None,
        setting: str | None = None,
        read_timeout: float = READ_TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        deadline: Deadline | None = None,
    ) -> None:
        self.service = service
        self.base_url, self._login = without_login(base_url.rstrip("/"))
        self.bearer = bearer
        self.setting = setting
        self.timeout = (CONNECT_TIMEOUT, read_timeout)
        self.headers = {"User-Agent": USER_AGENT}
        self.deadline = deadline  # --timeout: bounds every request, retry and wait
        self._refusals = Refusals()
        self._safe = session(retries, retries, backoff, deadline, self._refusals)
        self._unsafe = session(retries, 0, backoff, deadline, self._refusals)

    def describe(self, exc: BaseException, url: str) -> str:
        """Why a request to `url` failed (see _describe); the setting is named for its origin."""
        same = origin(url) == origin(self.base_url)
        return _describe(exc, url, self.setting if same else None)

    def url(self, path: str) -> str:
        """An API path below the base URL ('/jobs'), or an absolute URL as it is."""
        return path if urlsplit(path).scheme else self.base_url + path

    def _headers(self, url: str, extra: dict[str, str]) -> dict[str, str]:
        headers = {**self.headers, **extra}
        if origin(url) == origin(self.base_url):
            login = f"Bearer {self.bearer}" if self.bearer else self._login
            if login:
                headers["Authorization"] = login
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        job: str | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
        read_timeout: float | None = None,
        last_call_until: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; an HTTP error status becomes the matching RemoteJobsError.

        Its time-outs, and its retries' waits, end at the run's deadline at the latest.
        `last_call_until`: one of the last requests of a run that is ending (see `at_once`):
        one attempt, no retries, given up at that time.monotonic(), whatever the deadline.
        """
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS
        url = self.url(path)
        headers = self._headers(url, kwargs.pop("headers", {}))
        what = f"{method} {redact_url(url)}"
        self._check_ca_bundle(url, what, job)
        if last_call_until is not None:
            return self._last_call(method, url, headers, job, last_call_until, **kwargs)
        connect, read = CONNECT_TIMEOUT, read_timeout or self.timeout[1]
        if self.deadline is not None:
            left = self.deadline.remaining()
            if left <= 0:
                raise self.deadline.expired(self.service, what, job)
            connect, read = min(connect, left), min(read, left)
        self._refusals.wait = None
        session = self._safe if idempotent else self._unsafe
        try:
            response = session.request(
                method, url, headers=headers, timeout=(connect, read), stream=stream, **kwargs
            )
        except requests.RequestException as exc:
            if self.deadline is not None and self.out_of_time():
                if isinstance(exc, requests.Timeout) and self.deadline.passed():
                    raise self.deadline.expired(self.service, what, job) from None  # its time-out
                words = f"{what}: {self.describe(exc, url)}"  # a retry not made in time
                raise self.deadline.expired(self.service, words, job, named=True) from None
            raise NetworkError(self.service, f"{what}: {self.describe(exc, url)}", job) from None
        if response.status_code >= 400:
            error = self.error_for(response, job)
            if self.deadline is not None and self.out_of_time():
                asked = response.headers.get("Retry-After")
                words = error.message + (f" (Retry-After: {asked})" if asked else "")
                if isinstance(error, NetworkError):
                    raise self.deadline.expired(self.service, words, job, named=True)
                raise type(error)(
                    self.service,
                    self.deadline.gave_up(words),
                    job,
                    status=error.status,
                    code=error.code,
                )
            raise error
        return response

    def _check_ca_bundle(self, url: str, what: str, job: str | None) -> None:
        """A CA bundle setting (REQUESTS_CA_BUNDLE) that names no file is a bad setting, said
        in the check's words before anything is sent: requests would raise a bare OSError."""
        if urlsplit(url).scheme.lower() != "https":
            return
        bundle = network.ca_bundle()
        if not os.path.exists(bundle.path):
            raise InputError(self.service, f"{what}: {network.bad_bundle(bundle)}", job)

    def out_of_time(self) -> bool:
        """Whether the last request ended for the deadline (a retry not made, a time-out)."""
        if self.deadline is None:
            return False
        return self._refusals.wait is not None or self.deadline.passed()

    def _last_call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        job: str | None,
        until: float,
        **kwargs: Any,
    ) -> requests.Response:
        # at_once gives up on the answer at `until`; the socket waits a little longer, so
        # that a server that does not answer is always told so alike.
        left = max(0.05, until - time.monotonic()) + 0.5
        try:
            # A session of its own: the last calls go out at once, from threads.
            with requests.Session() as once:
                timeout = (min(CONNECT_TIMEOUT, left), left)
                response = once.request(method, url, headers=headers, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            raise NetworkError(
                self.service, f"{method} {redact_url(url)}: {self.describe(exc, url)}", job
            ) from None
        if response.status_code >= 400:
            raise self.error_for(response, job)
        return response

    def json(self, method: str, path: str, *, job: str | None = None, **kwargs: Any) -> Any:
        """A request whose answer must be JSON."""
        return self.parse_json(self.request(method, path, job=job, **kwargs), job)

    def parse_json(self, response: requests.Response, job: str | None = None) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            words = server_words(response)
            where = redact_url(response.url)
            raise NetworkError(
                self.service, f"expected JSON from {where}, got {kind}: {words}", job
            ) from None

    def error_for(self, response: requests.Response, job: str | None = None) -> RemoteJobsError:
        status = response.status_code
        code: str | None = None
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("code"), str):
                code = body["code"]
        except ValueError:
            pass
        words = server_words(response)
        where = redact_url(response.url or "")
        # A plain-HTTP request goes to the proxy, which may have answered itself.
        proxy = network.proxy_for(response.url) if where.startswith("http:") else None
        via = f" through the proxy {proxy.address} ({proxy.variable})" if proxy else ""
        message = f"HTTP {status}{' ' + code if code else ''} from {where}{via}: {words}"
        kind: type[RemoteJobsError]
        if status in (401, 403):
            kind = AuthError
        elif status in RETRY_STATUSES or status >= 500:
            kind = NetworkError
        else:
            kind = RemoteJobError
        return kind(self.service, message, job, status=status, code=code)

    def upload(self, url: str, path: Path | None, *, job: str | None = None) -> None:
        """PUT a file (or an empty body) to a presigned link, streamed from disk (transfer.py)."""
        transfer.upload(self, url, path, job=job)

    def upload_stream(
        self, url: str, file: IO[bytes], name: str, *, job: str | None = None
    ) -> None:
        """PUT an open file from where it stands, streamed (transfer.py); `name` names it."""
        transfer.upload_stream(self, url, file, name, job=job)

    def download(
        self,
        path: str,
        dest: Path,
        *,
        job: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Path:
        """Stream a file to `dest`; it appears under its name only when complete (transfer.py)."""
        return transfer.download(self, path, dest, job=job, headers=headers)
