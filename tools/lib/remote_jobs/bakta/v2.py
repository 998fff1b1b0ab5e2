"""The Bakta web API v2 (`/api/v2` beside v1's `/api/v1`): its client (snake_case JSON, one
method per endpoint) and its side of the job flow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import NetworkError, RemoteJobError, RemoteJobsError
from ..fasta import upload_body
from ..jobfile import JobFile
from . import logs
from .api import Endpoints, ResultFile, Workflow, result_files
from .logs import Failure
from .options import SERVICE

# v2 API `result.files` key -> the same suffixes (Bakta's and Baktfold's command lines agree).
RESULT_FILES = {
    "gff3": "gff3",
    "gbff": "gbff",
    "embl": "embl",
    "fna": "fna",
    "ffn": "ffn",
    "faa": "faa",
    "tsv": "tsv",
    "hypotheticals_tsv": "hypotheticals.tsv",
    "hypotheticals_faa": "hypotheticals.faa",
    "inference_tsv": "inference.tsv",
    "logs_txt": "txt",
    "json": "json",
    "circular_plot_png": "png",
    "circular_plot_svg": "svg",
}
# The uploads Bakta reads with Biopython's FASTA reader (its io/fasta.py and
# expert/protein_sequences.py).
FASTA_UPLOADS = frozenset({"genome_fasta", "protein_fasta", "trusted_proteins_file"})
V2_VERSION_KEYS = (
    "backend_version",
    "bakta_version",
    "bakta_db_version",
    "baktfold_version",
    "baktfold_db_version",
)


def v2_url(v1_url: str) -> str:
    """Where v2 lives beside BAKTA_API_URL: the same host, `/api/v2` for `/api/v1`."""
    base = v1_url.rstrip("/")
    if base.endswith("/api/v1"):
        return base[: -len("/v1")] + "/v2"
    scheme, _, rest = base.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/api/v2"


class BaktaV2Client(Endpoints):
    """The Bakta v2 endpoints (snake_case JSON), one method each."""

    api = "v2"
    id_key = "job_id"

    def workflows(self) -> dict[str, dict[str, Any]] | None:
        """The workflows by kind, or None when this deployment has no v2 API.

        No v2 shows as a 404 (or 405/501) or as an answer that is not the workflow list
        (an HTML page from a proxy); any other failure is a failure.
        """
        try:
            response = self.http.request("GET", "/workflows")
        except RemoteJobError as exc:
            if exc.status in (404, 405, 501):
                return None
            raise
        try:
            answer = response.json()
        except ValueError:
            return None
        if not isinstance(answer, list):
            return None
        return {
            str(item["workflow_kind"]): item
            for item in answer
            if isinstance(item, dict) and "workflow_kind" in item
        }

    def init(self, name: str, workflow_kind: str) -> dict[str, Any]:
        body = {"name": name, "workflow_kind": workflow_kind}
        # Retried: an init whose answer was lost leaves a job that is never started, and the
        # service lets it expire unstarted; its upload links are never used.
        answer = self.http.json("POST", "/job/init", json=body, idempotent=True)
        if not isinstance(answer, dict) or not isinstance(answer.get("job"), dict):
            raise NetworkError(SERVICE, f"unexpected answer to job/init: {str(answer)[:200]}")
        return dict(answer)

    def start(self, job: dict[str, str], workflow_kind: str, config: dict[str, Any]) -> None:
        """backend: `workflow_kind` and `config` sit beside `job`; the answer is JSON null."""
        body = {"job": job, "workflow_kind": workflow_kind, "config": config}
        self.http.request("POST", "/job/start", job=job["job_id"], json=body)

    def logs(self, job: dict[str, str]) -> Any:
        """backend: `{workflow_kind, stages: [{stage, status, content}]}` in newer builds; an
        older one answers 501 ("registered but not implemented yet")."""
        params = {"secret": job["secret"], "job_id": job["job_id"]}
        return self.http.json("GET", "/job/logs", job=job["job_id"], params=params)


class V2:
    label = "v2"

    def __init__(
        self, client: BaktaV2Client, workflow: Workflow, replacements: dict[str, bytes]
    ) -> None:
        self.client, self.workflow = client, workflow
        self.replacements = replacements  # upload kind -> the bytes to send instead of the file
        self.http = client.http

    def submit(self, name: str, label: str, path: Path, jobfile: JobFile) -> dict[str, Any]:
        workflow = self.workflow
        answer = self.client.init(label, workflow.kind)
        job = answer["job"]
        record = {"id": job["job_id"], "secret": job["secret"], "started": False, "api": "v2"}
        jobfile.put(name, record)  # before anything else: a crash now still leaves a trace
        links = {
            str(u.get("upload_kind")): str(u.get("url"))
            for u in answer.get("uploads", [])
            if isinstance(u, dict)
        }
        files = {workflow.main_upload: path, **workflow.uploads}
        if missing := sorted(set(files) - set(links)):
            raise RemoteJobError(
                SERVICE, f"job/init gave no upload link for {', '.join(missing)}", job["job_id"]
            )
        # Only what was given is uploaded: the config's use_* flags say which files exist.
        for kind, file in files.items():
            if kind in self.replacements:
                self.client.http.request(
                    "PUT", links[kind], job=job["job_id"], data=self.replacements[kind]
                )
            elif kind in FASTA_UPLOADS:  # no byte order mark: Bakta's reader takes none
                with upload_body(file) as body:
                    self.client.http.upload_stream(links[kind], body, file.name, job=job["job_id"])
            else:
                self.client.http.upload(links[kind], file, job=job["job_id"])
        self.client.start_once(job, lambda: self.client.start(job, workflow.kind, workflow.config))
        return record

    def ref(self, record: dict[str, Any]) -> dict[str, str]:
        return {"secret": record["secret"], "job_id": record["id"]}

    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        answer = self.client.list(refs)
        jobs = [
            (str(e.get("job_id")), str(e.get("status")).upper()) for e in answer.get("jobs", [])
        ]
        failed = [
            (str(e.get("job_id")), str(e.get("status")).upper())
            for e in answer.get("failed_jobs", [])
        ]
        return jobs, failed

    def result_files(self, ref: dict[str, str]) -> dict[str, ResultFile]:
        answer = self.client.result(ref)
        result = answer.get("result")
        return result_files(result.get("files") if isinstance(result, dict) else None, RESULT_FILES)

    def failure(self, ref: dict[str, str]) -> Failure:
        """Why the job ended in ERROR: the failed stage and its last words, or the service's
        failure."""
        try:
            answer = logs.fetched(lambda: self.client.logs(ref))
        except RemoteJobsError as exc:
            return Failure(f"job ended in ERROR (its log could not be read: {exc.message})", False)
        return logs.v2_failure(None if answer is None else logs.v2_stages(answer))

    def log_text(self, ref: dict[str, str]) -> str | None:
        """The finished job's log, every stage's under a header; None when the service gives
        none (404, 501)."""
        answer = logs.fetched(lambda: self.client.logs(ref))
        if answer is None:
            return None
        stages = logs.v2_stages(answer)
        if stages is None:
            raise NetworkError(
                SERVICE, f"unexpected answer to job/logs: {str(answer)[:200]}", ref["job_id"]
            )
        return logs.v2_text(stages)

    def delete(self, ref: dict[str, str], *, until: float) -> None:
        self.client.delete(ref, until=until)
