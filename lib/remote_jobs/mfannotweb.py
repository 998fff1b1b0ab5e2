"""MFannotWeb API (v1): MFannot organelle genome annotation and RNAweasel RNA model search.

submit (with an Idempotency-Key, so a retried submit cannot create a second job) ->
follow the job's event stream (falling back to polling when it breaks) -> fetch the
result archive, verify it against the SHA-256 manifest and extract it safely.
"""

from __future__ import annotations

import hashlib
import json
import stat
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import InputError, Interrupted, NetworkError, RemoteJobError, RemoteJobsError
from .fasta import ACGTUN, read_fasta
from .files import staged
from .jobfile import JobFile
from .polling import PollPolicy, Progress, Waiter

if TYPE_CHECKING:  # requests is slow to import: only commands that talk to a service load it
    from .http import HttpClient

SERVICE = "mfannotweb"
DEFAULT_URL = "https://megasun.bch.umontreal.ca/apps/mfannotweb/api/v1"
KINDS = ("mfannot", "rnaweasel")
POLL = PollPolicy(initial=10.0, maximum=60.0)  # only when the event stream is unavailable
SLOT_POLL = PollPolicy(initial=30.0, maximum=120.0)  # waiting for a free concurrency slot
EVENT_READ_TIMEOUT = 60.0  # the server sends a keep-alive every ~15 s
FAILED = frozenset({"failed", "cancelled", "expired"})
MAX_EXTRACTED_BYTES = 2 << 30  # an archive may not unpack to more than this
MAX_RATIO = 200  # nor any entry compress better than this (zip bombs do)
ARCHIVE = "results.zip"


class MfannotWebClient:
    """The /api/v1 endpoints, one method each. Auth: a bearer token with scopes."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def gencodes(self) -> dict[int, str]:
        table = self.http.json("GET", "/pipelines/gencodes")
        return {int(code): str(name) for code, name in table.items()}

    def rna_models(self) -> list[str]:
        return [
            str(model) for model in self.http.json("GET", "/pipelines/rnaweasel/models")["models"]
        ]

    def usage(self) -> dict[str, Any]:
        return dict(self.http.json("GET", "/me/usage"))

    def submit(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        # Safe to retry: the server returns the original job for a reused key.
        headers = {"Idempotency-Key": idempotency_key}
        return dict(self.http.json("POST", "/jobs", json=body, headers=headers, idempotent=True))

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.http.json("GET", f"/jobs/{job_id}", job=job_id))

    def cancel(self, job_id: str, *, before_exit: bool = False) -> dict[str, Any]:
        answer = self.http.request(
            "POST", f"/jobs/{job_id}/cancel", job=job_id, idempotent=True, before_exit=before_exit
        )
        return dict(self.http.parse_json(answer, job_id)) if answer.content else {}


def check_gencode(client: MfannotWebClient, gencode: int) -> None:
    table = client.gencodes()
    if gencode not in table:
        known = ", ".join(str(code) for code in sorted(table))
        raise InputError(SERVICE, f"genetic code {gencode} is not offered (known: {known})")


def order_models(client: MfannotWebClient, requested: list[str]) -> list[str]:
    """The requested RNA models, checked and put in the server's (significant) order."""
    available = client.rna_models()
    unknown = [model for model in requested if model not in available]
    if unknown or not requested:
        what = f"unknown RNA model(s) {', '.join(unknown)}" if unknown else "no RNA model given"
        raise InputError(SERVICE, f"{what} (known: {', '.join(available)})")
    return [model for model in available if model in requested]


