"""Text for Galaxy datasets: plain ASCII, which reads alike whatever a browser takes it for.

Galaxy serves a `txt` or `tabular` dataset as text/plain without a charset, and a browser that
guesses windows-1252 shows UTF-8's arrow (U+2192) as three signs (a with circumflex, dagger,
closing quote). What the runner composes for a dataset (the check's report, the codon score
table and FASTA) goes through `ascii_text`: punctuation is spelled in ASCII ("->", "-",
quotes), a letter loses its accent, and any other character is written as its escape
(\\u4e2d).
"""

from __future__ import annotations

import unicodedata

_SPELLED = str.maketrans(
    {
        "\u2192": "->", "\u2190": "<-", "\u21d2": "=>", "\u2194": "<->",
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2026": "...", "\u00d7": "x", "\u2022": "*",
        "\u00a0": " ", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe",
        "\u0152": "OE", "\u00f8": "o", "\u00d8": "O", "\u0141": "L", "\u0142": "l",
    }
)  # fmt: skip


def ascii_text(text: str) -> str:
    """`text` in plain ASCII (see the module's words); ASCII text comes back as it is."""
    if text.isascii():
        return text
    spelled = unicodedata.normalize("NFKD", text.translate(_SPELLED))
    bare = "".join(char for char in spelled if not unicodedata.combining(char))
    return bare.encode("ascii", "backslashreplace").decode("ascii")
