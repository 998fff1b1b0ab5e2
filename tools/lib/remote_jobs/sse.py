"""Server-Sent Events (an MFannotWeb job's event stream), read within bounds.

The run's --timeout is checked on every read, and no line or event may grow past its bound:
a stream that sends bytes without ever completing an event (or one endless line) can hold
neither the run nor its memory.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from .errors import NetworkError, OutOfTime
from .polling import Deadline
from .transfer import arrivals

MAX_LINE = 1 << 20  # characters in one line of the stream
MAX_EVENT = 4 << 20  # characters in the data of one event

_LINE_END = re.compile(r"\r\n|\r|\n")


class Oversized(Exception):
    """A line or an event longer than its bound."""


def sse_lines(chunks: Iterable[bytes], limit: int = MAX_LINE) -> Iterator[str]:
    """Lines of an event stream: UTF-8, ended by CRLF, LF or CR (the SSE specification).

    A line is given out as soon as its end arrives: a CR is not held back to see whether an
    LF follows (that LF is dropped when it comes). A line longer than `limit` characters
    raises Oversized as soon as that many have come without its end.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending: list[str] = []  # the start of a line whose end has not come yet
    size, skip_lf, first = 0, False, True
    for chunk in chunks:
        text = decoder.decode(chunk)
        if not text:
            continue
        if first:
            text, first = text.removeprefix("\ufeff"), False
        if skip_lf:
            text, skip_lf = text.removeprefix("\n"), False
        start = 0
        for end in _LINE_END.finditer(text):
            piece = text[start : end.start()]
            if size + len(piece) > limit:
                raise Oversized(f"a line of more than {limit} characters")
            yield "".join([*pending, piece])
            pending, size = [], 0
            start = end.end()
            skip_lf = end.group() == "\r" and start == len(text)
        if start < len(text):
            size += len(text) - start
            if size > limit:
                raise Oversized(f"a line of more than {limit} characters")
            pending.append(text[start:])


def iter_sse(
    response: requests.Response,
    service: str,
    job: str | None,
    *,
    deadline: Deadline | None = None,
    read_timeout: float = 60.0,
    what: str = "following the event stream",
) -> Iterator[tuple[str, str]]:
    """Server-Sent Events as (event, data), parsed as the SSE specification says.

    Multi-line `data:` fields are joined with newlines; an event without data is not
    dispatched; a comment (the server's keep-alive) comes as ("keep-alive", ""); an event cut
    off by the end of the stream is dropped. The deadline is checked before every read: past
    it, OutOfTime (`what`: what the run was doing). A stream that breaks, or whose line or
    event outgrows its bound (MAX_LINE, MAX_EVENT), raises NetworkError, so callers can fall
    back to polling.
    """

    def expired() -> OutOfTime:
        assert deadline is not None
        return deadline.expired(service, what, job)

    event, data, size = "", list[str](), 0
    try:
        for line in sse_lines(arrivals(response, deadline, read_timeout, expired)):
            if not line:
                if data:
                    yield event or "message", "\n".join(data)
                event, data, size = "", [], 0
            elif line.startswith(":"):
                yield "keep-alive", ""
            else:
                field, colon, value = line.partition(":")
                if colon and value.startswith(" "):
                    value = value[1:]
                if field == "event":
                    event = value
                elif field == "data":
                    size += len(value) + 1
                    if size > MAX_EVENT:
                        raise Oversized(f"an event of more than {MAX_EVENT} characters")
                    data.append(value)
    except Oversized as exc:
        raise NetworkError(service, f"event stream refused: {exc}", job) from None
    except (requests.RequestException, Urllib3Error, OSError) as exc:
        from .http import _describe

        why = _describe(exc, response.url)
        raise NetworkError(service, f"event stream broke: {why}", job) from None
