"""Bench variants of the test fakes (tests/fakes), all on 127.0.0.1.

- BenchServer: the fakes' plumbing without Nagle delays, with arrival times (BenchBakta);
- BulkStorage: an S3 stand-in that streams a large body made on the fly for every GET and
  counts and drops every PUT body, so neither side holds a file in memory;
- BulkBakta: FakeBakta whose presigned links point at a BulkStorage;
- TimedBakta: FakeBakta whose jobs finish at a set time, however often they are polled;
- LiveEventsMfannotWeb: FakeMfannotWeb whose event stream stays open and sends `done` at a
  known time, as a live server does (the test fake sends the whole story at once).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tests.fakes.bakta_service import FakeBakta
from tests.fakes.mfannotweb_service import API, FakeMfannotWeb, FakeMfJob
from tests.fakes.server import FakeServer, Request, Response

BLOCK = 1 << 20
KEEP_ALIVE = 15.0  # seconds between MFannotWeb's keep-alive comments


def tune(httpd: socketserver.TCPServer) -> None:
    """Accepted connections send at once (TCP_NODELAY is inherited from the listening
    socket on Linux), and a client that hangs up mid-answer (a runner that got what it
    needed, or was stopped) is normal here, not a traceback."""
    httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            socketserver.BaseServer.handle_error(httpd, request, client_address)

    httpd.handle_error = handle_error  # type: ignore[method-assign]


@dataclass(frozen=True)
class Transfer:
    method: str
    path: str
    agent: str
    size: int
    seconds: float  # from the request's headers to its last body byte
    end: float  # time.monotonic() at the last body byte

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6


class _StorageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StorageServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        start = time.perf_counter()
        storage = self.server.storage
        size = storage.download_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = memoryview(storage.block)
        sent = 0
        while sent < size:
            part = block[: min(BLOCK, size - sent)]
            self.wfile.write(part)
            sent += len(part)
        storage.record("GET", self.path, self.headers.get("User-Agent", ""), sent, start)

    def do_PUT(self) -> None:
        start = time.perf_counter()
        storage = self.server.storage
        length = int(self.headers.get("Content-Length") or 0)
        buffer = memoryview(bytearray(BLOCK))
        received = 0
        while received < length:
            count = self.rfile.readinto(buffer[: min(BLOCK, length - received)])
            if not count:
                break
            received += count
        storage.record("PUT", self.path, self.headers.get("User-Agent", ""), received, start)
        if storage.on_upload is not None:
            storage.on_upload(urlsplit(self.path).path, received)
        self.send_response(200 if received == length else 400)
        self.send_header("ETag", '"bench"')
        self.send_header("Content-Length", "0")
        self.end_headers()


class _StorageServer(ThreadingHTTPServer):
    daemon_threads = True
    storage: BulkStorage


class BulkStorage:
    """Every GET answers `download_size` bytes; every PUT body is counted, then dropped."""

    def __init__(self, download_size: int) -> None:
        self.download_size = download_size
        # What a GFF3 begins with (the runner checks a result's first bytes), then filler.
        head = b"##gff-version 3\n"
        self.block = head + (bytes(range(256)) * (BLOCK // 256))[len(head) :]
        self.transfers: list[Transfer] = []
        self.on_upload: Callable[[str, int], None] | None = None
        self._lock = threading.Lock()
        self._httpd = _StorageServer(("127.0.0.1", 0), _StorageHandler)
        self._httpd.storage = self
        tune(self._httpd)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def record(self, method: str, path: str, agent: str, size: int, start: float) -> None:
        with self._lock:
            seconds = time.perf_counter() - start
            self.transfers.append(Transfer(method, path, agent, size, seconds, time.monotonic()))

    def __enter__(self) -> BulkStorage:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


_Server = TypeVar("_Server", bound="BenchServer")


class BenchServer(FakeServer):
    """A fake service as the bench needs it: answers without Nagle delays, notes when each
    request arrived (time.monotonic), and takes clients that hang up in its stride.

    The fakes write an answer's headers and body separately; without TCP_NODELAY each
    answer on a kept-alive connection can wait ~40 ms for a delayed ACK, which would be
    the fake's cost, not the runner's (production servers such as nginx set TCP_NODELAY).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str, str]] = []

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.arrivals.append((time.monotonic(), request.method, request.path))
        return super().handle(request)

    def start(self: _Server) -> _Server:
        super().start()
        assert self._httpd is not None
        tune(self._httpd)
        return self

    def __enter__(self: _Server) -> _Server:
        return self.start()


