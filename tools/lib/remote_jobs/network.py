"""The way to a service, and where it breaks, in words people can act on.

`remote-jobs check` walks the way step by step (`probe`): the proxy requests would use, DNS,
TCP, the proxy's CONNECT, TLS and whose certificate. The HTTP layer words a failed request
with `explain`. Both say a failure in the same words (`Failure`, made only by the functions
below): what failed, on which host, and what to try, naming the variable to set.

Nothing here knows a service: the caller names the variable that holds the URL (`setting`).
"""

from __future__ import annotations

import base64
import errno
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

PROXY_FIX = "set HTTPS_PROXY to your site's web proxy"
CA_FIX = (
    "if your site inspects HTTPS traffic, set REQUESTS_CA_BUNDLE to a PEM file holding its CA"
    " certificate (requests reads neither SSL_CERT_FILE nor the system's certificate store)"
)
MAX_HEADER = 65536  # a proxy's answer to CONNECT: status line and headers


# ---------------------------------------------------------------- the words


@dataclass(frozen=True)
class Failure:
    """What failed on the way to a host (`what`, naming the host), and what to try (`fix`)."""

    step: str  # dns, connect, proxy, tls, answer
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}; {self.fix}" if self.fix else self.what


def _in(setting: str | None) -> str:
    return f" in {setting}" if setting else ""


def name_not_resolved(host: str, setting: str | None, proxy: Proxy | None = None) -> Failure:
    if proxy is not None:
        return Failure(
            "dns",
            f"name not resolved: {host}, the proxy of {proxy.variable}",
            f"check the proxy's host name in {proxy.variable}",
        )
    return Failure(
        "dns",
        f"name not resolved: {host}",
        f"check the host name{_in(setting)}; if this node resolves only local names, {PROXY_FIX}",
    )


def refused(host: str, port: int, setting: str | None, proxy: Proxy | None = None) -> Failure:
    if proxy is not None:
        return Failure(
            "connect",
            f"connection refused by {host}:{port}, the proxy of {proxy.variable}",
            f"check the proxy's address and port in {proxy.variable}",
        )
    return Failure(
        "connect",
        f"connection refused by {host}:{port}",
        f"nothing listens there, or a firewall rejects it: check the port{_in(setting)}; if this"
        f" node must go through a web proxy, {PROXY_FIX}",
    )


def connect_timed_out(host: str, port: int, proxy: Proxy | None = None) -> Failure:
    if proxy is not None:
        return Failure(
            "connect",
            f"timed out connecting to {host}:{port}, the proxy of {proxy.variable}",
            f"check the proxy's address in {proxy.variable}, and that a firewall lets this node"
            " reach it",
        )
    return Failure(
        "connect",
        f"timed out connecting to {host}:{port} (no answer to connect)",
        f"a firewall drops the packets: ask for outbound access to {host}:{port}, or {PROXY_FIX}",
    )


def unreachable(host: str, port: int, reason: str) -> Failure:
    return Failure(
        "connect",
        f"cannot connect to {host}:{port}: {reason.lower()}",
        f"this node has no route there: ask for outbound access, or {PROXY_FIX}",
    )


def read_timed_out(host: str) -> Failure:
    return Failure(
        "answer",
        f"timed out: {host} accepted the connection but did not answer in time (read time-out)",
        "the service may be overloaded, or something in between holds the connection:"
        " try again later",
    )


def reset(host: str) -> Failure:
    return Failure(
        "answer",
        f"connection reset: {host} or something in between cut the connection",
        f"try again later; if it persists, a firewall may cut this node's connections: {PROXY_FIX}",
    )


def closed(host: str) -> Failure:
    return Failure(
        "answer",
        f"{host} closed the connection without answering",
        "try again later; if it persists, check that the URL's port is the service's",
    )


def proxy_answered(proxy: Proxy, status: str, host: str, port: int) -> Failure:
    code = status.split(" ", 1)[0]
    if code == "407":
        fix = f"give the proxy's user and password in {proxy.variable} (http://USER:PASSWORD@host:port)"
    else:
        fix = (
            f"the proxy refuses or cannot reach {host}: ask its admins to allow {host}:{port},"
            f" or add {host} to NO_PROXY if this node reaches it directly"
        )
    return Failure(
        "proxy",
        f"the proxy {proxy.address} ({proxy.variable}) answered {status} to CONNECT {host}:{port}",
        fix,
    )


