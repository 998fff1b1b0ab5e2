"""The Bakta API v2 flow (and the fall-back to v1) through the real CLI, against the fake
backend serving v2 as ../shared/notes/bakta-v2.md describes it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from remote_jobs import bakta
from remote_jobs.errors import InputError
from tests.conftest import bakta_env, clock_free, run_cli, start_cli, stop, wait_for
from tests.fakes.bakta_service import FakeBakta

LIST = "/api/v2/job/list"
DEFAULT_CONFIG = {
    "use_prodigal_training_file": False, "use_replicons": False, "use_regions": False,
    "use_trusted_proteins": False, "use_hmms": False, "translation_table": 11,
    "complete_genome": False, "keep_contig_headers": False, "compliant": False, "meta": False,
    "min_contig_length": 1, "derm_type": "unknown", "locus_tag_increment": 1,
    **{f"skip_{name}": False for name in bakta.SKIPS},
}  # fmt: skip
PROTEINS = ">prot1 a protein\nMSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTF\n>prot2\nMKKLLPTAAAGLLLLAAQPAMAHHHHHH\n"
TRUSTED = ">T1 gfp~~~Green fluorescent protein~~~UniRef:UniRef90_P42212\nMSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTF\n"
HMM = "HMMER3/f [3.3.2 | Nov 2020]\nNAME  test\nLENG  10\n//\n"
REGIONS = "##gff-version 3\ncontig_1\tuser\tCDS\t84\t452\t.\t+\t0\tID=r1\n"


@pytest.fixture
def v2_server() -> Iterator[FakeBakta]:
    with FakeBakta(v2=True) as server:
        yield server


@pytest.fixture
def v2_workdir(workdir: Path) -> Path:
    (workdir / "trusted.faa").write_text(TRUSTED)
    (workdir / "proteins.faa").write_text(PROTEINS)
    (workdir / "trusted.hmm").write_text(HMM)
    (workdir / "regions.gff3").write_text(REGIONS)
    return workdir


def annotate(
    server: FakeBakta,
    workdir: Path,
    *extra: str,
    command: str = "annotate",
    interrupt_when: Callable[[], object] | None = None,
):
    args = ["bakta", command, "--outdir", str(workdir / "out"), "--poll-interval", "0", *extra]
    return run_cli(args, bakta_env(server), cwd=workdir, interrupt_when=interrupt_when)


def start_body(server: FakeBakta) -> dict:
    return server.requests_to("POST", "/api/v2/job/start")[0].json()


def test_v2_default_run_follows_the_notes(v2_server: FakeBakta, v2_workdir: Path) -> None:
    result = annotate(v2_server, v2_workdir, "genome.fasta")
    assert result.returncode == 0, result.stderr
    folder = v2_workdir / "out" / "genome"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"genome.{s}" for s in bakta.FORMATS)
    assert json.loads((folder / "genome.json").read_text())["version"]["bakta"] == "1.11.0"
    assert (folder / "genome.gff3").read_text().count("ID=") > 0
    job = next(iter(v2_server.jobs.values()))
    lines = result.stderr.strip().splitlines()
    assert lines[:2] == [
        f"bakta: Bakta 1.11.0, database 6.0, backend 0.6.0 at {v2_server.base}/api/v2 (bakta)",
        f"bakta: genome: submitted as job {job.id}",
    ]
    assert clock_free(lines[2:]) == [
        "bakta genome: queued on the service (MM:SS)",
        "bakta genome: queued on the service -> RUNNING (MM:SS)",
        "bakta genome: RUNNING -> SUCCESSFUL (MM:SS; queued MM:SS, ran MM:SS)",
    ]  # backend: a started job in `init` waits in the service's queue
    assert [(r.method, r.path) for r in v2_server.log[:5]] == [
        ("GET", "/api/v2/workflows"),
        ("GET", "/api/v2/version"),
        ("POST", "/api/v2/job/init"),
        ("PUT", f"/bakta-web/jobs/{job.id}/genome_fasta"),
        ("POST", "/api/v2/job/start"),
    ]  # only the genome is uploaded: the other upload kinds are optional
    assert v2_server.requests_to("POST", "/api/v2/job/init")[0].json() == {
        "name": "genome",
        "workflow_kind": "bakta",
    }
    body = start_body(v2_server)
    assert body == {
        "job": {"secret": job.secret, "job_id": job.id},
        "workflow_kind": "bakta",
        "config": DEFAULT_CONFIG,
    }  # workflow_kind and config beside job, not inside it
    assert not v2_server.requests_to("GET", "/api/v2/job/logs")  # the log: when asked for
    assert not [r for r in v2_server.log if r.path.startswith("/api/v1")]


def test_every_v2_option_reaches_the_config_and_every_file_its_upload(
    v2_server: FakeBakta, v2_workdir: Path
) -> None:
    skips = [f"--skip-{name.replace('_', '-')}" for name in bakta.SKIPS]
    result = annotate(
        v2_server, v2_workdir, "genome.fasta", "--translation-table", "25", "--meta", *skips,
        "--locus-tag-increment", "10", "--proteins", "trusted.faa", "--hmms", "trusted.hmm",
        "--regions", "regions.gff3", "--replicons", "replicons.tsv", "--prodigal-tf", "training.tf",
        "--complete", "--compliant", "--keep-contig-headers", "--min-contig-length", "200",
        "--derm-type", "diderm", "--genus", "Escherichia", "--species", "coli", "--strain", "K-12",
        "--plasmid", "pX", "--locus", "ECK", "--locus-tag", "ECKT", "--baktfold",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = start_body(v2_server)
    assert body["workflow_kind"] == "bakta_baktfold"
    assert body["config"] == {
        **DEFAULT_CONFIG,
        **{f"skip_{name}": True for name in bakta.SKIPS},
        "use_prodigal_training_file": True, "use_replicons": True, "use_regions": True,
        "use_trusted_proteins": True, "use_hmms": True, "translation_table": 25, "meta": True,
        "locus_tag_increment": 10, "complete_genome": True, "compliant": True,
        "keep_contig_headers": True, "min_contig_length": 200, "derm_type": "diderm",
        "genus": "Escherichia", "species": "coli", "strain": "K-12", "plasmid": "pX",
        "locus": "ECK", "locus_tag": "ECKT",
    }  # fmt: skip
    job = next(iter(v2_server.jobs.values()))
    uploads = {
        r.path.rsplit("/", 1)[1]: r.body
        for r in v2_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    }
    assert uploads == {
        "genome_fasta": (v2_workdir / "genome.fasta").read_bytes(),
        "prodigal_training_file": (v2_workdir / "training.tf").read_bytes(),
        "replicons_table": (v2_workdir / "replicons.tsv").read_bytes(),
        "regions_file": REGIONS.encode(),
        "trusted_proteins_file": TRUSTED.encode(),
        "hmms_file": HMM.encode(),
    }
    assert job.workflow_kind == "bakta_baktfold"
    # --skip-plot: the service makes no plots, and the run fetches what there is.
    names = sorted(p.name for p in (v2_workdir / "out" / "genome").iterdir())
    assert names == sorted(f"genome.{s}" for s in bakta.BAKTFOLD_FORMATS)
    assert "Baktfold 0.1.1, database 0.1" in result.stderr.splitlines()[0]


def test_a_csv_replicon_table_is_sent_as_bakta_tsv(v2_server: FakeBakta, v2_workdir: Path) -> None:
    (v2_workdir / "replicons.csv").write_text("chromosome_1,chr1,c,c,chr1\nplasmid_1,p1,p,c,p1\n")
    result = annotate(v2_server, v2_workdir, "genome.fasta", "--replicons", "replicons.csv")
    assert result.returncode == 0, result.stderr
    put = v2_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)[1]
    assert put.path.endswith("/replicons_table")
    assert put.body == b"chromosome_1\tchr1\tc\tc\tchr1\nplasmid_1\tp1\tp\tc\tp1\n"


def test_v1_only_service_keeps_annotating_through_v1(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    result = annotate(bakta_server, workdir, "genome.fasta", "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert bakta_server.log[0].path == "/api/v2/workflows"  # asked, answered 404
    assert len(bakta_server.requests_to("POST", "/api/v1/job/start")) == 1
    assert result.stderr.splitlines()[0].endswith(f"at {bakta_server.base}/api/v1")


V2_ONLY = [
    (["--translation-table", "25"], "--translation-table 25"),
    (["--meta"], "--meta"),
    (["--skip-trna", "--skip-ncrna-region"], "--skip-trna, --skip-ncrna-region"),
    (["--skip-plot"], "--skip-plot"),
    (["--locus-tag-increment", "5"], "--locus-tag-increment 5"),
    (["--proteins", "trusted.faa"], "--proteins"),
    (["--hmms", "trusted.hmm"], "--hmms"),
    (["--regions", "regions.gff3"], "--regions"),
    (["--baktfold"], "--baktfold"),
]


@pytest.mark.parametrize(("options", "named"), V2_ONLY, ids=[o[1] for o in V2_ONLY])
def test_v2_only_options_on_a_v1_service_stop_before_anything_is_created(
    bakta_server: FakeBakta, v2_workdir: Path, options: list[str], named: str
) -> None:
    result = annotate(bakta_server, v2_workdir, "genome.fasta", *options)
    assert result.returncode == 2
    plural = "s" if "," not in named else ""
    assert result.stderr.strip() == (
        f"error: bakta: the service at {bakta_server.base}/api/v1 offers only API v1;"
        f" {named} need{plural} API v2"
    )
    assert [(r.method, r.path) for r in bakta_server.log] == [("GET", "/api/v2/workflows")]
    assert not (v2_workdir / "out" / "genome").exists()


@pytest.mark.parametrize(
    ("command", "inputs"),
    [("proteins", "proteins.faa"), ("baktfold", "genome.json")],
)
def test_proteins_and_baktfold_on_a_v1_service_exit_2(
    bakta_server: FakeBakta, v2_workdir: Path, command: str, inputs: str
) -> None:
    (v2_workdir / "genome.json").write_text(
        json.dumps({"features": [], "sequences": [], "version": {"bakta": "1.9.4"}})
    )
    result = annotate(bakta_server, v2_workdir, inputs, command=command)
    assert result.returncode == 2
    assert "offers only API v1; bakta " + command + " needs API v2" in result.stderr
    assert [(r.method, r.path) for r in bakta_server.log] == [("GET", "/api/v2/workflows")]


def test_a_service_that_answers_html_for_v2_is_v1_only(workdir: Path) -> None:
    """A proxy's catch-all page where /api/v2 would be means no v2."""
    from tests.fakes.server import Fault, Response

    with FakeBakta(v2=True) as server:
        page = Response(200, b"<html><title>Bakta</title></html>", {"Content-Type": "text/html"})
        server.faults.append(Fault("GET", "/api/v2/workflows", page))
        result = annotate(server, workdir, "genome.fasta", "--format", "txt")
    assert result.returncode == 0, result.stderr
    assert len(server.requests_to("POST", "/api/v1/job/init")) == 1
    assert not server.requests_to("POST", "/api/v2/job/init")


