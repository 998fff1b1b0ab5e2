"""The runner's failure paths, through the real `remote-jobs` command against the fakes with the
fault injected: each scenario checks what the service saw (jobs started, deleted, cancelled,
the requests sent) and what the user got (exit code, last line, files). Issue 19.

No assertion here is about time: a request the fake holds open stays open until the test lets
it go, and a runner is only ever waited for (with a safety limit that stops a hung test). How
fast a stopped run ends is measured by the bench (section 7).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import pytest
import yaml

from remote_jobs.cassette import Scrubber
from tests.conftest import (
    PASSWORD,
    USERNAME,
    Result,
    bakta_env,
    codon_env,
    mfannotweb_env,
    run_cli,
    start_cli,
    stop,
    wait_for,
)
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
from tests.fakes.server import FakeServer, Fault, Request, Response, json_response

STOPPED = (
    "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)"
)
RUNNING_FOREVER = ["INIT"] + ["RUNNING"] * 100_000
LIST = "/api/v1/job/list"
DELETE = "/api/v1/job/delete"
Matcher = Callable[[Request], bool]


def results(workdir: Path) -> list[str]:
    """What a user finds in out/ (a hidden partial folder would count too)."""
    out = workdir / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []


def genomes(workdir: Path, *names: str) -> list[str]:
    """Copies of the test genome under other names: one remote job each."""
    for name in names:
        (workdir / f"{name}.fasta").write_bytes((workdir / "genome.fasta").read_bytes())
    return [f"{name}.fasta" for name in names]


@contextmanager
def holding(server: FakeServer, matches: Matcher) -> Iterator[threading.Event]:
    """The server holds every request that `matches` open (unanswered) until the block ends."""
    release = threading.Event()
    original = server.handle

    def handle(request: Request) -> Response:
        if matches(request):
            release.wait(60)
        return original(request)

    server.handle = handle  # type: ignore[method-assign]
    try:
        yield release
    finally:
        release.set()


def stopped_while(
    server: FakeServer, held: Matcher, args: list[str], env: dict[str, str], workdir: Path
):
    """Start the runner, SIGTERM it once the server holds a request that `held` matches."""
    with holding(server, held):
        runner = start_cli(args, env, workdir)
        wait_for(lambda: any(held(r) for r in list(server.log)), "the held request")
        stderr = stop(runner)
    return runner.returncode, stderr.strip().splitlines()


# ---------------------------------------------------------------- 1. stopped at every stage


def bakta_args(*inputs: str) -> list[str]:
    return ["bakta", "annotate", *inputs, "--outdir", "out", "--poll-interval", "0.05"]


@pytest.mark.parametrize(
    "held",
    [
        pytest.param(lambda r: r.method == "PUT", id="upload"),
        pytest.param(lambda r: r.path == "/api/v1/job/start", id="start"),
        pytest.param(lambda r: r.path == LIST, id="polling"),
    ],
)
def test_sigterm_at_each_stage_of_a_bakta_job_deletes_it(
    bakta_server: FakeBakta, workdir: Path, held: Matcher
) -> None:
    bakta_server.script = RUNNING_FOREVER
    code, lines = stopped_while(
        bakta_server, held, bakta_args("genome.fasta"), bakta_env(bakta_server), workdir
    )
    (job_id,) = bakta_server.deleted
    assert code == 6, lines
    assert lines[-2:] == [f"bakta: genome: deleted job {job_id}", STOPPED]
    assert bakta_server.jobs == {} and results(workdir) == []


@pytest.mark.parametrize(
    ("scripts", "held"),
    [
        pytest.param(
            {"genome": ["INIT", "SUCCESSFUL"]},
            lambda r: r.path.startswith("/bakta-web/jobs/") and "/results/" in r.path,
            id="download",
        ),
        pytest.param(
            {"genome": ["INIT", "ERROR"]},
            lambda r: r.path == "/api/v1/job/logs",
            id="failed-job-log",
        ),
    ],
)
def test_sigterm_while_one_genome_is_fetched_and_another_runs_deletes_both(
    workdir: Path, scripts: dict[str, list[str]], held: Matcher
) -> None:
    """The interruption is not an error a handler of errors can swallow: the run ends at once
    (before: the download's, or the log's, error handler kept it and polling went on)."""
    server = FakeBakta(script=RUNNING_FOREVER, scripts=scripts)
    inputs = bakta_args(*genomes(workdir, "genome", "second"))
    with server:
        code, lines = stopped_while(server, held, inputs, bakta_env(server), workdir)
        started = {
            r.json()["job"]["jobID"] for r in server.requests_to("POST", "/api/v1/job/start")
        }
        left = {job.name: job.status for job in server.jobs.values()}
    assert code == 6, lines
    assert lines[-1] == STOPPED
    if scripts["genome"][-1] == "ERROR":  # a job that ended on the service is left as it is
        assert left == {"genome": "ERROR"} and len(server.deleted) == 1
    else:  # a finished job whose files were not all fetched goes too
        assert left == {} and len(server.deleted) == 2
    assert set(server.deleted) <= started
    assert results(workdir) == []


def mfannot_args() -> list[str]:
    return ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]


JOB = re.compile(r"/api/v1/jobs/[0-9a-f-]+")


@pytest.mark.parametrize(
    ("fails", "held", "last_but_one"),
    [
        pytest.param(False, lambda r: r.path == "/api/v1/jobs", None, id="submit"),
        pytest.param(
            False, lambda r: r.path.endswith("/events"), "cancelled queued job {}", id="events"
        ),
        pytest.param(
            True,
            lambda r: r.method == "GET" and JOB.fullmatch(r.path) is not None,
            "could not cancel job {}: the service offers no cancel for a failed job",
            id="job-read-after-error",
        ),
        pytest.param(False, lambda r: r.path.endswith("/download"), None, id="download"),
    ],
)
def test_sigterm_at_each_stage_of_an_mfannotweb_job(
    mfannotweb_server: FakeMfannotWeb,
    workdir: Path,
    fails: bool,
    held: Matcher,
    last_but_one: str | None,
) -> None:
    if fails:
        mfannotweb_server.fail_with = "MFannot exited with status 2"
    code, lines = stopped_while(
        mfannotweb_server, held, mfannot_args(), mfannotweb_env(mfannotweb_server), workdir
    )
    assert code == 6, lines
    assert lines[-1] == STOPPED
    if last_but_one is not None:
        (job_id,) = mfannotweb_server.jobs
        assert lines[-2] == "mfannotweb: " + last_but_one.format(job_id)
    assert results(workdir) == []


@pytest.mark.parametrize(
    ("fails", "held"),
    [
        pytest.param(False, lambda r: r.path == "/optimise/status", id="polling"),
        pytest.param(True, lambda r: r.path == "/optimise/result", id="result-after-error"),
    ],
)
def test_sigterm_at_each_stage_of_a_codon_job(
    codon_server: FakeCodon, workdir: Path, fails: bool, held: Matcher
) -> None:
    if fails:
        codon_server.fail_with = "worker crashed"
    args = ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai"]
    code, lines = stopped_while(
        codon_server,
        held,
        [*args, "--outdir", "out", "--poll-interval", "0.05"],
        codon_env(codon_server),
        workdir,
    )
    assert code == 6, lines
    assert lines[-1] == STOPPED
    assert results(workdir) == []


# ---------------------------------------------------------------- 2. one deadline, all at once


def test_the_deletes_of_eight_genomes_go_out_at_once_and_a_hanging_one_does_not_hold_the_run(
    workdir: Path,
) -> None:
    names = [f"g{n}" for n in range(8)]
    server = FakeBakta(script=RUNNING_FOREVER)
    with server:
        runner = start_cli(bakta_args(*genomes(workdir, *names)), bakta_env(server), workdir)
        with holding(server, lambda r: r.path == DELETE):
            wait_for(lambda: len(server.requests_to("POST", LIST)) >= 2, "polling")
            ids = {job.name: job.id for job in server.jobs.values()}
            stderr = stop(runner)
            # All sent before the runner ended; a loaded machine may read the last ones later.
            wait_for(lambda: len(server.requests_to("DELETE", DELETE)) == 8, "the 8 DELETEs")
            unanswered = server.serving[("DELETE", DELETE)]
        peak = server.serving_peak[("DELETE", DELETE)]
    assert runner.returncode == 6, stderr
    assert peak == 8  # all eight were waiting for their answer at the same moment
    assert unanswered == 8  # and still were when the runner had ended by itself
    assert stderr.strip().splitlines()[-9:] == [
        *(
            f"bakta: {name}: could not delete job {ids[name]}: no answer within 0.6 s"
            for name in names
        ),
        STOPPED,
    ]


def test_a_second_signal_does_not_cut_the_cleanup_short(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    bakta_server.script = RUNNING_FOREVER
    with holding(bakta_server, lambda r: r.path == DELETE):
        runner = start_cli(bakta_args("genome.fasta"), bakta_env(bakta_server), workdir)
        wait_for(lambda: len(bakta_server.requests_to("POST", LIST)) >= 2, "polling")
        (job_id,) = bakta_server.jobs
        runner.send_signal(signal.SIGTERM)
        wait_for(lambda: bakta_server.requests_to("DELETE", DELETE), "the delete")
        runner.send_signal(signal.SIGINT)  # Ctrl-C, or Galaxy again, while the run tidies up
        stderr = runner.communicate(timeout=30)[1]
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-2:] == [
        f"bakta: genome: could not delete job {job_id}: no answer within 0.6 s",
        STOPPED,
    ]


# ---------------------------------------------------------------- 3. no remote job left behind


def answer_nth(server: FakeServer, method: str, path: str, n: int, answer: Callable[[], Response]):
    """The n-th request to `path` (1-based) gets `answer()` instead of the service's."""
    original = server.handle
    seen = []

    def handle(request: Request) -> Response:
        if (request.method, request.path) == (method, path):
            seen.append(request)
            if len(seen) == n:
                return answer()
        return original(request)

    server.handle = handle  # type: ignore[method-assign]


