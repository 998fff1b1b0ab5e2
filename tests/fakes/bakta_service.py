"""A fake Bakta backend that checks requests the way the real one does.

v1 as bakta-backend.md describes it; with `v2=True` also `/api/v2` as bakta-v2.md describes
it (workflows, snake_case fields, uploads per workflow, results per result kind).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import io
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any

from .bakta_results import make_baktfold_results, make_log, make_protein_results, make_results
from .server import FakeServer, Request, Response, json_response

API = "/api/v1"
API2 = "/api/v2"
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
# v2: the v1 result keys of a Bakta run under their v2 `result.files` names
V2_KEYS = {
    "EMBL": "embl", "FAA": "faa", "FAAHypothetical": "hypotheticals_faa", "FFN": "ffn",
    "FNA": "fna", "GBFF": "gbff", "GFF3": "gff3", "JSON": "json", "TSV": "tsv",
    "TSVHypothetical": "hypotheticals_tsv", "TXTLogs": "logs_txt", "TSVInference": "inference_tsv",
    "PNGCircularPlot": "circular_plot_png", "SVGCircularPlot": "circular_plot_svg",
}  # fmt: skip
BAKTA_UPLOADS = [
    {"upload_kind": "genome_fasta", "required": True},
    {"upload_kind": "prodigal_training_file", "required": False},
    {"upload_kind": "replicons_table", "required": False},
    {"upload_kind": "regions_file", "required": False},
    {"upload_kind": "trusted_proteins_file", "required": False},
    {"upload_kind": "hmms_file", "required": False},
]
WORKFLOWS = [
    {"workflow_kind": "bakta", "result_kind": "bakta", "uploads": BAKTA_UPLOADS, "stages": ["bakta"]},
    {"workflow_kind": "bakta_proteins", "result_kind": "bakta_proteins",
     "uploads": [{"upload_kind": "protein_fasta", "required": True}], "stages": ["bakta_proteins"]},
    {"workflow_kind": "bakta_baktfold", "result_kind": "bakta", "uploads": BAKTA_UPLOADS,
     "stages": ["bakta", "baktfold"]},
    {"workflow_kind": "baktfold", "result_kind": "baktfold",
     "uploads": [{"upload_kind": "bakta_json", "required": True}], "stages": ["baktfold"]},
]  # fmt: skip
# v2 Bakta config fields and their types (every one optional); `use_*` name the upload used.
V2_CONFIG: dict[str, type] = {
    "use_prodigal_training_file": bool, "use_replicons": bool, "use_regions": bool,
    "use_trusted_proteins": bool, "use_hmms": bool, "translation_table": int,
    "complete_genome": bool, "keep_contig_headers": bool, "compliant": bool, "meta": bool,
    "min_contig_length": int, "derm_type": str, "genus": str, "species": str, "strain": str,
    "plasmid": str, "locus": str, "locus_tag": str, "locus_tag_increment": int,
    **{f"skip_{name}": bool for name in (
        "trna", "tmrna", "rrna", "ncrna", "ncrna_region", "crispr", "cds", "pseudo", "sorf",
        "gap", "ori", "filter", "plot",
    )},
}  # fmt: skip
NO_SUCH_KEY = (
    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
)
USE_FLAGS = {
    "use_prodigal_training_file": "prodigal_training_file",
    "use_replicons": "replicons_table",
    "use_regions": "regions_file",
    "use_trusted_proteins": "trusted_proteins_file",
    "use_hmms": "hmms_file",
}


def bakta_refuses(locus: Any, locus_tag: Any, compliant: Any) -> str | None:
    """What Bakta's config.py says of a locus or locus tag it refuses (the job then fails)."""
    if locus and re.fullmatch(r"[A-Za-z\d_.:*#-]{1,20}", str(locus)) is None:
        return f"ERROR: invalid 'locus' parameter ({locus})!"
    if locus_tag:
        rule = r"[A-Z][A-Z0-9]{2,11}" if compliant else r"[A-Za-z\d_.-]{1,24}"
        if re.fullmatch(rule, str(locus_tag)) is None:
            what = "INSDC-incompliant" if compliant else "invalid"
            return f"ERROR: {what} 'locus-tag' parameter ({locus_tag})!"
    return None


