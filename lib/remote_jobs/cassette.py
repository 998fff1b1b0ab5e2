"""Recorded responses (vcrpy): record a live run, or replay one without any network.

Only the transport is swapped: every line of service code above it runs as in a live run.
Secrets never reach a cassette: credentials given to us, and every value the services hand
out under a secret-looking key (Bakta's job secret, the codon service's token), are replaced
by REDACTED both in what is recorded and in what a replay is matched against.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InputError, NetworkError

REDACTED = "REDACTED"
SECRET_KEYS = frozenset({"secret", "token", "plaintext", "password", "access_token"})
SECRET_QUERY = ("username", "password", "secret", "X-Amz-Signature", "X-Amz-Credential")
SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-amz-security-token")
_PRESIGNED = re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\"\s]+")


class Scrubber:
    """Replaces known secrets, and secrets learned from responses, by REDACTED."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = {s for s in secrets if s}

    def learn(self, document: Any) -> None:
        if isinstance(document, dict):
            for key, value in document.items():
                if key in SECRET_KEYS and isinstance(value, str) and value != REDACTED:
                    self.secrets.add(value)
                else:
                    self.learn(value)
        elif isinstance(document, list):
            for item in document:
                self.learn(item)

    def text(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
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
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        raw = response["body"]["string"]
        with contextlib.suppress(ValueError):
            self.learn(json.loads(raw))
        response["body"]["string"] = self.body(raw)
        response["headers"].pop("Set-Cookie", None)
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
    import vcr  # imported lazily: live runs do not pay for it
    from vcr.errors import CannotOverwriteExistingCassetteException

    from .http import redact_url

    path = replay or record
    assert path is not None
    if replay is not None and not replay.is_file():
        raise InputError("remote-jobs", f"cassette {replay} does not exist")
    scrubber = Scrubber(secrets)
    recorder = vcr.VCR(
        record_mode="none" if replay else "all",
        match_on=["method", "scheme", "host", "port", "path", "query", "json_or_raw_body"],
        filter_headers=[(h, REDACTED) for h in SECRET_HEADERS],
        filter_query_parameters=[(q, REDACTED) for q in SECRET_QUERY],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("json_or_raw_body", _body_matcher)
    try:
        with recorder.use_cassette(str(path), allow_playback_repeats=False):
            yield replay is not None
    except CannotOverwriteExistingCassetteException as exc:
        failed = getattr(exc, "failed_request", None)
        what = f"{failed.method} {redact_url(failed.uri)}" if failed is not None else "a request"
        raise NetworkError(
            "replay", f"{what} is not in cassette {path.name} (or was already played)"
        ) from None
