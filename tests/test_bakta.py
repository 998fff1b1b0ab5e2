"""The Bakta flow against the fake backend, which checks requests like the real one."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from remote_jobs import bakta
from tests.conftest import bakta_env, clock_free, run_cli
from tests.fakes.bakta_service import FakeBakta

ALL_FILES = sorted(f"genome.{suffix}" for suffix in bakta.FORMATS)


def annotate(
    server: FakeBakta,
    workdir: Path,
    *extra: str,
    interrupt_when: Callable[[], object] | None = None,
):
    args = ["bakta", "annotate", "--outdir", str(workdir / "out"), "--poll-interval", "0", *extra]
    return run_cli(args, bakta_env(server), cwd=workdir, interrupt_when=interrupt_when)


def test_default_run_fetches_all_fourteen_files_with_bakta_cli_names(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    result = annotate(bakta_server, workdir, "genome.fasta")
    assert result.returncode == 0, result.stderr
    folder = workdir / "out" / "genome"
    assert sorted(p.name for p in folder.iterdir()) == ALL_FILES
    assert result.stdout.strip() == str(folder)
    gff = (folder / "genome.gff3").read_text()
    assert gff.startswith("##gff-version 3\n") and "\tCDS\t" in gff
    assert (folder / "genome.gbff").read_text().startswith("LOCUS       contig_1")
    assert (folder / "genome.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads((folder / "genome.json").read_text())["version"]["bakta"] == "1.9.4"
    assert not list((workdir / "out").glob(".*"))  # no partial folder left behind
    lines = result.stderr.strip().splitlines()
    assert (
        lines[0]
        == "bakta: Bakta 1.9.4, database 5.1, backend 0.4.2 at " + bakta_server.base + "/api/v1"
    )
    job_id = next(iter(bakta_server.jobs))
    assert clock_free(lines[1:]) == [
        f"bakta: genome: submitted as job {job_id}",
        "bakta genome: queued on the service (MM:SS)",
        "bakta genome: queued on the service -> RUNNING (MM:SS)",
        "bakta genome: RUNNING -> SUCCESSFUL (MM:SS; queued MM:SS, ran MM:SS)",
    ]  # one line per state change, none per poll (three RUNNING polls happened)
    assert not bakta_server.requests_to("GET", "/api/v1/job/logs")  # the log: when asked for


def test_start_request_follows_what_the_backend_requires(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    result = annotate(bakta_server, workdir, "genome.fasta")
    assert result.returncode == 0, result.stderr
    start = bakta_server.requests_to("POST", "/api/v1/job/start")[0].json()
    assert start["config"] == {
        "translationTable": 11, "completeGenome": False, "compliant": False, "keepContigHeaders": False,
        "minContigLength": 1, "dermType": "UNKNOWN", "hasReplicons": False, "prodigalTrainingFile": None,
        "genus": None, "species": None, "strain": None, "plasmid": None, "locus": None, "locusTag": None,
    }  # fmt: skip
    puts = bakta_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    assert [len(p.body) > 0 for p in puts] == [
        True,
        False,
        False,
    ]  # all three links, empty when unused
    assert bakta_server.requests_to("POST", "/api/v1/job/init")[0].json() == {
        "name": "genome",
        "repliconTableType": "TSV",
    }


def test_every_option_reaches_the_start_request(bakta_server: FakeBakta, workdir: Path) -> None:
    result = annotate(
        bakta_server, workdir, "genome.fasta", "--translation-table", "4", "--complete", "--compliant",
        "--keep-contig-headers", "--min-contig-length", "200", "--derm-type", "monoderm", "--genus", "Bacillus",
        "--species", "subtilis", "--strain", "168", "--plasmid", "pBS1", "--locus", "BSU", "--locus-tag", "BSU168",
        "--replicons", "replicons.tsv", "--prodigal-tf", "training.tf", "--format", "gff3", "--format", "inference.tsv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = bakta_server.requests_to("POST", "/api/v1/job/start")[0].json()["config"]
    assert config == {
        "translationTable": 4, "completeGenome": True, "compliant": True, "keepContigHeaders": True,
        "minContigLength": 200, "dermType": "MONODERM", "hasReplicons": True, "prodigalTrainingFile": "training.tf",
        "genus": "Bacillus", "species": "subtilis", "strain": "168", "plasmid": "pBS1", "locus": "BSU", "locusTag": "BSU168",
    }  # fmt: skip
    puts = bakta_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    assert [p.body for p in puts[1:]] == [
        (workdir / "training.tf").read_bytes(),
        (workdir / "replicons.tsv").read_bytes(),
    ]
    assert sorted(p.name for p in (workdir / "out" / "genome").iterdir()) == [
        "genome.gff3",
        "genome.inference.tsv",
    ]


def test_batch_polls_all_jobs_with_one_list_request_per_round(workdir: Path) -> None:
    server = FakeBakta(scripts={
        "genome": ["INIT", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"],
        "plasmid": ["INIT", "SUCCESSFUL"],
        "third": ["INIT", "RUNNING", "RUNNING", "SUCCESSFUL"],
    })  # fmt: skip
    (workdir / "third.fasta").write_bytes((workdir / "plasmid.fasta").read_bytes())
    with server:
        result = annotate(
            server, workdir, "genome.fasta", "plasmid.fasta", "third.fasta", "--format", "gff3"
        )
        assert result.returncode == 0, result.stderr
        rounds = [
            [job["jobID"] for job in r.json()["jobs"]]
            for r in server.requests_to("POST", "/api/v1/job/list")
        ]
    ids = {job.name: job.id for job in server.jobs.values()}
    assert len(rounds) == 6  # the slowest job needs six rounds: one request each, for all jobs
    assert rounds[0] == [ids["genome"], ids["plasmid"], ids["third"]]
    assert rounds[2] == [
        ids["genome"],
        ids["third"],
    ]  # plasmid finished in round 2 and left the list
    assert rounds[4] == [ids["genome"]]
    results = [r.json()["jobID"] for r in server.requests_to("POST", "/api/v1/job/result")]
    assert results == [ids["plasmid"], ids["third"], ids["genome"]]  # fetched as each finished
    for name in ("genome", "plasmid", "third"):
        assert (workdir / "out" / name / f"{name}.gff3").read_text().startswith("##gff-version 3")


def test_resume_reattaches_and_submits_nothing_new(workdir: Path) -> None:
    server = FakeBakta(script=["INIT"] + ["RUNNING"] * 10_000)
    polled = lambda: server.requests_to("POST", "/api/v1/job/list")  # noqa: E731
    with server:
        # Stopped once its job runs (Ctrl-C: with a job file, the job stays for a rerun).
        first = annotate(
            server, workdir, "genome.fasta", "--job-file", "job.json", interrupt_when=polled
        )
        assert first.returncode == 6, first.stderr
        job_file = workdir / "job.json"
        assert job_file.stat().st_mode & 0o777 == 0o600
        record = json.loads(job_file.read_text())["jobs"]["genome"]
        job = server.jobs[record["id"]]
        assert record["secret"] == job.secret and record["started"] is True
        # A rerun that gives up at its --timeout, wherever it got by then, keeps the job too.
        short = annotate(
            server, workdir, "genome.fasta", "--job-file", "job.json", "--timeout", "1"
        )
        assert short.returncode == 5 and "gave up after --timeout 1 s" in short.stderr
        assert json.loads(job_file.read_text())["jobs"]["genome"] == record
        assert server.deleted == []
        job.script = ["RUNNING", "SUCCESSFUL"]
        second = annotate(server, workdir, "genome.fasta", "--job-file", "job.json")
        assert second.returncode == 0, second.stderr
        assert f"genome: re-attached to job {job.id}" in second.stderr
        assert len(server.requests_to("POST", "/api/v1/job/init")) == 1
        assert len(server.requests_to("POST", "/api/v1/job/start")) == 1
        assert job.secret not in first.stderr + second.stderr + first.stdout + second.stdout
        other = annotate(server, workdir, "plasmid.fasta", "--job-file", "job.json")
        assert other.returncode == 2 and "belongs to another run" in other.stderr


def test_error_job_reports_the_last_log_lines(workdir: Path) -> None:
    server = FakeBakta(script=["INIT", "RUNNING", "ERROR"])
    server.error_log = "Error: contig_2 is shorter than 1 nt"
    with server:
        result = annotate(server, workdir, "genome.fasta")
    job_id = next(iter(server.jobs))
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"error: bakta job {job_id}: job ended in ERROR: parse genome sequences... | imported: 2"
        " | Error: contig_2 is shorter than 1 nt"
    )  # Bakta's own last words: it failed on its input, and is not submitted again
    assert re.fullmatch(
        r"bakta genome: RUNNING -> ERROR \(\d\d:\d\d; queued \d\d:\d\d, ran \d\d:\d\d\)", lines[-2]
    )
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1 and not server.deleted
    assert not (workdir / "out" / "genome").exists()


@pytest.mark.parametrize(
    ("v2", "words"),
    [
        pytest.param(
            False,
            "job ended in ERROR: Internal server error (the service's own error, no word of Bakta)",
            id="v1",
        ),  # the log is only the service's generic error
        pytest.param(
            True,
            "job ended in ERROR in stage bakta (status error, log empty: the service's own"
            " failure, no word of bakta)",
            id="v2",
        ),  # the engine's status of the stage, with no log of its own
    ],
)
def test_a_job_that_failed_inside_the_service_is_resubmitted_once(
    workdir: Path, v2: bool, words: str
) -> None:
    """Bakta's team answers such failures with "just re-submit" (Bakta issues 291, 152, 386)."""
    server = FakeBakta(v2=v2)
    server.engine_failures = 1
    with server:
        result = annotate(server, workdir, "genome.fasta", "--job-file", "job.json")
        (new_id,) = server.jobs
    assert result.returncode == 0, result.stderr
    (old_id,) = server.deleted
    assert (
        f"bakta: genome: job {old_id} failed inside the service, not on its input: {words};"
        f" resubmitted as job {new_id} (1 of --resubmit 1), job {old_id} deleted"
    ) in result.stderr.splitlines()
    assert (workdir / "out" / "genome" / "genome.gff3").is_file()
    record = json.loads((workdir / "job.json").read_text())["jobs"]["genome"]
    assert record["id"] == new_id and record["resubmitted"] == 1  # the job file follows it
    assert len(server.requests_to("POST", f"/api/v{2 if v2 else 1}/job/init")) == 2


