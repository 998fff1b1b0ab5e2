"""What the Bakta APIs v1 and v2 share: the endpoints that differ only in how a job id is
spelt, and the side of the job flow each API version provides (`Api`), so that one loop
(flow.py) serves both. See ../shared/notes/bakta-backend.md and bakta-v2.md for the backend
facts encoded here (marked "backend:").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import NetworkError
from ..jobfile import JobFile
from .logs import Failure
from .options import FORMATS

if TYPE_CHECKING:  # requests is slow to import: only commands that talk to a service load it
    from ..http import HttpClient

START_ATTEMPTS = 4  # job/start sent at most this often while job/list says it is not started
START_PAUSE = 1.0  # seconds before asking job/list; doubles with every attempt
SUCCESS = frozenset({"SUCCESSFUL", "SUCCESSFULL"})  # backend: the old spelling still occurs
# What a result file's name may end in: `<sample>.<suffix>` in the sample's folder. A key the
# service sends that is not one (a '/', a leading dot...) never becomes a path.
SUFFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class ResultFile:
    """One file of a job's result, as the service lists it."""

    key: str  # the service's name for it ("GFF3", "hypotheticals_tsv")
    suffix: str  # the Bakta command line's (`<sample>.<suffix>`); the key itself when unknown
    link: object  # a presigned URL, unless the service sent something else (null...)

    def problem(self) -> str | None:
        """Why this file cannot be fetched, or None."""
        if not SUFFIX.fullmatch(self.suffix) or ".." in self.suffix:
            return (
                f"the service lists a result file under the key {self.key!r},"
                " which cannot name a file"
            )
        if not isinstance(self.link, str) or not self.link.strip():
            return f"the service gave no link for its {self.key} file (it sent {self.link!r})"
        return None


def result_files(listed: object, suffixes: dict[str, str]) -> dict[str, ResultFile]:
    """A job/result answer's files by suffix; `suffixes` names the API's known keys."""
    if not isinstance(listed, dict):
        return {}
    files = [
        ResultFile(str(key), suffixes.get(key, str(key)), link) for key, link in listed.items()
    ]
    return {file.suffix: file for file in files}


class Endpoints:
    """What v1 and v2 share: the version, and job/list, job/result and job/delete, which
    differ only in how the job id is spelt."""

    api: str
    id_key: str  # "jobID" (v1) or "job_id" (v2)

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def version(self) -> dict[str, str]:
        return dict(self.http.json("GET", "/version"))

    def list(self, jobs: Iterable[dict[str, str]]) -> dict[str, Any]:
        return dict(self.http.json("POST", "/job/list", json={"jobs": list(jobs)}, idempotent=True))

    def start_once(self, job: dict[str, str], start: Callable[[], None]) -> None:
        """Send job/start (`start`) until the service has started the job, and never twice.

        A job/start that got no answer, or a gateway's 429/502/503/504, may have started the
        job or not; sent again after it did, it could start a second run of one genome (the
        backend's source shows nothing that would refuse it). job/list tells: a started job is
        listed, one never started is in neither list (backend). So after such a failure it
        is sent again only while job/list does not list the job; a job/list that does not
        know it (NOT_FOUND) ends the matter here: the first poll round says so.
        """
        job_id = job[self.id_key]
        for attempt in range(START_ATTEMPTS):
            try:
                start()
                return
            except NetworkError as failure:  # may have reached the service
                if attempt == START_ATTEMPTS - 1 or failure.status not in (
                    None,
                    429,
                    502,
                    503,
                    504,
                ):
                    raise
            deadline = self.http.deadline
            pause = START_PAUSE * 2**attempt
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline.remaining())))
            answer = self.list([job])
            listed = answer.get("jobs", []) + answer.get(
                "failedJobs", answer.get("failed_jobs", [])
            )
            if any(isinstance(e, dict) and str(e.get(self.id_key)) == job_id for e in listed):
                return

    def result(self, job: dict[str, str]) -> dict[str, Any]:
        return dict(
            self.http.json("POST", "/job/result", job=job[self.id_key], json=job, idempotent=True)
        )

    def delete(self, job: dict[str, str], *, until: float) -> None:
        """Stop the job's workflow and forget it: one of a run's last calls, given up at
        `until` (time.monotonic()).

        backend: `DELETE /api/v1/job/delete?jobID=&secret=` (src/v1/api_paths.rs; not in the
        API docs): 200 also for an unknown job, 400 "Unauthorized" for a wrong secret; v2 the
        same with `job_id`.
        """
        job_id = job[self.id_key]
        params = {self.id_key: job_id, "secret": job["secret"]}
        self.http.request("DELETE", "/job/delete", job=job_id, params=params, last_call_until=until)


@dataclass(frozen=True)
class Workflow:
    """What every job of one run does: a v2 workflow kind, or v1's only one."""

    kind: str  # v2 workflow_kind; "bakta" for v1
    main_upload: str  # the upload kind of each job's own input
    config: dict[str, Any]
    uploads: dict[str, Path] = field(default_factory=dict)  # shared by all jobs of the run
    formats: tuple[str, ...] = FORMATS  # every file this workflow can give


class Api(Protocol):
    """One API version's side of the flow, so that one loop serves both."""

    label: str
    http: HttpClient

    def submit(
        self, name: str, label: str, path: Path, jobfile: JobFile
    ) -> dict[str, Any]: ...  # label: the job's name on the service (options.job_name)
    def ref(self, record: dict[str, Any]) -> dict[str, str]: ...
    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]: ...
    def result_files(self, ref: dict[str, str]) -> dict[str, ResultFile]: ...
    def failure(self, ref: dict[str, str]) -> Failure: ...
    def log_text(self, ref: dict[str, str]) -> str | None: ...
    def delete(self, ref: dict[str, str], *, until: float) -> None: ...
