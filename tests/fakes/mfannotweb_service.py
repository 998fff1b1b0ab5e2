"""A fake MFannotWeb /api/v1: scopes, idempotent submits, SSE events, archive + manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import posixpath
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .server import FakeServer, OtherOrigin, Request, Response, json_response

API = "/api/v1"
GENCODES = {
    "1": "Standard", "2": "Vertebrate Mitochondrial", "3": "Yeast Mitochondrial",
    "4": "Mold, Protozoan, Coelenterate Mitochondrial; Mycoplasma/Spiroplasma",
    "5": "Invertebrate Mitochondrial", "6": "Ciliate, Dasycladacean and Hexamita Nuclear",
    "9": "Echinoderm and Flatworm Mitochondrial", "10": "Euplotid Nuclear",
    "11": "Bacterial, Archaeal and Plant Plastid", "12": "Alternative Yeast Nuclear",
    "13": "Ascidian Mitochondrial", "14": "Alternative Flatworm Mitochondrial",
    "15": "Blepharisma Nuclear", "16": "Chlorophycean Mitochondrial",
    "21": "Trematode Mitochondrial", "22": "Scenedesmus Obliquus Mitochondrial",
    "23": "Thraustochytrium Mitochondrial",
}  # fmt: skip
MODELS = ["tRNA", "intronI", "intronII", "rnpB", "rrn5", "rns", "ssrA"]
STOPS = {"TAA", "TAG", "TGA"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _records(fasta: str) -> list[tuple[str, str]]:
    records: list[tuple[str, list[str]]] = []
    for line in fasta.splitlines():
        if line.startswith(">"):
            records.append((line[1:].split()[0], []))
        elif records:
            records[-1][1].append("".join(line.split()).upper())
    return [(name, "".join(parts)) for name, parts in records]


def _orfs(seq: str, gencode: int) -> list[tuple[int, int]]:
    """Forward-strand ORFs >= 150 nt (TGA is tryptophan under codes 4 and 5)."""
    stops = STOPS - {"TGA"} if gencode in (4, 5) else STOPS
    found, pos = [], 0
    while pos < len(seq) - 2:
        if seq[pos : pos + 3] == "ATG":
            for end in range(pos + 3, len(seq) - 2, 3):
                if seq[end : end + 3] in stops:
                    if end + 3 - pos >= 150:
                        found.append((pos + 1, end + 3))
                        pos = end
                    break
        pos += 1
    return found


GENES = ["cox1", "cob", "nad1", "atp6", "nad4L", "cox3"]


def make_archive(kind: str, fasta: str, gencode: int, rna: list[str]) -> dict[str, bytes]:
    """The files of a plausible MFannot (or RNAweasel) run on `fasta`."""
    records = _records(fasta)
    master, gff, tbl = [], ["##gff-version 3"], []
    count = 0
    for name, seq in records:
        gff.append(f"##sequence-region {name} 1 {len(seq)}")
        master.append(f">{name} gc={gencode}")
        tbl.append(f">Feature {name}")
        hits = (
            _orfs(seq, gencode)
            if kind == "mfannot"
            else [(1 + i * 80, 72 + i * 80) for i in range(min(len(rna), len(seq) // 80))]
        )
        for index, (start, end) in enumerate(hits):
            gene = (
                GENES[count % len(GENES)]
                if kind == "mfannot"
                else f"{rna[index % len(rna)]}_{index + 1}"
            )
            count += 1
            feature = "CDS" if kind == "mfannot" else "ncRNA"
            master.append(f" ;     G-{gene} ==> start")
            master.append(f" ;     G-{gene} <== end ; length {end - start + 1}")
            gff.append(f"{name}\tmfannot\tgene\t{start}\t{end}\t.\t+\t.\tID={gene};Name={gene}")
            gff.append(
                f"{name}\tmfannot\t{feature}\t{start}\t{end}\t.\t+\t0\tID={gene}-{feature.lower()};Parent={gene}"
            )
            tbl.append(
                f"{start}\t{end}\tgene\n\t\t\tgene\t{gene}\n{start}\t{end}\t{feature}\n\t\t\tproduct\t{gene}"
            )
        for offset in range(0, len(seq), 60):
            master.append(f"{offset + 1:6d}  {seq[offset : offset + 60]}")
    prefix = kind
    log = (
        "\n".join(
            [
                f"{kind} started",
                *(f"processing {name}" for name, _ in records),
                f"{count} features",
                f"{kind} finished",
            ]
        )
        + "\n"
    )
    html = f"<!DOCTYPE html><html><head><title>{kind} summary</title></head><body><h1>{kind} summary</h1><p>{len(records)} sequence(s), {count} feature(s), genetic code {gencode}.</p></body></html>\n"
    files = {
        f"{prefix}.out": ("\n".join(master) + "\n").encode(),
        f"{prefix}.gff": ("\n".join(gff) + "\n").encode(),
        f"{prefix}.html": html.encode(),
        "run.log": log.encode(),
    }
    if kind == "mfannot":
        files[f"{prefix}.tbl"] = ("\n".join(tbl) + "\n").encode()
    return files


def zip_bytes(files: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    """A zip of `files` in name order; a list may name an entry twice, as zip files can."""
    entries = sorted(files.items() if isinstance(files, dict) else files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 22, 3, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass
class FakeMfJob:
    id: str
    kind: str
    params: dict[str, Any]
    input_filename: str
    fasta: str
    script: list[str]
    status: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error_msg: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    extra_entries: list[tuple[str, bytes]] = field(default_factory=list)

    def entries(self) -> list[tuple[str, bytes]]:
        return sorted([*self.files.items(), *self.extra_entries])

    def advance(self) -> None:
        if self.script:
            self.status = self.script.pop(0)
            if self.status == "running" and not self.started_at:
                self.started_at = _now()
            if self.status in ("done", "failed", "cancelled", "expired"):
                self.finished_at = _now()

    def out(self, link: Any = None) -> dict[str, Any]:
        """The job object; `link(target_path)` writes each link (default: the path as it is)."""
        link = link or (lambda path: path)
        base = f"{API}/jobs/{self.id}"
        done = self.status == "done"
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "params": self.params,
            "input_filename": self.input_filename, "created_at": self.created_at,
            "started_at": self.started_at, "finished_at": self.finished_at, "error_msg": self.error_msg,
            "links": {
                "self": link(base), "events": link(f"{base}/events"), "log": link(f"{base}/log"),
                "download": link(f"{base}/download") if done else None,
                "results": link(f"{base}/results") if done else None,
                "cancel": link(f"{base}/cancel") if self.status == "queued" else None,
            },
        }  # fmt: skip


class FakeMfannotWeb(FakeServer):
    """MFannotWeb's /api/v1, served at `prefix` + /api/v1 (the public one is under /apps/mfannotweb).

    Shapes of real deployments, chosen per test:
    - `link_style`: links as absolute paths from the host root, prefix included ("path"), as
      absolute URLs ("url"), or relative to the document that holds them ("relative");
    - `foreign`: another origin (`mirror(service)`) that serves the links named in `foreign_links`;
    - `eol`, `stage_label`, `linger`: the event stream's line ends, a stage label (any text),
      and how long the stream stays open after its verdict (keep-alives every second);
    - `stream_fault`: an event stream that, after the job's status, never completes an event:
      "trickle" sends one byte of a line every half second, forever; "endless line" sends one
      line of `endless_line_bytes` as fast as it can (the job moves on only when polled).
    """

    def __init__(
        self,
        token: str,
        scopes: tuple[str, ...] = ("jobs:read", "jobs:write", "jobs:cancel"),
        prefix: str = "",
    ) -> None:
        super().__init__()
        self.token = token
        self.scopes = scopes
        self.email = "tester@example.org"  # the token owner's, as the account has it
        self.api = prefix + API
        self.link_style = "path"
        self.foreign: FakeServer | None = None
        self.foreign_links: frozenset[str] = frozenset({"results", "download"})
        self.eol = "\n"
        self.stage_label = "searching"
        self.linger = 0.0
        self.streams_open = 0
        self.downloads_while_streaming: list[bool] = []
        # More archive entries for every job (listed in the manifest too); names may repeat.
        self.extra_entries: list[tuple[str, bytes]] = []
        self.omit_suffixes: tuple[str, ...] = ()  # result files a job does not produce
        self.script = ["queued", "running", "running", "done"]
        self.fail_with: str | None = None  # error_msg for a job that fails
        self.fail_status = "failed"  # how it fails: failed, cancelled or expired
        self.jobs: dict[str, FakeMfJob] = {}
        self.keys: dict[str, str] = {}
        self.in_flight_limit = 3
        self.events_enabled = True
        self.stream_fault: str | None = None  # "trickle" or "endless line"
        self.endless_line_bytes = 100 << 20
        # Keep a refused submit's answer for its Idempotency-Key, and give it again for that key
        # (the IETF Idempotency-Key draft lets a server cache error answers too).
        self.cache_refusals = False
        self.refused: dict[str, Response] = {}

    def _auth(self, request: Request, scope: str | None) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return json_response(
                {"detail": "authentication required", "code": "unauthenticated"}, 401
            )
        if header[7:] != self.token:
            return json_response(
                {"detail": "invalid or revoked token", "code": "unauthenticated"}, 401
            )
        if scope is not None and scope not in self.scopes:
            return json_response(
                {"detail": f"token lacks scope {scope}", "code": "forbidden_scope"}, 403
            )
        return None

    def in_flight(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status in ("queued", "running"))

    def link_writer(self, document: str) -> Any:
        """How links are written in a document served at path `document`."""

        def write(path: str) -> str:
            name = path.rsplit("/", 1)[-1]
            if self.foreign is not None and name in self.foreign_links:
                return f"{self.foreign.base}/mirror{path[len(API) :]}"
            path = self.api + path[len(API) :]
            if self.link_style == "url":
                return self.base + path
            if self.link_style == "relative":
                return posixpath.relpath(path, posixpath.dirname(document))
            return path

        return write

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        if not path.startswith(self.api):
            return json_response({"detail": "not found", "code": "not_found"}, 404)
        path = API + path[len(self.api) :]  # routes below as if mounted at the root
        if method == "GET" and path.rstrip("/") == API:
            denied = self._auth(request, None)
            if denied:
                return denied
            identity = {"id": 42, "email": self.email, "role": "user"}
            identity.update(auth_method="token", scopes=list(self.scopes))
            return json_response({"version": "1", "authenticated": True, "identity": identity})
        if method == "GET" and path == f"{API}/pipelines/gencodes":
            return json_response(GENCODES)
        if method == "GET" and path == f"{API}/pipelines/rnaweasel/models":
            return json_response({"models": MODELS})
        scope = (
            "jobs:write"
            if (method, path) == ("POST", f"{API}/jobs")
            else "jobs:cancel"
            if path.endswith("/cancel")
            else "jobs:read"
        )
        denied = self._auth(request, scope)
        if denied:
            return denied
        if method == "GET" and path == f"{API}/me/usage":
            return json_response(
                {
                    "concurrent_in_flight": self.in_flight(),
                    "concurrent_limit": self.in_flight_limit,
                    "jobs_last_24h": len(self.jobs),
                    "jobs_last_7d": len(self.jobs),
                    "ttl_days": 7,
                }
            )
        if method == "POST" and path == f"{API}/jobs":
            return self._submit(request)
        return self.job_route(method, path, request.path)

    def job_route(self, method: str, path: str, document: str) -> Response:
        """The routes of one job; `path` as if mounted at the root, `document` as requested."""
        match = re.fullmatch(rf"{API}/jobs/([0-9a-f-]+)(/[a-z]+)?", path)
        job = self.jobs.get(match.group(1)) if match else None
        if job is None:
            return json_response({"detail": "job not found", "code": "not_found"}, 404)
        action = match.group(2) if match else None
        link = self.link_writer(document)
        if method == "GET" and action is None:
            job.advance()
            return json_response(job.out(link))
        if method == "POST" and action == "/cancel":
            if job.status != "queued":
                return json_response(
                    {
                        "detail": f"job is {job.status}, not queued",
                        "code": "cancellable_only_when_queued",
                    },
                    409,
                )
            job.status, job.script, job.finished_at = "cancelled", [], _now()
            return json_response(job.out(link))
        if method == "GET" and action == "/events":
            return self._events(job, link)
        if method == "GET" and action in ("/results", "/download"):
            if job.status != "done":
                return json_response(
                    {"detail": f"job is {job.status}, not done", "code": "archive_not_ready"}, 409
                )
            if action == "/results":
                return json_response(
                    {
                        "files": [
                            {
                                "name": n,
                                "size_bytes": len(d),
                                "sha256": hashlib.sha256(d).hexdigest(),
                            }
                            for n, d in job.entries()
                        ]
                    }
                )
            self.downloads_while_streaming.append(self.streams_open > 0)
            body = zip_bytes(job.entries())
            return Response(
                200,
                body,
                {
                    "Content-Type": "application/zip",
                    "Content-Disposition": 'attachment; filename="results.zip"',
                },
            )
        return json_response({"detail": "not found", "code": "not_found"}, 404)

    def _submit(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        link = self.link_writer(request.path)
        if key and key in self.keys:
            return json_response(self.jobs[self.keys[key]].out(link), 201)
        if key and key in self.refused:
            return self.refused[key]
        body = request.json()
        kind, gencode = body.get("kind"), body.get("gencode")
        if kind not in ("mfannot", "rnaweasel") or str(gencode) not in GENCODES:
            return json_response(
                {"detail": f"invalid kind or gencode {gencode}", "code": "validation_failed"}, 400
            )
        rna = body.get("rna") or []
        if kind == "rnaweasel" and (not rna or any(m not in MODELS for m in rna)):
            return json_response(
                {"detail": "rna must list known models", "code": "validation_failed"}, 400
            )
        if ("fasta" in body) == ("fasta_b64" in body):
            return json_response(
                {"detail": "exactly one of fasta/fasta_b64", "code": "validation_failed"}, 400
            )
        if self.in_flight() >= self.in_flight_limit:
            refusal = json_response(
                {
                    "detail": f"you already have {self.in_flight()} jobs in flight",
                    "code": "concurrency_limit_exceeded",
                },
                409,
            )
            if key and self.cache_refusals:
                self.refused[key] = refusal
            return refusal
        job = FakeMfJob(
            str(uuid.uuid4()),
            kind,
            {"gencode": gencode, "rna": rna if kind == "rnaweasel" else []},
            body.get("input_filename", "input.fasta"),
            body["fasta"],
            list(self.script),
        )
        if self.fail_with:
            job.script = ["queued", "running", self.fail_status]
            job.error_msg = self.fail_with
        else:
            files = make_archive(kind, job.fasta, int(gencode), job.params["rna"])
            job.files = {n: d for n, d in files.items() if not n.endswith(self.omit_suffixes)}
            job.extra_entries = list(self.extra_entries)
        self.jobs[job.id] = job
        if key:
            self.keys[key] = job.id
        return json_response(job.out(link), 201)

    def _events(self, job: FakeMfJob, link: Any) -> Response:
        if not self.events_enabled:
            return json_response(
                {"detail": "event streams are disabled here", "code": "not_found"}, 404
            )
        eol = self.eol

        def event(name: str, data: dict[str, Any]) -> bytes:
            return (
                f"event: {name}{eol}data: {json.dumps(data, ensure_ascii=False)}{eol}{eol}".encode()
            )

        chunks = [
            event("status", {"status": job.status, "created_at": job.created_at}),
            f": keep-alive{eol}{eol}".encode(),
        ]
        if self.stream_fault is not None:
            return self._faulty_stream(chunks)
        while job.script and set(job.script) != {job.status}:  # a job stuck in one state: stop
            before = job.status
            job.advance()
            if job.status != before and job.status in ("queued", "running"):
                chunks.append(event("status", {"status": job.status, "created_at": job.created_at}))
            if job.status == "running":
                chunks.append(event("stage", {"label": f"{job.kind}: {self.stage_label}"}))
                chunks.append(
                    event("log", {"line": f"{job.kind} is working on {job.input_filename}"})
                )
        if job.status == "done":
            url = link(f"{API}/jobs/{job.id}/download")
            chunks.append(event("done", {"download_url": url}))
        elif job.status in ("failed", "cancelled", "expired"):
            chunks.append(event("error", {"status": job.status, "error_msg": job.error_msg}))
        # else: a job that stays put; the stream just ends, as when a proxy drops it

        def stream() -> Iterator[bytes]:
            self.streams_open += 1
            try:
                yield from chunks
                for _ in range(int(self.linger)):  # a server that keeps the stream open
                    time.sleep(1)
                    yield f": keep-alive{eol}{eol}".encode()
            finally:
                self.streams_open -= 1

        return Response(
            200,
            stream(),
            {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},  # UTF-8 by the spec
            stream=True,
        )

    def _faulty_stream(self, chunks: list[bytes]) -> Response:
        """`chunks`, then bytes that never complete an event (see `stream_fault`)."""
        fault, size = self.stream_fault, self.endless_line_bytes

        def stream() -> Iterator[bytes]:
            yield from chunks
            yield b"data: "
            if fault == "trickle":
                while True:
                    time.sleep(0.5)
                    yield b"x"
            piece = b"x" * (1 << 20)
            for start in range(0, size, len(piece)):
                yield piece[: size - start]
            yield f"{self.eol}{self.eol}".encode()

        return Response(200, stream(), {"Content-Type": "text/event-stream"}, stream=True)


def mirror(service: FakeMfannotWeb) -> OtherOrigin:
    """Another origin (a storage host) serving the service's job links under /mirror/jobs/...,
    without asking for a token, as presigned storage links are; it logs what reaches it."""

    def answer(request: Request) -> Response:
        if not request.path.startswith("/mirror/"):
            return json_response({"detail": "not found"}, 404)
        with service.lock:
            path = API + request.path[len("/mirror") :]
            return service.job_route(request.method, path, request.path)

    return OtherOrigin(answer)