def annotate(server: FakeBakta, workdir: Path, *args: str) -> Result:
    """`bakta annotate` to its end, polling without pause."""
    command = ["bakta", "annotate", *args, "--outdir", "out", "--poll-interval", "0"]
    return run_cli(command, bakta_env(server), cwd=workdir)


@pytest.mark.parametrize("job_file", [False, True], ids=["deleted", "kept-with-job-file"])
def test_a_later_genomes_init_refused_leaves_no_job_running(workdir: Path, job_file: bool) -> None:
    server = FakeBakta(script=RUNNING_FOREVER)
    refused = lambda: json_response("Internal server error", 500)  # noqa: E731
    answer_nth(server, "POST", "/api/v1/job/init", 2, refused)
    extra = ["--job-file", "job.json"] if job_file else []
    with server:
        result = annotate(server, workdir, *genomes(workdir, "genome", "second"), *extra)
        (first,) = [r for r in server.log if r.path == "/api/v1/job/start"]
        job_id = first.json()["job"]["jobID"]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 5, result.stderr
    assert (
        lines[-1]
        == f"error: bakta: HTTP 500 from {server.base}/api/v1/job/init: Internal server error"
    )
    if job_file:  # a rerun with the job file re-attaches to it
        assert (
            lines[-2]
            == f"bakta: genome: job {job_id} is kept; run again with the same --job-file to re-attach"
        )
        assert server.deleted == [] and list(server.jobs) == [job_id]
    else:
        assert lines[-2] == f"bakta: genome: deleted job {job_id}"
        assert server.deleted == [job_id] and server.jobs == {}


