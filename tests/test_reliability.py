"""Fault injection: the real `remote-jobs` command against scripted local services.

Each scenario checks the exit code, the message, what the server saw, and the files left.
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from remote_jobs.errors import Interrupted
from tests.conftest import (
    PASSWORD,
    ROOT,
    TOKEN,
    USERNAME,
    bakta_env,
    mfannotweb_env,
    run_cli,
    start_cli,
    stop,
    tree_text,
    wait_for,
)
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
from tests.fakes.server import Fault, Response, Trickle, json_response
from tests.test_codon import FITNESS, optimise
from tests.test_mfannotweb import mfannot

LIST = "/api/v1/job/list"


def annotate(server: FakeBakta, workdir: Path, *extra: str):
    args = ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--poll-interval", "0", *extra]
    return run_cli(args, bakta_env(server), cwd=workdir)


def only_complete_results(workdir: Path) -> list[str]:
    """What a user finds in out/: hidden partial folders would be a bug too."""
    out = workdir / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []


# ---------------------------------------------------------------- rate limits and outages


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_with_retry_after_is_honoured(
    bakta_server: FakeBakta, workdir: Path, form: str
) -> None:
    """Each retry waits as long as the server asked, at least (without it urllib3's backoff
    retries the first at once); only lower bounds: a slow machine only waits longer."""
    later = email.utils.format_datetime(
        datetime.now(timezone.utc) + timedelta(seconds=3), usegmt=True
    )
    retry_after = "1" if form == "seconds" else later
    too_many = json_response("Too many requests", 429, **{"Retry-After": retry_after})
    bakta_server.faults.append(Fault("POST", LIST, too_many, times=2))
    result = annotate(bakta_server, workdir, "--format", "gff3")
    assert result.returncode == 0, result.stderr
    lists = bakta_server.requests_to("POST", LIST)
    assert len(lists) == 2 + 5  # two refused, then the five rounds the job needs
    if form == "seconds":
        waits = [lists[1].received - lists[0].received, lists[2].received - lists[1].received]
        assert min(waits) >= 1.0, waits
    else:  # not before the date (whole seconds): both refusals named the same one
        date = email.utils.parsedate_to_datetime(later).timestamp()
        assert lists[1].received >= date and lists[2].received >= date
    assert only_complete_results(workdir) == ["genome", "genome/genome.gff3"]


def test_a_burst_of_502_503_504_is_ridden_out(bakta_server: FakeBakta, workdir: Path) -> None:
    for status in (502, 503, 504):
        bakta_server.faults.append(
            Fault("POST", LIST, Response(status, b"<html><title>Bad gateway</title></html>"))
        )
    result = annotate(bakta_server, workdir, "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert len(bakta_server.requests_to("POST", LIST)) == 3 + 5


def test_an_outage_that_lasts_ends_with_the_network_exit_code(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.faults.append(
        Fault(
            "POST",
            LIST,
            Response(503, b"<html><head><title>503 Service Unavailable</title></head></html>"),
            times=100,
        )
    )
    result = annotate(bakta_server, workdir)
    assert result.returncode == 5
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bakta: HTTP 503 from {bakta_server.base}/api/v1/job/list: 503 Service Unavailable"
    )
    assert len(bakta_server.requests_to("POST", LIST)) == 6  # one try and five retries, no storm
    assert only_complete_results(workdir) == []


def test_a_hung_server_is_left_after_the_read_timeout(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.faults.append(
        Fault("GET", "/api/v1/version", Response(200, b"{}", delay=30), times=100)
    )
    result = annotate(bakta_server, workdir, "--http-timeout", "0.3")
    assert result.returncode == 5
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bakta: GET {bakta_server.base}/api/v1/version: timed out: 127.0.0.1 accepted the"
        " connection but did not answer in time (read time-out); the service may be overloaded,"
        " or something in between holds the connection: try again later"
    )
    assert len(bakta_server.requests_to("GET", "/api/v1/version")) == 6


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "text/html",
            "text/html: 502 Bad Gateway",
        ),
        (b'{"jobs": [', "application/json", 'application/json: {"jobs": ['),
    ],
)
def test_html_or_broken_json_where_json_was_expected(
    bakta_server: FakeBakta, workdir: Path, body: bytes, content_type: str, words: str
) -> None:
    bakta_server.faults.append(
        Fault("POST", LIST, Response(200, body, {"Content-Type": content_type}))
    )
    result = annotate(bakta_server, workdir)
    assert result.returncode == 5
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: bakta: expected JSON from {bakta_server.base}/api/v1/job/list, got "
    )
    assert last.endswith(words)


# ---------------------------------------------------------------- transfers


def test_a_download_reset_midway_is_fetched_again_whole(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.faults.append(
        Fault("GET", "/bakta-web/jobs/", Response(200, b"##gff-version 3\n" * 500, reset_after=100))
    )
    result = annotate(bakta_server, workdir, "--format", "gff3")
    assert result.returncode == 0, result.stderr
    job = next(iter(bakta_server.jobs.values()))
    assert (workdir / "out" / "genome" / "genome.gff3").read_bytes() == job.results["GFF3"]
    assert only_complete_results(workdir) == ["genome", "genome/genome.gff3"]


def test_a_body_shorter_than_its_length_never_looks_finished(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    short = Response(200, b"##gff-version 3\n", content_length=5000)
    bakta_server.faults.append(Fault("GET", "/bakta-web/jobs/", short, times=3))
    result = annotate(bakta_server, workdir, "--format", "gff3")
    assert result.returncode == 5
    assert "genome.gff3" in result.stderr.splitlines()[-1]
    assert len(bakta_server.requests_to("GET", "/bakta-web/jobs/", prefix=True)) == 3
    assert only_complete_results(workdir) == []


def test_an_expired_upload_link_fails_with_the_storage_services_words(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    expired = Response(
        403,
        b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        {"Content-Type": "application/xml"},
    )
    bakta_server.faults.append(Fault("PUT", "/bakta-web/jobs/", expired))
    result = annotate(bakta_server, workdir)
    (job_id,) = bakta_server.deleted  # the job the upload was for does not stay behind
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].endswith("fastadata.fasta: Request has expired")
    assert f"bakta job {job_id}" in result.stderr
    assert "X-Amz-Signature" not in result.stderr  # the presigned query is never shown
    assert not bakta_server.requests_to("POST", "/api/v1/job/start")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mfannot.out", b"\0" * (50 << 20))
    bomb = buffer.getvalue()
    original = mfannotweb_server.handle

    def handle(request):
        if request.path.endswith("/download"):
            return Response(200, bomb, {"Content-Type": "application/zip"})
        if (
            request.path.endswith("/results")
            and next(iter(mfannotweb_server.jobs.values())).status == "done"
        ):
            return json_response(
                {"files": [{"name": "mfannot.out", "size_bytes": 50 << 20, "sha256": "0" * 64}]}
            )
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 4
    assert "result archive refused: mfannot.out compresses" in result.stderr
    assert only_complete_results(workdir) == []


# ---------------------------------------------------------------- --timeout over every transfer
# Each run below would go on for minutes (or for ever) without the deadline: run_cli's
# `timeout` is a hang guard, not a timed assertion.


def test_a_download_that_trickles_ends_at_the_timeout(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    # A byte every half second: never silent for the read time-out, never 1 MiB together.
    bakta_server.trickles.append(Trickle("GET", "/bakta-web/jobs/", every=0.5))
    args = ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--poll-interval", "0"]
    result = run_cli(
        [*args, "--format", "gff3", "--timeout", "3"],
        bakta_env(bakta_server),
        cwd=workdir,
        timeout=30,
    )
    assert result.returncode == 5, result.stderr
    (job_id,) = bakta_server.deleted  # its job goes (no job file)
    assert result.stderr.strip().splitlines()[-1] == (
        "error: bakta: gave up after --timeout 3 s: downloading genome.gff3;"
        f" job {job_id} (genome) SUCCESSFUL, its files not fetched, deleted"
    )
    assert only_complete_results(workdir) == []


def test_an_upload_read_slowly_ends_at_the_timeout(bakta_server: FakeBakta, workdir: Path) -> None:
    # 16 MB, more than the sockets' buffers hold, read 64 KiB every half second: two minutes.
    line = "ACGT" * 15 + "\n"
    (workdir / "large.fasta").write_text(">contig1\n" + line * (16_000_000 // len(line)))
    bakta_server.trickles.append(
        Trickle("PUT", "/bakta-web/jobs/", every=0.5, size=1 << 16, upload=True)
    )
    args = ["bakta", "annotate", "large.fasta", "--outdir", "out", "--poll-interval", "0"]
    result = run_cli([*args, "--timeout", "3"], bakta_env(bakta_server), cwd=workdir, timeout=30)
    assert result.returncode == 5, result.stderr
    (job_id,) = bakta_server.deleted  # its job goes (no job file)
    assert result.stderr.strip().splitlines()[-1] == (
        "error: bakta: gave up after --timeout 3 s: uploading large.fasta;"
        f" job {job_id} (large) never started, deleted"
    )


def test_an_event_stream_that_never_completes_an_event_ends_at_the_timeout(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.script = ["queued"] + ["running"] * 1000
    mfannotweb_server.stream_fault = "trickle"  # "data: x", then an x every half second
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]
    env = mfannotweb_env(mfannotweb_server)
    result = run_cli([*args, "--timeout", "3"], env, cwd=workdir, timeout=30)
    assert result.returncode == 5, result.stderr
    assert "gave up after --timeout 3 s" in result.stderr.strip().splitlines()[-1]


def _peak_rss_kib(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run `remote-jobs` as the only child of a small process that reports the child's peak
    resident memory (KiB): (peak, exit code and stderr of the run)."""
    report = (
        "import resource, subprocess, sys;"
        "done = subprocess.run([sys.executable, '-m', 'remote_jobs', *sys.argv[1:]],"
        " capture_output=True, text=True);"
        "sys.stderr.write(done.stderr);"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("MFANNOTWEB_")}
    done = subprocess.run(
        [sys.executable, "-c", report, *args],
        env={**base, "PYTHONPATH": str(ROOT / "lib"), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, peak = done.stdout.split()
    return int(peak), code, done.stderr


def test_an_endless_event_stream_line_does_not_grow_the_runner(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--poll-interval", "0"]
    env = mfannotweb_env(mfannotweb_server)
    baseline, code, stderr = _peak_rss_kib([*args, "--outdir", "first"], env, workdir)
    assert code == "0", stderr
    mfannotweb_server.stream_fault = "endless line"  # 100 MB without a line end
    peak, code, stderr = _peak_rss_kib([*args, "--outdir", "second"], env, workdir)
    assert peak - baseline < 64 << 10, f"{(peak - baseline) >> 10} MiB more than a plain run"
    # The job keeps running on the service: the runner polls it instead, and loses nothing.
    assert code == "0", stderr
    assert (
        "event stream refused: a line of more than 1048576 characters); polling instead" in stderr
    )
    assert (workdir / "second" / "results.zip").is_file()


# ---------------------------------------------------------------- what --timeout leaves


@pytest.mark.parametrize("job_file", [False, True], ids=["deleted", "kept"])
def test_the_timeout_names_the_bakta_jobs_still_running_and_what_became_of_them(
    bakta_server: FakeBakta, workdir: Path, job_file: bool
) -> None:
    bakta_server.script = ["INIT"] + ["RUNNING"] * 10000
    args = ["bakta", "annotate", "genome.fasta", "plasmid.fasta", "--outdir", "out"]
    args += ["--poll-interval", "0.2", "--timeout", "2"]
    args += ["--job-file", "job.json"] if job_file else []
    result = run_cli(args, bakta_env(bakta_server), cwd=workdir, timeout=60)
    assert result.returncode == 5, result.stderr
    ids = dict(re.findall(r"bakta: (\w+): submitted as job (\S+)", result.stderr))
    fate = "kept in job.json for a rerun with it" if job_file else "deleted"
    assert result.stderr.strip().splitlines()[-1] == (
        "error: bakta: gave up after --timeout 2 s:"
        f" job {ids['genome']} (genome) still RUNNING, {fate};"
        f" job {ids['plasmid']} (plasmid) still RUNNING, {fate}"
    )
    assert len(bakta_server.deleted) == (0 if job_file else 2)


@pytest.mark.parametrize(
    ("state", "job_file", "fate"),
    [
        ("queued", False, "cancelled"),
        (
            "running",
            False,
            "not cancelled (the service cancels only queued jobs, this one is running)",
        ),
        ("running", True, "kept in job.json for a rerun with it"),
    ],
)
def test_the_timeout_names_the_mfannotweb_job_still_running_and_what_became_of_it(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, state: str, job_file: bool, fate: str
) -> None:
    mfannotweb_server.script = ["queued"] + [state] * 10000
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]
    args += ["--poll-interval", "0.2", "--timeout", "2"]
    args += ["--job-file", "job.json"] if job_file else []
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir, timeout=60)
    assert result.returncode == 5, result.stderr
    job = next(iter(mfannotweb_server.jobs.values()))
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: mfannotweb: gave up after --timeout 2 s: job {job.id} still {state}, {fate}"
    )
    assert job.status == ("cancelled" if fate == "cancelled" else state)


