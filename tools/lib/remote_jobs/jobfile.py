"""The job file: what a restarted run needs to re-attach to its remote jobs.

It may hold a per-job secret (Bakta's), so it is created readable by its owner only
and replaced atomically, never left half-written: each version is on disk (fsync, of the file
and of its folder) before it replaces the one before. A run holds a lock on it (an flock on
`<job file>.lock` beside it) from its first look until it ends: two runs with one job file
would each submit a job of their own, and remember one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError, RemoteJobError
from .files import flock
from .polling import Progress


class JobFileError(InputError):
    """The job file cannot be used: not the runner's, or it cannot be read or written.

    Checked before anything is sent; should writing it fail later (a full disk), the run's
    remote jobs are deleted, since nothing would remember them for a rerun.
    """


class JobFile:
    """A small JSON document: {"service": ..., "fingerprint": ..., "jobs": {name: {...}}}."""

    def __init__(self, path: Path | None, service: str, fingerprint: Callable[[], str]) -> None:
        self.path = path
        self.service = service
        self.jobs: dict[str, dict[str, Any]] = {}
        self.fingerprint = ""
        if path is None:
            return
        document = self.check(path, service)
        # Reading every input again costs time: only a job file needs the fingerprint.
        self.fingerprint = fingerprint()
        if document is None:
            return
        if document["service"] != service or document["fingerprint"] != self.fingerprint:
            raise JobFileError(
                service,
                f"job file {path} belongs to another run (different service, inputs or options);"
                " remove it or use another --job-file",
            )
        self.jobs = document["jobs"]

    @staticmethod
    def check(path: Path, service: str) -> dict[str, Any] | None:
        """Before anything is sent: the job file's folder exists and takes files, no other run
        uses the job file (this run holds its lock from now on), and an existing job file is
        one of the runner's. Returns its document (None: a new file)."""
        where = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise JobFileError(service, f"job file {path} is a folder")
        if not where.is_dir():
            raise JobFileError(service, f"the folder of job file {path} does not exist")
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=where)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise JobFileError(service, f"cannot write job file {path}: {exc.strerror}") from None
        _lock(path, service)
        if not path.exists():
            return None
        if path.stat().st_size == 0:  # never one the runner wrote: it writes whole documents
            raise JobFileError(
                service,
                f"job file {path} is empty, not a job file of the runner; remove it or use"
                " another --job-file",
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise JobFileError(service, f"cannot read job file {path}: {exc}") from None
        jobs = document.get("jobs") if isinstance(document, dict) else None
        if not (
            isinstance(document, dict)
            and isinstance(document.get("service"), str)
            and isinstance(document.get("fingerprint"), str)
            and isinstance(jobs, dict)
            and all(isinstance(record, dict) for record in jobs.values())
        ):
            raise JobFileError(
                service,
                f"job file {path} is not a remote-jobs job file (a JSON object with service,"
                " fingerprint and jobs); remove it or use another --job-file",
            )
        return document

    def get(self, name: str) -> dict[str, Any] | None:
        return self.jobs.get(name)

    def put(self, name: str, record: dict[str, Any]) -> None:
        self.jobs[name] = record
        self.save()

    def drop(self, *names: str) -> None:
        """Forget remote jobs that no longer exist: running again submits new ones."""
        if [name for name in names if self.jobs.pop(name, None) is not None]:
            self.save()

    @property
    def resumable(self) -> bool:
        return self.path is not None

    def save(self) -> None:
        if self.path is None:
            return
        document = {"service": self.service, "fingerprint": self.fingerprint, "jobs": self.jobs}
        directory = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)  # mode 0600
        except OSError as exc:
            raise JobFileError(
                self.service, f"cannot write job file {self.path}: {exc.strerror}"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
                out.flush()
                os.fchmod(out.fileno(), 0o600)
                os.fsync(out.fileno())  # on disk before it replaces the one before
            os.replace(tmp, self.path)
            _sync_folder(directory)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise JobFileError(
                self.service, f"cannot write job file {self.path}: {exc.strerror}"
            ) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# The locks this process holds, by job file: released when it ends, however it ends.
_LOCKS: dict[str, int] = {}


def _lock(path: Path, service: str) -> None:
    """Holds an flock on `<path>.lock` until the process ends; another run holding it stops
    this one (exit 2) before anything is sent."""
    key = str(path.absolute())
    if key in _LOCKS:
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise JobFileError(service, f"cannot write {lock_path}: {exc.strerror}") from None
    if flock(lock, wait=False) is False:
        os.close(lock)
        raise JobFileError(
            service,
            f"job file {path} is in use by another run (it holds {lock_path.name}); wait for"
            " that run to end, or use another --job-file",
        )
    _LOCKS[key] = lock  # held (or a file system without locks: run unguarded, as before)


def _sync_folder(directory: Path) -> None:
    """The folder's entry for a replaced file on disk too (a crash could lose the rename)."""
    try:
        folder = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass  # a file system that cannot sync folders (EINVAL): nothing more can be done
    finally:
        os.close(folder)


T = TypeVar("T")


def recorded_job(
    jobfile: JobFile, name: str, look: Callable[[str], T], progress: Progress
) -> T | None:
    """The job the job file names under `name`, as `look(job_id)` finds it on the service.

    None when there is none, or when the service answers 404 for it (expired, or purged):
    then it is forgotten, and the caller submits afresh.
    """
    job_id = str((jobfile.get(name) or {}).get("id") or "")
    if not job_id:
        return None
    try:
        found = look(job_id)
    except RemoteJobError as exc:
        if exc.status != 404:
            raise
        jobfile.drop(name)
        message = f"{name}: the service no longer knows job {job_id}; submitting it afresh"
        progress.info(jobfile.service, message)
        return None
    progress.info(jobfile.service, f"{name}: re-attached to job {job_id}")
    return found


def results_in(record: dict[str, Any] | None, folder: Path) -> dict[str, int]:
    """The result files (name in `folder` -> size when fetched) that a job's record says an
    earlier run wrote into `folder`; none for another folder."""
    record = record or {}
    files = record.get("files")
    if record.get("folder") != str(folder.absolute()) or not isinstance(files, dict):
        return {}
    return {str(name): int(size) for name, size in files.items()}


def fingerprint(*parts: object, files: tuple[Path | None, ...] = ()) -> str:
    """A digest of a run's options and input contents: a job file only resumes the same run."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in files:
        if path is None:
            digest.update(b"-")
            continue
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