def test_protein_annotation(v2_server: FakeBakta, v2_workdir: Path) -> None:
    result = annotate(v2_server, v2_workdir, "proteins.faa", command="proteins")
    assert result.returncode == 0, result.stderr
    folder = v2_workdir / "out" / "proteins"
    assert result.stdout.strip() == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "proteins.faa",
        "proteins.hypotheticals.tsv",
        "proteins.json",
        "proteins.tsv",
    ]
    assert "#ID\tLength\tGene\tProduct" in (folder / "proteins.tsv").read_text()
    body = start_body(v2_server)
    assert body["workflow_kind"] == "bakta_proteins" and body["config"] == {}
    puts = v2_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    assert [p.path.rsplit("/", 1)[1] for p in puts] == ["protein_fasta"]
    assert puts[0].body == PROTEINS.encode()
    assert result.stderr.splitlines()[0].startswith("bakta: Bakta 1.11.0, database 6.0, backend")


def test_nucleotides_are_refused_as_proteins(v2_server: FakeBakta, workdir: Path) -> None:
    result = annotate(v2_server, workdir, "genome.fasta", command="proteins")
    assert result.returncode == 2
    assert "'chromosome_1' looks like nucleotides; proteins are needed" in result.stderr
    assert v2_server.log == []


def test_baktfold_on_an_earlier_bakta_result(v2_server: FakeBakta, v2_workdir: Path) -> None:
    first = annotate(v2_server, v2_workdir, "genome.fasta", "--format", "json")
    assert first.returncode == 0, first.stderr
    earlier = v2_workdir / "out" / "genome" / "genome.json"
    args = ["bakta", "baktfold", str(earlier), "--outdir", "folded", "--poll-interval", "0"]
    result = run_cli(args, bakta_env(v2_server), cwd=v2_workdir)
    assert result.returncode == 0, result.stderr
    folder = v2_workdir / "folded" / "genome"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"genome.{s}" for s in bakta.BAKTFOLD_FORMATS
    )  # the 12 files, named like Bakta's; no plots
    assert "Annotated with Baktfold" in (folder / "genome.gff3").read_text()
    job = v2_server.jobs[
        v2_server.requests_to("POST", "/api/v2/job/start")[1].json()["job"]["job_id"]
    ]
    assert job.workflow_kind == "baktfold" and job.uploads["bakta_json"] == earlier.read_bytes()
    assert result.stderr.splitlines()[0].startswith("bakta: Baktfold 0.1.1, database 0.1, backend")


