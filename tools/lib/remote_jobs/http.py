"""The one HTTP layer: time-outs, retries, readable errors and streaming transfers.

Service modules call `HttpClient.request` and friends; nothing here knows any service.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader, MaxRetryError, ProxyError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from . import __version__, network
from .credentials import without_login
from .errors import AuthError, InputError, NetworkError, RemoteJobError, RemoteJobsError
from .polling import Deadline

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
RETRIES = 5
BACKOFF = 0.5  # seconds; doubles with every retry
MAX_RETRY_AFTER = 300.0  # never sleep longer than this on a server's Retry-After
DOWNLOAD_ATTEMPTS = 3  # urllib3 cannot retry a body that breaks mid-stream; we restart it
CHUNK = 1 << 20
RETRY_STATUSES = (429, 502, 503, 504)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = f"remote-jobs/{__version__} (Galaxy remote job runner)"


class _Refusals:
    """What the retries of one client's current request gave up waiting for (see _RunRetry)."""

    def __init__(self) -> None:
        self.wait: float | None = None  # seconds the next retry would have waited


class _RunRetry(Retry):
    """urllib3's Retry (its counts, backoff and Retry-After), within the run's --timeout.

    A Retry-After that urllib3 cannot read (neither seconds nor an HTTP date: "1.5") counts
    as absent, and the backoff applies: urllib3 would raise InvalidHeader. A hostile or
    confused one cannot park us for hours (MAX_RETRY_AFTER). And no retry is made whose wait,
    the server's or the backoff's, would end past the deadline: the request ends with what it
    got last, and `refusals` says so.
    """

    deadline: Deadline | None = None
    refusals: _Refusals | None = None

    def new(self, **kw: Any) -> _RunRetry:
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
    ) -> _RunRetry:
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
        self._refusals = _Refusals()
        self._safe = self._session(retries, retries, backoff)
        self._unsafe = self._session(retries, 0, backoff)

    def _session(self, connect: int, other: int, backoff: float) -> requests.Session:
        """`other` bounds retries after the request may have reached the server."""
        retry = _RunRetry(
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
        retry.deadline, retry.refusals = self.deadline, self._refusals
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

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
                raise NetworkError(self.service, self.deadline.gave_up(what), job)
            connect, read = min(connect, left), min(read, left)
        self._refusals.wait = None
        session = self._safe if idempotent else self._unsafe
        try:
            response = session.request(
                method, url, headers=headers, timeout=(connect, read), stream=stream, **kwargs
            )
        except requests.RequestException as exc:
            if (
                isinstance(exc, requests.Timeout)
                and self.deadline
                and self.deadline.remaining() <= 0
            ):
                words = self.deadline.gave_up(what)  # its time-out was the deadline's
            else:
                words = self._within_timeout(f"{what}: {self.describe(exc, url)}")
            raise NetworkError(self.service, words, job) from None
        if response.status_code >= 400:
            error = self.error_for(response, job)
            if self._out_of_time():
                asked = response.headers.get("Retry-After")
                words = error.message + (f" (Retry-After: {asked})" if asked else "")
                raise type(error)(
                    self.service,
                    self._within_timeout(words),
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

    def _out_of_time(self) -> bool:
        """Whether the last request ended for the deadline (a retry not made, a time-out)."""
        if self.deadline is None:
            return False
        return self._refusals.wait is not None or self.deadline.remaining() <= 0

    def _within_timeout(self, words: str) -> str:
        return self.deadline.gave_up(words) if self.deadline and self._out_of_time() else words

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
        """PUT a file (or an empty body) to a presigned link, streamed from disk."""
        if path is None:
            self.request("PUT", url, job=job, data=b"")
            return
        with open(path, "rb") as body:
            self.request("PUT", url, job=job, data=body)

    def download(
        self,
        path: str,
        dest: Path,
        *,
        job: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Path:
        """Stream a file to `dest`; it appears under its name only when complete and verified."""
        part = dest.with_name(f".{dest.name}.part")
        last_error: RemoteJobsError | None = None
        for attempt in range(DOWNLOAD_ATTEMPTS):
            if attempt:
                pause = BACKOFF * 2**attempt
                if self.deadline is not None and self.deadline.remaining() <= pause:
                    assert last_error is not None
                    raise NetworkError(self.service, self.deadline.gave_up(last_error.message), job)
                time.sleep(pause)
            try:
                with self.request("GET", path, job=job, stream=True, headers=headers or {}) as resp:
                    # Hash only when there is a checksum to compare: it costs a third of the speed.
                    digest = hashlib.sha256() if sha256 is not None else None
                    written = 0
                    with open(part, "wb") as out:
                        for chunk in resp.iter_content(CHUNK):
                            if self.deadline is not None and self.deadline.remaining() <= 0:
                                raise NetworkError(
                                    self.service,
                                    self.deadline.gave_up(f"downloading {dest.name}"),
                                    job,
                                )
                            out.write(chunk)
                            if digest is not None:
                                digest.update(chunk)
                            written += len(chunk)
                    announced = resp.headers.get("Content-Length")
                    plain = not resp.headers.get("Content-Encoding")
                    if announced and plain and written != int(announced):
                        raise NetworkError(
                            self.service,
                            f"{dest.name}: got {written} of {announced} bytes",
                            job,
                        )
                hexdigest = digest.hexdigest() if digest is not None else None
                self._verify(dest.name, written, hexdigest, size, sha256, job)
                os.replace(part, dest)
                return dest
            except requests.RequestException as exc:
                why = self.describe(exc, self.url(path))
                words = self._within_timeout(f"downloading {dest.name}: {why}")
                last_error = NetworkError(self.service, words, job)
                if self._out_of_time():
                    raise last_error from None
            except NetworkError as exc:
                if self._out_of_time():
                    raise
                last_error = exc
            finally:
                part.unlink(missing_ok=True)
        assert last_error is not None
        raise last_error

    def _verify(
        self,
        name: str,
        written: int,
        digest: str | None,
        size: int | None,
        sha256: str | None,
        job: str | None,
    ) -> None:
        if size is not None and written != size:
            raise RemoteJobError(
                self.service, f"{name}: {written} bytes received, manifest says {size}", job
            )
        if sha256 is not None and digest != sha256.lower():
            raise RemoteJobError(
                self.service,
                f"{name}: SHA-256 {digest} does not match the manifest ({sha256})",
                job,
            )


_LINE_END = re.compile(r"\r\n|\r|\n")


def _sse_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines of an event stream: UTF-8, ended by CRLF, LF or CR (the SSE specification).

    A line is given out as soon as its end arrives: a CR is not held back to see whether an
    LF follows (that LF is dropped when it comes).
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer, skip_lf, first = "", False, True
    for chunk in chunks:
        text = decoder.decode(chunk)
        if not text:
            continue
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if skip_lf:
            text, skip_lf = text.removeprefix("\n"), False
        buffer += text
        start = 0
        for end in _LINE_END.finditer(buffer):
            yield buffer[start : end.start()]
            start = end.end()
            skip_lf = end.group() == "\r" and start == len(buffer)
        buffer = buffer[start:]


def _available(response: requests.Response) -> Iterator[bytes]:
    """The body as its bytes arrive: read1 returns what is there instead of waiting to fill
    a buffer, so an event is seen when it is sent, whether or not the stream is chunked."""
    raw = response.raw
    if isinstance(raw, BaseHTTPResponse):
        read = functools.partial(raw.read1, decode_content=True)
    else:  # vcrpy's stand-in, replaying a recorded stream
        read = raw.read1
    while chunk := read(CHUNK):
        yield chunk


def iter_sse(
    response: requests.Response, service: str, job: str | None
) -> Iterator[tuple[str, str]]:
    """Server-Sent Events as (event, data), parsed as the SSE specification says.

    Multi-line `data:` fields are joined with newlines; an event without data is not
    dispatched; a comment (the server's keep-alive) comes as ("keep-alive", "") so the caller
    can check its deadline; an event cut off by the end of the stream is dropped. A stream
    that breaks raises NetworkError, so callers can fall back to polling.
    """
    event, data = "", list[str]()
    try:
        for line in _sse_lines(_available(response)):
            if not line:
                if data:
                    yield event or "message", "\n".join(data)
                event, data = "", []
            elif line.startswith(":"):
                yield "keep-alive", ""
            else:
                field, colon, value = line.partition(":")
                if colon and value.startswith(" "):
                    value = value[1:]
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
    except (requests.RequestException, Urllib3Error, OSError) as exc:
        why = _describe(exc, response.url)
        raise NetworkError(service, f"event stream broke: {why}", job) from None