def proxy_silent(proxy: Proxy, host: str, port: int) -> Failure:
    return Failure(
        "proxy",
        f"the proxy {proxy.address} ({proxy.variable}) gave no answer to CONNECT {host}:{port}",
        f"check that {proxy.variable} names a web proxy (http://host:port)",
    )


def not_trusted(host: str, reason: str, issuer: str | None, bundle: CaBundle) -> Failure:
    by = f", issued by {issuer}" if issuer else ""
    return Failure(
        "tls",
        f"certificate of {host} not trusted ({reason}){by}; checked against {bundle}",
        CA_FIX,
    )


def wrong_host(host: str, reason: str, setting: str | None) -> Failure:
    return Failure(
        "tls",
        f"certificate not valid for {host} ({reason})",
        f"check the host name{_in(setting)}; a proxy that inspects HTTPS may be in the way: "
        + CA_FIX.removeprefix("if your site inspects HTTPS traffic, "),
    )


def expired(host: str, issuer: str | None) -> Failure:
    by = f" (issued by {issuer})" if issuer else ""
    return Failure(
        "tls",
        f"certificate of {host} has expired{by}",
        "check this node's clock; otherwise tell the service's operators",
    )


def tls_failed(host: str, port: int, reason: str, setting: str | None) -> Failure:
    return Failure(
        "tls",
        f"TLS handshake with {host}:{port} failed ({reason})",
        f"the port may not speak HTTPS: check the scheme and port{_in(setting)}",
    )


def bad_bundle(bundle: CaBundle) -> Failure:
    return Failure(
        "tls",
        f"the CA bundle {bundle} does not exist",
        f"set {bundle.variable or 'REQUESTS_CA_BUNDLE'} to a PEM file of CA certificates",
    )


# ---------------------------------------------------------------- what requests would use


@dataclass(frozen=True)
class Proxy:
    """The proxy requests takes from the environment for a URL."""

    url: str  # may hold a user and password: never show it, show `address`
    variable: str

    @property
    def address(self) -> str:
        parts = urlsplit(self.url if "://" in self.url else f"http://{self.url}")
        return f"{parts.scheme}://{parts.hostname}:{self.port}"

    @property
    def host(self) -> str:
        return urlsplit(self.url if "://" in self.url else f"http://{self.url}").hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url if "://" in self.url else f"http://{self.url}")
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower() if "://" in self.url else "http"


def proxy_for(url: str) -> Proxy | None:
    """The proxy requests would use for `url`: its environment rules (HTTPS_PROXY, HTTP_PROXY,
    ALL_PROXY, NO_PROXY), through its own functions."""
    from requests.utils import get_environ_proxies, select_proxy

    chosen = select_proxy(url, get_environ_proxies(url))
    if not chosen:
        return None
    scheme = urlsplit(url).scheme.lower()
    for name in (f"{scheme}_proxy", "all_proxy"):
        for variable in (name, name.upper()):
            if os.environ.get(variable, "").strip() == chosen:
                return Proxy(chosen, variable)
    return Proxy(chosen, f"{scheme.upper()}_PROXY")


def bypassed_proxy(url: str) -> str | None:
    """The proxy variable that NO_PROXY sets aside for `url`, if any."""
    scheme = urlsplit(url).scheme.lower()
    for variable in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if os.environ.get(variable, "").strip():
            return variable
    return None


@dataclass(frozen=True)
class CaBundle:
    """The CA certificates requests verifies servers with."""

    path: str
    variable: str | None  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE; None: certifi's bundle

    def __str__(self) -> str:
        return f"{self.variable}={self.path}" if self.variable else f"certifi's bundle {self.path}"