def backend_name(name: Any) -> str:
    """The job name as the backend sanitises it: each run of characters outside
    [0-9a-zA-Z_.] becomes one '_', cut at 63, trailing non-alphanumerics stripped."""
    return re.sub(r"[^0-9a-zA-Z]+$", "", re.sub(r"[^0-9a-zA-Z_.]+", "_", str(name))[:63])


def is_label(name: str) -> bool:
    """A Kubernetes label value (the name labels the job in the workflow engine)."""
    return re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?", name) is not None


def bakta_import(fasta: bytes) -> bytes:
    """A genome as Bakta's reader takes it (bakta/io/fasta.py): xopen decompresses gzip, then
    Biopython's FastaIterator (the first line must be a '>' header: a byte order mark makes it
    none) and Bakta's DNA pattern after dropping '-'. Raises ValueError where Bakta fails."""
    if fasta.startswith(b"\x1f\x8b"):
        fasta = gzip.decompress(fasta)
    lines = io.StringIO(fasta.decode("utf-8"), newline=None).readlines()
    if lines and not lines[0].startswith(">"):
        raise ValueError("ERROR: wrong genome file format!")
    for chunk in "".join(lines).split("\n>"):
        sequence = "".join(chunk.partition("\n")[2].split("\n"))
        sequence = re.sub(r"[ \t\r]", "", sequence).upper().replace("-", "")
        if re.fullmatch(r"[ATGCNMRWSYKVHDBN]+", sequence) is None:
            raise ValueError("Fasta sequence contains invalid DNA characters!")
    return fasta


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
    # Why it ends in ERROR: "bakta" (Bakta failed on its input; `error`: its last words) or
    # "engine" (the service's workflow engine failed; Bakta said nothing).
    failure: str | None = None
    error: str = ""
    api: int = 1
    workflow_kind: str = "bakta"  # v2


@dataclass
class Run:
    """One run of a job's workflow on the service: from an accepted job/start until the job
    ended (SUCCESSFUL or ERROR) or was deleted (time.monotonic())."""

    name: str
    job_id: str
    began: float
    ended: float | None = None


TERMINAL = ("SUCCESSFUL", "ERROR")