def test_an_answer_shaped_unlike_the_docs_leaves_no_job_running(workdir: Path) -> None:
    server = FakeBakta(script=RUNNING_FOREVER)
    answer_nth(
        server, "POST", "/api/v1/job/init", 2, lambda: json_response({"job": {"jobID": "x"}})
    )
    with server:
        result = annotate(server, workdir, *genomes(workdir, "genome", "second"))
    assert result.returncode == 1, result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: remote-jobs: unexpected KeyError")
    )
    assert len(server.deleted) == 1 and server.jobs == {}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        pytest.param(
            lambda files: {**files, "../../evil": files["GFF3"]},
            "the service lists a result file under the key '../../evil', which cannot name a file",
            id="key-with-slash",
        ),
        pytest.param(
            lambda files: {**files, "GFF3": None},
            "the service gave no link for its GFF3 file (it sent None)",
            id="null-link",
        ),
    ],
)
def test_a_result_the_runner_cannot_use_is_a_clear_error_and_the_job_goes(
    bakta_server: FakeBakta, workdir: Path, change: Callable[[dict], dict], words: str
) -> None:
    original = bakta_server.handle

    def handle(request: Request) -> Response:
        answer = original(request)
        if request.path == "/api/v1/job/result":
            document = json.loads(answer.body)
            document["ResultFiles"] = change(document["ResultFiles"])
            return json_response(document)
        return answer

    bakta_server.handle = handle  # type: ignore[method-assign]
    result = annotate(bakta_server, workdir, "genome.fasta")
    (job_id,) = bakta_server.deleted
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        f"bakta: genome: deleted job {job_id}",
        f"error: bakta job {job_id}: {words}",
    ]
    assert not bakta_server.requests_to("GET", "/bakta-web/jobs/", prefix=True)  # nothing fetched
    assert results(workdir) == [] and not list(workdir.parent.rglob("*evil*"))


def test_a_job_file_that_cannot_be_written_mid_run_leaves_no_job(workdir: Path) -> None:
    """Nothing would remember the jobs for a rerun: they go, --job-file or not."""
    (workdir / "state").mkdir()
    server = FakeBakta(script=RUNNING_FOREVER)
    original = server.handle

    def handle(request: Request) -> Response:
        if request.path == "/api/v1/job/init" and server.jobs:  # the second genome's
            shutil.rmtree(workdir / "state")
        return original(request)

    server.handle = handle  # type: ignore[method-assign]
    with server:
        inputs = genomes(workdir, "genome", "second")
        result = annotate(server, workdir, *inputs, "--job-file", "state/job.json")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert (
        lines[-1] == "error: bakta: cannot write job file state/job.json: No such file or directory"
    )
    assert sorted(line.split()[-1] for line in lines[-3:-1]) == sorted(server.deleted)
    assert len(server.deleted) == 2 and server.jobs == {}


def test_an_mfannotweb_job_file_that_cannot_be_written_cancels_the_queued_job(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    (workdir / "state").mkdir()
    original = mfannotweb_server.handle

    def handle(request: Request) -> Response:
        if request.path == "/api/v1/jobs":
            shutil.rmtree(workdir / "state")  # gone once the job is made
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    args = [*mfannot_args(), "--poll-interval", "0", "--job-file", "state/job.json"]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    (job_id,) = mfannotweb_server.jobs
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        f"mfannotweb: cancelled queued job {job_id}",
        "error: mfannotweb: cannot write job file state/job.json: No such file or directory",
    ]
    assert mfannotweb_server.jobs[job_id].status == "cancelled"


