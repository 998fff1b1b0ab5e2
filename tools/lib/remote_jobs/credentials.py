"""Credentials from the environment: checked before anything is sent, and never shown.

A service URL may carry a user and password (https://USER:PASSWORD@host/api, a self-hosted
service behind HTTP basic auth): they are taken out of the URL, which is all that is ever
shown or recorded, and go as an Authorization header to that URL's origin only.

A credential is sent in a header (MFannotWeb's token) or a query (the codon service's login):
one pasted with a line break, a control character or an invisible one (a zero-width space, a
byte order mark) is refused, naming the setting and where in it the character is, never the
value. A header carries Latin-1 only: a token with any other character (an en dash from a
word processor) is refused too.
"""

from __future__ import annotations

import base64
import unicodedata
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from .errors import InputError


def without_login(url: str) -> tuple[str, str | None]:
    """`url` without its user and password, and the Authorization value they make (HTTP
    basic auth; None when the URL has none)."""
    parts = urlsplit(url)
    login, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = login.partition(":")
    pair = unquote_to_bytes(user) + b":" + unquote_to_bytes(password)
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, "Basic " + base64.b64encode(pair).decode("ascii")


def _unsendable(char: str, header: bool) -> str | None:
    """What is wrong with one character of a credential, or None."""
    if char in "\r\n\u2028\u2029\x85":
        return "a line break"
    category = unicodedata.category(char)
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
    if category in ("Cc", "Cf", "Zl", "Zp") or (category == "Zs" and char != " "):
        return f"an invisible character, {code}"
    if header and ord(char) > 0xFF:
        return f"{code}, which an HTTP header cannot carry"
    return None


def check_credential(variable: str, value: str, service: str, *, header: bool) -> str:
    """`value` as given, or InputError (exit 2) naming the setting and the position of the
    first character that cannot be sent; `header`: it goes in a header (Latin-1 only)."""
    for position, char in enumerate(value, start=1):
        wrong = _unsendable(char, header)
        if wrong is not None:
            raise InputError(
                service,
                f"{variable} has {wrong} at character {position} of {len(value)}; set it again"
                " as the service gave it, on one line",
            )
    return value