class BenchBakta(BenchServer, FakeBakta):
    """FakeBakta as it is, served without Nagle delays."""


class BulkBakta(BenchServer, FakeBakta):
    """Uploads go to, and the GFF3 result comes from, a BulkStorage."""

    def __init__(self, storage: BulkStorage) -> None:
        super().__init__(script=["INIT", "RUNNING", "SUCCESSFUL"])
        self.storage = storage
        storage.on_upload = self._uploaded

    def presign(self, key: str, method: str) -> str:
        return super().presign(key, method).replace(self.base, self.storage.base, 1)

    def _uploaded(self, path: str, size: int) -> None:
        """Tell the job its link was used (FakeBakta refuses to start a job otherwise)."""
        job_id, name = path.split("/")[-2:]
        slot = {"fastadata.fasta": "fasta", "prodigaltraining.tf": "prodigal"}.get(
            name, "replicons"
        )
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job.uploads[slot] = b">stored in the bench storage\nACGT\n" if size else b""

    def results_for(self, job: Any) -> dict[str, bytes]:
        # The bodies are the storage's; the JSON, which every job has, is listed, not fetched.
        return {"GFF3": b"", "JSON": b""}


class TimedBakta(BenchServer, FakeBakta):
    """A started job is RUNNING until `done_after` s later (never, if None), then SUCCESSFUL."""

    def __init__(self, done_after: float | None) -> None:
        super().__init__()
        self.done_after = done_after
        self.started_at: dict[str, float] = {}  # job id -> its job/start (time.monotonic)
        self.done_at: dict[str, float] = {}  # job id -> when it became SUCCESSFUL
        self.seen_done_at: dict[str, float] = {}  # job id -> first status request saying so
        self.polls: list[tuple[float, tuple[str, ...]]] = []  # each job/list: when, which jobs

    def _start(self, body: dict[str, Any]) -> Response:
        response = super()._start(body)
        job_id = str((body.get("job") or {}).get("jobID"))
        if response.status == 200:
            self.started_at[job_id] = time.monotonic()
            if self.done_after is not None:
                self.done_at[job_id] = self.started_at[job_id] + self.done_after
        return response

    def _list(self, body: dict[str, Any]) -> Response:
        now = time.monotonic()
        with self.lock:
            self.polls.append((now, tuple(str(ref.get("jobID")) for ref in body.get("jobs", []))))
        for ref in body.get("jobs", []):
            job = self.jobs.get(str(ref.get("jobID")))
            if job is not None:
                finished = now >= self.done_at.get(job.id, float("inf"))
                job.script = ["SUCCESSFUL" if finished else "RUNNING"]  # what _list pops next
                if finished:
                    self.seen_done_at.setdefault(job.id, now)
        return super()._list(body)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _chunked(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """HTTP/1.1 chunked framing, as most servers and proxies send event streams."""
    for chunk in chunks:
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
    yield b"0\r\n\r\n"


class LiveEventsMfannotWeb(BenchServer, FakeMfannotWeb):
    """The job runs while its event stream is open and is done `done_after` s after it opened.

    After `done` the stream stays open `linger` s more, with keep-alive comments every 15 s,
    then ends. `chunked` frames it with Transfer-Encoding: chunked; otherwise the body simply
    runs until the connection closes (also valid HTTP/1.1).
    """

    def __init__(self, token: str, *, done_after: float, linger: float, chunked: bool) -> None:
        super().__init__(token)
        self.done_after = done_after
        self.linger = linger
        self.chunked = chunked
        self.done_at: dict[str, float] = {}

    def _events(self, job: FakeMfJob, link: Any) -> Response:
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        body = self._story(job)
        if self.chunked:
            headers["Transfer-Encoding"] = "chunked"
            body = _chunked(body)
        return Response(200, body, headers, stream=True)

    def _story(self, job: FakeMfJob) -> Iterator[bytes]:
        opened = time.monotonic()
        yield _event("status", {"status": job.status, "created_at": job.created_at})
        job.script, job.status, job.started_at = [], "running", _now()
        yield _event("status", {"status": "running", "created_at": job.created_at})
        yield _event("stage", {"label": f"{job.kind}: searching"})
        time.sleep(max(0.0, opened + self.done_after - time.monotonic()))
        job.status, job.finished_at = "done", _now()
        self.done_at[job.id] = time.monotonic()
        yield _event("done", {"download_url": f"{API}/jobs/{job.id}/download"})
        end = time.monotonic() + self.linger
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(KEEP_ALIVE, left))
            yield b": keep-alive\n\n"
