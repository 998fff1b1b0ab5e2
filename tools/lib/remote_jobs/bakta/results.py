"""A finished Bakta job's result files: which of them the service may leave out, fetching them,
and what each must be once fetched.

backend (bakta-v2.md, "What the newer backend source adds"): the newer backend lists only the
files that exist (every key but `json` is optional: no plots with `skip_plot` or `meta`, no
hypotheticals with `skip_cds`, no inference table from a Bakta before 1.10); an intermediate
build listed every link and answered 404 for a file Bakta did not write. Either way a missing
optional file is not a failed job; a missing `json` is (the service always makes it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RemoteJobError, RemoteJobsError
from .api import ResultFile
from .options import SERVICE

if TYPE_CHECKING:
    from ..http import HttpClient

ALWAYS = "json"  # the one file every finished job has


def fetch_files(
    http: HttpClient, files: dict[str, ResultFile], folder: Path, name: str, job_id: str
) -> list[str]:
    """Download each file to `folder/<name>.<suffix>` and check what it holds; returns the
    suffixes of the optional files whose link answered 404 (listed, but never written)."""
    absent = []
    for suffix, file in files.items():
        target = folder / f"{name}.{suffix}"
        try:
            http.download(str(file.link), target, job=job_id)
        except RemoteJobsError as exc:
            if exc.status != 404 or suffix == ALWAYS:
                raise
            absent.append(suffix)
            continue
        check_content(target, suffix, job_id)
    return absent


# What each result file begins with (after a byte order mark and white space), by suffix, and
# what to call it. Bakta's writers: GFF3 opens with its version line, GenBank with LOCUS, EMBL
# with ID, FASTA with '>' (and may be empty: no CDS, no hypotheticals), the tables with a '#'
# comment line, the JSON with an object.
def _starts(*starts: bytes, empty: bool = False) -> Callable[[bytes], bool]:
    return lambda head: (empty and not head) or head.startswith(starts)


def _tsv(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return not head or head.startswith(b"#") or (b"\t" in first and not _markup(head))


def _svg(head: bytes) -> bool:
    return head.startswith((b"<?xml", b"<svg", b"<!DOCTYPE svg")) and b"<svg" in head


def _markup(head: bytes) -> bool:
    """An HTML page (a proxy's or a portal's 'access denied' or login page)."""
    lowered = head[:512].lower()
    return lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        lowered.startswith(b"<") and b"<html" in lowered
    )


def _text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
    return not _markup(head)


FASTA = ("FASTA", _starts(b">", empty=True))
TSV = ("a TSV table", _tsv)
KINDS: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "gff3": ("GFF3", _starts(b"##gff-version")),
    "gbff": ("GenBank", _starts(b"LOCUS")),
    "embl": ("EMBL", _starts(b"ID   ")),
    "fna": FASTA,
    "ffn": FASTA,
    "faa": FASTA,
    "hypotheticals.faa": FASTA,
    "tsv": TSV,
    "hypotheticals.tsv": TSV,
    "inference.tsv": TSV,
    "txt": ("text", _text),
    "json": ("JSON", _starts(b"{")),
    "png": ("a PNG image", _starts(b"\x89PNG\r\n\x1a\n")),
    "svg": ("an SVG image", _svg),
}
HEAD = 4096


def check_content(path: Path, suffix: str, job_id: str) -> None:
    """Fail the genome in one line when a downloaded file is not what its name says (an
    HTML page saved as `genome.gff3`, say); a file of an unknown key must be text."""
    with open(path, "rb") as handle:
        raw = handle.read(HEAD)
    head = raw.removeprefix(b"\xef\xbb\xbf")
    if suffix != "png":
        head = head.lstrip()
    kind, check = KINDS.get(suffix, ("text", _text))
    if check(head):
        return
    shown = raw[:60].decode("utf-8", "replace")
    shown = "".join(c if c.isprintable() else " " for c in shown).strip()
    page = " (an HTML page)" if _markup(head) else ""
    raise RemoteJobError(
        SERVICE,
        f"the {suffix} file the service sent is not {kind}{page}: it begins {shown!r}",
        job_id,
    )


# bakta: constants.CDS_SOURCE_USER, the `source` of each CDS imported from a regions file.
USER_PROVIDED = "user-provided"


def regions_line(
    http: HttpClient, listed: ResultFile, folder: Path, name: str, job_id: str, regions: Path
) -> str:
    """Whether Bakta used the user's regions file, read from the job's JSON result (Bakta's
    JSON records no options: the CDSs it took from the file are marked there). The JSON is
    fetched for this when it was not asked for, and not kept."""
    path = folder / f"{name}.json"
    kept = path.is_file()
    if not kept:
        path = http.download(str(listed.link), folder / ".regions-check.json", job=job_id)
    try:
        try:
            features = json.loads(path.read_bytes()).get("features")
        except (ValueError, AttributeError):
            raise RemoteJobError(SERVICE, "the service's json file is not JSON", job_id) from None
    finally:
        if not kept:
            path.unlink(missing_ok=True)
    used = sum(
        1 for f in features or () if isinstance(f, dict) and f.get("source") == USER_PROVIDED
    )
    if used:
        return f"{name}: Bakta took {used} CDS(s) from the regions file {regions.name}"
    return (
        f"{name}: Bakta took no CDS from the regions file {regions.name} (the service may not"
        " hand it on in a form Bakta reads): every CDS is Bakta's own prediction"
    )