def test_baktfold_refuses_a_file_that_is_not_a_bakta_result(
    v2_server: FakeBakta, workdir: Path
) -> None:
    (workdir / "other.json").write_text('{"features": []}')
    result = annotate(v2_server, workdir, "other.json", command="baktfold")
    assert result.returncode == 2
    assert "other.json is not a Bakta JSON result" in result.stderr
    assert v2_server.log == []


def test_v2_batch_polls_all_jobs_with_one_list_request_per_round(v2_workdir: Path) -> None:
    server = FakeBakta(v2=True, scripts={
        "genome": ["INIT", "RUNNING", "RUNNING", "RUNNING", "SUCCESSFUL"],
        "plasmid": ["INIT", "SUCCESSFUL"],
    })  # fmt: skip
    with server:
        result = annotate(server, v2_workdir, "genome.fasta", "plasmid.fasta", "--format", "gff3")
        assert result.returncode == 0, result.stderr
        rounds = [[j["job_id"] for j in r.json()["jobs"]] for r in server.requests_to("POST", LIST)]
    ids = {job.name: job.id for job in server.jobs.values()}
    assert rounds == [
        [ids["genome"], ids["plasmid"]],
        [ids["genome"], ids["plasmid"]],
        [ids["genome"]],
        [ids["genome"]],
        [ids["genome"]],
    ]
    results = [r.json()["job_id"] for r in server.requests_to("POST", "/api/v2/job/result")]
    assert results == [ids["plasmid"], ids["genome"]]