# ---------------------------------------------------------------- 4, 5. a rerun never starts twice


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_start_whose_answer_was_lost_is_found_started_by_the_rerun(
    workdir: Path, api: str
) -> None:
    """The job is on record before its job/start (API v1 and v2 alike): killed (SIGKILL: no
    cleanup) while the answer of a job/start the backend acted on never came, the rerun
    finds the job started."""
    server = FakeBakta(script=["INIT", "RUNNING", "SUCCESSFUL"], v2=api == "v2")
    release = threading.Event()
    server.faults.append(
        Fault(
            "POST",
            f"/api/{api}/job/start",
            Response(drop=True, hold=release),
            after_handling=True,
        )
    )
    with server:
        args = [*bakta_args("genome.fasta"), "--job-file", "job.json"]
        runner = start_cli(args, bakta_env(server), workdir)
        wait_for(lambda: server.requests_to("POST", f"/api/{api}/job/start"), "job/start")
        wait_for(lambda: any(job.config for job in server.jobs.values()), "the job started")
        runner.kill()
        runner.communicate()
        release.set()
        (job_id,) = server.jobs
        record = json.loads((workdir / "job.json").read_text())["jobs"]["genome"]
        assert (record["api"], record["started"]) == (api, False)
        second = annotate(server, workdir, "genome.fasta", "--job-file", "job.json")
    assert second.returncode == 0, second.stderr
    assert f"bakta: genome: re-attached to job {job_id}" in second.stderr.splitlines()
    assert len(server.requests_to("POST", f"/api/{api}/job/init")) == 1
    assert len(server.requests_to("POST", f"/api/{api}/job/start")) == 1
    assert server.deleted == [] and "genome/genome.gff3" in results(workdir)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_start_whose_answer_was_lost_is_found_started_by_job_list(
    workdir: Path, api: str
) -> None:
    """A job/start the backend acted on, its answer lost: job/list lists the job, so it is
    not sent again (a second start could run the genome twice at once)."""
    server = FakeBakta(script=["INIT", "RUNNING", "SUCCESSFUL"], v2=api == "v2")
    server.faults.append(
        Fault("POST", f"/api/{api}/job/start", Response(drop=True), after_handling=True)
    )
    with server:
        result = annotate(server, workdir, "genome.fasta")
    assert result.returncode == 0, result.stderr
    assert len(server.requests_to("POST", f"/api/{api}/job/start")) == 1
    assert len(server.runs) == 1 and "genome/genome.gff3" in results(workdir)


@pytest.mark.parametrize(
    "refused",
    [
        pytest.param(Response(502, b"<html>502 Bad Gateway</html>"), id="502"),
        pytest.param(Response(503, b"<html>503</html>"), id="503"),
        pytest.param(Response(drop=True), id="dropped"),
    ],
)
def test_a_start_that_did_not_reach_the_service_is_sent_again(
    workdir: Path, refused: Response
) -> None:
    """A gateway's 502/503, or a connection dropped before the backend saw the job/start:
    job/list does not list the job, so job/start is sent again, once."""
    server = FakeBakta(script=["INIT", "RUNNING", "SUCCESSFUL"])
    server.faults.append(Fault("POST", "/api/v1/job/start", refused))
    with server:
        result = annotate(server, workdir, "genome.fasta")
    assert result.returncode == 0, result.stderr
    assert len(server.requests_to("POST", "/api/v1/job/start")) == 2
    assert len(server.runs) == 1 and "genome/genome.gff3" in results(workdir)


def test_a_start_that_never_reached_the_service_is_replaced_by_the_rerun(workdir: Path) -> None:
    """Killed (SIGKILL: no cleanup) while its job/start went unanswered and undone."""
    server = FakeBakta(script=["INIT", "RUNNING", "SUCCESSFUL"])
    release = threading.Event()
    server.faults.append(Fault("POST", "/api/v1/job/start", Response(drop=True, hold=release)))
    with server:
        args = [*bakta_args("genome.fasta"), "--job-file", "job.json"]
        runner = start_cli(args, bakta_env(server), workdir)
        wait_for(lambda: server.requests_to("POST", "/api/v1/job/start"), "job/start")
        runner.kill()
        runner.communicate()
        release.set()
        (old,) = server.jobs
        second = annotate(server, workdir, "genome.fasta", "--job-file", "job.json")
    assert second.returncode == 0, second.stderr
    assert f"bakta: genome: job {old} was never started; submitting it afresh" in second.stderr
    assert server.deleted == [old]
    (new,) = server.jobs
    assert server.jobs[new].status == "SUCCESSFUL" and "genome/genome.gff3" in results(workdir)


def test_mfannotweb_and_codon_jobs_the_service_forgot_are_submitted_afresh(
    mfannotweb_server: FakeMfannotWeb, codon_server: FakeCodon, workdir: Path
) -> None:
    mf_args = [*mfannot_args(), "--poll-interval", "0", "--job-file", "mf.json"]
    co_args = ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai"]
    co_args += ["--outdir", "co", "--poll-interval", "0", "--job-file", "co.json"]
    for server, args, env in (
        (mfannotweb_server, mf_args, mfannotweb_env(mfannotweb_server)),
        (codon_server, co_args, codon_env(codon_server)),
    ):
        assert run_cli(args, env, cwd=workdir).returncode == 0
        (job_id,) = server.jobs
        del server.jobs[job_id]  # expired, or purged
        rerun = run_cli(args, env, cwd=workdir)
        assert rerun.returncode == 0, rerun.stderr
        assert f"the service no longer knows job {job_id}; submitting it afresh" in rerun.stderr
        assert len(server.jobs) == 1
    keys = [
        r.headers["Idempotency-Key"] for r in mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    ]
    assert len(set(keys)) == 2  # a new key: the old one names the forgotten job


