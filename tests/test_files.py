"""The output folder and the job file through the real command: nothing of the user's is
replaced or removed, runs that share a folder do not trip over each other, and nothing
half-written looks finished."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    bakta_env,
    codon_env,
    mfannotweb_env,
    run_cli,
    start_cli,
    wait_for,
)
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
from tests.fakes.server import Fault, Request, Response
from tests.test_failure_paths import holding
from tests.test_mfannotweb import mfannot

CODON = ["codon", "optimise", "--name", "gfp", "--fitness", "cai", "--poll-interval", "0"]


def codon(server: FakeCodon, workdir: Path, *args: str):
    return run_cli([*CODON, *args], codon_env(server), cwd=workdir)


# ---------------------------------------------------------------- 7. nothing is replaced


def test_codon_never_replaces_its_input_nor_an_earlier_result(
    codon_server: FakeCodon, workdir: Path
) -> None:
    (workdir / "gfp.fasta").write_bytes((workdir / "cds.fasta").read_bytes())
    before = (workdir / "gfp.fasta").read_bytes()
    over_input = codon(codon_server, workdir, "--sequence", "gfp.fasta", "--outdir", ".")
    assert over_input.returncode == 2, over_input.stderr
    assert over_input.stderr.strip().splitlines()[-1] == (
        "error: codon: gfp.fasta already exists; choose another --outdir (a run never replaces"
        " a file it did not write)"
    )
    assert (workdir / "gfp.fasta").read_bytes() == before
    assert codon_server.log == []  # refused before anything was sent

    assert (
        codon(codon_server, workdir, "--sequence", "cds.fasta", "--outdir", "out").returncode == 0
    )
    first = {p.name: p.read_bytes() for p in (workdir / "out").iterdir()}
    again = codon(codon_server, workdir, "--sequence", "cds.fasta", "--outdir", "out")
    assert again.returncode == 2
    assert "out/gfp.fasta already exists" in again.stderr
    assert {p.name: p.read_bytes() for p in (workdir / "out").iterdir()} == first
    assert len(codon_server.requests_to("POST", "/optimise")) == 1


def test_a_codon_rerun_with_its_job_file_may_write_its_own_results_again(
    codon_server: FakeCodon, workdir: Path
) -> None:
    args = ["--sequence", "cds.fasta", "--outdir", "out", "--job-file", "job.json"]
    assert codon(codon_server, workdir, *args).returncode == 0
    (workdir / "out" / "gfp.scores.tsv").write_text("damaged\n")
    again = codon(codon_server, workdir, *args)
    assert again.returncode == 0, again.stderr
    assert (workdir / "out" / "gfp.scores.tsv").read_text().startswith("id\ttype\tscore")
    assert len(codon_server.requests_to("POST", "/optimise")) == 1


def test_mfannot_refuses_an_earlier_runs_results_and_never_replaces_a_users_file(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    out = workdir / "out"
    out.mkdir()
    (out / "mfannot.gff").write_text("my own annotation\n")
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: mfannotweb: {out / 'mfannot.gff'} already exists and was not written by this"
        " run; nothing was published: move it away or choose another --outdir, then run again"
    )
    assert sorted(p.name for p in out.iterdir()) == ["mfannot.gff"]
    assert (out / "mfannot.gff").read_text() == "my own annotation\n"

    (out / "mfannot.gff").unlink()
    assert mfannot(mfannotweb_server, workdir).returncode == 0
    submits = len(mfannotweb_server.requests_to("POST", "/api/v1/jobs"))
    again = mfannot(mfannotweb_server, workdir)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: mfannotweb: {out / 'results.zip'} already exists; choose another --outdir (a run"
        " never replaces a file it did not write)"
    )
    assert len(mfannotweb_server.requests_to("POST", "/api/v1/jobs")) == submits


def test_an_mfannot_rerun_with_its_job_file_fetches_into_its_own_results(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    assert mfannot(mfannotweb_server, workdir, "--job-file", "job.json").returncode == 0
    (workdir / "out" / "run.log").unlink()
    again = mfannot(mfannotweb_server, workdir, "--job-file", "job.json")
    assert again.returncode == 0, again.stderr
    assert (workdir / "out" / "run.log").read_text().startswith("mfannot started")
    assert len(mfannotweb_server.requests_to("POST", "/api/v1/jobs")) == 1
    record = json.loads((workdir / "job.json").read_text())["jobs"]["mfannot"]
    assert record["folder"] == str(workdir / "out")
    assert sorted(record["files"]) == sorted(p.name for p in (workdir / "out").iterdir())


# ---------------------------------------------------------------- 8. nothing is removed


def test_a_folder_in_the_archive_joins_the_users_folder_of_that_name(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.extra_entries = [("data/summary.txt", b"summary\n")]
    mine = workdir / "out" / "data" / "mine.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("keep me\n")
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    assert mine.read_text() == "keep me\n"
    assert (workdir / "out" / "data" / "summary.txt").read_bytes() == b"summary\n"
    assert str(workdir / "out" / "data" / "summary.txt") in result.stdout.split()


# ---------------------------------------------------------------- 9. runs that share --outdir


def test_two_runs_that_share_an_outdir_at_the_same_time_both_deliver(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    for name in ("a", "b"):
        (workdir / f"{name}.fasta").write_bytes((workdir / "genome.fasta").read_bytes())
    release = threading.Event()
    held: list[str] = []  # the job whose downloads wait until the other run has delivered
    original = bakta_server.handle

    def handle(request: Request) -> Response:
        if request.method == "GET" and request.path.startswith("/bakta-web/jobs/"):
            job = request.path.split("/")[3]
            with bakta_server.lock:
                held[:] = held or [job]
            if job == held[0]:
                release.wait(60)
        return original(request)

    bakta_server.handle = handle  # type: ignore[method-assign]
    args = ["bakta", "annotate", "--outdir", "out", "--poll-interval", "0.05"]
    try:
        first = start_cli([*args, "a.fasta"], bakta_env(bakta_server), workdir)
        wait_for(lambda: held, "the first run's download")
        second = run_cli([*args, "b.fasta"], bakta_env(bakta_server), cwd=workdir)
    finally:
        release.set()
    stdout, stderr = first.communicate(timeout=60)
    assert second.returncode == 0, second.stderr
    assert first.returncode == 0, stderr
    assert (stdout.split(), second.stdout.split()) == (["out/a"], ["out/b"])
    for name in ("a", "b"):
        assert (workdir / "out" / name / f"{name}.gff3").stat().st_size > 0
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["a", "b"]


# ---------------------------------------------------------------- 10. an --outdir that cannot be


@pytest.mark.parametrize("service", ["bakta", "mfannot", "codon"])
def test_an_outdir_that_cannot_be_created_stops_the_run_before_anything_is_sent(
    bakta_server: FakeBakta,
    mfannotweb_server: FakeMfannotWeb,
    codon_server: FakeCodon,
    workdir: Path,
    service: str,
) -> None:
    (workdir / "results").write_text("a file, not a folder\n")
    outdir = ["--outdir", "results/out"]
    server, args, env = {
        "bakta": (bakta_server, ["bakta", "annotate", "genome.fasta"], bakta_env(bakta_server)),
        "mfannot": (
            mfannotweb_server,
            ["mfannot", "annotate", "mito.fasta", "--gencode", "4"],
            mfannotweb_env(mfannotweb_server),
        ),
        "codon": (codon_server, [*CODON, "--sequence", "cds.fasta"], codon_env(codon_server)),
    }[service]
    result = run_cli([*args, *outdir], env, cwd=workdir)
    name = {"mfannot": "mfannotweb"}.get(service, service)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {name}: cannot create the output folder results/out: a file is in the way"
    )
    assert server.log == []


def test_a_killed_runs_staging_folder_goes_and_a_running_ones_stays(
    codon_server: FakeCodon, workdir: Path
) -> None:
    out = workdir / "out"
    for name in (".partial", ".partial-killed", ".partial-running"):
        (out / name).mkdir(parents=True)
        (out / name / "gfp.fasta").write_text(">half\n")
    running = os.open(out / ".partial-running", os.O_RDONLY)
    fcntl.flock(running, fcntl.LOCK_EX)  # what a run does while it uses its staging folder
    try:
        result = codon(codon_server, workdir, "--sequence", "cds.fasta", "--outdir", "out")
    finally:
        os.close(running)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".partial-running",
        "gfp.fasta",
        "gfp.json",
        "gfp.scores.tsv",
    ]


# ---------------------------------------------------------------- 11. delivered means whole


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_bakta_result_folder_missing_a_file_is_fetched_again(
    bakta_server: FakeBakta, workdir: Path, damage: str
) -> None:
    args = ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--poll-interval", "0"]
    args += ["--format", "gff3", "--format", "tsv", "--job-file", "job.json"]
    assert run_cli(args, bakta_env(bakta_server), cwd=workdir).returncode == 0
    folder = workdir / "out" / "genome"
    whole = {path.name: path.read_bytes() for path in folder.iterdir()}
    assert sorted(whole) == ["genome.gff3", "genome.tsv"]
    if damage == "deleted":
        (folder / "genome.gff3").unlink()
    else:
        (folder / "genome.gff3").write_bytes(whole["genome.gff3"][:10])
    (folder / "notes.txt").write_text("mine\n")
    again = run_cli(args, bakta_env(bakta_server), cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["out/genome"]
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == {
        **whole,
        "notes.txt": b"mine\n",
    }
    assert len(bakta_server.requests_to("POST", "/api/v1/job/init")) == 1
    assert "genome: re-attached to job" in again.stderr
    # Whole again: a third run finds it delivered and asks the service nothing about it.
    lists = len(bakta_server.requests_to("POST", "/api/v1/job/list"))
    assert run_cli(args, bakta_env(bakta_server), cwd=workdir).returncode == 0
    assert len(bakta_server.requests_to("POST", "/api/v1/job/list")) == lists


# ---------------------------------------------------------------- 12. one run per job file


def test_a_second_run_with_the_same_job_file_stops_while_the_first_runs(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    args = ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--poll-interval", "0"]
    args += ["--job-file", "job.json"]
    with holding(bakta_server, lambda r: r.path == "/api/v1/job/list"):
        first = start_cli(args, bakta_env(bakta_server), workdir)
        wait_for(lambda: bakta_server.requests_to("POST", "/api/v1/job/list"), "polling")
        seen = len(bakta_server.log)
        second = run_cli(args, bakta_env(bakta_server), cwd=workdir)
        assert len(bakta_server.log) == seen  # the second run sent nothing
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        "error: bakta: job file job.json is in use by another run (it holds job.json.lock);"
        " wait for that run to end, or use another --job-file"
    )
    stderr = first.communicate(timeout=60)[1]
    assert first.returncode == 0, stderr
    assert len(bakta_server.requests_to("POST", "/api/v1/job/init")) == 1
    assert run_cli(args, bakta_env(bakta_server), cwd=workdir).returncode == 0  # lock released


def test_an_empty_job_file_is_not_taken_for_a_new_one(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    (workdir / "job.json").write_bytes(b"")
    result = mfannot(mfannotweb_server, workdir, "--job-file", "job.json")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: mfannotweb: job file job.json is empty, not a job file of the runner; remove it"
        " or use another --job-file"
    )
    assert mfannotweb_server.log == []


SYNC_SPY = """
import os

