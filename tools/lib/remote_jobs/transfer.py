"""Transfers: files streamed to and from a service, and bodies read as their bytes arrive,
all within the run's --timeout, checked as each block comes or goes.

A server that trickles (a few bytes every few seconds, never silent for a read time-out) or
reads an upload slowly cannot hold the run past its deadline: the deadline is checked before
every read of a body and every block of an upload, and no read waits past it.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.response import BaseHTTPResponse

from .errors import NetworkError, OutOfTime
from .polling import Deadline
from .retries import BACKOFF

if TYPE_CHECKING:
    from .http import HttpClient

CHUNK = 1 << 20
BLOCK = 1 << 16  # an upload's blocks: the deadline is checked before each is sent
DOWNLOAD_ATTEMPTS = 3  # urllib3 cannot retry a body that breaks mid-stream; we restart it


def arrivals(
    response: requests.Response,
    deadline: Deadline | None,
    read_timeout: float,
    expired: Callable[[], OutOfTime],
) -> Iterator[bytes]:
    """The body as its bytes arrive: read1 returns what is there instead of waiting to fill a
    buffer (an event is seen when it is sent; a trickle cannot hold a read for long).

    Before each read the deadline is checked (`expired()` is raised once it has passed), and
    the read waits at most until the deadline. A failure is raised as requests raises it
    (iter_content's translation of urllib3's errors), or as `expired()` when it was the
    deadline's.
    """
    raw = response.raw
    sock = None
    if isinstance(raw, BaseHTTPResponse):
        read = functools.partial(raw.read1, decode_content=True)
        sock = getattr(raw.connection, "sock", None)
    else:  # vcrpy's stand-in, replaying a recording
        read = raw.read1
    while True:
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0:
                raise expired()
            if sock is not None:
                sock.settimeout(min(read_timeout, left))
        try:
            chunk = read(CHUNK)
        except (Urllib3Error, requests.RequestException, OSError) as exc:
            if deadline is not None and deadline.passed():
                raise expired() from None
            raise _as_requests_error(exc) from exc
        if not chunk:
            return
        yield chunk


def _as_requests_error(exc: Exception) -> Exception:
    """As requests' iter_content raises urllib3's errors."""
    if isinstance(exc, ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc)
    if isinstance(exc, DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    if isinstance(exc, ReadTimeoutError):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, SSLError):
        return requests.exceptions.SSLError(exc)
    return exc


class TimedBody:
    """A file sent as a request body, the deadline checked before each block is read to be
    sent (a block's send is bounded by the connect time-out: a server that reads nothing for
    that long ends the request). urllib3 rewinds it (tell, seek) to send it again on a retry;
    requests announces its length (len)."""

    def __init__(self, file: IO[bytes], size: int, check: Callable[[], None]) -> None:
        self.file, self.size, self.check = file, size, check

    def read(self, size: int = -1) -> bytes:
        self.check()
        return self.file.read(size if 0 <= size <= BLOCK else BLOCK)

    def __iter__(self) -> Iterator[bytes]:  # requests: a stream; sent chunked when empty
        while block := self.read(BLOCK):
            yield block

    def __len__(self) -> int:
        return self.size

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.file.seek(offset, whence)


def upload(client: HttpClient, url: str, path: Path | None, *, job: str | None = None) -> None:
    """PUT a file (or an empty body) to a presigned link, streamed from disk."""
    if path is None:
        client.request("PUT", url, job=job, data=b"")
        return
    with open(path, "rb") as file:
        upload_stream(client, url, file, path.name, job=job)


def upload_stream(
    client: HttpClient, url: str, file: IO[bytes], name: str, *, job: str | None = None
) -> None:
    """PUT an open file from where it stands to its end (a FASTA file without its byte order
    mark, say: fasta.upload_body), the deadline checked before each block is sent."""
    deadline, what = client.deadline, f"uploading {name}"

    def check() -> None:
        if deadline is not None and deadline.passed():
            raise deadline.expired(client.service, what, job, named=True)

    # The whole file's size: requests takes what stands before tell() off len() itself.
    body = TimedBody(file, os.fstat(file.fileno()).st_size, check)
    try:
        client.request("PUT", url, job=job, data=body)
    except OutOfTime as exc:
        if exc.named:
            raise
        # A block's send, or the wait for the answer, timed out at the deadline.
        raise OutOfTime(client.service, exc.seconds, what, job, named=True) from None


def download(
    client: HttpClient,
    path: str,
    dest: Path,
    *,
    job: str | None = None,
    headers: dict[str, str] | None = None,
) -> Path:
    """Stream a file to `dest`; it appears under its name only when complete. A body that
    breaks is fetched again whole (DOWNLOAD_ATTEMPTS in all), within the deadline."""
    part = dest.with_name(f".{dest.name}.part")
    deadline, what = client.deadline, f"downloading {dest.name}"
    last_error: NetworkError | None = None

    def expired(words: str = what) -> OutOfTime:
        assert deadline is not None
        return deadline.expired(client.service, words, job, named=True)

    for attempt in range(DOWNLOAD_ATTEMPTS):
        if attempt:
            pause = BACKOFF * 2**attempt
            if deadline is not None and deadline.remaining() <= pause:
                assert last_error is not None
                raise expired(last_error.message)
            time.sleep(pause)
        try:
            with client.request("GET", path, job=job, stream=True, headers=headers or {}) as resp:
                written = 0
                with open(part, "wb") as out:
                    for chunk in arrivals(resp, deadline, client.timeout[1], expired):
                        out.write(chunk)
                        written += len(chunk)
                announced = resp.headers.get("Content-Length")
                plain = not resp.headers.get("Content-Encoding")
                if announced and plain and written != int(announced):
                    raise NetworkError(
                        client.service, f"{dest.name}: got {written} of {announced} bytes", job
                    )
            os.replace(part, dest)
            return dest
        except requests.RequestException as exc:
            words = f"{what}: {client.describe(exc, client.url(path))}"
            if deadline is not None and client.out_of_time():
                raise expired(words) from None
            last_error = NetworkError(client.service, words, job)
        except OutOfTime as exc:
            if exc.named:
                raise
            raise expired() from None  # before the body came, or the request not made
        except NetworkError as exc:
            if client.out_of_time():
                raise
            last_error = exc
        finally:
            part.unlink(missing_ok=True)
    assert last_error is not None
    raise last_error