def test_v2_resume_reattaches_and_submits_nothing_new(v2_workdir: Path) -> None:
    server = FakeBakta(v2=True, script=["INIT"] + ["RUNNING"] * 10_000)
    polled = lambda: server.requests_to("POST", "/api/v2/job/list")  # noqa: E731
    with server:
        first = annotate(
            server,
            v2_workdir,
            "genome.fasta",
            "--meta",
            "--job-file",
            "job.json",
            interrupt_when=polled,
        )
        assert first.returncode == 6, first.stderr
        assert (v2_workdir / "job.json").stat().st_mode & 0o777 == 0o600
        record = json.loads((v2_workdir / "job.json").read_text())["jobs"]["genome"]
        job = server.jobs[record["id"]]
        assert record == {"id": job.id, "secret": job.secret, "started": True, "api": "v2"}
        job.script = ["RUNNING", "SUCCESSFUL"]
        second = annotate(server, v2_workdir, "genome.fasta", "--meta", "--job-file", "job.json")
        assert second.returncode == 0, second.stderr
        assert f"genome: re-attached to job {job.id}" in second.stderr
        assert len(server.requests_to("POST", "/api/v2/job/init")) == 1
        assert len(server.requests_to("POST", "/api/v2/job/start")) == 1
        assert job.secret not in first.stderr + second.stderr + first.stdout + second.stdout


