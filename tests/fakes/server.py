"""A scripted HTTP service on 127.0.0.1, in a background thread, that logs every request.

Subclasses implement `handle`. Tests can queue `faults` that answer matching requests
before the service sees them (a 429, a 503, a hang, a reset connection...).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    # When the whole request had arrived (time.time(), the clock a Retry-After date is read by).
    received: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Stream the body in chunks without a Content-Length (SSE); else send it whole.
    stream: bool = False
    # Announce this Content-Length instead of the real one (to send a short body).
    content_length: int | None = None
    # Drop the connection after this many body bytes.
    reset_after: int | None = None
    # Sleep before answering (a hung server).
    delay: float = 0.0
    # Close the connection without answering at all.
    drop: bool = False
    # Answer only once this is set (a server that holds the request open; at most 60 s).
    hold: threading.Event | None = None


def json_response(data: Any, status: int = 200, **headers: str) -> Response:
    return Response(
        status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
    )


@dataclass
class Fault:
    """Answer the next `times` requests matching method and path prefix with `response`."""

    method: str
    path: str
    response: Response
    times: int = 1
    # Let the service handle the request first (it takes effect), then answer with `response`.
    after_handling: bool = False


@dataclass
class Trickle:
    """Requests matching method and path prefix move slowly but never stall: the answer's body
    is sent (or with `upload`, the request's body is read) `size` bytes every `every` seconds,
    never silent for a read time-out."""

    method: str
    path: str
    every: float = 0.5
    size: int = 1
    upload: bool = False

    def matches(self, request_method: str, path: str, upload: bool) -> bool:
        return (
            self.upload == upload and self.method == request_method and path.startswith(self.path)
        )


GATEWAY_PAGE = b"<html><head><title>{status}</title></head><body>nginx</body></html>"


@dataclass
class Chaos:
    """Seeded faults on a share of the requests of every kind, as a busy public service and
    the gateways in front of it give them: the connection dropped before the request reaches
    the service (`drop`), a gateway's 502 or 503 (`502`, `503`), the request handled and its
    answer lost on the way back (`lost`), and for the kinds in `cut_kinds` (downloads) the
    answer cut off halfway through its body (`cut`).

    Whether a request meets a fault, and which, is decided by the seed and by what the request
    is (`classify`: its kind and the key of what it is about, e.g. ("start", genome); None:
    never faulted) and by how many such requests came before it: the same seed faults the same
    requests whatever order concurrent clients send them in. `injected` lists every fault
    given: (kind, key, attempt, fault).
    """

    seed: int
    share: float  # of each kind's requests
    classify: Callable[[Request], tuple[str, str] | None]
    faults: tuple[str, ...] = ("drop", "502", "503", "lost")
    cut_kinds: frozenset[str] = frozenset({"download"})
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    injected: list[tuple[str, str, int, str]] = field(default_factory=list)

    def fault(self, request: Request) -> tuple[Response, bool] | None:
        """The fault for this request, if any: its answer, and whether the service handles
        the request first. Called under the server's lock."""
        what = self.classify(request)
        if what is None:
            return None
        self.attempts[what] += 1
        attempt = self.attempts[what]
        digest = hashlib.sha256(f"{self.seed}:{what[0]}:{what[1]}:{attempt}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.share:
            return None
        choices = self.faults + (("cut",) if what[0] in self.cut_kinds else ())
        name = choices[digest[8] % len(choices)]
        self.injected.append((*what, attempt, name))
        if name in ("drop", "lost"):
            return Response(drop=True), name == "lost"
        if name == "cut":
            return Response(reset_after=-1), True  # -1: halfway through the handled answer
        status = {"502": "502 Bad Gateway", "503": "503 Service Temporarily Unavailable"}[name]
        page = GATEWAY_PAGE.replace(b"{status}", status.encode())
        return Response(int(name), page, {"Content-Type": "text/html"}), False


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: more clients connecting at once (a runner's
    # deletes, sent together) would wait a second for their SYN to be sent again. Real
    # servers listen with hundreds (nginx: 511).
    request_queue_size = 128


class FakeServer:
    def __init__(self) -> None:
        self.log: list[Request] = []
        self.faults: list[Fault] = []
        self.trickles: list[Trickle] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self.tls: ssl.SSLContext | None = None  # set before start: serve HTTPS with it
        # (user, password): a reverse proxy in front asks every request for this login, as
        # nginx's auth_basic does (a self-hosted service behind basic auth).
        self.basic_auth: tuple[str, str] | None = None
        # Requests being served now, and the most served at once, by (method, path).
        self.serving: Counter[tuple[str, str]] = Counter()
        self.serving_peak: Counter[tuple[str, str]] = Counter()
        self.chaos: Chaos | None = None  # seeded faults on a share of all requests

    # -- to override
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # -- plumbing
    @property
    def base(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each kept-alive answer waits ~40 ms

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                slow = server._trickle(self.command, parts.path, upload=True)
                if slow is not None and length:
                    body = b""
                    while len(body) < length:
                        time.sleep(slow.every)
                        body += self.rfile.read(min(slow.size, length - len(body)))
                else:
                    body = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = Request(self.command, parts.path, query, dict(self.headers), body)
                key = (request.method, request.path)
                with server.lock:
                    server.log.append(request)
                    fault = (
                        server._login_fault(request)
                        or server._fault_for(request)
                        or server._chaos_for(request)
                    )
                    server.serving[key] += 1
                    server.serving_peak[key] = max(server.serving_peak[key], server.serving[key])
                try:
                    response = None if fault is None else fault.response
                    if fault is None or fault.after_handling:
                        try:
                            handled = server.handle(request)
                        except Exception as exc:  # a bug in a fake must show, not hang the client
                            handled = json_response({"detail": f"fake server bug: {exc!r}"}, 500)
                        if response is not None and response.reset_after == -1:
                            body = handled.body if isinstance(handled.body, bytes) else b""
                            response = dataclasses.replace(handled, reset_after=len(body) // 2)
                        response = response or handled
                    assert response is not None
                    self._send(response, server._trickle(request.method, request.path))
                finally:
                    with server.lock:
                        server.serving[key] -= 1

            def _send(self, response: Response, trickle: Trickle | None = None) -> None:
                if response.delay:
                    time.sleep(response.delay)
                if response.hold is not None:
                    response.hold.wait(60)
                if response.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                if response.stream:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunks = [response.body] if isinstance(response.body, bytes) else response.body
                    try:
                        for chunk in chunks:
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the client has gone: a streaming client may leave any time
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
                    self.close_connection = True
                    return
                assert isinstance(response.body, bytes)
                body = response.body
                announced = (
                    response.content_length if response.content_length is not None else len(body)
                )
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                if trickle is not None:  # slowly; cut short (then closed) with reset_after
                    self._trickle(body[: response.reset_after], trickle)
                    return
                if response.reset_after is not None:
                    self.wfile.write(body[: response.reset_after])
                    self.wfile.flush()
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                self.wfile.write(body)
                if announced != len(body):
                    self.close_connection = True

            def _trickle(self, body: bytes, trickle: Trickle) -> None:
                try:
                    for start in range(0, len(body), trickle.size):
                        self.wfile.write(body[start : start + trickle.size])
                        self.wfile.flush()
                        time.sleep(trickle.every)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client has gone
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = _Listener(("127.0.0.1", 0), Handler)
        httpd = self._httpd
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)

        def handle_error(request: Any, client_address: Any) -> None:
            # A client that left before its answer (a runner that was stopped) is no news.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                socketserver.BaseServer.handle_error(httpd, request, client_address)

        httpd.handle_error = handle_error  # type: ignore[method-assign]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def _login_fault(self, request: Request) -> Fault | None:
        """The reverse proxy's answer to a request without its login (see basic_auth)."""
        if self.basic_auth is None:
            return None
        pair = ":".join(self.basic_auth).encode()
        if request.headers.get("Authorization") == "Basic " + base64.b64encode(pair).decode():
            return None
        page = b"<html><head><title>401 Authorization Required</title></head></html>"
        headers = {"WWW-Authenticate": 'Basic realm="service"', "Content-Type": "text/html"}
        return Fault(request.method, request.path, Response(401, page, headers))

    def _chaos_for(self, request: Request) -> Fault | None:
        given = None if self.chaos is None else self.chaos.fault(request)
        if given is None:
            return None
        response, after_handling = given
        return Fault(request.method, request.path, response, after_handling=after_handling)

    def _trickle(self, method: str, path: str, upload: bool = False) -> Trickle | None:
        with self.lock:
            return next((t for t in self.trickles if t.matches(method, path, upload)), None)

    def _fault_for(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and request.path.startswith(fault.path)
            ):
                fault.times -= 1
                return fault
        return None

    def requests_to(self, method: str, path: str, prefix: bool = False) -> list[Request]:
        """The logged requests to exactly `path` (or under it, with prefix=True)."""
        return [
            r
            for r in self.log
            if r.method == method and (r.path.startswith(path) if prefix else r.path == path)
        ]

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OtherOrigin(FakeServer):
    """A second host (another port: another origin) that answers with `answer` and logs every
    request, headers included, so tests can see what reached it."""

    def __init__(self, answer: Callable[[Request], Response]) -> None:
        super().__init__()
        self.answer = answer

    def handle(self, request: Request) -> Response:
        return self.answer(request)
