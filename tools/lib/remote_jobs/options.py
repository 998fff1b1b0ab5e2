"""Options shared by several commands, defined once as decorators (planemo's layout)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from .errors import InputError
from .polling import Deadline

F = TypeVar("F", bound=Callable[..., Any])


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


outdir_option = click.option(
    "--outdir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the result files (created if missing); a run replaces no file in it that"
    " it did not write.",
)


@dataclass(frozen=True)
class Cassettes:
    """--record-cassette and --replay-cassette (at most one of them is given)."""

    record: Path | None
    replay: Path | None


@dataclass(frozen=True)
class RunSettings:
    """What every command that runs a remote job takes besides its inputs (run_options)."""

    job_file: Path | None
    timeout: float
    poll_interval: float | None
    http_timeout: float
    cassettes: Cassettes
    deadline: Deadline  # --timeout, counted from the command's start


POLL_INTERVAL_VARIABLE = "REMOTE_JOBS_POLL_INTERVAL"
_SECONDS = click.FloatRange(min=0)


def _poll_interval(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """--poll-interval, or REMOTE_JOBS_POLL_INTERVAL: a bad value in the environment is an
    admin's setting, refused in one line naming it (exit 2), not a usage error."""
    if value is None:
        return None
    try:
        return float(_SECONDS.convert(value, param, ctx))
    except click.BadParameter:
        if ctx.get_parameter_source(str(param.name)) is not ParameterSource.ENVIRONMENT:
            raise
        raise InputError(
            "remote-jobs",
            f"{POLL_INTERVAL_VARIABLE} must be a number of seconds (0 or more), not {value!r}",
        ) from None


_record_cassette_option = click.option(
    "--record-cassette",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record every HTTP exchange of this run into a vcrpy cassette (secrets removed).",
)
_replay_cassette_option = click.option(
    "--replay-cassette",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay a recorded cassette: no network, no waiting; an unrecorded request fails."
    " Refused where REMOTE_JOBS_REPLAY is off (or false, no, 0, disabled).",
)


def cassette_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The cassette options, handed to the command as one value `cassettes: Cassettes`."""

    @functools.wraps(function)
    def collect(
        *args: Any, record_cassette: Path | None, replay_cassette: Path | None, **kwargs: Any
    ) -> Any:
        return function(*args, cassettes=Cassettes(record_cassette, replay_cassette), **kwargs)

    return _record_cassette_option(_replay_cassette_option(collect))


def run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The job file, waiting, HTTP and cassette options, handed to the command as one value
    `run: RunSettings`."""

    @functools.wraps(function)
    def collect(
        *args: Any,
        job_file: Path | None,
        timeout: float,
        poll_interval: float | None,
        http_timeout: float,
        record_cassette: Path | None,
        replay_cassette: Path | None,
        **kwargs: Any,
    ) -> Any:
        cassettes = Cassettes(record_cassette, replay_cassette)
        deadline = Deadline.after(timeout)
        run = RunSettings(job_file, timeout, poll_interval, http_timeout, cassettes, deadline)
        return function(*args, run=run, **kwargs)

    options = _compose(
        click.option(
            "--job-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Remember the remote job here; running again with the same file re-attaches to"
            " it instead of submitting anew. Readable by its owner only.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1),
            default=86400.0,
            show_default=True,
            help="Give up after this many seconds in all.",
        ),
        click.option(
            "--poll-interval",
            envvar=POLL_INTERVAL_VARIABLE,
            metavar="SECONDS",
            callback=_poll_interval,
            help="Poll at this fixed interval in seconds instead of the service's growing one"
            " (Bakta: 15 s, then 1.5 x longer each round, up to 60 s). An admin sets it for"
            f" every job with {POLL_INTERVAL_VARIABLE} (e.g. in a Galaxy destination's env) to"
            " ask the service less often; replays never wait.",
        ),
        click.option(
            "--http-timeout",
            type=click.FloatRange(min=0.1),
            default=60.0,
            show_default=True,
            help="Read time-out of each HTTP request, in seconds.",
        ),
        _record_cassette_option,
        _replay_cassette_option,
    )
    return options(collect)


resubmit_option = click.option(
    "--resubmit",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="Submit a job again, N times at most, when it failed inside the service and not on its"
    " input; 0: never. Told by the job's log: on API v1 only the service's generic 'Internal"
    " server error', none of Bakta's words; on API v2 no stage that failed with a log of its own"
    " (none failed, or the failed one's log is empty or that generic error). A job the service"
    " gives no log of is never submitted again.",
)

gencode_option = click.option(
    "--gencode",
    type=int,
    required=True,
    help="NCBI genetic code; checked against the server's list (mfannotweb gencodes).",
)

expect_file_option = click.option(
    "--expect-file",
    "expect",
    multiple=True,
    metavar="GLOBS",
    help="Fail (exit 4, nothing written) unless a result file matches one of these"
    " comma-separated globs, e.g. '*.gff,*.gff3' (repeatable).",
)