def test_v2_error_job_and_failed_jobs(v2_workdir: Path) -> None:
    server = FakeBakta(v2=True, scripts={"genome": ["INIT", "RUNNING", "ERROR"]})
    with server:
        result = annotate(server, v2_workdir, "genome.fasta")
        job = next(iter(server.jobs.values()))
        assert result.returncode == 4
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: bakta job {job.id}: job ended in ERROR in stage bakta: parse genome"
            " sequences... | imported: 2 | ERROR: wrong sequence format in contig_2 (line 41)!"
        )  # the failed stage and Bakta's last words: it failed on its input, not resubmitted
        assert len(server.requests_to("GET", "/api/v2/job/logs")) == 1 and not server.deleted
        server.script = ["INIT"] + ["RUNNING"] * 100
        before = len(server.requests_to("POST", "/api/v2/job/list"))
        polled = lambda: len(server.requests_to("POST", "/api/v2/job/list")) > before  # noqa: E731
        first = annotate(
            server, v2_workdir, "plasmid.fasta", "--job-file", "job.json", interrupt_when=polled
        )
        assert first.returncode == 6, first.stderr
        document = json.loads((v2_workdir / "job.json").read_text())
        job_id = document["jobs"]["plasmid"]["id"]
        document["jobs"]["plasmid"]["secret"] = "x" * 32
        (v2_workdir / "job.json").write_text(json.dumps(document))
        wrong = annotate(server, v2_workdir, "plasmid.fasta", "--job-file", "job.json")
        assert wrong.returncode == 3
        assert (
            f"error: bakta job {job_id}: the service reports the job as UNAUTHORIZED"
            in wrong.stderr
        )
        del server.jobs[job_id]  # expired, or lost in a restart: submitted afresh
        server.script = ["INIT", "SUCCESSFUL"]
        gone = annotate(server, v2_workdir, "plasmid.fasta", "--job-file", "job.json")
        assert gone.returncode == 0, gone.stderr
        assert f"the service no longer knows job {job_id}" in gone.stderr
        assert len(server.requests_to("POST", "/api/v2/job/init")) == 3


def test_sigterm_deletes_the_v2_jobs(v2_workdir: Path) -> None:
    """Galaxy deleting the job: SIGTERM (the bench measures the time to the runner's end)."""
    server = FakeBakta(v2=True, script=["INIT"] + ["RUNNING"] * 100_000)
    with server:
        args = ["bakta", "annotate", "genome.fasta", "--meta", "--outdir", "out"]
        args += ["--poll-interval", "0.05", "--job-file", "job.json"]
        runner = start_cli(args, bakta_env(server), v2_workdir)
        wait_for(lambda: len(server.requests_to("POST", LIST)) >= 3, "polling")
        job = next(iter(server.jobs.values()))
        stderr = stop(runner)
    assert runner.returncode == 6, stderr
    assert stderr.strip().splitlines()[-2:] == [
        f"bakta: genome: deleted job {job.id}",
        "error: remote-jobs: stopped by SIGTERM (the Galaxy job was deleted, or Galaxy was stopped)",
    ]
    delete = server.requests_to("DELETE", "/api/v2/job/delete")
    assert len(delete) == 1 and delete[0].query == {"job_id": job.id, "secret": job.secret}
    assert server.deleted == [job.id]
    assert json.loads((v2_workdir / "job.json").read_text())["jobs"] == {}