class FakeBakta(FakeServer):
    """Each job/list call advances every started job one step along its script."""

    def __init__(
        self,
        script: list[str] | None = None,
        scripts: dict[str, list[str]] | None = None,
        *,
        v2: bool = False,
        v2_logs: bool = True,
        engine_failures: int = 0,
    ) -> None:
        super().__init__()
        self.v2 = v2  # also serve /api/v2 (a v1-only deployment answers 404 there)
        # An intermediate build of the newer backend listed all 14 links of a Bakta job, and
        # a link to a file Bakta did not write answered 404; the newer one lists what exists.
        self.lists_every_file = False
        # The name under which the service's workflow hands a regions upload to Bakta, which
        # picks its parser by the suffix: the backend stores it as `regions`, and Bakta imports
        # nothing from a file without a suffix ("suffix not detected", a warning in its log).
        self.regions_name = "regions"
        self.version_v2 = {
            "backend_version": "0.6.0", "bakta_version": "1.11.0", "bakta_db_version": "6.0",
            "baktfold_version": "0.1.1", "baktfold_db_version": "0.1",
        }  # fmt: skip
        self.script = script or ["INIT", "RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"]
        self.scripts = scripts or {}  # per job name
        self.jobs: dict[str, FakeJob] = {}
        self.version = {"toolVersion": "1.9.4", "dbVersion": "5.1", "backendVersion": "0.4.2"}
        # Bakta's last words when a scripted job ends in ERROR (it failed on its input).
        self.error_log = "ERROR: wrong sequence format in contig_2 (line 41)!"
        # The workflow engine fails this many of the next jobs started (after they ran a
        # while): the service's own failure, with none of Bakta's words in the job's log.
        self.engine_failures = engine_failures
        # The service restarts this many times right before a job/start: it forgets the jobs
        # initialised but not yet started (it keeps them in memory only).
        self.restarts_before_start = 0
        # v2 GET /job/logs: the newer backend's stages; False: an older build's 501.
        self.v2_logs = v2_logs
        self.deleted: list[str] = []  # job ids, in the order they were deleted
        # The workflow engine fails the first N runs of the jobs of these names (by name: the
        # same jobs whatever order their clients start them in).
        self.engine_failures_by_name: dict[str, int] = {}
        # Every run of a workflow: a job/start of a job already started starts another one
        # (the backend's source shows nothing that would refuse it: the worst case is assumed).
        self.runs: list[Run] = []

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
        if path.startswith(API2 + "/"):
            return self._v2(request) if self.v2 else json_response("Not found", 404)
        if method == "GET" and path == f"{API}/version":
            return json_response(self.version)
        if method == "POST" and path == f"{API}/job/init":
            body = request.json()
            if body.get("repliconTableType") not in ("CSV", "TSV"):
                return json_response("Invalid repliconTableType", 400)
            job = FakeJob(
                str(uuid.uuid4()),
                secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")[:32],
                backend_name(body["name"]),
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
                return Response(400, b"Job not found", {"Content-Type": "text/plain"})
            return Response(200, self.v1_log(job).encode(), {"Content-Type": "text/plain"})
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
            self.run_ended(job.id)
        return Response(200, b"")

    def _bucket(self, request: Request) -> Response:
        job_id, _, kind = request.path[len(BUCKET + "/jobs/") :].partition("/")
        job = self.jobs.get(job_id)
        if job is None:
            return Response(404, NO_SUCH_KEY, {"Content-Type": "application/xml"})
        if request.method == "PUT" and job.api == 2:
            if kind not in job.uploads:
                return Response(403, b"<Error><Code>AccessDenied</Code></Error>")
            job.uploads[kind] = request.body
            return Response(200, b"", {"ETag": f'"{hashlib.md5(request.body).hexdigest()}"'})
        if kind.startswith("results/v2/"):
            data = job.results.get(kind.removeprefix("results/v2/"))
            if data is None:
                return Response(404, NO_SUCH_KEY, {"Content-Type": "application/xml"})
            return Response(200, data, {"ETag": f'"{hashlib.md5(data).hexdigest()}"'})
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

    def restart_if_due(self) -> None:
        """A restart of the service: the jobs not yet started are forgotten."""
        if self.restarts_before_start > 0:
            self.restarts_before_start -= 1
            self.jobs = {key: job for key, job in self.jobs.items() if job.config is not None}

    def _start(self, body: dict[str, Any]) -> Response:
        self.restart_if_due()
        job = self._job(body.get("job") or {})
        if job == "NOT_FOUND":
            return Response(200, b"")  # backend: v1 starts nothing and answers 200 all the same
        if isinstance(job, str):
            return json_response("Unauthorized", 400)
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
            self.fail_in_bakta(job, "ERROR: replicon table is empty or malformed")
        if not (job.uploads["fasta"] or b"").strip():
            self.fail_in_bakta(job, "ERROR: the FASTA file is empty", at_once=True)
        if refusal := bakta_refuses(
            config.get("locus"), config.get("locusTag"), config["compliant"]
        ):
            self.fail_in_bakta(job, refusal)
        if config.get("prodigalTrainingFile") is not None and not job.uploads["prodigal"]:
            return json_response("Prodigal training file missing", 400)
        if not is_label(job.name):  # the workflow engine refuses the job's label
            job.script = ["INIT", "ERROR"]
            job.failure = "engine"
        self.begin(job, config)
        return Response(200, b"")

    def fail_in_bakta(self, job: FakeJob, words: str, *, at_once: bool = False) -> None:
        """Bakta refuses the job's input, saying `words` last in its log."""
        job.script = ["INIT", "ERROR"] if at_once else ["INIT", "RUNNING", "ERROR"]
        job.failure, job.error = "bakta", words

    def begin(self, job: FakeJob, config: dict[str, Any]) -> None:
        """The job is started: it follows its script, unless the engine fails it."""
        if job.failure is None and job.script[-1] == "ERROR":
            job.failure, job.error = "bakta", self.error_log  # a scripted failure: Bakta's
        by_name = self.engine_failures_by_name.get(job.name, 0)
        if job.failure is None and (self.engine_failures > 0 or by_name > 0):
            if by_name > 0:
                self.engine_failures_by_name[job.name] = by_name - 1
            else:
                self.engine_failures -= 1
            job.script = ["INIT", "RUNNING", "ERROR"]
            job.failure = "engine"
        job.config = config
        job.started = job.updated = _now()
        self.runs.append(Run(job.name, job.id, time.monotonic()))

    def run_ended(self, job_id: str) -> None:
        for run in self.runs:
            if run.job_id == job_id and run.ended is None:
                run.ended = time.monotonic()

    def overlapping_runs(self) -> list[tuple[Run, Run]]:
        """Pairs of runs for one genome (job name) that ran at the same time."""
        pairs = []
        for number, first in enumerate(self.runs):
            for second in self.runs[number + 1 :]:
                first_end = first.ended if first.ended is not None else float("inf")
                if first.name == second.name and second.began < first_end:
                    pairs.append((first, second))
        return pairs

    def classify(
        self, request: Request, names: Container[str] | None = None
    ) -> tuple[str, str] | None:
        """What a request is, for Chaos: its kind (init, upload, start, list, result,
        download, logs) and the job name it is about (the names of a status request's jobs);
        None for a delete, a version or workflows request, or a job not in `names`."""
        path, method = request.path, request.method
        if path.startswith(BUCKET + "/jobs/"):
            job_id, _, rest = path[len(BUCKET + "/jobs/") :].partition("/")
            job = self.jobs.get(job_id)
            if job is None:
                return None
            kind, key = ("upload" if method == "PUT" else "download"), f"{job.name}/{rest}"
            return (kind, key) if names is None or job.name in names else None
        what = path.removeprefix(API).removeprefix(API2)
        body = request.json() if method == "POST" else None
        refs: list[Any] = []
        if what == "/job/init" and isinstance(body, dict):
            name = backend_name(body.get("name"))
            return ("init", name) if names is None or name in names else None
        if what == "/job/start" and isinstance(body, dict):
            kind, refs = "start", [body.get("job") or {}]
        elif what == "/job/list" and isinstance(body, dict):
            kind, refs = "list", list(body.get("jobs") or [])
        elif what == "/job/result" and isinstance(body, dict):
            kind, refs = "result", [body]
        elif method == "GET" and what == "/job/logs":
            kind, refs = "logs", [request.query]
        else:
            return None
        jobs = [self.jobs.get(str(ref.get("jobID") or ref.get("job_id"))) for ref in refs]
        found = sorted(job.name for job in jobs if job is not None)
        if not found or (names is not None and any(name not in names for name in found)):
            return None
        return kind, ",".join(found)

    def still_running(self) -> list[FakeJob]:
        """Started jobs that have not ended (nor been deleted): work on the service."""
        return [j for j in list(self.jobs.values()) if j.config and j.status not in TERMINAL]

    def chaos_report(self) -> str:
        """The faults Chaos gave, by kind, and the jobs set up and never started."""
        given = Counter((k, fault) for k, _, _, fault in self.chaos.injected) if self.chaos else {}
        lines = [f"faults given: {sum(given.values())}"]
        lines += [f"  {kind} {fault}: {count}" for (kind, fault), count in sorted(given.items())]
        lines += [
            f"set up, never started (expires there unstarted): job {job.id} of {job.name}"
            for job in self.never_started()
        ]
        return "\n".join(lines)

    def never_started(self) -> list[FakeJob]:
        """Jobs set up (job/init) and never started: they expire unstarted on the service."""
        return [j for j in list(self.jobs.values()) if j.config is None]

    def stage_log(self, job: FakeJob, stage: str) -> tuple[str, str]:
        """One stage's status and log (v2 names); the first stage is the one that fails."""
        first = next(w for w in WORKFLOWS if w["workflow_kind"] == job.workflow_kind)["stages"][0]
        main = {"bakta_proteins": "protein_fasta", "baktfold": "bakta_json"}
        kind = main.get(job.workflow_kind, "genome_fasta") if job.api == 2 else "fasta"
        upload = job.uploads.get(kind) or b""
        versions = (
            (self.version["toolVersion"], self.version["dbVersion"])
            if job.api == 1
            else (
                (self.version_v2["baktfold_version"], self.version_v2["baktfold_db_version"])
                if stage == "baktfold"
                else (self.version_v2["bakta_version"], self.version_v2["bakta_db_version"])
            )
        )
        log = functools.partial(
            make_log, job.name, upload, stage=stage, version=versions[0], db_version=versions[1]
        )
        if job.status == "SUCCESSFUL":
            return "succeeded", log()
        if job.status == "ERROR" and stage == first:
            if job.failure == "engine":
                return "error", ""  # the engine's (Argo's) own failure: no log of the stage
            return "failed", log(error=job.error or self.error_log)
        if job.status == "RUNNING" and stage == first:
            return "running", log(finished=False)
        return "pending", ""

    def v1_log(self, job: FakeJob) -> str:
        """backend: Bakta's own log; only a generic error when the workflow engine failed."""
        if job.status == "ERROR" and job.failure == "engine":
            return "Internal server error"
        return "" if job.status == "INIT" else self.stage_log(job, "bakta")[1]

    def _list(self, body: dict[str, Any]) -> Response:
        jobs, failed = [], []
        for ref in body.get("jobs", []):
            job = self._job(ref)
            if isinstance(job, str):
                failed.append({"jobID": ref.get("jobID"), "jobStatus": job})
                continue
            if job.config is None:
                continue  # initialised but never started: in neither list
            self._advance(job, self.results_for)
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

    def _advance(self, job: FakeJob, results: Callable[[FakeJob], dict[str, bytes]]) -> None:
        """One step along the job's script; a job that succeeds gets its result files."""
        if job.script:
            status = job.script.pop(0)
            if status != job.status:
                job.updated = _now()
            job.status = status
        if job.status == "SUCCESSFUL" and not job.results:
            try:
                job.results = results(job)
            except (ValueError, KeyError, TypeError) as exc:
                job.status = "ERROR"  # the tool failed on its input
                job.failure, job.error = "bakta", f"ERROR: {exc}"
        if job.status in TERMINAL:
            self.run_ended(job.id)

    def results_for(self, job: FakeJob) -> dict[str, bytes]:
        config = job.config or {}
        return make_results(
            job.name,
            bakta_import(job.uploads["fasta"] or b""),
            locus_tag=config.get("locusTag") or "",
            genus=config.get("genus"),
            species=config.get("species"),
            strain=config.get("strain"),
            translation_table=4 if config.get("translationTable") == 4 else 11,
            bakta_version=self.version["toolVersion"],
            db_version=self.version["dbVersion"],
        )

    # ------------------------------------------------------------------ v2

    def _v2(self, request: Request) -> Response:
        method, path = request.method, request.path.removeprefix(API2)
        if method == "GET" and path == "/workflows":
            return json_response(WORKFLOWS)
        if method == "GET" and path == "/version":
            return json_response(self.version_v2)
        if method == "POST" and path == "/job/init":
            return self._v2_init(request.json())
        if method == "POST" and path == "/job/start":
            return self._v2_start(request.json())
        if method == "POST" and path == "/job/list":
            return self._v2_list(request.json())
        if method == "POST" and path == "/job/result":
            return self._v2_result(request.json())
        if method == "GET" and path == "/job/logs":
            return self._v2_logs(request.query)
        if method == "DELETE" and path == "/job/delete":
            job = self._v2_job(request.query)
            if job == "UNAUTHORIZED":
                return json_response("Unauthorized", 400)
            if isinstance(job, FakeJob):
                del self.jobs[job.id]
                self.deleted.append(job.id)
                self.run_ended(job.id)
            return Response(200, b"")
        return json_response("Not found", 404)

    def _v2_logs(self, query: dict[str, str]) -> Response:
        """backend (newer builds): every stage of the job's workflow, its status and its log."""
        if not self.v2_logs:
            return Response(
                501, b"registered but not implemented yet", {"Content-Type": "text/plain"}
            )
        if "job_id" not in query or "secret" not in query:
            return json_response("Failed to deserialize query string", 400)
        job = self._v2_job(query)
        if isinstance(job, str):
            return json_response("Unauthorized" if job == "UNAUTHORIZED" else "Job not found", 400)
        stages = next(w for w in WORKFLOWS if w["workflow_kind"] == job.workflow_kind)["stages"]
        entries = []
        for stage in stages:
            status, content = self.stage_log(job, stage)
            entries.append({"stage": stage, "status": status, "content": content})
        return json_response({"workflow_kind": job.workflow_kind, "stages": entries})

    def _v2_job(self, ref: dict[str, Any]) -> FakeJob | str:
        return self._job({"jobID": ref.get("job_id"), "secret": ref.get("secret")})

    def _v2_init(self, body: Any) -> Response:
        workflow = next(
            (w for w in WORKFLOWS if w["workflow_kind"] == body.get("workflow_kind")), None
        )
        if not isinstance(body.get("name"), str) or workflow is None:
            return json_response("Json deserialize error: invalid name or workflow_kind", 422)
        job = FakeJob(
            str(uuid.uuid4()),
            secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")[:32],
            backend_name(body["name"]),
            uploads={u["upload_kind"]: None for u in workflow["uploads"]},
            api=2,
            workflow_kind=workflow["workflow_kind"],
        )
        job.script = list(self.scripts.get(job.name, self.script))
        self.jobs[job.id] = job
        uploads = [
            {**u, "url": self.presign(f"jobs/{job.id}/{u['upload_kind']}", "PUT")}
            for u in workflow["uploads"]
        ]
        return json_response(
            {
                "job": {"secret": job.secret, "job_id": job.id},
                "workflow_kind": job.workflow_kind,
                "uploads": uploads,
            }
        )

    def _v2_start(self, body: Any) -> Response:
        if not isinstance(body, dict) or set(body) != {"job", "workflow_kind", "config"}:
            return json_response(
                "Json deserialize error: expected job, workflow_kind and config", 422
            )
        self.restart_if_due()
        job = self._v2_job(body["job"] or {})
        if isinstance(job, str):
            return json_response("Unauthorized" if job == "UNAUTHORIZED" else "Job not found", 400)
        if job.api != 2:
            return json_response("Wrong API version", 400)
        if body["workflow_kind"] != job.workflow_kind:
            return json_response("Workflow kind mismatch", 400)
        config = body["config"]
        if not isinstance(config, dict):
            return json_response("Json deserialize error: config", 422)
        stages = next(w["stages"] for w in WORKFLOWS if w["workflow_kind"] == job.workflow_kind)
        tools = {"bakta": "bakta_version", "bakta_proteins": "bakta_version", "baktfold": "baktfold_version"}  # fmt: skip
        if any(not self.version_v2.get(tools[stage]) for stage in stages):
            # The workflow template names the versions; a deployment without Baktfold has none.
            return json_response("Missing Bakta or Baktfold version for workflow template", 400)
        if job.workflow_kind in ("bakta", "bakta_baktfold"):
            # Stricter than the backend (serde ignores unknown fields): a misspelt field of
            # ours, say v1's completeGenome, must not pass silently in the tests.
            for key, value in config.items():
                kind = V2_CONFIG.get(key)
                if kind is None or type(value) is not kind:
                    return json_response(
                        f"Json deserialize error: unknown or invalid field `{key}`", 422
                    )
            if config.get("translation_table", 11) not in (4, 11, 25):
                return json_response("Invalid translation_table", 400)
            if config.get("locus_tag_increment", 1) not in (1, 5, 10):
                return json_response("Invalid locus_tag_increment", 400)
            if refusal := bakta_refuses(
                config.get("locus"), config.get("locus_tag"), config.get("compliant")
            ):
                self.fail_in_bakta(job, refusal)
            for flag, upload in USE_FLAGS.items():
                if config.get(flag) and not job.uploads.get(upload):
                    self.fail_in_bakta(job, f"ERROR: {upload} file does not exist or is empty!")
        elif config:
            return json_response(
                f"Json deserialize error: {job.workflow_kind} takes no config", 422
            )
        required = {"bakta": "genome_fasta", "bakta_baktfold": "genome_fasta",
                    "bakta_proteins": "protein_fasta", "baktfold": "bakta_json"}[job.workflow_kind]  # fmt: skip
        if not (job.uploads.get(required) or b"").strip():
            self.fail_in_bakta(
                job, f"ERROR: {required} file does not exist or is empty!", at_once=True
            )
        if not is_label(job.name):  # the workflow engine refuses the job's label
            job.script = ["INIT", "ERROR"]
            job.failure = "engine"
        self.begin(job, config)
        return json_response(None)

    def _v2_list(self, body: Any) -> Response:
        jobs, failed = [], []
        for ref in body.get("jobs", []):
            job = self._v2_job(ref)
            if isinstance(job, str):
                failed.append({"job_id": ref.get("job_id"), "status": job.lower()})
                continue
            if job.config is None:
                continue  # initialised but never started: in neither list
            self._advance(job, self.results_v2)
            result_kind = next(
                w["result_kind"] for w in WORKFLOWS if w["workflow_kind"] == job.workflow_kind
            )
            jobs.append({
                "job_id": job.id, "status": job.status.lower(), "workflow_kind": job.workflow_kind,
                "result_kind": result_kind, "started": job.started, "updated": job.updated, "name": job.name,
            })  # fmt: skip
        return json_response({"jobs": jobs, "failed_jobs": failed})

    def _v2_result(self, body: Any) -> Response:
        job = self._v2_job(body or {})
        if isinstance(job, str):
            return json_response("Unauthorized" if job == "UNAUTHORIZED" else "Job not found", 400)
        if job.status != "SUCCESSFUL":
            return json_response("Job not finished", 400)
        result_kind = next(
            w["result_kind"] for w in WORKFLOWS if w["workflow_kind"] == job.workflow_kind
        )
        listed = list(job.results)
        if self.lists_every_file and job.workflow_kind in ("bakta", "bakta_baktfold"):
            listed = list(V2_KEYS.values())
        files = {key: self.presign(f"jobs/{job.id}/results/v2/{key}", "GET") for key in listed}
        return json_response({
            "job_id": job.id, "workflow_kind": job.workflow_kind, "started": job.started,
            "updated": job.updated, "name": job.name,
            "result": {"result_kind": result_kind, "files": files},
        })  # fmt: skip

    def imported_regions(self, job: FakeJob) -> list[tuple[str, int, int, str]]:
        """The CDSs Bakta imports from the job's regions file (GFF3 read as Bakta reads it)."""
        upload = job.uploads.get("regions_file")
        if not (job.config or {}).get("use_regions") or not upload:
            return []
        if not self.regions_name.lower().endswith((".gff", ".gff3")):
            return []  # Bakta: "user-provided regions/features file suffix not detected!"
        regions = []
        for line in upload.decode().splitlines():
            cells = line.split("\t")
            if line.startswith("#") or len(cells) != 9 or cells[2].lower() != "cds":
                continue
            regions.append((cells[0], int(cells[3]), int(cells[4]), cells[6]))
        return regions

    def results_v2(self, job: FakeJob) -> dict[str, bytes]:
        """The result files of a v2 job, by `result.files` key."""
        config = job.config or {}
        if job.workflow_kind == "bakta_proteins":
            return make_protein_results(
                job.name, job.uploads["protein_fasta"] or b"", bakta_version=self.version_v2["bakta_version"],
                db_version=self.version_v2["bakta_db_version"],
            )  # fmt: skip
        if job.workflow_kind == "baktfold":
            return make_baktfold_results(
                job.name, job.uploads["bakta_json"] or b"", baktfold_version=self.version_v2["baktfold_version"],
                db_version=self.version_v2["baktfold_db_version"],
            )  # fmt: skip
        results = make_results(
            job.name,
            bakta_import(job.uploads["genome_fasta"] or b""),
            locus_tag=config.get("locus_tag") or "",
            genus=config.get("genus"),
            species=config.get("species"),
            strain=config.get("strain"),
            translation_table=config.get("translation_table", 11),
            bakta_version=self.version_v2["bakta_version"],
            db_version=self.version_v2["bakta_db_version"],
            locus_tag_increment=config.get("locus_tag_increment", 1),
            skip_cds=config.get("skip_cds", False),
            regions=self.imported_regions(job),
        )
        # Bakta's main.py: no plot with --skip-plot or --meta, no hypotheticals with
        # --skip-cds; the inference table came with Bakta 1.10.
        if config.get("skip_plot") or config.get("meta"):
            del results["PNGCircularPlot"], results["SVGCircularPlot"]
        if config.get("skip_cds"):
            del results["TSVHypothetical"], results["FAAHypothetical"]
        major, minor = (int(part) for part in self.version_v2["bakta_version"].split(".")[:2])
        if (major, minor) < (1, 10):
            del results["TSVInference"]
        files = {V2_KEYS[key]: data for key, data in results.items()}
        if job.workflow_kind == "bakta_baktfold":
            return {
                key: data
                for key, data in make_baktfold_results(
                    job.name, results["JSON"], baktfold_version=self.version_v2["baktfold_version"],
                    db_version=self.version_v2["baktfold_db_version"],
                ).items()
            } | {k: v for k, v in files.items() if k.startswith("circular_plot")}  # fmt: skip
        return files