@pytest.mark.parametrize(
    ("resubmit", "jobs"),
    [pytest.param([], 2, id="default"), pytest.param(["--resubmit", "0"], 1, id="off")],
)
def test_resubmission_is_bounded(workdir: Path, resubmit: list[str], jobs: int) -> None:
    server = FakeBakta()
    server.engine_failures = 5
    with server:
        result = annotate(server, workdir, "genome.fasta", *resubmit)
        last = next(iter(server.jobs))
    assert result.returncode == 4
    assert len(server.requests_to("POST", "/api/v1/job/init")) == jobs
    again = (
        "it failed inside the service again after 1 resubmission(s)"
        if jobs == 2
        else "submitting it again may help (--resubmit)"
    )
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bakta job {last}: job ended in ERROR: Internal server error (the service's own"
        f" error, no word of Bakta); {again}"
    )


def test_a_job_lost_between_its_init_and_start_is_submitted_afresh_once(workdir: Path) -> None:
    """backend: v1's job/start answers 200 for a job it does not know (the service restarted
    after the init); the next job/list says NOT_FOUND."""
    server = FakeBakta()
    server.restarts_before_start = 1
    with server:
        result = annotate(server, workdir, "genome.fasta", "--job-file", "job.json")
        (new_id,) = server.jobs
        first_id = server.requests_to("POST", "/api/v1/job/start")[0].json()["job"]["jobID"]
    assert result.returncode == 0, result.stderr
    assert first_id != new_id
    lines = result.stderr.splitlines()
    assert (
        f"bakta: genome: the service does not know job {first_id}, whose start it accepted (lost"
        " in a restart of the service between its init and its start); submitting it afresh"
    ) in lines
    assert f"bakta: genome: submitted as job {new_id}" in lines
    assert json.loads((workdir / "job.json").read_text())["jobs"]["genome"]["id"] == new_id
    assert (workdir / "out" / "genome" / "genome.gff3").is_file()