def run(
    client: MfannotWebClient,
    kind: str,
    fasta: Path,
    gencode: int,
    rna: list[str],
    outdir: Path,
    *,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> list[Path]:
    """Run one MFannot or RNAweasel job; returns the files written into `outdir`."""
    read_fasta(fasta, service=SERVICE, alphabet=ACGTUN)
    check_gencode(client, gencode)
    models = order_models(client, rna) if kind == "rnaweasel" else []
    record = jobfile.get(kind) or {}
    if record.get("id"):
        job_id = str(record["id"])
        progress.info(SERVICE, f"{kind}: re-attached to job {job_id}")
    else:
        # The key is stored before the first attempt: even a restarted run cannot submit twice.
        record = {"idempotency_key": record.get("idempotency_key") or str(uuid.uuid4())}
        jobfile.put(kind, record)
        body = {
            "kind": kind,
            "gencode": gencode,
            "rna": models,
            "input_filename": fasta.name[:255],
            "fasta": fasta.read_text(encoding="ascii"),
        }
        job_id = _submit(client, body, record["idempotency_key"], waiter, progress)
        jobfile.put(kind, {**record, "id": job_id})
    try:
        _wait(client, kind, job_id, waiter, progress)
    except Interrupted as stop:
        if stop.keeps_remote_jobs(jobfile.resumable):
            progress.info(
                SERVICE, f"job {job_id} is kept; run again with the same --job-file to re-attach"
            )
        else:
            _cancel_if_queued(client, kind, job_id, jobfile, progress)
        raise
    return fetch_results(client, job_id, outdir, waiter)


def _submit(
    client: MfannotWebClient, body: dict[str, Any], key: str, waiter: Waiter, progress: Progress
) -> str:
    while True:
        try:
            job = client.submit(body, key)
            progress.state(SERVICE, str(job["id"]), str(job.get("status", "queued")))
            return str(job["id"])
        except RemoteJobsError as exc:
            if exc.code != "concurrency_limit_exceeded":
                raise
        progress.info(SERVICE, "all your job slots are busy; waiting for a free one")

        def slot_free() -> bool:
            usage = client.usage()
            return int(usage["concurrent_in_flight"]) < int(usage["concurrent_limit"])

        waiter.wait(SERVICE, SLOT_POLL, slot_free, "no free job slot")


def _cancel_if_queued(
    client: MfannotWebClient, kind: str, job_id: str, jobfile: JobFile, progress: Progress
) -> None:
    """The run was stopped for good; the API can cancel a job only while it is queued."""
    try:
        client.cancel(job_id, before_exit=True)
    except RemoteJobsError as exc:
        progress.info(SERVICE, f"could not cancel job {job_id}: {exc.message}")
        return
    jobfile.drop(kind)
    progress.info(SERVICE, f"cancelled queued job {job_id}")


def _failure(client: MfannotWebClient, job_id: str, fallback: str) -> RemoteJobError:
    try:
        job = client.job(job_id)
        words = f"{job.get('status')}: {job.get('error_msg') or fallback}"
    except RemoteJobsError:
        words = fallback
    return RemoteJobError(SERVICE, f"job ended {words}", job_id)


def _wait(
    client: MfannotWebClient, kind: str, job_id: str, waiter: Waiter, progress: Progress
) -> None:
    """Follow the event stream; poll the job instead if the stream is unavailable or breaks."""
    try:
        if _follow_events(client, job_id, waiter, progress):
            return
        progress.info(SERVICE, f"{job_id}: event stream ended early; polling instead")
    except NetworkError as exc:
        progress.info(SERVICE, f"{job_id}: event stream lost ({exc.message}); polling instead")

    def finished() -> bool:
        job = client.job(job_id)
        status = str(job.get("status"))
        progress.state(SERVICE, job_id, status)
        if status in FAILED:
            raise RemoteJobError(
                SERVICE, f"job ended {status}: {job.get('error_msg') or 'no message'}", job_id
            )
        return status == "done"

    waiter.wait(SERVICE, POLL, finished, f"{kind} job still running", job_id)


def _follow_events(
    client: MfannotWebClient, job_id: str, waiter: Waiter, progress: Progress
) -> bool:
    """True once the stream reports success; False if it ended without a verdict."""
    from .http import iter_sse

    try:
        response = client.http.request(
            "GET",
            f"/jobs/{job_id}/events",
            job=job_id,
            stream=True,
            read_timeout=EVENT_READ_TIMEOUT,
            headers={"Accept": "text/event-stream"},
        )
    except (NetworkError, RemoteJobError) as exc:  # no stream here: polling still works
        progress.info(SERVICE, f"{job_id}: no event stream ({exc.message}); polling instead")
        return False
    with response:
        for event, data in iter_sse(response, SERVICE, job_id):
            waiter.check_deadline(SERVICE, "job still running", job_id)
            payload = _json_or_text(data)
            if event == "status":
                progress.state(SERVICE, job_id, str(payload.get("status")))
            elif event == "stage":
                progress.state(SERVICE, f"{job_id} stage", str(payload.get("label")))
            elif event == "done":
                progress.state(SERVICE, job_id, "done")
                return True
            elif event == "error":
                raise _failure(client, job_id, str(payload.get("error_msg") or data))
    return False


def _json_or_text(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"text": data}
    return value if isinstance(value, dict) else {"value": value}


def fetch_results(
    client: MfannotWebClient, job_id: str, outdir: Path, waiter: Waiter
) -> list[Path]:
    """Download results.zip, verify every entry against the manifest, extract it safely."""
    job = client.job(job_id)
    links = job.get("links") or {}
    results_link = links.get("results") or f"/jobs/{job_id}/results"
    download_link = links.get("download") or f"/jobs/{job_id}/download"
    manifest: dict[str, dict[str, Any]] = {}

    def ready() -> bool:
        try:
            files = client.http.json("GET", _api_path(client, results_link), job=job_id)["files"]
        except RemoteJobsError as exc:
            if exc.code == "archive_not_ready":
                return False
            raise
        manifest.update({str(entry["name"]): entry for entry in files})
        return True

    waiter.wait(SERVICE, POLL, ready, "result archive not ready", job_id)
    with staged(outdir, last=ARCHIVE) as partial:
        archive = client.http.download(
            _api_path(client, download_link), partial / ARCHIVE, job=job_id
        )
        names = extract_verified(archive, manifest, partial, job_id)
    return [outdir / name for name in names] + [outdir / ARCHIVE]


def _api_path(client: MfannotWebClient, link: str) -> str:
    """Links are absolute paths from the host ('/api/v1/...'); our base ends in /api/v1."""
    prefix = "/api/v1"
    if link.startswith(prefix) and client.http.base_url.endswith(prefix):
        return link[len(prefix) :]
    return link


def extract_verified(
    archive: Path, manifest: dict[str, dict[str, Any]], dest: Path, job_id: str
) -> list[str]:
    """Extract `archive` into `dest`, refusing anything that could escape it or blow it up."""

    def refuse(why: str) -> RemoteJobError:
        return RemoteJobError(SERVICE, f"result archive refused: {why}", job_id)

    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise refuse("not a zip file") from None
    with zf:
        entries = [info for info in zf.infolist() if not info.is_dir()]
        total = 0
        for info in entries:
            path = PurePosixPath(info.filename)
            if info.filename.startswith(("/", "\\")) or ".." in path.parts or ":" in info.filename:
                raise refuse(f"unsafe entry name {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise refuse(f"{info.filename} is a symbolic link")
            total += info.file_size
            if total > MAX_EXTRACTED_BYTES:
                raise refuse(f"unpacks to more than {MAX_EXTRACTED_BYTES} bytes")
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise refuse(
                    f"{info.filename} compresses {info.file_size // max(info.compress_size, 1)}:1"
                )
        names = [info.filename for info in entries]
        if sorted(names) != sorted(manifest):
            extra = sorted(set(names) ^ set(manifest))
            raise refuse(f"archive and manifest list different files: {', '.join(extra)[:200]}")
        for info in entries:
            expected = manifest[info.filename]
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            with zf.open(info) as source, open(target, "wb") as out:
                for block in iter(lambda: source.read(1 << 20), b""):
                    size += len(block)
                    if size > info.file_size:
                        raise refuse(f"{info.filename} is larger than its header says")
                    digest.update(block)
                    out.write(block)
            if size != int(expected["size_bytes"]) or digest.hexdigest() != expected["sha256"]:
                raise RemoteJobError(
                    SERVICE,
                    f"{info.filename}: size or SHA-256 does not match the manifest",
                    job_id,
                )
    return names
