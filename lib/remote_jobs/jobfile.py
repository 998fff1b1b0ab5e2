"""The job file: what a restarted run needs to re-attach to its remote jobs.

It may hold a per-job secret (Bakta's), so it is created readable by its owner only
and replaced atomically, never left half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError


class JobFile:
    """A small JSON document: {"service": ..., "fingerprint": ..., "jobs": {name: {...}}}."""

    def __init__(self, path: Path | None, service: str, fingerprint: Callable[[], str]) -> None:
        self.path = path
        self.service = service
        # Reading every input again costs time: only a job file needs the fingerprint.
        self.fingerprint = fingerprint() if path is not None else ""
        self.jobs: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists() and path.stat().st_size > 0:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(self.service, f"cannot read job file {path}: {exc}") from None
        if data.get("service") != self.service or data.get("fingerprint") != self.fingerprint:
            raise InputError(
                self.service,
                f"job file {path} belongs to another run (different service, inputs or options);"
                " remove it or use another --job-file",
            )
        self.jobs = data.get("jobs", {})

    def get(self, name: str) -> dict[str, Any] | None:
        return self.jobs.get(name)

    def put(self, name: str, record: dict[str, Any]) -> None:
        self.jobs[name] = record
        self.save()

    def drop(self, name: str) -> None:
        """Forget a remote job that no longer exists: running again submits a new one."""
        if self.jobs.pop(name, None) is not None:
            self.save()

    @property
    def resumable(self) -> bool:
        return self.path is not None

    def save(self) -> None:
        if self.path is None:
            return
        document = {"service": self.service, "fingerprint": self.fingerprint, "jobs": self.jobs}
        directory = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(document, out, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