# ---------------------------------------------------------------- 6, 7, 8. job files


def test_a_finished_job_file_with_another_outdir_fetches_again_or_says_why_not(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    def run(outdir: str) -> Result:
        args = ["bakta", "annotate", "genome.fasta", "--outdir", outdir, "--poll-interval", "0"]
        return run_cli(
            [*args, "--format", "gff3", "--job-file", "job.json"],
            bakta_env(bakta_server),
            cwd=workdir,
        )

    assert run("out").returncode == 0
    (job_id,) = bakta_server.jobs
    again = run("out2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["out2/genome"]
    gff3 = (workdir / "out2" / "genome" / "genome.gff3").read_bytes()
    assert gff3 == bakta_server.jobs[job_id].results["GFF3"]
    assert len(bakta_server.requests_to("POST", "/api/v1/job/init")) == 1
    del bakta_server.jobs[job_id]  # its results are gone from the service
    gone = run("out3")
    assert gone.returncode == 4 and gone.stdout == ""
    assert gone.stderr.strip().splitlines()[-1] == (
        f"error: bakta job {job_id}: genome: the files of this job were fetched into"
        f" {workdir / 'out2' / 'genome'} by an earlier run, and the service no longer has them;"
        " use that folder, or remove the job file to annotate afresh"
    )
    assert not (workdir / "out3" / "genome").exists()


@pytest.mark.parametrize(
    "content", [None, b"[]", b'{"jobs": []}'], ids=["missing-folder", "a-list", "jobs-a-list"]
)
@pytest.mark.parametrize("service", ["bakta", "mfannot", "codon"])
def test_a_job_file_that_cannot_be_used_stops_the_run_before_anything_is_sent(
    bakta_server: FakeBakta,
    mfannotweb_server: FakeMfannotWeb,
    codon_server: FakeCodon,
    workdir: Path,
    service: str,
    content: bytes | None,
) -> None:
    job_file = "missing/job.json" if content is None else "job.json"
    if content is not None:
        (workdir / job_file).write_bytes(content)
    server, args, env = {
        "bakta": (bakta_server, bakta_args("genome.fasta"), bakta_env(bakta_server)),
        "mfannot": (mfannotweb_server, mfannot_args(), mfannotweb_env(mfannotweb_server)),
        "codon": (
            codon_server,
            [
                "codon",
                "optimise",
                "--name",
                "gfp",
                "--sequence",
                "cds.fasta",
                "--fitness",
                "cai",
                "--outdir",
                "out",
            ],
            codon_env(codon_server),
        ),
    }[service]
    result = run_cli([*args, "--job-file", job_file], env, cwd=workdir)
    name = {"mfannot": "mfannotweb"}.get(service, service)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {name}: the folder of job file missing/job.json does not exist"
        if content is None
        else f"error: {name}: job file job.json is not a remote-jobs job file (a JSON object with"
        " service, fingerprint and jobs); remove it or use another --job-file"
    )
    assert server.log == []


def killed_while_polling(server: FakeBakta, workdir: Path, *args: str) -> None:
    """A run killed (SIGKILL: no cleanup) once it polls: its job stays, on record."""
    runner = start_cli(bakta_args(*args), bakta_env(server), workdir)
    lists = ("/api/v1/job/list", "/api/v2/job/list")
    wait_for(lambda: [r for r in list(server.log) if r.path in lists], "polling")
    runner.kill()
    runner.communicate()


def test_a_v1_job_is_followed_over_v1_when_the_service_has_gained_v2(workdir: Path) -> None:
    server = FakeBakta(script=RUNNING_FOREVER)
    with server:
        args = ["genome.fasta", "--job-file", "job.json"]
        killed_while_polling(server, workdir, *args)
        (job,) = server.jobs.values()
        server.v2 = True  # the deployment now serves API v2 beside v1
        job.script = ["RUNNING", "SUCCESSFUL"]
        before = len(server.log)
        second = annotate(server, workdir, *args)
    assert second.returncode == 0, second.stderr
    assert f"bakta: genome: re-attached to job {job.id}" in second.stderr.splitlines()
    assert not [r for r in server.log[before:] if r.path.startswith("/api/v2/")]  # not even asked
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1


def test_a_v2_job_on_a_service_that_lost_v2_stops_with_exit_2(workdir: Path) -> None:
    server = FakeBakta(v2=True, script=RUNNING_FOREVER)
    with server:
        args = ["genome.fasta", "--job-file", "job.json"]
        killed_while_polling(server, workdir, *args)
        server.v2 = False
        second = annotate(server, workdir, *args)
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        f"error: bakta: the job file's jobs run on API v2, which the service at {server.base}/api/v1"
        " no longer offers; remove the job file or use another --job-file"
    )


# ---------------------------------------------------------------- 16. a refused submit's key