def test_version_command_shows_the_five_v2_versions(
    v2_server: FakeBakta, bakta_server: FakeBakta
) -> None:
    v2 = run_cli(["bakta", "version"], bakta_env(v2_server))
    assert v2.returncode == 0, v2.stderr
    assert v2.stdout == (
        "backend_version\t0.6.0\nbakta_version\t1.11.0\nbakta_db_version\t6.0\n"
        "baktfold_version\t0.1.1\nbaktfold_db_version\t0.1\n"
    )
    v1 = run_cli(["bakta", "version"], bakta_env(bakta_server))
    assert v1.stdout == "toolVersion\t1.9.4\ndbVersion\t5.1\nbackendVersion\t0.4.2\n"


@pytest.mark.parametrize(
    ("v1", "v2"),
    [
        (
            "https://api.bakta.computational.bio/api/v1",
            "https://api.bakta.computational.bio/api/v2",
        ),
        ("http://127.0.0.1:8000/bakta/api/v1/", "http://127.0.0.1:8000/bakta/api/v2"),
        ("https://bakta.example.org/v1", "https://bakta.example.org/api/v2"),
    ],
)
def test_v2_lives_beside_v1(v1: str, v2: str) -> None:
    assert bakta.v2_url(v1) == v2


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("genome.fasta", "genome"),
        ("My genome (2).fna", "My_genome__2_"),
        ("..fasta", None),
        (".hidden.fa", "hidden"),
    ],
)
def test_sample_names_are_sanitised(name: str, sample: str | None) -> None:
    if sample is None:
        with pytest.raises(InputError):
            bakta.sample_name(Path(name))
    else:
        assert bakta.sample_name(Path(name)) == sample


@pytest.mark.parametrize(
    ("command", "inputs"), [("proteins", "proteins.faa"), ("baktfold", "genome.json")]
)
def test_v2_proteins_and_baktfold_take_resubmit(
    v2_workdir: Path, command: str, inputs: str
) -> None:
    (v2_workdir / "genome.json").write_text(
        json.dumps({"features": [], "sequences": [], "version": {"bakta": "1.9.4"}})
    )
    server = FakeBakta(v2=True, engine_failures=1)
    with server:
        result = annotate(server, v2_workdir, inputs, "--resubmit", "0", command=command)
        assert len(server.requests_to("POST", "/api/v2/job/init")) == 1
    assert result.returncode == 4
    assert result.stderr.strip().endswith("submitting it again may help (--resubmit)")


def test_v2_log_file_has_every_stage(v2_server: FakeBakta, v2_workdir: Path) -> None:
    result = annotate(
        v2_server, v2_workdir, "genome.fasta", "--baktfold", "--format", "tsv", "--format", "log"
    )
    assert result.returncode == 0, result.stderr
    log = (v2_workdir / "out" / "genome" / "genome.log").read_text()
    assert log.startswith("==> stage bakta: succeeded <==\nBakta v1.11.0\n")
    assert "\n==> stage baktfold: succeeded <==\nBaktfold v0.1.1\n" in log


def test_v2_without_logs_gives_no_log_file_and_no_resubmission(v2_workdir: Path) -> None:
    """An older v2 build answers job/logs with 501: the run goes on without the log; a failed
    job, whose cause cannot be told, is not submitted again."""
    server = FakeBakta(v2=True)
    server.v2_logs = False
    with server:
        result = annotate(server, v2_workdir, "genome.fasta", "--format", "gff3", "--format", "log")
        (job_id,) = server.jobs
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in (v2_workdir / "out" / "genome").iterdir()) == ["genome.gff3"]
        assert (
            f"bakta: genome: the service gives no log of job {job_id} (its job/logs is not"
            " implemented); no genome.log file"
        ) in result.stderr.splitlines()
        server.engine_failures = 1
        failed = annotate(server, v2_workdir, "plasmid.fasta")
        assert failed.returncode == 4
        assert failed.stderr.strip().endswith(
            ": job ended in ERROR (the service gives no log of it)"
        )
        assert len(server.requests_to("POST", "/api/v2/job/init")) == 2
