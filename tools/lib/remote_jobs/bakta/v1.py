"""The Bakta web API v1: its client (one method per endpoint) and its side of the job flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import NetworkError, RemoteJobsError
from ..fasta import upload_body
from ..jobfile import JobFile
from . import logs
from .api import Endpoints, ResultFile, result_files
from .logs import Failure
from .options import SERVICE, AnnotationOptions

DEFAULT_URL = "https://api.bakta.computational.bio/api/v1"
# v1 API result key -> the file suffix the Bakta command line uses for the same file.
RESULT_FILES = {
    "GFF3": "gff3",
    "GBFF": "gbff",
    "EMBL": "embl",
    "FNA": "fna",
    "FFN": "ffn",
    "FAA": "faa",
    "TSV": "tsv",
    "TSVHypothetical": "hypotheticals.tsv",
    "FAAHypothetical": "hypotheticals.faa",
    "TSVInference": "inference.tsv",
    "TXTLogs": "txt",
    "JSON": "json",
    "PNGCircularPlot": "png",
    "SVGCircularPlot": "svg",
}


class BaktaClient(Endpoints):
    """The Bakta v1 endpoints, one method each."""

    api = "v1"
    id_key = "jobID"

    def init(self, name: str, replicon_table_type: str) -> dict[str, Any]:
        body = {"name": name, "repliconTableType": replicon_table_type}
        # Retried: an init whose answer was lost leaves a job that is never started, and the
        # service lets it expire unstarted; its upload links are never used.
        answer = self.http.json("POST", "/job/init", json=body, idempotent=True)
        if not isinstance(answer, dict) or "job" not in answer:
            raise NetworkError(SERVICE, f"unexpected answer to job/init: {str(answer)[:200]}")
        return dict(answer)

    def start(self, job: dict[str, str], config: dict[str, Any]) -> None:
        self.http.request(
            "POST", "/job/start", job=job["jobID"], json={"job": job, "config": config}
        )

    def logs(self, job: dict[str, str]) -> str:
        params = {"jobID": job["jobID"], "secret": job["secret"]}
        return self.http.request("GET", "/job/logs", job=job["jobID"], params=params).text


class V1:
    label = "v1"

    def __init__(self, client: BaktaClient, options: AnnotationOptions, table_type: str) -> None:
        self.client, self.options, self.table_type = client, options, table_type
        self.http = client.http

    def submit(self, name: str, label: str, path: Path, jobfile: JobFile) -> dict[str, Any]:
        answer = self.client.init(label, self.table_type)
        job = answer["job"]
        record = {"id": job["jobID"], "secret": job["secret"], "started": False, "api": "v1"}
        jobfile.put(name, record)  # before anything else: a crash now still leaves a trace
        http, options = self.client.http, self.options
        # Bakta's docs: all three links must be PUT, unused ones with an empty body.
        with upload_body(path) as body:  # no byte order mark: Bakta's reader takes none
            http.upload_stream(answer["uploadLinkFasta"], body, path.name, job=job["jobID"])
        http.upload(answer["uploadLinkProdigal"], options.prodigal_tf, job=job["jobID"])
        http.upload(answer["uploadLinkReplicons"], options.replicons, job=job["jobID"])
        self.client.start_once(job, lambda: self.client.start(job, options.v1_config()))
        return record

    def ref(self, record: dict[str, Any]) -> dict[str, str]:
        return {"jobID": record["id"], "secret": record["secret"]}

    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        answer = self.client.list(refs)
        jobs = [(str(e.get("jobID")), str(e.get("jobStatus"))) for e in answer.get("jobs", [])]
        failed = [
            (str(e.get("jobID")), str(e.get("jobStatus"))) for e in answer.get("failedJobs", [])
        ]
        return jobs, failed

    def result_files(self, ref: dict[str, str]) -> dict[str, ResultFile]:
        return result_files(self.client.result(ref).get("ResultFiles"), RESULT_FILES)

    def failure(self, ref: dict[str, str]) -> Failure:
        """Why the job ended in ERROR: Bakta's own last words, or the service's failure."""
        try:
            text = logs.fetched(lambda: self.client.logs(ref))
        except RemoteJobsError as exc:
            return Failure(f"job ended in ERROR (its log could not be read: {exc.message})", False)
        return logs.v1_failure(text)

    def log_text(self, ref: dict[str, str]) -> str | None:
        """The finished job's log; None when the service gives none (404, 501)."""
        text = logs.fetched(lambda: self.client.logs(ref))
        return None if text is None else str(text)

    def delete(self, ref: dict[str, str], *, until: float) -> None:
        self.client.delete(ref, until=until)