def ca_bundle() -> CaBundle:
    """As requests chooses it (Session.merge_environment_settings, HTTPAdapter.cert_verify)."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(variable):
            return CaBundle(os.environ[variable], variable)
    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    return CaBundle(DEFAULT_CA_BUNDLE_PATH, None)


def _context(bundle: CaBundle | None) -> ssl.SSLContext:
    if bundle is None:  # only to read a certificate that did not verify
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if os.path.isdir(bundle.path):
        return ssl.create_default_context(capath=bundle.path)
    return ssl.create_default_context(cafile=bundle.path)


# ---------------------------------------------------------------- certificates


# The issuer of a certificate that failed verification: Python's ssl module parses a peer's
# certificate only once it verified (getpeercert()), and its unverified chain only from 3.13
# on. Reading the issuer's name from the DER needs a few lines of ASN.1, not a dependency.
_NAMES = {"2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.8": "ST", "2.5.4.6": "C"}
_ORDER = list(_NAMES.values())  # the most specific first, whatever the certificate's order
_TEXT_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be"}


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at `pos`."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    while start < end:
        tag, value, stop = _tlv(data, start)
        yield tag, value, stop
        start = stop


def _oid(raw: bytes) -> str:
    first, numbers, value = raw[0], [], 0
    numbers += [first // 40, first % 40] if first < 80 else [2, first - 80]
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            numbers.append(value)
            value = 0
    return ".".join(map(str, numbers))


def _name(data: bytes, start: int, end: int) -> str:
    parts = []
    for _set, set_start, set_end in _elements(data, start, end):
        for _seq, seq_start, seq_end in _elements(data, set_start, set_end):
            (_, oid_start, oid_end), (tag, value_start, value_end) = list(
                _elements(data, seq_start, seq_end)
            )[:2]
            key = _NAMES.get(_oid(data[oid_start:oid_end]))
            if key:
                text = data[value_start:value_end].decode(_TEXT_TAGS.get(tag, "latin-1"), "replace")
                parts.append((_ORDER.index(key), f"{key}={text}"))
    return ", ".join(text for _, text in sorted(parts)) or "an unnamed issuer"


def certificate_issuer(der: bytes) -> str:
    """The issuer's name of a DER certificate, like 'CN=R11, O=Let's Encrypt, C=US'."""
    _, cert_start, _end = _tlv(der, 0)
    _, tbs_start, tbs_end = _tlv(der, cert_start)
    fields = list(_elements(der, tbs_start, tbs_end))
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    _tag, start, end = fields[2]  # serial number, signature algorithm, issuer
    return _name(der, start, end)


# ---------------------------------------------------------------- walking the way


@dataclass(frozen=True)
class Step:
    """One step of a check: ok, or what failed (`failure`); `seconds` it took."""

    name: str
    ok: bool
    detail: str
    seconds: float | None = None
    failure: Failure | None = None


def _timed(start: float) -> float:
    return time.monotonic() - start


def _target(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80)


def _open(
    host: str, port: int, timeout: float, setting: str | None, proxy: Proxy | None
) -> tuple[socket.socket, str, float] | Failure:
    """A TCP connection to the first address of `host` that takes it, as create_connection
    makes it (urllib3 too): the socket, the address, the seconds it took."""
    start = time.monotonic()
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return name_not_resolved(host, setting, proxy)
    last: Failure | None = None
    for family, kind, protocol, _name, address in addresses:
        sock = socket.socket(family, kind, protocol)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = _connect_failure(exc, host, port, setting, proxy)
            continue
        shown = f"[{address[0]}]" if family == socket.AF_INET6 else address[0]
        return sock, f"{shown}:{port}", _timed(start)
    assert last is not None
    return last


def _connect_failure(
    exc: OSError, host: str, port: int, setting: str | None, proxy: Proxy | None
) -> Failure:
    if isinstance(exc, ConnectionRefusedError):
        return refused(host, port, setting, proxy)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return connect_timed_out(host, port, proxy)
    return unreachable(host, port, exc.strerror or str(exc))


def _tunnel(sock: socket.socket, proxy: Proxy, host: str, port: int) -> str | Failure:
    """CONNECT host:port through the proxy, as requests sends it; the proxy's status line."""
    headers = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    parts = urlsplit(proxy.url if "://" in proxy.url else f"http://{proxy.url}")
    if parts.username:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers += f"Proxy-Authorization: Basic {base64.b64encode(pair.encode()).decode()}\r\n"
    try:
        sock.sendall((headers + "\r\n").encode("latin-1"))
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < MAX_HEADER:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (TimeoutError, ConnectionError):
        return proxy_silent(proxy, host, port)
    match = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})(?: ([^\r\n]*))?", answer)
    if not match:
        return proxy_silent(proxy, host, port)
    status = f"{match.group(1).decode()} {(match.group(2) or b'').decode('latin-1')}".strip()
    return status