def test_a_submit_refused_for_lack_of_a_slot_is_sent_again_with_a_new_key(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.in_flight_limit = 0
    mfannotweb_server.cache_refusals = True
    original = mfannotweb_server.handle

    def handle(request: Request) -> Response:
        if request.path == "/api/v1/me/usage":
            mfannotweb_server.in_flight_limit = 3  # a slot frees up
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    args = [*mfannot_args(), "--poll-interval", "0", "--job-file", "job.json", "--timeout", "20"]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert result.returncode == 0, result.stderr
    first, second = mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    (job_id,) = mfannotweb_server.jobs
    record = json.loads((workdir / "job.json").read_text())["jobs"]["mfannot"]
    assert (record["idempotency_key"], record["id"]) == (second.headers["Idempotency-Key"], job_id)


def test_submits_refused_while_the_usage_says_a_slot_is_free_end_at_the_timeout(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    """A server whose usage and submit disagree: no storm of submits, and the run ends."""
    mfannotweb_server.in_flight_limit = 0
    original = mfannotweb_server.handle

    def handle(request: Request) -> Response:
        if request.path == "/api/v1/me/usage":
            return json_response({"concurrent_in_flight": 0, "concurrent_limit": 3})
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    args = [*mfannot_args(), "--poll-interval", "0.5", "--timeout", "3"]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert result.returncode == 5, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: mfannotweb: gave up after --timeout 3 s: "  # waiting, or asking for the usage
        )
    )
    submits = mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    usages = mfannotweb_server.requests_to("GET", "/api/v1/me/usage")
    assert len(usages) <= len(submits)  # one look at the usage per refused submit at most
    assert mfannotweb_server.jobs == {}


# ---------------------------------------------------------------- 12. v2 that cannot be asked


@pytest.mark.parametrize("status", [403, 500])
def test_a_v2_discovery_that_fails_falls_back_to_v1_for_plain_annotation(
    workdir: Path, status: int
) -> None:
    server = FakeBakta(v2=True, script=["INIT", "SUCCESSFUL"])
    refused = Response(
        status, b"<html><title>Refused</title></html>", {"Content-Type": "text/html"}
    )
    server.faults.append(Fault("GET", "/api/v2/workflows", refused, times=10))
    with server:
        plain = annotate(server, workdir, "genome.fasta", "--format", "gff3")
        meta = annotate(server, workdir, "plasmid.fasta", "--meta")
    why = f"HTTP {status} from {server.base}/api/v2/workflows: Refused"
    assert plain.returncode == 0, plain.stderr
    assert f"bakta: API v2 could not be asked ({why}); using v1" in plain.stderr.splitlines()
    assert [r.path for r in server.log if "/job/" in r.path and r.path.startswith("/api/v2")] == []
    assert results(workdir) == ["genome", "genome/genome.gff3"]
    assert meta.returncode == 2, meta.stderr
    assert meta.stderr.strip().splitlines()[-1] == (
        f"error: bakta: API v2 of the service at {server.base}/api/v1 could not be asked ({why});"
        " --meta needs API v2"
    )
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1  # the plain run's alone


# ---------------------------------------------------------------- 9, 10. HTTP edges