def test_a_job_lost_again_after_its_fresh_start_fails(workdir: Path) -> None:
    server = FakeBakta()
    server.restarts_before_start = 2
    with server:
        result = annotate(server, workdir, "genome.fasta")
        second_id = server.requests_to("POST", "/api/v1/job/start")[1].json()["job"]["jobID"]
    assert result.returncode == 4
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bakta job {second_id}: the service reports the job as NOT_FOUND"
    )


def test_the_log_is_fetched_when_asked_for(bakta_server: FakeBakta, workdir: Path) -> None:
    result = annotate(bakta_server, workdir, "genome.fasta", "--format", "gff3", "--format", "log")
    assert result.returncode == 0, result.stderr
    folder = workdir / "out" / "genome"
    assert sorted(p.name for p in folder.iterdir()) == ["genome.gff3", "genome.log"]
    log = (folder / "genome.log").read_text()
    assert log.startswith("Bakta v1.9.4\n") and "Annotation successfully finished" in log


def test_failed_jobs_not_found_and_unauthorized(bakta_server: FakeBakta, workdir: Path) -> None:
    bakta_server.script = ["INIT"] + ["RUNNING"] * 100
    polled = lambda: bakta_server.requests_to("POST", "/api/v1/job/list")  # noqa: E731
    first = annotate(
        bakta_server, workdir, "genome.fasta", "--job-file", "job.json", interrupt_when=polled
    )
    assert first.returncode == 6, first.stderr
    document = json.loads((workdir / "job.json").read_text())
    job_id = document["jobs"]["genome"]["id"]
    document["jobs"]["genome"]["secret"] = "x" * 32
    (workdir / "job.json").write_text(json.dumps(document))
    wrong = annotate(bakta_server, workdir, "genome.fasta", "--job-file", "job.json")
    assert wrong.returncode == 3
    assert f"error: bakta job {job_id}: the service reports the job as UNAUTHORIZED" in wrong.stderr
    # A job the service no longer knows (expired, or lost in a restart): submitted afresh.
    del bakta_server.jobs[job_id]
    bakta_server.script = ["INIT", "SUCCESSFUL"]
    gone = annotate(bakta_server, workdir, "genome.fasta", "--job-file", "job.json")
    assert gone.returncode == 0, gone.stderr
    (new_id,) = bakta_server.jobs
    assert (
        f"bakta: genome: the service no longer knows job {job_id} (expired, or lost in a restart"
        " of the service); submitting it afresh"
    ) in gone.stderr.splitlines()
    assert f"bakta: genome: submitted as job {new_id}" in gone.stderr.splitlines()
    assert len(bakta_server.requests_to("POST", "/api/v1/job/init")) == 2