def _handshake(
    sock: socket.socket, host: str, bundle: CaBundle | None, timeout: float
) -> ssl.SSLSocket:
    sock.settimeout(timeout)
    return _context(bundle).wrap_socket(sock, server_hostname=host)


def _issuer(der: bytes | None) -> str | None:
    if not der:
        return None
    try:
        return certificate_issuer(der)
    except (ValueError, IndexError, UnicodeError):
        return None


def peer_issuer(url: str, timeout: float = 5.0) -> str | None:
    """The issuer of the certificate `url`'s server shows, read without verifying it (the
    way requests would go: through its proxy), or None when it cannot be had."""
    _scheme, host, port = _target(url)
    proxy = proxy_for(url)
    if proxy is not None and proxy.scheme != "http":
        return None
    opened = _open(*((proxy.host, proxy.port) if proxy else (host, port)), timeout, None, proxy)
    if isinstance(opened, Failure):
        return None
    sock = opened[0]
    try:
        if proxy is not None and not str(_tunnel(sock, proxy, host, port)).startswith("200"):
            return None
        with _handshake(sock, host, None, timeout) as tls:
            return _issuer(tls.getpeercert(binary_form=True))
    except (OSError, ValueError):
        return None
    finally:
        sock.close()


def _tls_failure(
    exc: ssl.SSLError, url: str, setting: str | None, bundle: CaBundle, timeout: float
) -> Failure:
    _scheme, host, port = _target(url)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = str(exc.verify_message or exc.reason or exc)
        if exc.verify_code == 62 or "mismatch" in reason.lower():  # X509_V_ERR_HOSTNAME_MISMATCH
            return wrong_host(host, reason, setting)
        issuer = peer_issuer(url, timeout)
        if exc.verify_code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            return expired(host, issuer)
        return not_trusted(host, reason, issuer, bundle)
    return tls_failed(host, port, str(exc.reason or exc).replace("_", " ").lower(), setting)


def probe(url: str, setting: str | None, timeout: float) -> list[Step]:
    """The way requests would take to `url`'s host, step by step, up to the first failure."""
    scheme, host, port = _target(url)
    steps: list[Step] = []
    proxy = proxy_for(url)
    if proxy is None:
        aside = bypassed_proxy(url)
        why = f"{host} is in NO_PROXY, {aside} is not used" if aside else "no proxy variable set"
        steps.append(Step("proxy", True, f"none ({why})"))
    elif proxy.scheme != "http":
        steps.append(
            Step(
                "proxy",
                True,
                f"{proxy.address} ({proxy.variable}): a {proxy.scheme} proxy, not probed step by"
                " step; the calls below go through it",
            )
        )
        return steps
    else:
        resolves = f"; the proxy resolves {host}" if scheme == "https" else ""
        steps.append(Step("proxy", True, f"{proxy.address} ({proxy.variable}){resolves}"))

    dial_host, dial_port = (proxy.host, proxy.port) if proxy else (host, port)
    start = time.monotonic()
    try:
        addresses = socket.getaddrinfo(dial_host, dial_port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        failure = name_not_resolved(dial_host, setting, proxy)
        return [*steps, Step("dns", False, str(failure), _timed(start), failure)]
    shown = sorted({str(a[4][0]) for a in addresses})
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    steps.append(Step("dns", True, f"{dial_host} -> {', '.join(shown[:3])}{more}", _timed(start)))

    opened = _open(dial_host, dial_port, timeout, setting, proxy)
    if isinstance(opened, Failure):
        return [*steps, Step("connect", False, str(opened), None, opened)]
    sock, address, seconds = opened
    try:
        via = f" (the proxy of {proxy.variable})" if proxy else ""
        steps.append(Step("connect", True, f"{address}{via}", seconds))
        if proxy is not None and scheme == "https":
            start = time.monotonic()
            status = _tunnel(sock, proxy, host, port)
            if isinstance(status, Failure) or not status.startswith("200"):
                failure = (
                    status
                    if isinstance(status, Failure)
                    else proxy_answered(proxy, status, host, port)
                )
                return [*steps, Step("proxy", False, str(failure), _timed(start), failure)]
            steps.append(Step("proxy", True, f"CONNECT {host}:{port}: {status}", _timed(start)))
        if scheme != "https":
            return steps
        bundle = ca_bundle()
        if not os.path.exists(bundle.path):
            failure = bad_bundle(bundle)
            return [*steps, Step("tls", False, str(failure), None, failure)]
        start = time.monotonic()
        try:
            with _handshake(sock, host, bundle, timeout) as tls:
                issuer = _issuer(tls.getpeercert(binary_form=True)) or "an unnamed issuer"
                version = tls.version() or "TLS"
            steps.append(
                Step(
                    "tls",
                    True,
                    f"{version}; certificate issued by {issuer}; trusted by {bundle}",
                    _timed(start),
                )
            )
        except ssl.SSLError as exc:
            failure = _tls_failure(exc, url, setting, bundle, timeout)
            steps.append(Step("tls", False, str(failure), _timed(start), failure))
        except TimeoutError:
            failure = read_timed_out(host)
            steps.append(Step("tls", False, str(failure), _timed(start), failure))
        except ConnectionError:
            failure = reset(host)
            steps.append(Step("tls", False, str(failure), _timed(start), failure))
        return steps
    finally:
        sock.close()


# ---------------------------------------------------------------- a failed request, worded


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every error it wraps: requests -> MaxRetryError -> urllib3 -> socket/ssl."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        error = todo.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        inner = (
            *error.args,
            getattr(error, "reason", None),
            getattr(error, "original_error", None),
            error.__cause__,
            error.__context__,
        )
        todo += [e for e in inner if isinstance(e, BaseException)]