@pytest.mark.parametrize("job_file", [False, True], ids=["left", "kept"])
def test_the_timeout_names_the_codon_job_still_running_and_what_became_of_it(
    codon_server: FakeCodon, workdir: Path, job_file: bool
) -> None:
    codon_server.script = ["processing"] * 10000
    args = ["--sequence", "cds.fasta", *FITNESS, "--poll-interval", "0.2", "--timeout", "2"]
    args += ["--job-file", "job.json"] if job_file else []
    result = optimise(codon_server, workdir, *args)
    assert result.returncode == 5, result.stderr
    job_id = next(iter(codon_server.jobs))
    fate = (
        "kept in job.json for a rerun with it"
        if job_file
        else "left running (the service has no cancel)"
    )
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: codon: gave up after --timeout 2 s: job {job_id} (gfp) still processing, {fate}"
    )


# ---------------------------------------------------------------- remote job outcomes


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired"])
def test_mfannotweb_terminal_failures(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, status: str
) -> None:
    mfannotweb_server.fail_status = status
    mfannotweb_server.fail_with = f"job was {status} by the server"
    result = mfannot(mfannotweb_server, workdir)
    job_id = next(iter(mfannotweb_server.jobs))
    assert result.returncode == 4
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"error: mfannotweb job {job_id}: job ended {status}: job was {status} by the server"
    )
    assert only_complete_results(workdir) == []