def test_one_failure_in_a_batch_still_delivers_the_others(workdir: Path) -> None:
    server = FakeBakta(
        scripts={"genome": ["INIT", "ERROR"], "plasmid": ["INIT", "RUNNING", "SUCCESSFUL"]}
    )
    with server:
        result = annotate(server, workdir, "genome.fasta", "plasmid.fasta", "--format", "tsv")
    assert result.returncode == 4
    assert (workdir / "out" / "plasmid" / "plasmid.tsv").exists()
    assert not (workdir / "out" / "genome").exists()
    assert (
        "bakta job" in result.stderr.splitlines()[-1] and "ERROR" in result.stderr.splitlines()[-1]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "genome.fasta: empty file, no FASTA sequence found"),
        ("hello world\n", "genome.fasta, line 1: not FASTA: the first line must be a '>' header"),
        (">c1\nACGT\n>c1\nACGT\n", "genome.fasta, line 3: duplicate sequence id 'c1'"),
        (
            ">prot\nMSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTF\n",
            "'prot' looks like protein; nucleotides are needed",
        ),
        (">c1\nACGT12\n", "characters '12' are not allowed"),
        (">c1\n\n>c2\nACGT\n", "sequence 'c1' is empty"),
    ],
)
def test_bad_genomes_are_refused_before_any_request(
    bakta_server: FakeBakta, workdir: Path, content: str, message: str
) -> None:
    (workdir / "genome.fasta").write_text(content)
    result = annotate(bakta_server, workdir, "genome.fasta")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: bakta: {message}" or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert bakta_server.log == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("chromosome_1\tc1\tchromosome\tcircular\n", "4 columns, expected 5"),
        ("nope\tc1\tchromosome\tcircular\tchr\n", "no sequence 'nope' in genome.fasta"),
        (
            "chromosome_1\tc1\tgenome\tcircular\tchr\n",
            "type 'genome' is not chromosome/plasmid/contig",
        ),
        ("chromosome_1\tc1\tc\tround\tchr\n", "topology 'round' is not circular/linear"),
        ("", "is empty"),
    ],
)
def test_bad_replicon_tables_are_refused(
    bakta_server: FakeBakta, workdir: Path, table: str, message: str
) -> None:
    (workdir / "replicons.tsv").write_text(table)
    result = annotate(bakta_server, workdir, "genome.fasta", "--replicons", "replicons.tsv")
    assert result.returncode == 2
    assert message in result.stderr
    assert bakta_server.log == []