TUNNEL_FAILED = re.compile(r"Tunnel connection failed: (\d{3}(?: [^)'\"]*)?)")


def tunnel_status(exc: BaseException) -> int | None:
    """The status a proxy answered to CONNECT, when `exc` (or what it wraps) is that failure."""
    for error in _chain(exc):
        match = TUNNEL_FAILED.search(str(error)) if isinstance(error, OSError) else None
        if match:
            return int(match.group(1)[:3])
    return None


def explain(exc: BaseException, url: str, setting: str | None) -> Failure | None:
    """The failure of a request to `url` (a requests or urllib3 error) in the words of this
    module, or None when it is none of the kinds above."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        NameResolutionError,
        NewConnectionError,
        ProxyError,
        ReadTimeoutError,
    )

    _scheme, host, port = _target(url)
    errors = list(_chain(exc))
    proxy = proxy_for(url)
    through_proxy = proxy if any(isinstance(e, ProxyError) for e in errors) else None
    dial = (proxy.host, proxy.port) if through_proxy and proxy else (host, port)

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in errors)

    for error in errors:
        match = TUNNEL_FAILED.search(str(error)) if isinstance(error, OSError) else None
        if match and proxy is not None:
            return proxy_answered(proxy, match.group(1).strip(), host, port)
    if has(NameResolutionError, socket.gaierror):
        return name_not_resolved(dial[0], setting, through_proxy)
    if has(ConnectionRefusedError) or any(
        isinstance(e, NewConnectionError) and "refused" in str(e).lower() for e in errors
    ):
        return refused(*dial, setting, through_proxy)
    for error in errors:
        if isinstance(error, ssl.SSLError):
            return _tls_failure(error, url, setting, ca_bundle(), 5.0)
    if has(NewConnectionError):
        for error in errors:
            if isinstance(error, OSError) and error.errno in (
                errno.ENETUNREACH,
                errno.EHOSTUNREACH,
            ):
                return unreachable(*dial, error.strerror or str(error))
    import http.client

    import requests

    if has(requests.exceptions.ConnectTimeout) or any(
        isinstance(e, ConnectTimeoutError) and not isinstance(e, NewConnectionError) for e in errors
    ):
        return connect_timed_out(*dial, through_proxy)
    if has(requests.exceptions.ReadTimeout, ReadTimeoutError, socket.timeout):
        return read_timed_out(host)
    if has(http.client.RemoteDisconnected):  # a ConnectionResetError too: first
        return closed(host)
    if has(ConnectionResetError):
        return reset(host)
    return None
