"""MFannotWeb API (v1): MFannot organelle genome annotation and RNAweasel RNA model search.

submit (with an Idempotency-Key, so a retried submit cannot create a second job) ->
follow the job's event stream (falling back to polling when it breaks) -> fetch the
result archive, verify it against the SHA-256 manifest and extract it safely.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import json
import stat
import time
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import (
    FAILURE_GRACE,
    AuthError,
    InputError,
    Interrupted,
    NetworkError,
    OutOfTime,
    RemoteJobError,
    RemoteJobsError,
)
from .fasta import ACGTUN, read_fasta
from .files import STAGING, refuse_existing, staged
from .jobfile import JobFile, JobFileError, recorded_job, results_in
from .polling import PollPolicy, Progress, Waiter

if TYPE_CHECKING:  # requests is slow to import: only commands that talk to a service load it
    import requests

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
RESERVED = frozenset({ARCHIVE, STAGING})  # names the runner itself writes in the output folder
SCOPES = ("jobs:read", "jobs:write", "jobs:cancel")


@dataclass
class Job:
    """A job as the server last described it; `links` are absolute URLs, null links left out."""

    id: str
    status: str
    error_msg: str | None = None
    links: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: dict[str, Any], url: str) -> Job:
        """The job object of the API docs; its links resolved against `url`, where it came from."""
        from .http import resolve_link

        links = document.get("links") or {}
        return cls(
            id=str(document["id"]),
            status=str(document.get("status")),
            error_msg=document.get("error_msg"),
            links={key: resolve_link(url, str(link)) for key, link in links.items() if link},
        )


class MfannotWebClient:
    """The /api/v1 endpoints, one method each. Auth: a bearer token with scopes.

    The server's `links` are followed as the API docs ask; a URL is built from the documented
    paths only for the first look at a job known by its id (a re-attached run).
    """

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def whoami(self) -> dict[str, Any]:
        return dict(self.http.json("GET", ""))

    def gencodes(self) -> dict[int, str]:
        table = self.http.json("GET", "/pipelines/gencodes")
        return {int(code): str(name) for code, name in table.items()}

    def rna_models(self) -> list[str]:
        return [
            str(model) for model in self.http.json("GET", "/pipelines/rnaweasel/models")["models"]
        ]

    def usage(self) -> dict[str, Any]:
        return dict(self.http.json("GET", "/me/usage"))

    def _job_at(self, method: str, url: str, job: str | None, **kwargs: Any) -> Job:
        response = self.http.request(method, url, job=job, **kwargs)
        return Job.parse(self.http.parse_json(response, job), response.url)

    def submit(self, body: dict[str, Any], idempotency_key: str) -> Job:
        # Safe to retry: the server returns the original job for a reused key.
        headers = {"Idempotency-Key": idempotency_key}
        return self._job_at("POST", "/jobs", None, json=body, headers=headers, idempotent=True)

    def job(self, job: Job | str) -> Job:
        """The job again, from its `self` link (or the documented path for a bare id)."""
        if isinstance(job, Job):
            return self._job_at("GET", job.links.get("self") or f"/jobs/{job.id}", job.id)
        return self._job_at("GET", f"/jobs/{job}", job)

    def cancel(self, job: Job, *, until: float | None = None) -> None:
        """Cancel a queued job; `until`: one of a run's last calls, given up then."""
        link = job.links.get("cancel") if job.status == "queued" else None
        if link is None:
            raise RemoteJobError(
                SERVICE, f"the service offers no cancel for a {job.status} job", job.id
            )
        self.http.request("POST", link, job=job.id, idempotent=True, last_call_until=until)

    def events(self, job: Job) -> requests.Response:
        return self.http.request(
            "GET",
            job.links.get("events") or f"/jobs/{job.id}/events",
            job=job.id,
            stream=True,
            read_timeout=EVENT_READ_TIMEOUT,
            headers={"Accept": "text/event-stream"},
        )


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


def token_scopes(identity: dict[str, Any]) -> set[str]:
    """The scopes of the identity `GET /api/v1` describes; "*" (a cookie identity) holds all."""
    scopes = {str(scope) for scope in identity.get("scopes") or ()}
    return set(SCOPES) | scopes if "*" in scopes else scopes


def scope_error(scopes: set[str], missing: list[str], api_url: str, whose: str) -> AuthError:
    """The token lacks scopes a run needs: which, what it has, and where to make a new one."""
    have = ", ".join(sorted(scopes)) or "none"
    return AuthError(
        SERVICE,
        f"{whose} lacks the scope {' and '.join(missing)} (it has: {have}); create a token"
        f" with the scopes {', '.join(SCOPES)} under API tokens in your MFannotWeb account"
        f" at {web_address(api_url)}",
    )


