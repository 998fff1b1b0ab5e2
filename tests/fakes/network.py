"""Local stand-ins for what breaks on the way to a service: a closed port, a port that accepts
and never answers, a web proxy that refuses, a TLS certificate nobody trusts. All on 127.0.0.1.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path


class ClosedPort:
    """A port on 127.0.0.1 that nothing listens on: bound (no other process, such as another
    pytest worker's fake, can take it while this holds it) but not listening, so a connection
    to it is refused."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


class Listener:
    """A TCP server on 127.0.0.1 that serves each connection in a thread with `serve`."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.requests: list[str] = []  # the first line of each request seen
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with self.lock:
                self.connections.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()
        with self.lock:
            for conn in self.connections:
                conn.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Silent(Listener):
    """Accepts connections, reads what comes, never answers."""

    def serve(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass


class Closing(Listener):
    """Reads a request, then closes the connection without answering."""

    def serve(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
        except OSError:
            pass
        finally:
            conn.close()


class RefusingProxy(Listener):
    """A web proxy that answers every request with `status`: CONNECT (HTTPS through it) and
    plain-HTTP requests (absolute URLs) alike, as a proxy does that cannot or may not reach
    the host. `requests` holds each request line it got."""

    def __init__(self, status: str = "503 Service Unavailable") -> None:
        self.status = status
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            with self.lock:
                self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
            body = f"<html><title>{self.status}</title></html>".encode()
            conn.sendall(
                f"HTTP/1.1 {self.status}\r\nContent-Type: text/html\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
        except OSError:
            pass
        finally:
            conn.close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, made by openssl."""
    cert, key = folder / "server.pem", folder / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=remote-jobs test server/O=Test Site",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
