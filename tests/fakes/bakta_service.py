"""A fake Bakta v1 backend that checks requests the way the real one does (bakta-backend.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from .bakta_results import make_results
from .server import FakeServer, Request, Response, json_response

API = "/api/v1"
BUCKET = "/bakta-web"
REQUIRED = {
    "translationTable": int,
    "completeGenome": bool,
    "keepContigHeaders": bool,
    "minContigLength": int,
    "compliant": bool,
}
SUFFIX = {
    "GFF3": "gff3", "GBFF": "gbff", "EMBL": "embl", "FNA": "fna", "FFN": "ffn", "FAA": "faa",
    "TSV": "tsv", "TSVHypothetical": "hypotheticals.tsv", "FAAHypothetical": "hypotheticals.faa",
    "TSVInference": "inference.tsv", "TXTLogs": "txt", "JSON": "json",
    "PNGCircularPlot": "png", "SVGCircularPlot": "svg",
}  # fmt: skip


def _now() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@dataclass
class FakeJob:
    id: str
    secret: str
    name: str
    uploads: dict[str, bytes | None] = field(
        default_factory=lambda: dict.fromkeys(("fasta", "prodigal", "replicons"))
    )
    config: dict[str, Any] | None = None
    script: list[str] = field(default_factory=list)
    status: str = "INIT"
    started: str = ""
    updated: str = ""
    results: dict[str, bytes] = field(default_factory=dict)
    log: str = ""


class FakeBakta(FakeServer):
    """Each job/list call advances every started job one step along its script."""

    def __init__(
        self, script: list[str] | None = None, scripts: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__()
        self.script = script or ["INIT", "RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"]
        self.scripts = scripts or {}  # per job name
        self.jobs: dict[str, FakeJob] = {}
        self.version = {"toolVersion": "1.9.4", "dbVersion": "5.1", "backendVersion": "0.4.2"}
        self.error_log = "Internal server error"
        self.deleted: list[str] = []  # job ids, in the order they were deleted

    def presign(self, key: str, method: str) -> str:
        date = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        signature = hashlib.sha256(f"{key}{method}{date}".encode()).hexdigest()
        expires = 10000 if method == "PUT" else 518400
        return (
            f"{self.base}{BUCKET}/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=BAKTAWEBUPLOAD%2F{date[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
            f"&X-Amz-Signature={signature}"
        )

    def _job(self, ref: dict[str, Any]) -> FakeJob | str:
        job = self.jobs.get(str(ref.get("jobID")))
        if job is None:
            return "NOT_FOUND"
        if job.secret != ref.get("secret"):
            return "UNAUTHORIZED"
        return job

    def handle(self, request: Request) -> Response:
        method, path = request.method, request.path
        if path.startswith(BUCKET + "/jobs/"):
            return self._bucket(request)
        if method == "GET" and path == f"{API}/version":
            return json_response(self.version)
        if method == "POST" and path == f"{API}/job/init":
            body = request.json()
            if body.get("repliconTableType") not in ("CSV", "TSV"):
                return json_response("Invalid repliconTableType", 400)
            job = FakeJob(
                str(uuid.uuid4()),
                secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")[:32],
                body["name"],
            )
            job.script = list(self.scripts.get(job.name, self.script))
            self.jobs[job.id] = job
            return json_response({
                "job": {"jobID": job.id, "secret": job.secret},
                "uploadLinkFasta": self.presign(f"jobs/{job.id}/fastadata.fasta", "PUT"),
                "uploadLinkProdigal": self.presign(f"jobs/{job.id}/prodigaltraining.tf", "PUT"),
                "uploadLinkReplicons": self.presign(f"jobs/{job.id}/replicons.tsv", "PUT"),
            })  # fmt: skip
        if method == "POST" and path == f"{API}/job/start":
            return self._start(request.json())
        if method == "POST" and path == f"{API}/job/list":
            return self._list(request.json())
        if method == "POST" and path == f"{API}/job/result":
            job = self._job(request.json())
            if isinstance(job, str):
                return json_response(
                    "Unauthorized" if job == "UNAUTHORIZED" else "Job not found", 400
                )
            if job.status != "SUCCESSFUL":
                return json_response("Job not finished", 400)
            return json_response({
                "jobID": job.id, "name": job.name, "started": job.started, "updated": job.updated,
                "ResultFiles": {key: self.presign(f"jobs/{job.id}/results/result.{SUFFIX[key]}", "GET") for key in job.results},
            })  # fmt: skip
        if method == "GET" and path == f"{API}/job/logs":
            job = self._job(
                {"jobID": request.query.get("jobID"), "secret": request.query.get("secret")}
            )
            if isinstance(job, str):
                return json_response("Job not found", 400)
            return Response(200, job.log.encode(), {"Content-Type": "text/plain"})
        if method == "DELETE" and path == f"{API}/job/delete":
            return self._delete(request.query)
        return json_response("Not found", 404)

    def _delete(self, query: dict[str, str]) -> Response:
        """Like the backend: plain-text 400 on a wrong secret, 200 even for an unknown job."""
        if "jobID" not in query or "secret" not in query:
            words = "Failed to deserialize query string: missing field `jobID` or `secret`"
            return Response(400, words.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        job = self.jobs.get(query["jobID"])
        if job is not None:
            if job.secret != query["secret"]:
                return Response(400, b"Unauthorized", {"Content-Type": "text/plain; charset=utf-8"})
            del self.jobs[job.id]
            self.deleted.append(job.id)
        return Response(200, b"")

    def _bucket(self, request: Request) -> Response:
        job_id, _, kind = request.path[len(BUCKET + "/jobs/") :].partition("/")
        job = self.jobs.get(job_id)
        if job is None:
            return Response(
                404,
                b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
                {"Content-Type": "application/xml"},
            )
        if request.method == "PUT":
            slot = {
                "fastadata.fasta": "fasta",
                "prodigaltraining.tf": "prodigal",
                "replicons.tsv": "replicons",
            }[kind]
            job.uploads[slot] = request.body
            return Response(200, b"", {"ETag": f'"{hashlib.md5(request.body).hexdigest()}"'})
        suffix = kind.removeprefix("results/result.")
        key = next(k for k, s in SUFFIX.items() if s == suffix)
        content_type = {"png": "image/png", "svg": "image/svg+xml", "json": "application/json"}.get(
            suffix, "text/plain"
        )
        return Response(
            200,
            job.results[key],
            {
                "Content-Type": content_type,
                "ETag": f'"{hashlib.md5(job.results[key]).hexdigest()}"',
            },
        )

    def _start(self, body: dict[str, Any]) -> Response:
        job = self._job(body.get("job") or {})
        if isinstance(job, str):
            return json_response("Unauthorized" if job == "UNAUTHORIZED" else "Job not found", 400)
        config = body.get("config") or {}
        for key, kind in REQUIRED.items():
            if type(config.get(key)) is not kind:
                return json_response(
                    f"Json deserialize error: missing or invalid field `{key}`", 400
                )
        if any(upload is None for upload in job.uploads.values()):
            return json_response("Not all upload links were used", 400)
        has_replicons = config.get("hasReplicons", True)  # the real backend's default
        if has_replicons and not job.uploads["replicons"]:
            job.script = ["INIT", "RUNNING", "ERROR"]  # Bakta fails on the empty table
            job.log = "ERROR: replicon table is empty or malformed"
        if not (job.uploads["fasta"] or b"").strip():
            job.script = ["INIT", "ERROR"]
            job.log = "ERROR: the FASTA file is empty"
        if config.get("prodigalTrainingFile") is not None and not job.uploads["prodigal"]:
            return json_response("Prodigal training file missing", 400)
        job.config = config
        job.started = job.updated = _now()
        if job.script[-1] == "ERROR" and not job.log:
            job.log = f"Starting Bakta\n{self.error_log}\n"
        return Response(200, b"")

    def _list(self, body: dict[str, Any]) -> Response:
        jobs, failed = [], []
        for ref in body.get("jobs", []):
            job = self._job(ref)
            if isinstance(job, str):
                failed.append({"jobID": ref.get("jobID"), "jobStatus": job})
                continue
            if job.config is None:
                continue  # initialised but never started: in neither list
            if job.script:
                status = job.script.pop(0)
                if status != job.status:
                    job.updated = _now()
                job.status = status
            if job.status == "SUCCESSFUL" and not job.results:
                job.results = self.results_for(job)
            jobs.append(
                {
                    "jobID": job.id,
                    "jobStatus": job.status,
                    "started": job.started,
                    "updated": job.updated,
                    "name": job.name,
                }
            )
        return json_response({"jobs": jobs, "failedJobs": failed})

    def results_for(self, job: FakeJob) -> dict[str, bytes]:
        config = job.config or {}
        return make_results(
            job.name,
            job.uploads["fasta"] or b"",
            locus_tag=config.get("locusTag") or "",
            genus=config.get("genus"),
            species=config.get("species"),
            strain=config.get("strain"),
            translation_table=4 if config.get("translationTable") == 4 else 11,
            bakta_version=self.version["toolVersion"],
            db_version=self.version["dbVersion"],
        )