def test_csv_replicon_table_is_detected(bakta_server: FakeBakta, workdir: Path) -> None:
    (workdir / "replicons.csv").write_text("chromosome_1,chr1,c,c,chr1\nplasmid_1,p1,p,c,p1\n")
    result = annotate(
        bakta_server, workdir, "genome.fasta", "--replicons", "replicons.csv", "--format", "txt"
    )
    assert result.returncode == 0, result.stderr
    assert (
        bakta_server.requests_to("POST", "/api/v1/job/init")[0].json()["repliconTableType"] == "CSV"
    )


def test_unknown_result_keys_are_kept_under_their_key(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    original = bakta_server.results_for
    bakta_server.results_for = lambda job: {**original(job), "GFF3Extended": b"##gff-version 3\n"}  # type: ignore[method-assign]
    import tests.fakes.bakta_service as service

    service.SUFFIX["GFF3Extended"] = "GFF3Extended"
    try:
        result = annotate(bakta_server, workdir, "genome.fasta")
    finally:
        del service.SUFFIX["GFF3Extended"]
    assert result.returncode == 0, result.stderr
    assert (workdir / "out" / "genome" / "genome.GFF3Extended").read_text() == "##gff-version 3\n"


def test_version_command(bakta_server: FakeBakta) -> None:
    result = run_cli(["bakta", "version"], bakta_env(bakta_server))
    assert result.returncode == 0
    assert result.stdout == "toolVersion\t1.9.4\ndbVersion\t5.1\nbackendVersion\t0.4.2\n"


def test_existing_results_are_not_overwritten(bakta_server: FakeBakta, workdir: Path) -> None:
    (workdir / "out" / "genome").mkdir(parents=True)
    result = annotate(bakta_server, workdir, "genome.fasta")
    assert result.returncode == 2 and "already exists" in result.stderr


def test_an_admin_sets_the_polling_interval_in_the_environment(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    """REMOTE_JOBS_POLL_INTERVAL (a Galaxy destination's env) replaces the growing interval,
    whose first step alone is 15 s; the command line's --poll-interval is not given."""
    args = ["bakta", "annotate", "--outdir", str(workdir / "out"), "genome.fasta"]
    env = {**bakta_env(bakta_server), "REMOTE_JOBS_POLL_INTERVAL": "0.2"}
    result = run_cli(args, env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    polls = [r.received for r in bakta_server.requests_to("POST", "/api/v1/job/list")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert len(gaps) == 4  # INIT, three RUNNING, SUCCESSFUL: one request a round
    assert all(0.2 <= gap < 15 for gap in gaps), gaps


@pytest.mark.parametrize("value", ["fast", "-1"])
def test_a_bad_polling_interval_in_the_environment_is_refused_in_one_line(
    bakta_server: FakeBakta, workdir: Path, value: str
) -> None:
    args = ["bakta", "annotate", "--outdir", str(workdir / "out"), "genome.fasta"]
    env = {**bakta_env(bakta_server), "REMOTE_JOBS_POLL_INTERVAL": value}
    result = run_cli(args, env, cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: remote-jobs: REMOTE_JOBS_POLL_INTERVAL must be a number of seconds (0 or more),"
        f" not '{value}'"
    ]
    assert not bakta_server.requests_to("POST", "/api/v1/job/init")  # nothing was sent