def check_scopes(client: MfannotWebClient, needed: tuple[str, ...], progress: Progress) -> None:
    """Fail before anything is sent when the token lacks a scope the run needs (GET /api/v1)."""
    try:
        identity = client.whoami().get("identity") or {}
    except RemoteJobError:  # a server without the whoami route: its answers will tell
        return
    scopes = token_scopes(identity)
    if missing := [scope for scope in needed if scope not in scopes]:
        raise scope_error(scopes, missing, client.http.base_url, "your token")
    if "jobs:cancel" not in scopes:
        progress.info(SERVICE, "your token lacks jobs:cancel: a stopped run cannot cancel its job")


def web_address(api_url: str) -> str:
    """Where users manage their tokens: the instance's address, without its /api/v1."""
    return api_url.rstrip("/").removesuffix("/api/v1") or api_url


def run(
    client: MfannotWebClient,
    kind: str,
    fasta: Path,
    gencode: int,
    rna: list[str],
    outdir: Path,
    *,
    expect: tuple[str, ...] = (),
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> list[Path]:
    """Run one MFannot or RNAweasel job; returns the files written into `outdir`.

    `expect`: comma-separated globs; the run fails unless a result file matches each.
    """
    read_fasta(fasta, service=SERVICE, alphabet=ACGTUN)
    record = jobfile.get(kind) or {}
    # The archive's presence means "complete": one already there is another run's results.
    # An earlier run's results, which this run's may replace (even if its job is forgotten).
    ours = set(results_in(record, outdir))
    refuse_existing(outdir, [ARCHIVE], SERVICE, ours)
    resuming = bool(record.get("id"))
    check_scopes(client, ("jobs:read",) if resuming else ("jobs:read", "jobs:write"), progress)
    check_gencode(client, gencode)
    models = order_models(client, rna) if kind == "rnaweasel" else []
    job = recorded_job(jobfile, kind, client.job, progress) if resuming else None
    if job is None:
        body = {
            "kind": kind,
            "gencode": gencode,
            "rna": models,
            "input_filename": fasta.name[:255],
            # UTF-8 (description lines may hold any text; read_fasta checked the rest); JSON
            # carries it as it is.
            "fasta": fasta.read_text(encoding="utf-8-sig"),
        }
        job = _submit(client, kind, body, jobfile, waiter, progress)
    try:
        jobfile.put(kind, {**(jobfile.get(kind) or {}), "id": job.id})
        _wait(client, kind, job, waiter, progress)
    except Interrupted as stop:
        if stop.keeps_remote_jobs(jobfile.resumable):
            progress.info(
                SERVICE, f"job {job.id} is kept; run again with the same --job-file to re-attach"
            )
        else:
            _cancel_if_queued(client, kind, job, jobfile, progress, until=stop.cleanup_until)
        raise
    except Exception as failure:  # the run fails: a job still queued would run for nobody
        kept = jobfile.resumable and not isinstance(failure, JobFileError)
        if kept:
            fate = f"kept in {jobfile.path} for a rerun with it"
        elif job.status == "queued":
            until = time.monotonic() + FAILURE_GRACE
            fate = _cancel_if_queued(client, kind, job, jobfile, progress, until=until)
        else:
            fate = f"not cancelled (the service cancels only queued jobs, this one is {job.status})"
        if isinstance(failure, OutOfTime):  # say what became of the job, not the last request
            raise failure.leaving([f"job {job.id} still {job.status}, {fate}"]) from None
        raise
    files = fetch_results(client, job, outdir, waiter, expect, ours)
    written = {path.relative_to(outdir).as_posix(): path.stat().st_size for path in files}
    record = {**(jobfile.get(kind) or {}), "folder": str(outdir.absolute()), "files": written}
    jobfile.put(kind, record)
    return files


def _submit(
    client: MfannotWebClient,
    kind: str,
    body: dict[str, Any],
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> Job:
    """Submit with an Idempotency-Key, on record before each attempt: a restarted run resends
    the same key, and the server answers with the job it made for it instead of a second."""
    key = str((jobfile.get(kind) or {}).get("idempotency_key") or uuid.uuid4())
    refusals = 0
    while True:
        jobfile.put(kind, {"idempotency_key": key})
        try:
            job = client.submit(body, key)
            progress.state(SERVICE, job.id, job.status)
            return job  # the caller puts it on record
        except RemoteJobsError as exc:
            if exc.code != "concurrency_limit_exceeded":
                raise
        # Refused: no job was made. A server may keep that answer for the key (the IETF
        # Idempotency-Key draft allows caching errors): the next try gets a new key.
        key = str(uuid.uuid4())
        refusals += 1
        progress.info(SERVICE, "all your job slots are busy; waiting for a free one")

        def slot_free() -> bool:
            usage = client.usage()
            return int(usage["concurrent_in_flight"]) < int(usage["concurrent_limit"])

        # Refused again though the usage said a slot was free: wait a round before asking.
        waiter.wait(SERVICE, SLOT_POLL, slot_free, "no free job slot", pause_first=refusals > 1)


def _cancel_if_queued(
    client: MfannotWebClient,
    kind: str,
    job: Job,
    jobfile: JobFile,
    progress: Progress,
    *,
    until: float,
) -> str:
    """The run ends for good; the API can cancel a job only while it is queued. One last call,
    answered by `until` (time.monotonic()) or given up. Returns what became of the job."""
    from .http import at_once

    why = at_once({job.id: functools.partial(client.cancel, job, until=until)}, until)[job.id]
    if why is not None:
        progress.info(SERVICE, f"could not cancel job {job.id}: {why}")
        return f"not cancelled ({why})"
    progress.info(SERVICE, f"cancelled queued job {job.id}")
    # A job file that could not be written before cannot be now: the run says so already.
    with contextlib.suppress(JobFileError):
        jobfile.drop(kind)
    return "cancelled"


def _failure(client: MfannotWebClient, job: Job, fallback: str) -> RemoteJobError:
    try:
        latest = client.job(job)
        words = f"{latest.status}: {latest.error_msg or fallback}"
    except (RemoteJobError, AuthError, NetworkError):
        words = fallback
    return RemoteJobError(SERVICE, f"job ended {words}", job.id)


def _wait(
    client: MfannotWebClient, kind: str, job: Job, waiter: Waiter, progress: Progress
) -> None:
    """Until the job is done. Follows the event stream; polls if it is unavailable or breaks.

    `job` is kept up to date (its status, and its links when polled): a stopped run cancels
    from it.
    """
    if job.status not in FAILED | {"done"}:
        try:
            if _follow_events(client, job, waiter, progress):
                return
            progress.info(SERVICE, f"{job.id}: event stream ended early; polling instead")
        except OutOfTime:
            raise
        except NetworkError as exc:  # broken, or a line or an event past its bound
            progress.info(SERVICE, f"{job.id}: event stream lost ({exc.message}); polling instead")

    def finished() -> bool:
        latest = client.job(job)
        job.status, job.error_msg, job.links = latest.status, latest.error_msg, latest.links
        progress.state(SERVICE, job.id, job.status)
        if job.status in FAILED:
            raise RemoteJobError(
                SERVICE, f"job ended {job.status}: {job.error_msg or 'no message'}", job.id
            )
        return job.status == "done"

    if job.status == "done":
        return
    waiter.wait(SERVICE, POLL, finished, f"{kind} job still running", job.id)


def _follow_events(client: MfannotWebClient, job: Job, waiter: Waiter, progress: Progress) -> bool:
    """True once the stream reports success; False if it ended without a verdict.

    Acts on `done` and `error` the moment they arrive, even if the server keeps the stream
    open; keep-alive comments keep the --timeout checked.
    """
    from .http import resolve_link
    from .sse import iter_sse

    try:
        response = client.events(job)
    except OutOfTime:
        raise
    except (NetworkError, RemoteJobError) as exc:  # no stream here: polling still works
        progress.info(SERVICE, f"{job.id}: no event stream ({exc.message}); polling instead")
        return False
    with response:
        stream = iter_sse(
            response,
            SERVICE,
            job.id,
            deadline=client.http.deadline,
            read_timeout=EVENT_READ_TIMEOUT,
            what="job still running",
        )
        for event, data in stream:
            waiter.check_deadline(SERVICE, "job still running", job.id)
            payload = _json_or_text(data)
            if event == "status":
                job.status = str(payload.get("status"))
                progress.state(SERVICE, job.id, job.status)
            elif event == "stage":
                progress.state(SERVICE, f"{job.id} stage", str(payload.get("label")))
            elif event == "done":
                job.status = "done"
                progress.state(SERVICE, job.id, "done")
                if payload.get("download_url"):
                    link = resolve_link(response.url, str(payload["download_url"]))
                    job.links.setdefault("download", link)
                return True
            elif event == "error":
                job.status = str(payload.get("status") or "failed")
                raise _failure(client, job, str(payload.get("error_msg") or data))
    return False


def _json_or_text(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"text": data}
    return value if isinstance(value, dict) else {"value": value}


def fetch_results(
    client: MfannotWebClient,
    job: Job,
    outdir: Path,
    waiter: Waiter,
    expect: tuple[str, ...] = (),
    ours: set[str] | None = None,
) -> list[Path]:
    """Download results.zip, verify every entry against the manifest, extract it safely.

    `ours`: files of an earlier run of this job in `outdir`, which may be replaced."""
    hint = job.links.get("download")  # the done event's download_url, if it gave one
    latest = client.job(job)
    manifest: dict[str, dict[str, Any]] = {}

    def ready() -> bool:
        nonlocal latest
        link = latest.links.get("results")
        if link is None:  # the server offers no results yet: ask again next round
            latest = client.job(latest)
            return False
        try:
            files = client.http.json("GET", link, job=job.id)["files"]
        except RemoteJobsError as exc:
            if exc.code == "archive_not_ready":
                return False
            raise
        manifest.update({str(entry["name"]): entry for entry in files})
        return True

    waiter.wait(SERVICE, POLL, ready, "result archive not ready", job.id)
    download = latest.links.get("download") or hint
    if download is None:
        raise RemoteJobError(SERVICE, "the service gave no download link for the results", job.id)
    with staged(outdir, SERVICE, last=ARCHIVE, ours=ours or set()) as partial:
        archive = client.http.download(download, partial / ARCHIVE, job=job.id)
        names = extract_verified(archive, manifest, partial, job.id)
        _check_expected(names, expect, job.id)
    return [outdir / name for name in names] + [outdir / ARCHIVE]


def _check_expected(names: list[str], expect: tuple[str, ...], job_id: str) -> None:
    """Every expected kind of file is there, or the run fails naming the one that is not."""
    basenames = [PurePosixPath(name).name for name in names]
    for globs in expect:
        patterns = [glob.strip() for glob in globs.split(",") if glob.strip()]
        if not any(fnmatch.fnmatchcase(name, p) for name in basenames for p in patterns):
            raise RemoteJobError(
                SERVICE,
                f"the results hold no {' or '.join(patterns)} file"
                f" (they hold: {', '.join(sorted(names))[:300]})",
                job_id,
            )


def _collision_key(name: str) -> str:
    """Names that would land on one file on some file system (case, Unicode forms, './')."""
    return unicodedata.normalize("NFC", "/".join(PurePosixPath(name).parts)).casefold()


def extract_verified(
    archive: Path, manifest: dict[str, dict[str, Any]], dest: Path, job_id: str
) -> list[str]:
    """Extract `archive` into `dest`, refusing anything that could escape it or blow it up.

    No entry may replace the archive itself, the staging folder or another entry: names that
    collide (twice the same, a file and a folder of one name, names that differ only in case)
    are refused before anything is written.
    """

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
            if path.parts and path.parts[0].casefold() in RESERVED:
                raise refuse(f"{info.filename!r} would replace the runner's own {path.parts[0]}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise refuse(f"{info.filename} is a symbolic link")
            total += info.file_size
            if total > MAX_EXTRACTED_BYTES:
                raise refuse(f"unpacks to more than {MAX_EXTRACTED_BYTES} bytes")
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise refuse(
                    f"{info.filename} compresses {info.file_size // max(info.compress_size, 1)}:1"
                )
        _refuse_collisions(zf.infolist(), refuse)
        names = [info.filename for info in entries]
        if sorted(names) != sorted(manifest):
            extra = sorted(set(names) ^ set(manifest))
            raise refuse(f"archive and manifest list different files: {', '.join(extra)[:200]}")
        for info in entries:
            expected = manifest[info.filename]
            target = dest / info.filename
            digest = hashlib.sha256()
            size = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(target, "xb") as out:
                    for block in iter(lambda: source.read(1 << 20), b""):
                        size += len(block)
                        if size > info.file_size:
                            raise refuse(f"{info.filename} is larger than its header says")
                        digest.update(block)
                        out.write(block)
            except OSError as exc:
                raise refuse(f"{info.filename} cannot be written: {exc.strerror or exc}") from None
            if size != int(expected["size_bytes"]) or digest.hexdigest() != expected["sha256"]:
                raise RemoteJobError(
                    SERVICE,
                    f"{info.filename}: size or SHA-256 does not match the manifest",
                    job_id,
                )
    return names


def _refuse_collisions(infos: list[zipfile.ZipInfo], refuse: Any) -> None:
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    for info in infos:
        key = _collision_key(info.filename)
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), info.filename)
        if info.is_dir():
            folders.setdefault(key, info.filename)
        elif key in files:
            raise refuse(f"entries {files[key]!r} and {info.filename!r} have the same name")
        else:
            files[key] = info.filename
    for key, name in files.items():
        if key in folders:
            raise refuse(f"{name!r} is both a file and a folder")
