"""Errors that end a run: each carries the exit code documented in the README."""

from __future__ import annotations

from typing import ClassVar


class RemoteJobsError(Exception):
    """An error that ends the run with a one-line message and a distinct exit code."""

    exit_code = 1

    def __init__(
        self,
        service: str,
        message: str,
        job: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.service = service
        self.job = job
        self.message = " ".join(str(message).split())  # always one line
        self.status = status  # HTTP status, when the error is the server's answer
        self.code = code  # the server's machine-readable error code, if it sent one
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.service} job {self.job}" if self.job else self.service
        return f"{where}: {self.message}"


class InputError(RemoteJobsError):
    """Bad input file, option or setting: nothing was sent."""

    exit_code = 2


class AuthError(RemoteJobsError):
    """The service refused our credentials (401/403, wrong password, missing scope)."""

    exit_code = 3


class RemoteJobError(RemoteJobsError):
    """The service answered, but refused the request or the job failed."""

    exit_code = 4


class NetworkError(RemoteJobsError):
    """No usable answer: connection failures, time-outs, garbled responses."""

    exit_code = 5


class OutOfTime(NetworkError):
    """--timeout ran out (exit 5, as other time-outs); `step` is what the run was doing then.

    `named`: the step says why the run could not go on in time (a transfer cut short, the
    server's refusal that a retry would have outlasted the deadline to get past): it stays
    named when the service says instead what became of its remote jobs (`leaving`).
    """

    def __init__(
        self,
        service: str,
        seconds: float,
        step: str,
        job: str | None = None,
        *,
        named: bool = False,
    ) -> None:
        self.seconds, self.step, self.named = seconds, step, named
        super().__init__(service, f"gave up after --timeout {seconds:g} s: {step}", job)

    def leaving(self, jobs: list[str]) -> OutOfTime:
        """The same time-out, saying which remote jobs the run left and what became of each
        (`jobs`: one phrase per job, its id, state and fate), instead of the status request
        or the wait it ended; a `named` step stays named first. The phrases name the jobs:
        the error names none besides."""
        if not jobs:
            return self
        words = "; ".join(jobs)
        step = f"{self.step}; {words}" if self.named else words
        return OutOfTime(self.service, self.seconds, step, named=self.named)


# Galaxy sends SIGKILL about one second after SIGTERM (its local runner's kill_pg): a stopped
# run's last requests (deleting or cancelling its remote jobs) all go out at once and get this
# long, counted from the signal, whatever their number.
STOP_GRACE = 0.6
# After a failure, the run's jobs are deleted (or cancelled) the same way, with longer to answer.
FAILURE_GRACE = 5.0


class Interrupted(BaseException):
    """SIGTERM or SIGINT: Galaxy deleted the job or the user pressed Ctrl-C.

    Not a RemoteJobsError, nor even an Exception: like KeyboardInterrupt, no
    `except RemoteJobsError` or `except Exception` can swallow it, wherever it is raised
    (the signal handler raises it at whatever line runs). The CLI ends the run with it:
    exit code 6 and one line.
    """

    exit_code = 6

    # What sends SIGTERM to a Galaxy job: the user deleting it, or Galaxy itself stopping
    # (a restart with the local runner ends its jobs; docs/admin.md says how to keep them).
    CAUSES: ClassVar[dict[str, str]] = {
        "SIGTERM": " (the Galaxy job was deleted, or Galaxy was stopped)"
    }

    def __init__(self, signal_name: str, at: float) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.at = at  # time.monotonic() when the signal came

    def __str__(self) -> str:
        return f"remote-jobs: stopped by {self.signal_name}{self.CAUSES.get(self.signal_name, '')}"

    @property
    def cleanup_until(self) -> float:
        """When (time.monotonic()) the run's last requests must have been answered or given up."""
        return self.at + STOP_GRACE

    def keeps_remote_jobs(self, resumable: bool) -> bool:
        """Whether the remote jobs should outlive this run.

        SIGTERM is Galaxy deleting the job: its remote jobs go too. Ctrl-C on a run with a
        job file keeps them, since running again with that file re-attaches to them.
        """
        return resumable and self.signal_name == "SIGINT"
