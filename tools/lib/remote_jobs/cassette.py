"""Recorded responses (vcrpy): record a live run, or replay one without any network.

Only the transport is swapped: every line of service code above it runs as in a live run.
Secrets never reach a cassette: credentials given to us, and every value the services hand
out under a secret-looking key (Bakta's job secret, the codon service's token), are replaced
by REDACTED both in what is recorded and in what a replay is matched against.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from .errors import InputError, NetworkError
from .settings import env_switch

REDACTED = "REDACTED"
# The admin's switch for replays (docs/admin.md, "Recorded responses"): on unless turned off.
REPLAY_SWITCH = "REMOTE_JOBS_REPLAY"
SECRET_KEYS = frozenset({"secret", "token", "plaintext", "password", "access_token"})
SECRET_QUERY = ("username", "password", "secret", "X-Amz-Signature", "X-Amz-Credential")
# Headers whose value is a secret, whatever their case, in requests and responses alike.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token"}
)
_PRESIGNED = re.compile(
    r"(X-Amz-(?:Signature|Credential|Security-Token)(?:=|%3D))[^&\"\s\\]+", re.IGNORECASE
)


def _forms(char: str) -> str:
    """A regular expression for one character of a secret in any form a JSON body or a URL
    may give it: itself, a JSON escape (\\u0041, a surrogate pair beyond U+FFFF, \\/, \\"),
    percent-encoding (either case), a `+` for a space."""
    code = ord(char)
    units = (
        [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    )
    forms = [re.escape(char)]
    forms.append("(?i:" + "".join(rf"\\u{unit:04x}" for unit in units) + ")")
    forms.append("(?i:" + "".join(f"%{byte:02x}" for byte in char.encode()) + ")")
    if char in '/"\\':
        forms.append(re.escape("\\" + char))
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


class Scrubber:
    """Replaces known secrets, and secrets learned from responses, by REDACTED: in every
    header (the secret ones wholly, whatever their case), in URLs and in bodies, in each form
    JSON or a URL may encode them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets: set[str] = set()
        self._patterns: list[re.Pattern[str]] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret and secret != REDACTED and secret not in self.secrets:
            self.secrets.add(secret)
            longest_first = sorted(self.secrets, key=len, reverse=True)
            self._patterns = [re.compile("".join(map(_forms, s))) for s in longest_first]

    def learn(self, document: Any) -> None:
        if isinstance(document, dict):
            for key, value in document.items():
                if key in SECRET_KEYS and isinstance(value, str):
                    self.add(value)
                else:
                    self.learn(value)
        elif isinstance(document, list):
            for item in document:
                self.learn(item)

    def text(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return _PRESIGNED.sub(rf"\g<1>{REDACTED}", text)

    def body(self, body: Any) -> Any:
        if isinstance(body, bytes):
            try:
                return self.text(body.decode("utf-8")).encode("utf-8")
            except UnicodeDecodeError:
                return body  # binary payloads (images, archives) carry no secrets of ours
        if isinstance(body, str):
            return self.text(body)
        return body

    def request(self, request: Any) -> Any:
        request.uri = self.text(request.uri)
        request.body = self.body(_raw_body(request))
        return request  # its secret headers: vcrpy's filter_headers, whatever their case

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        raw = response["body"]["string"]
        with contextlib.suppress(ValueError):
            self.learn(json.loads(raw))
        body = self.body(raw)
        headers: dict[str, Any] = response["headers"]
        for name in list(headers):
            values = headers[name] if isinstance(headers[name], list) else [headers[name]]
            if name.lower() == "set-cookie":
                del headers[name]  # a replay needs no cookie
            elif name.lower() in SECRET_HEADERS:
                headers[name] = [REDACTED]
            else:
                headers[name] = [self.text(str(value)) for value in values]
        response["body"]["string"] = body
        return response


def _raw_body(request: Any) -> Any:
    body = request.body
    return body.read() if hasattr(body, "read") else body  # uploads stream from files


def _canonical(body: Any) -> Any:
    if body is None:
        return b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        return json.loads(body)
    except ValueError:
        return body


def _body_matcher(r1: Any, r2: Any) -> None:
    if _canonical(_raw_body(r1)) != _canonical(_raw_body(r2)):
        raise AssertionError("request bodies differ")


@contextmanager
def cassette(
    record: Path | None, replay: Path | None, secrets: Iterable[str] = ()
) -> Iterator[bool]:
    """Yields True when replaying (callers then skip real waiting)."""
    if record is None and replay is None:
        yield False
        return
    if record is not None and replay is not None:
        raise InputError("remote-jobs", "use --record-cassette or --replay-cassette, not both")
    if replay is not None and not env_switch(REPLAY_SWITCH, default=True):
        shown = " ".join(os.environ[REPLAY_SWITCH].split())
        raise InputError(
            "remote-jobs", f"replaying recordings is turned off ({REPLAY_SWITCH}={shown})"
        )
    import vcr  # imported lazily: live runs do not pay for it
    import vcr.stubs
    from vcr.errors import CannotOverwriteExistingCassetteException

    from .http import redact_url

    path = replay or record
    assert path is not None
    name = path.name

    class NotInCassette(CannotOverwriteExistingCassetteException):  # type: ignore[misc]
        """vcrpy's error for a request the cassette does not answer, in one line (vcrpy's own
        is a multi-line report of every near match): wherever it is caught and shown (the
        deletes of a failing run, see http.at_once), it names the request and the cassette."""

        def __init__(self, *, cassette: Any, failed_request: Any) -> None:
            self.cassette, self.failed_request = cassette, failed_request
            what = f"{failed_request.method} {redact_url(failed_request.uri)}"
            Exception.__init__(self, f"{what} is not in cassette {name} (or was already played)")

    if replay is not None and not replay.is_file():
        raise InputError("remote-jobs", f"cassette {replay} does not exist")
    scrubber = Scrubber(secrets)
    recorder = vcr.VCR(
        record_mode="none" if replay else "all",
        match_on=["method", "scheme", "host", "port", "path", "query", "json_or_raw_body"],
        filter_headers=[(h, REDACTED) for h in sorted(SECRET_HEADERS)],
        filter_query_parameters=[(q, REDACTED) for q in SECRET_QUERY],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_or_raw_body", _body_matcher)
    # vcrpy's stubs raise the error they find under this name in their module.
    missed = mock.patch.object(vcr.stubs, "CannotOverwriteExistingCassetteException", NotInCassette)
    try:
        with missed, recorder.use_cassette(str(path), allow_playback_repeats=False):
            yield replay is not None
    except CannotOverwriteExistingCassetteException as exc:
        raise NetworkError("replay", str(exc).splitlines()[0]) from None