def test_a_retry_after_neither_seconds_nor_a_date_counts_as_absent(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    odd = Response(503, b"<title>Busy</title>", {"Retry-After": "1.5"})
    bakta_server.faults.append(Fault("POST", LIST, odd, times=2))
    result = annotate(bakta_server, workdir, "genome.fasta", "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert len(bakta_server.requests_to("POST", LIST)) == 2 + 5  # backed off, then the 5 rounds
    assert results(workdir) == ["genome", "genome/genome.gff3"]


def test_the_timeout_bounds_the_waits_a_server_asks_for(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    too_many = json_response("Too many requests", 429, **{"Retry-After": "120"})
    bakta_server.faults.append(Fault("POST", LIST, too_many, times=100))
    result = annotate(bakta_server, workdir, "genome.fasta", "--timeout", "30")
    (job_id,) = bakta_server.deleted
    assert result.returncode == 5, result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        f"bakta: genome: deleted job {job_id}",
        f"error: bakta: gave up after --timeout 30 s: HTTP 429 from {bakta_server.base}"
        "/api/v1/job/list: Too many requests (Retry-After: 120);"
        f" job {job_id} (genome) still running, deleted",  # no state polled yet
    ]
    assert len(bakta_server.requests_to("POST", LIST)) == 1  # no 120 s wait for a second try


def test_the_timeout_bounds_the_backoff_through_an_outage(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    down = Response(503, b"<title>Service Unavailable</title>", {"Content-Type": "text/html"})
    bakta_server.faults.append(Fault("POST", LIST, down, times=100))
    result = annotate(bakta_server, workdir, "genome.fasta", "--timeout", "10")
    assert result.returncode == 5, result.stderr
    (job_id,) = bakta_server.deleted
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: bakta: gave up after --timeout 10 s: HTTP 503 from {bakta_server.base}/api/v1/job/list"
    )
    assert last.endswith(f"; job {job_id} (genome) still running, deleted")
    # urllib3's five retries would back off 0 + 1 + 2 + 4 + 8 s: not all fit in the 10 s.
    assert len(bakta_server.requests_to("POST", LIST)) < 6


# ---------------------------------------------------------------- 13, 14, 15. inputs

UTF8_GENOME = ">contig_1 Müller \u2013 plasmid \u2603\nACGTACGTNNACGT\nACGTACGT\n"


def test_utf8_in_a_description_line_goes_to_every_service_as_it_is(
    bakta_server: FakeBakta,
    mfannotweb_server: FakeMfannotWeb,
    codon_server: FakeCodon,
    workdir: Path,
) -> None:
    (workdir / "utf8.fasta").write_text(UTF8_GENOME, encoding="utf-8")
    (workdir / "cds.fasta").write_text(
        ">reporter_cds Müller \u2013 synthetic\n" + "ATG" + "GCC" * 30 + "TAA\n", encoding="utf-8"
    )
    bakta = annotate(bakta_server, workdir, "utf8.fasta", "--format", "gff3")
    assert bakta.returncode == 0, bakta.stderr
    (upload,) = [r for r in bakta_server.log if r.path.endswith("/fastadata.fasta")]
    assert upload.body == UTF8_GENOME.encode("utf-8")  # the bytes as they are
    args = ["mfannot", "annotate", "utf8.fasta", "--gencode", "4", "--outdir", "mf"]
    mf = run_cli([*args, "--poll-interval", "0"], mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert mf.returncode == 0, mf.stderr
    (submit,) = mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    assert submit.json()["fasta"] == UTF8_GENOME
    co_args = ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai"]
    co = run_cli(
        [*co_args, "--outdir", "co", "--poll-interval", "0"], codon_env(codon_server), cwd=workdir
    )
    assert co.returncode == 0, co.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(
            b">contig_1 M\xfcller\nACGT\n",
            "genome.fasta, line 1: byte 0xfc at column 12 is not UTF-8 text",
            id="latin-1-header",
        ),
        pytest.param(
            ">contig_1\nACGTÜACGT\n".encode(),
            "genome.fasta, line 2: the character 'Ü' (U+00DC) is not allowed in a sequence"
            " (allowed: ACGNTU)",
            id="letter-in-sequence",
        ),
        pytest.param(
            ">contig_1\nACGT\u00a0ACGT\n".encode(),
            "genome.fasta, line 2: the character U+00A0 is not allowed in a sequence"
            " (allowed: ACGNTU)",
            id="no-break-space-in-sequence",
        ),
        pytest.param(
            b">contig_1 a\x07b\nACGT\n",
            "genome.fasta, line 1: the header holds the control character U+0007",
            id="control-in-header",
        ),
        pytest.param(
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
            "genome.fasta, line 1: byte 0x8b at column 2 is not UTF-8 text; is the file compressed?",
            id="gzip",
        ),
    ],
)
def test_what_a_fasta_reader_refuses_it_names_with_its_line(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, content: bytes, words: str
) -> None:
    (workdir / "genome.fasta").write_bytes(content)
    args = ["mfannot", "annotate", "genome.fasta", "--gencode", "4", "--outdir", "out"]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: mfannotweb: {words}"]
    assert mfannotweb_server.log == []


def test_a_codon_name_ending_in_a_newline_is_refused_before_anything_is_sent(
    codon_server: FakeCodon, workdir: Path
) -> None:
    args = ["codon", "optimise", "--name", "gfp\n", "--sequence", "cds.fasta", "--fitness", "cai"]
    result = run_cli([*args, "--outdir", "out"], codon_env(codon_server), cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: codon: name 'gfp\\n': use 1-100 letters, digits, '_', '.' or '-'"
    ]
    assert codon_server.log == [] and not (workdir / "out").exists()


def test_a_replicon_table_is_checked_against_each_genome_it_goes_with(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    """One table for the run goes with every genome, as if each ran alone; Bakta ignores a
    row naming no sequence of its genome, so each row must name one of each genome."""
    both = annotate(
        bakta_server, workdir, "genome.fasta", "plasmid.fasta", "--replicons", "replicons.tsv"
    )
    assert both.returncode == 2, both.stderr
    assert both.stderr.strip().splitlines()[-1] == (
        "error: bakta: replicon table replicons.tsv, row 1: no sequence 'chromosome_1' in"
        " plasmid.fasta"
    )
    assert bakta_server.log == []
    alone = annotate(bakta_server, workdir, "genome.fasta", "--replicons", "replicons.tsv")
    assert alone.returncode == 0, alone.stderr


# ---------------------------------------------------------------- secrets in recordings


class LeakyCodon(FakeCodon):
    """A codon service that hands secrets out in every shape a real deployment may: its token
    JSON-escaped (`\\/`, `\\u002B`), again in a lower-case `set-cookie` (as ASGI servers send
    it) and in a response header of its own, percent-encoded in a link inside a JSON body, and
    a redirect to presigned storage whose `Location` holds X-Amz-Credential and
    X-Amz-Signature, and a lower-case `x-amz-security-token` header; the storage answers with
    the same headers in their canonical case (`X-Amz-Security-Token`, `Set-Cookie`): a secret
    header is one whatever its case."""

    CREDENTIAL = "AKIAFAKESTORAGEKEY7Q%2F20261122%2Fus-east-1%2Fs3%2Faws4_request"
    SIGNATURE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    STS_TOKEN = "FwoGZXIvYXdzEFakeSessionToken0123456789"
    STORAGE_TOKEN = "IQoJb3JpZ2luX2VjEFakeStorageToken9876543210"
    STORAGE_COOKIE = "AWSALB=FakeLoadBalancerCookie0123456789"

    def storage_link(self) -> str:
        query = f"X-Amz-Credential={self.CREDENTIAL}&X-Amz-Signature={self.SIGNATURE}"
        return f"{self.base}/storage/result?{query}"

    def handle(self, request: Request) -> Response:
        if request.path == "/login":
            answer = super().handle(request)
            token = json.loads(answer.body)["token"]
            self.tokens.discard(token)
            token = f"{token[:16]}/{token[16:32]}+{token[32:]}="  # base64-like, as JWTs are
            self.tokens.add(token)
            escaped = token.replace("/", "\\/").replace("+", "\\u002B")
            body = ('{"token": "' + escaped + '"}').encode()
            cookie = f"session={quote(token, safe='')}; Path=/; HttpOnly"
            headers = {"Content-Type": "application/json", "set-cookie": cookie}
            echo = {"X-Session-Echo": token, "x-amz-security-token": self.STS_TOKEN}
            return Response(200, body, {**headers, **echo})
        if request.path == "/optimise/status":
            answer = super().handle(request)
            document = json.loads(answer.body)
            token = request.headers["Authorization"].removeprefix("Bearer ")
            document["log"] = f"{self.base}/logs?t={quote(token, safe='').lower()}"
            # a presigned link inside another's query, percent-encoded (`%3d` for `=`)
            inner = quote(self.storage_link(), safe="").replace("%3D", "%3d")
            document["next"] = f"{self.base}/logs?next={inner}"
            return Response(200, json.dumps(document).replace("/", "\\/").encode(), answer.headers)
        if request.path == "/optimise/result":
            return Response(307, b"", {"Location": self.storage_link()})
        if request.path == "/storage/result":
            answer = super().handle(dataclasses.replace(request, path="/optimise/result"))
            echo = {"X-Amz-Security-Token": self.STORAGE_TOKEN, "Set-Cookie": self.STORAGE_COOKIE}
            return dataclasses.replace(answer, headers={**answer.headers, **echo})
        return super().handle(request)


def every_text(node: object) -> Iterator[str]:
    """Every string of a recording, bytes decoded, each also percent- and JSON-unescaped."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from every_text(key)
            yield from every_text(value)
    elif isinstance(node, list):
        for item in node:
            yield from every_text(item)
    elif isinstance(node, (str, bytes)):
        text = node.decode("utf-8", "replace") if isinstance(node, bytes) else node
        yield text
        yield unquote(text)
        unescaped = text.replace("\\/", "/")
        yield re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), unescaped)


def test_a_recording_keeps_no_secret_in_any_form_and_still_replays(workdir: Path) -> None:
    server = LeakyCodon(USERNAME, PASSWORD)
    args = ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai"]
    with server:
        recorded = run_cli(
            [*args, "--outdir", "out", "--poll-interval", "0", "--record-cassette", "c.yaml"],
            codon_env(server),
            cwd=workdir,
        )
        tokens = set(server.tokens)
    assert recorded.returncode == 0, recorded.stderr
    assert server.requests_to("POST", "/storage/result")  # the redirect was followed
    document = yaml.safe_load((workdir / "c.yaml").read_text())
    secrets = {*tokens, USERNAME, PASSWORD, LeakyCodon.SIGNATURE, LeakyCodon.STS_TOKEN}
    secrets |= {LeakyCodon.STORAGE_TOKEN, LeakyCodon.STORAGE_COOKIE}
    secrets.add(unquote(LeakyCodon.CREDENTIAL))
    texts = list(every_text(document))
    for secret in secrets:
        assert not [text for text in texts if secret in text], secret
    headers = [h for i in document["interactions"] for h in i["response"]["headers"]]
    assert "set-cookie" not in [h.lower() for h in headers]
    assert {"x-amz-security-token", "X-Amz-Security-Token"} <= set(headers)  # both recorded
    replay_env = {**codon_env(server), "CODON_PASSWORD": "another-password"}
    replayed = run_cli(
        [*args, "--outdir", "again", "--replay-cassette", "c.yaml"], replay_env, cwd=workdir
    )
    assert replayed.returncode == 0, replayed.stderr
    assert (workdir / "again" / "gfp.json").read_bytes() == (
        workdir / "out" / "gfp.json"
    ).read_bytes()


def test_each_form_json_or_a_url_may_give_a_secret_in_is_found() -> None:
    """The forms the recording above does not happen to show: a space, a quote, a backslash
    and a character beyond U+FFFF in a secret (a password may hold any of them)."""
    secret = 'pa ss"w\\ord\U0001f511'
    scrubber = Scrubber([secret])
    forms = [
        secret,
        json.dumps(secret)[1:-1],  # \", \\ and the surrogate pair \ud83d\udd11
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret),
    ]
    for form in forms:
        assert scrubber.text(f"before {form} after") == "before REDACTED after", form
