"""A fake MFannotWeb /api/v1: scopes, idempotent submits, SSE events, archive + manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

from .server import FakeServer, Request, Response, json_response

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


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
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

    def advance(self) -> None:
        if self.script:
            self.status = self.script.pop(0)
            if self.status == "running" and not self.started_at:
                self.started_at = _now()
            if self.status in ("done", "failed", "cancelled", "expired"):
                self.finished_at = _now()

    def out(self) -> dict[str, Any]:
        base = f"{API}/jobs/{self.id}"
        done = self.status == "done"
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "params": self.params,
            "input_filename": self.input_filename, "created_at": self.created_at,
            "started_at": self.started_at, "finished_at": self.finished_at, "error_msg": self.error_msg,
            "links": {
                "self": base, "events": f"{base}/events", "log": f"{base}/log",
                "download": f"{base}/download" if done else None,
                "results": f"{base}/results" if done else None,
                "cancel": f"{base}/cancel" if self.status == "queued" else None,
            },
        }  # fmt: skip


class FakeMfannotWeb(FakeServer):
    def __init__(
        self, token: str, scopes: tuple[str, ...] = ("jobs:read", "jobs:write", "jobs:cancel")
    ) -> None:
        super().__init__()
        self.token = token
        self.scopes = scopes
        self.script = ["queued", "running", "running", "done"]
        self.fail_with: str | None = None  # error_msg for a job that fails
        self.fail_status = "failed"  # how it fails: failed, cancelled or expired
        self.jobs: dict[str, FakeMfJob] = {}
        self.keys: dict[str, str] = {}
        self.in_flight_limit = 3
        self.events_enabled = True

    def _auth(self, request: Request, scope: str) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return json_response(
                {"detail": "authentication required", "code": "unauthenticated"}, 401
            )
        if header[7:] != self.token:
            return json_response(
                {"detail": "invalid or revoked token", "code": "unauthenticated"}, 401
            )
        if scope not in self.scopes:
            return json_response(
                {"detail": f"token lacks scope {scope}", "code": "forbidden_scope"}, 403
            )
        return None

    def in_flight(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status in ("queued", "running"))

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
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
        match = re.fullmatch(rf"{API}/jobs/([0-9a-f-]+)(/[a-z]+)?", path)
        job = self.jobs.get(match.group(1)) if match else None
        if job is None:
            return json_response({"detail": "job not found", "code": "not_found"}, 404)
        action = match.group(2) if match else None
        if method == "GET" and action is None:
            job.advance()
            return json_response(job.out())
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
            return json_response(job.out())
        if method == "GET" and action == "/events":
            return self._events(job)
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
                            for n, d in sorted(job.files.items())
                        ]
                    }
                )
            body = zip_bytes(job.files)
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
        if key and key in self.keys:
            return json_response(self.jobs[self.keys[key]].out(), 201)
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
            return json_response(
                {
                    "detail": f"you already have {self.in_flight()} jobs in flight",
                    "code": "concurrency_limit_exceeded",
                },
                409,
            )
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
            job.files = make_archive(kind, job.fasta, int(gencode), job.params["rna"])
        self.jobs[job.id] = job
        if key:
            self.keys[key] = job.id
        return json_response(job.out(), 201)

    def _events(self, job: FakeMfJob) -> Response:
        if not self.events_enabled:
            return json_response(
                {"detail": "event streams are disabled here", "code": "not_found"}, 404
            )

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        chunks = [
            event("status", {"status": job.status, "created_at": job.created_at}),
            b": keep-alive\n\n",
        ]
        while job.script and set(job.script) != {job.status}:  # a job stuck in one state: stop
            before = job.status
            job.advance()
            if job.status != before and job.status in ("queued", "running"):
                chunks.append(event("status", {"status": job.status, "created_at": job.created_at}))
            if job.status == "running":
                chunks.append(event("stage", {"label": f"{job.kind}: searching"}))
                chunks.append(
                    event("log", {"line": f"{job.kind} is working on {job.input_filename}"})
                )
        if job.status == "done":
            chunks.append(event("done", {"download_url": f"{API}/jobs/{job.id}/download"}))
        elif job.status in ("failed", "cancelled", "expired"):
            chunks.append(event("error", {"status": job.status, "error_msg": job.error_msg}))
        # else: a job that stays put; the stream just ends, as when a proxy drops it
        return Response(
            200,
            chunks,
            {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
            stream=True,
        )