def test_archive_missing_after_the_ttl(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    gone = json_response({"detail": "archive purged after 7 days", "code": "archive_missing"}, 404)
    mfannotweb_server.faults.append(Fault("GET", "/api/v1/jobs/", gone, times=0))
    original = mfannotweb_server.handle

    def handle(request):
        if request.path.endswith("/download"):
            return gone
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 4
    assert (
        "HTTP 404 archive_missing" in result.stderr
        and "archive purged after 7 days" in result.stderr
    )
    assert only_complete_results(workdir) == []


def test_archive_not_ready_is_waited_for(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    not_ready = json_response({"detail": "job is finishing", "code": "archive_not_ready"}, 409)
    original = mfannotweb_server.handle
    refusals = []

    def handle(request):
        if request.path.endswith("/results") and len(refusals) < 2:
            refusals.append(request)
            return not_ready
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    assert len(refusals) == 2
    assert "results.zip" in only_complete_results(workdir)


def test_waiting_for_a_slot_is_bounded_by_the_timeout(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.in_flight_limit = 0
    result = mfannot(mfannotweb_server, workdir, "--timeout", "2")
    assert result.returncode == 5
    # while it waits, or while it asks for the usage, whichever the deadline finds it doing
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: mfannotweb: gave up after --timeout 2 s: ")
    )
    assert mfannotweb_server.jobs == {}


# ---------------------------------------------------------------- exactly once


def test_a_submit_whose_answer_is_lost_is_retried_with_the_same_key(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.faults.append(
        Fault("POST", "/api/v1/jobs", Response(drop=True), after_handling=True)
    )
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    submits = mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    assert len(submits) == 2
    assert submits[0].headers["Idempotency-Key"] == submits[1].headers["Idempotency-Key"]
    assert len(mfannotweb_server.jobs) == 1


def test_a_bakta_init_whose_answer_is_lost_is_sent_again(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    """job/init has no idempotency key: sent again, it sets up a second job. The one whose
    answer was lost is never started (nothing runs; the service lets it expire), so the
    genome still runs once."""
    bakta_server.faults.append(
        Fault("POST", "/api/v1/job/init", Response(drop=True), after_handling=True)
    )
    result = annotate(bakta_server, workdir)
    assert result.returncode == 0, result.stderr
    assert len(bakta_server.requests_to("POST", "/api/v1/job/init")) == 2
    assert len(bakta_server.runs) == 1 and len(bakta_server.never_started()) == 1


def test_killed_mid_poll_then_resumed_submits_nothing_new(workdir: Path) -> None:
    server = FakeBakta(script=["INIT"] + ["RUNNING"] * 100_000)
    with server:
        args = [
            "bakta",
            "annotate",
            "genome.fasta",
            "--outdir",
            "out",
            "--poll-interval",
            "0.05",
            "--job-file",
            "job.json",
            "--format",
            "gff3",
        ]
        runner = start_cli(args, bakta_env(server), workdir)
        wait_for(lambda: len(server.requests_to("POST", LIST)) >= 3, "polling")
        runner.kill()  # SIGKILL: no chance to clean up
        runner.wait()
        job = next(iter(server.jobs.values()))
        job.script = ["SUCCESSFUL"]
        result = run_cli(args, bakta_env(server), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert f"re-attached to job {job.id}" in result.stderr
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1
    assert len(server.requests_to("POST", "/api/v1/job/start")) == 1
    assert only_complete_results(workdir) == ["genome", "genome/genome.gff3"]


# ---------------------------------------------------------------- cancellation


def _mfannot_runner(server: FakeMfannotWeb, workdir: Path, state: str, *extra: str):
    """A run polling (no event stream) a job that stays in `state`."""
    server.script = [state] * 100_000
    server.events_enabled = False
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]
    runner = start_cli([*args, "--poll-interval", "0.05", *extra], mfannotweb_env(server), workdir)
    wait_for(lambda: len(server.requests_to("GET", "/api/v1/jobs/", prefix=True)) >= 3, "polling")
    return runner, next(iter(server.jobs))


def test_sigterm_cancels_a_queued_mfannotweb_job(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    runner, job_id = _mfannot_runner(mfannotweb_server, workdir, "queued", "--job-file", "job.json")
    stderr = stop(runner)
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-2:] == [
        f"mfannotweb: cancelled queued job {job_id}",
        "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)",
    ]
    assert mfannotweb_server.jobs[job_id].status == "cancelled"
    assert _job_file_records(workdir) == {}  # running again submits a new job
    assert only_complete_results(workdir) == []


def test_sigterm_on_a_running_mfannotweb_job_says_it_cannot_be_cancelled(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    # The job's own document offers no cancel link once it runs: none is sent.
    runner, job_id = _mfannot_runner(mfannotweb_server, workdir, "running")
    stderr = stop(runner)
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-2:] == [
        f"mfannotweb: could not cancel job {job_id}: the service offers no cancel for a running job",
        "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)",
    ]
    assert mfannotweb_server.requests_to("POST", f"/api/v1/jobs/{job_id}/cancel") == []
    assert mfannotweb_server.jobs[job_id].status == "running"


def test_sigterm_after_the_job_started_unseen_gives_the_services_reason(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    # Last seen queued (its cancel link followed), running by now: the service's 409 is shown.
    mfannotweb_server.script = ["queued"] * 100
    mfannotweb_server.events_enabled = False
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]
    runner = start_cli(
        [*args, "--poll-interval", "600"], mfannotweb_env(mfannotweb_server), workdir
    )
    wait_for(lambda: mfannotweb_server.requests_to("GET", "/api/v1/jobs/", prefix=True), "a poll")
    job_id = next(iter(mfannotweb_server.jobs))
    mfannotweb_server.jobs[job_id].status = "running"
    mfannotweb_server.jobs[job_id].script = []
    stderr = stop(runner)
    assert runner.returncode == 6, stderr
    reason, last = stderr.strip().splitlines()[-2:]
    assert reason.startswith(f"mfannotweb: could not cancel job {job_id}: HTTP 409 ")
    assert "cancellable_only_when_queued" in reason
    assert (
        last
        == "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)"
    )
    assert mfannotweb_server.jobs[job_id].status == "running"


def test_ctrl_c_on_a_run_with_a_job_file_keeps_the_mfannotweb_job(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    runner, job_id = _mfannot_runner(mfannotweb_server, workdir, "queued", "--job-file", "job.json")
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=10)
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-2:] == [
        f"mfannotweb: job {job_id} is kept; run again with the same --job-file to re-attach",
        "error: remote-jobs: stopped by SIGINT",
    ]
    assert mfannotweb_server.jobs[job_id].status == "queued"
    assert _job_file_records(workdir)["mfannot"]["id"] == job_id


def _bakta_runner(server: FakeBakta, workdir: Path, *genomes: str, job_file: bool = True):
    args = ["bakta", "annotate", *genomes, "--outdir", "out", "--poll-interval", "0.05"]
    return start_cli(
        args + (["--job-file", "job.json"] if job_file else []), bakta_env(server), workdir
    )


def _job_file_records(workdir: Path) -> dict[str, dict]:
    return json.loads((workdir / "job.json").read_text())["jobs"]


@pytest.mark.parametrize(
    ("sig", "job_file"),
    [(signal.SIGTERM, True), (signal.SIGINT, False)],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_stopped_run_deletes_its_bakta_jobs(
    workdir: Path, sig: signal.Signals, job_file: bool
) -> None:
    """Galaxy deleting the job, or Ctrl-C on a run that cannot be resumed."""
    (workdir / "second.fasta").write_bytes((workdir / "genome.fasta").read_bytes())
    server = FakeBakta(script=["INIT"] + ["RUNNING"] * 100_000)
    with server:
        runner = _bakta_runner(server, workdir, "genome.fasta", "second.fasta", job_file=job_file)
        wait_for(lambda: len(server.requests_to("POST", LIST)) >= 3, "polling")
        ids = {job.name: job.id for job in server.jobs.values()}
        secrets = {job.secret for job in server.jobs.values()}
        stderr = stop(runner, sig)
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-3:] == [
        f"bakta: genome: deleted job {ids['genome']}",
        f"bakta: second: deleted job {ids['second']}",
        f"error: remote-jobs: stopped by {sig.name}{Interrupted.CAUSES.get(sig.name, '')}",
    ]
    assert server.jobs == {} and sorted(server.deleted) == sorted(ids.values())
    assert not any(secret in stderr for secret in secrets)
    assert only_complete_results(workdir) == []
    if job_file:  # a run with the same job file starts afresh instead of re-attaching
        assert _job_file_records(workdir) == {}


def test_ctrl_c_on_a_run_with_a_job_file_keeps_the_bakta_job_for_a_rerun(workdir: Path) -> None:
    server = FakeBakta(script=["INIT"] + ["RUNNING"] * 100_000)
    with server:
        runner = _bakta_runner(server, workdir, "genome.fasta")
        wait_for(lambda: len(server.requests_to("POST", LIST)) >= 3, "polling")
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=10)
        job = next(iter(server.jobs.values()))
        assert runner.returncode == 6, stderr
        assert stderr.strip().splitlines()[-2:] == [
            f"bakta: genome: job {job.id} is kept; run again with the same --job-file to re-attach",
            "error: remote-jobs: stopped by SIGINT",
        ]
        assert server.requests_to("DELETE", "/api/v1/job/delete") == []
        job.script = ["SUCCESSFUL"]
        result = annotate(server, workdir, "--job-file", "job.json")
    assert result.returncode == 0, result.stderr
    assert f"re-attached to job {job.id}" in result.stderr
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1


def test_a_delete_that_gets_no_answer_does_not_hold_the_runner(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.script = ["INIT"] + ["RUNNING"] * 100_000
    held = threading.Event()
    hung = Response(200, b"", hold=held)
    bakta_server.faults.append(Fault("DELETE", "/api/v1/job/delete", hung, times=10))
    try:
        runner = _bakta_runner(bakta_server, workdir, "genome.fasta")
        wait_for(lambda: len(bakta_server.requests_to("POST", LIST)) >= 3, "polling")
        stderr = stop(runner)
        wait_for(lambda: bakta_server.requests_to("DELETE", "/api/v1/job/delete"), "the DELETE")
        unanswered = bakta_server.serving[("DELETE", "/api/v1/job/delete")]
    finally:
        held.set()
    job = next(iter(bakta_server.jobs.values()))
    assert runner.returncode == 6, stderr
    assert unanswered == 1  # the runner ended by itself while its DELETE waited for an answer
    lines = stderr.strip().splitlines()
    assert lines[-2] == f"bakta: genome: could not delete job {job.id}: no answer within 0.6 s"
    assert job.secret not in stderr
    assert (
        lines[-1]
        == "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)"
    )
    assert len(bakta_server.requests_to("DELETE", "/api/v1/job/delete")) == 1  # no retries
    assert _job_file_records(workdir)["genome"]["id"] == job.id  # its id stays on record


def test_sigterm_during_a_bakta_download_leaves_nothing_that_looks_complete(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    slow = Response(200, b"##gff-version 3\n", delay=30)
    bakta_server.faults.append(Fault("GET", "/bakta-web/jobs/", slow, times=100))
    runner = _bakta_runner(bakta_server, workdir, "genome.fasta")
    wait_for(
        lambda: bakta_server.requests_to("GET", "/bakta-web/jobs/", prefix=True), "downloading"
    )
    stderr = stop(runner)
    assert runner.returncode == 6, stderr
    assert (
        stderr.strip().splitlines()[-1]
        == "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)"
    )
    assert only_complete_results(workdir) == []
    assert len(bakta_server.deleted) == 1


# ---------------------------------------------------------------- credentials


def test_secrets_never_reach_output_job_file_or_cassette(
    mfannotweb_server: FakeMfannotWeb, codon_server: FakeCodon, workdir: Path
) -> None:
    mf = mfannot(
        mfannotweb_server, workdir, "--job-file", "mf.json", "--record-cassette", "mf.yaml"
    )
    co = optimise(
        codon_server,
        workdir,
        *("--sequence", "cds.fasta", "--fitness", "cai"),
        *("--job-file", "co.json", "--record-cassette", "co.yaml"),
    )
    assert mf.returncode == 0 and co.returncode == 0, mf.stderr + co.stderr
    tokens = set(codon_server.tokens)
    everything = mf.stdout + mf.stderr + co.stdout + co.stderr
    everything += "".join(
        p.read_bytes().decode("utf-8", "replace") for p in workdir.rglob("*") if p.is_file()
    )
    for secret in (TOKEN, USERNAME, PASSWORD, *tokens):
        assert secret not in everything


URL_USER, URL_PASSWORD = "admin", "url-password-4e1f"
BASIC = "Basic " + base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()


def with_login(base: str, user: str = URL_USER, password: str = URL_PASSWORD) -> str:
    return base.replace("://", f"://{user}:{password}@", 1)


def test_a_service_url_with_a_login_is_used_and_never_shown(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    """A self-hosted service behind basic auth: BAKTA_API_URL=https://USER:PASSWORD@host/..."""
    bakta_server.basic_auth = (URL_USER, URL_PASSWORD)
    env = {"BAKTA_API_URL": with_login(bakta_server.base) + "/api/v1"}
    args = ["bakta", "annotate", "genome.fasta", "--poll-interval", "0"]
    ok = run_cli([*args, "--outdir", "out", "--record-cassette", "run.yaml"], env, cwd=workdir)
    assert ok.returncode == 0, ok.stderr
    assert {r.headers.get("Authorization") for r in bakta_server.log} == {BASIC}
    assert f" at {bakta_server.base}/api/v1\n" in ok.stderr  # the provenance line
    refused = Response(400, b'"Invalid genome"', {"Content-Type": "application/json"})
    bakta_server.faults.append(Fault("POST", "/api/v1/job/start", refused))
    failed = run_cli([*args, "--outdir", "out2"], env, cwd=workdir)
    assert failed.returncode == 4, failed.stderr
    assert failed.stderr.splitlines()[-1].endswith(
        f": HTTP 400 from {bakta_server.base}/api/v1/job/start: Invalid genome"
    )
    wrong = {"BAKTA_API_URL": with_login(bakta_server.base, password="wrong-pw-8c2d") + "/api/v1"}
    login_refused = run_cli(["bakta", "version"], wrong, cwd=workdir)
    assert login_refused.returncode == 3, login_refused.stderr
    assert login_refused.stderr.splitlines()[-1] == (
        f"error: bakta: HTTP 401 from {bakta_server.base}/api/v1/version:"
        " 401 Authorization Required"
    )
    check = run_cli(["check", "bakta"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"bakta: {bakta_server.base}/api/v1 (BAKTA_API_URL)" in check.stdout.splitlines()
    everything = "".join(
        run.stdout + run.stderr for run in (ok, failed, login_refused, check)
    ) + tree_text(workdir)
    for secret in (URL_PASSWORD, "wrong-pw-8c2d", BASIC.split()[1], f"{URL_USER}:"):
        assert secret not in everything


PASTED = {  # a token pasted with a stray character: (where it goes, what the runner says)
    "zero-width-space": (10, "\u200b", "an invisible character, U+200B (ZERO WIDTH SPACE)"),
    "en-dash": (10, "\u2013", "U+2013 (EN DASH), which an HTTP header cannot carry"),
    "line-break": (12, "\n", "a line break"),
    "carriage-return": (12, "\r", "a line break"),
}


@pytest.mark.parametrize("flaw", PASTED)
def test_a_token_pasted_with_a_stray_character_is_refused_naming_where(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, flaw: str
) -> None:
    at, char, what = PASTED[flaw]
    token = TOKEN[:at] + char + TOKEN[at:]
    env = {"MFANNOTWEB_TOKEN": token}
    words = (
        f"MFANNOTWEB_TOKEN has {what} at character {at + 1} of {len(token)}; set it again as"
        " the service gave it, on one line"
    )
    run = mfannot(mfannotweb_server, workdir, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [f"error: mfannotweb: {words}"]
    check = run_cli(["check", "mfannotweb"], {**mfannotweb_env(mfannotweb_server), **env})
    assert check.returncode == 2, check.stdout + check.stderr
    assert f"  settings  FAILED           {words}" in check.stdout.splitlines()  # the report
    assert not mfannotweb_server.log  # nothing was sent
    for secret in (TOKEN[:at], TOKEN[at:]):
        assert secret not in run.stdout + run.stderr + check.stdout + check.stderr


@pytest.mark.parametrize(
    ("password", "code", "words"),
    [
        (PASSWORD + "\n" + PASSWORD, 2, "CODON_PASSWORD has a line break at character 23 of 45"),
        ("\ufeff" + PASSWORD, 2, "CODON_PASSWORD has an invisible character, U+FEFF"),
        (PASSWORD + "\u2013", 3, "login refused: HTTP 401 from"),  # sent: the service says no
    ],
    ids=["line-break", "byte-order-mark", "en-dash"],
)
def test_a_codon_password_that_cannot_be_sent_is_refused_before_the_login(
    codon_server: FakeCodon, workdir: Path, password: str, code: int, words: str
) -> None:
    run = optimise(
        codon_server, workdir, "--sequence", "cds.fasta", "--fitness", "cai",
        env={"CODON_PASSWORD": password},
    )  # fmt: skip
    assert run.returncode == code, run.stderr
    assert words in run.stderr.splitlines()[-1]
    assert PASSWORD not in run.stdout + run.stderr
    assert bool(codon_server.requests_to("POST", "/login")) == (code == 3)


# ---------------------------------------------------------------- load


def _peak_rss_mb(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float]:
    runner = start_cli(args, env, cwd)
    _, status, usage = os.wait4(runner.pid, 0)  # the rusage of this child alone
    runner.returncode = os.waitstatus_to_exitcode(status)
    return runner.returncode, usage.ru_maxrss / 1024


def test_fifty_genomes_in_one_batch(workdir: Path) -> None:
    import random

    rng = random.Random(50)
    genome = (workdir / "plasmid.fasta").read_bytes()
    names = [f"g{i:02d}" for i in range(50)]
    for name in names:
        (workdir / f"{name}.fasta").write_bytes(genome)
    scripts = {n: ["INIT"] + ["RUNNING"] * rng.randint(0, 12) + ["SUCCESSFUL"] for n in names}
    server = FakeBakta(scripts=scripts)
    args = [
        "bakta",
        "annotate",
        *(f"{n}.fasta" for n in names),
        "--outdir",
        "out",
        "--poll-interval",
        "0",
        "--format",
        "gff3",
        "--format",
        "json",
    ]
    with server:
        code, peak_50 = _peak_rss_mb(args, bakta_env(server), workdir)
        assert code == 0
        rounds = server.requests_to("POST", LIST)
        results = [r.json()["jobID"] for r in server.requests_to("POST", "/api/v1/job/result")]
        downloads = [r.path for r in server.requests_to("GET", "/bakta-web/jobs/", prefix=True)]
    assert len(rounds) == max(len(s) for s in scripts.values())  # one status request per round
    assert sorted(results) == sorted(job.id for job in server.jobs.values())  # each fetched once
    assert len(downloads) == len(set(downloads)) == 100
    for job in server.jobs.values():
        folder = workdir / "out" / job.name
        assert (folder / f"{job.name}.gff3").read_bytes() == job.results["GFF3"]
        assert (folder / f"{job.name}.json").read_bytes() == job.results["JSON"]
    with FakeBakta() as small:
        args_2 = [
            "bakta",
            "annotate",
            "g00.fasta",
            "g01.fasta",
            "--outdir",
            "out2",
            "--poll-interval",
            "0",
            "--format",
            "gff3",
        ]
        code, peak_2 = _peak_rss_mb(args_2, bakta_env(small), workdir)
        assert code == 0
    assert peak_50 < peak_2 + 15, (peak_2, peak_50)  # memory does not grow with the batch


def test_an_answer_shaped_unlike_the_docs_is_one_line_not_a_traceback(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.faults.append(
        Fault("POST", "/api/v1/job/init", json_response({"job": {"jobID": "x"}}))
    )
    result = annotate(bakta_server, workdir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: remote-jobs: unexpected KeyError: 'secret' (set REMOTE_JOBS_DEBUG=1 to see where)"
    )
    assert "Traceback" not in result.stderr