_fsync, _replace = os.fsync, os.replace


def _note(line):
    with open(os.environ["SYNC_LOG"], "a") as log:
        log.write(line + "\\n")


def fsync(fd):
    _fsync(fd)
    _note("fsync " + os.readlink(f"/proc/self/fd/{fd}"))


def replace(src, dst, **kwargs):
    _note(f"replace {os.path.realpath(src)} {os.path.realpath(dst)}")
    _replace(src, dst, **kwargs)


os.fsync, os.replace = fsync, replace
"""


def test_each_version_of_the_job_file_is_on_disk_before_it_replaces_the_last(
    codon_server: FakeCodon, workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spy = tmp_path_factory.mktemp("spy")
    (spy / "sitecustomize.py").write_text(SYNC_SPY)
    log = spy / "sync.log"
    env = {**codon_env(codon_server), "SYNC_LOG": str(log)}
    env["PYTHONPATH"] = f"{spy}:{ROOT / 'lib'}"
    args = [*CODON, "--sequence", "cds.fasta", "--outdir", "out", "--job-file", "job.json"]
    result = run_cli(args, env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    job_file, folder = str((workdir / "job.json").resolve()), str(workdir.resolve())
    replaced = [n for n, line in enumerate(lines) if line.endswith(f" {job_file}")]
    assert replaced  # the codon job and its results were put on record
    for n in replaced:
        tmp = lines[n].split()[1]
        assert f"fsync {tmp}" in lines[:n], lines
        assert lines[n + 1] == f"fsync {folder}", lines


# ---------------------------------------------------------------- 13. a codon submit is found


def test_a_codon_submit_whose_answer_is_lost_is_found_among_the_users_jobs(
    codon_server: FakeCodon, workdir: Path
) -> None:
    assert (
        codon(codon_server, workdir, "--sequence", "cds.fasta", "--outdir", "old").returncode == 0
    )
    (older,) = codon_server.jobs
    codon_server.jobs[older].created_at = "2020-01-01T00:00:00"  # the same name, long ago
    codon_server.faults.append(
        Fault("POST", "/optimise", Response(drop=True), times=1, after_handling=True)
    )
    result = codon(codon_server, workdir, "--sequence", "cds.fasta", "--outdir", "out")
    assert result.returncode == 0, result.stderr
    (made,) = set(codon_server.jobs) - {older}
    assert f"codon: gfp: found job {made}, made by a submit whose answer was lost" in result.stderr
    assert len(codon_server.requests_to("POST", "/optimise")) == 2  # one each run
    assert codon_server.requests_to("POST", "/optimise/result")[-1].json() == {"jobid": made}
    assert (workdir / "out" / "gfp.fasta").exists()


def test_a_rerun_finds_the_codon_job_a_killed_runs_submit_made(
    codon_server: FakeCodon, workdir: Path
) -> None:
    answered = threading.Event()
    codon_server.faults.append(
        Fault("POST", "/optimise", Response(hold=answered), times=1, after_handling=True)
    )
    args = [*CODON, "--sequence", "cds.fasta", "--outdir", "out", "--job-file", "job.json"]
    try:
        runner = start_cli(args, codon_env(codon_server), workdir)
        wait_for(lambda: codon_server.jobs, "the submit taken by the service")
        runner.kill()  # the runner dies before the answer comes
        runner.communicate()
    finally:
        answered.set()
    (made,) = codon_server.jobs
    again = run_cli(args, codon_env(codon_server), cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert f"codon: gfp: found job {made}, made by a submit whose answer was lost" in again.stderr
    assert len(codon_server.requests_to("POST", "/optimise")) == 1
    assert json.loads((workdir / "job.json").read_text())["jobs"]["gfp"]["id"] == made
