"""MFannot and RNAweasel on the fake MFannotWeb: events, fallback, manifest checks, failures."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TOKEN, assert_no_secrets, mfannotweb_env, run_cli, tree_text
from tests.fakes.mfannotweb_service import FakeMfannotWeb, zip_bytes
from tests.fakes.server import Fault, Response, json_response


def mfannot(
    server: FakeMfannotWeb,
    workdir: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    interrupt_when: Callable[[], object] | None = None,
):
    args = [
        "mfannot",
        "annotate",
        "mito.fasta",
        "--gencode",
        "4",
        "--outdir",
        str(workdir / "out"),
        "--poll-interval",
        "0",
        *extra,
    ]
    env = {**mfannotweb_env(server), **(env or {})}
    return run_cli(args, env, cwd=workdir, interrupt_when=interrupt_when)


def test_mfannot_follows_events_and_extracts_the_verified_archive(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    out = workdir / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "mfannot.gff",
        "mfannot.html",
        "mfannot.out",
        "mfannot.tbl",
        "results.zip",
        "run.log",
    ]
    assert (
        (out / "mfannot.gff")
        .read_text()
        .startswith("##gff-version 3\n##sequence-region mt_contig1 1 1314\n")
    )
    with zipfile.ZipFile(out / "results.zip") as archive:
        assert sorted(archive.namelist()) == [n for n in names if n != "results.zip"]
    submit = mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    assert len(submit) == 1
    body = submit[0].json()
    assert (body["kind"], body["gencode"], body["rna"], body["input_filename"]) == (
        "mfannot",
        4,
        [],
        "mito.fasta",
    )
    assert body["fasta"] == (workdir / "mito.fasta").read_text()
    assert submit[0].headers["Idempotency-Key"]
    assert (
        len(mfannotweb_server.requests_to("GET", "/api/v1/jobs/", prefix=True)) <= 6
    )  # no busy polling
    job_id = next(iter(mfannotweb_server.jobs))
    assert f"mfannotweb {job_id}: queued -> running" in result.stderr
    assert_no_secrets(result.stdout, result.stderr, tree_text(out))


def test_rnaweasel_sends_models_in_the_servers_order(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    args = [
        "rnaweasel",
        "search",
        "mito.fasta",
        "--gencode",
        "1",
        "--rna",
        "ssrA",
        "--rna",
        "tRNA",
        "--rna",
        "rns",
        "--outdir",
        "out",
        "--poll-interval",
        "0",
    ]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert mfannotweb_server.requests_to("POST", "/api/v1/jobs")[0].json()["rna"] == [
        "tRNA",
        "rns",
        "ssrA",
    ]
    assert (workdir / "out" / "rnaweasel.out").exists()


def test_a_broken_event_stream_falls_back_to_polling(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.faults.append(
        Fault(
            "GET",
            "/api/v1/jobs/",
            Response(
                200,
                [b'event: status\ndata: {"status": "queued"}\n\n', b'event: log\ndata: {"li'],
                {"Content-Type": "text/event-stream"},
                stream=True,
            ),
        )
    )
    mfannotweb_server.faults[
        0
    ].path = "/api/v1/jobs/"  # the first GET under /jobs/ is the event stream
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    assert "polling instead" in result.stderr
    assert (workdir / "out" / "results.zip").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--gencode", "7"],
            "genetic code 7 is not offered (known: 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 21, 22, 23)",
        ),
    ],
)
def test_unknown_gencode_is_refused_before_submitting(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, args: list[str], message: str
) -> None:
    result = run_cli(
        ["mfannot", "annotate", "mito.fasta", *args, "--outdir", "out"],
        mfannotweb_env(mfannotweb_server),
        cwd=workdir,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert not mfannotweb_server.requests_to("POST", "/api/v1/jobs")


def test_unknown_rna_model_is_refused(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    args = [
        "rnaweasel",
        "search",
        "mito.fasta",
        "--gencode",
        "4",
        "--rna",
        "tRNA",
        "--rna",
        "16S",
        "--outdir",
        "out",
    ]
    result = run_cli(args, mfannotweb_env(mfannotweb_server), cwd=workdir)
    assert result.returncode == 2
    assert (
        "unknown RNA model(s) 16S (known: tRNA, intronI, intronII, rnpB, rrn5, rns, ssrA)"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (">mt1\nACGTRYACGT\n", "characters 'RY' are not allowed (allowed: ACGNTU)"),
        ("ACGT\n", "not FASTA: the first line must be a '>' header"),
        (">a\nACGT\n>a\nACGT\n", "duplicate sequence id 'a'"),
        ("", "empty file"),
        (">p1\nMKLVEFFPQ\n", "'p1' looks like protein; nucleotides are needed"),
        (">a\n>b\nACGT\n", "sequence 'a' is empty"),
    ],
)
def test_bad_fasta_is_refused_before_anything_is_sent(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, content: str, message: str
) -> None:
    (workdir / "mito.fasta").write_text(content)
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not mfannotweb_server.requests_to("POST", "/api/v1/jobs")


def test_failed_job_reports_the_servers_message(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.fail_with = "MFannot exited with status 2: no ORF found"
    result = mfannot(mfannotweb_server, workdir)
    job_id = next(iter(mfannotweb_server.jobs))
    assert result.returncode == 4
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"error: mfannotweb job {job_id}: job ended failed: MFannot exited with status 2: no ORF found"
    )
    assert not (workdir / "out").exists() or not any((workdir / "out").iterdir())


def test_missing_token_and_missing_scope(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    result = mfannot(mfannotweb_server, workdir, env={"MFANNOTWEB_TOKEN": ""})
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: mfannotweb: MFANNOTWEB_TOKEN is not set; it holds your credential for mfannotweb"
    )

    # A token without a scope the run needs is refused before the genome is sent (GET /api/v1).
    where = f"under API tokens in your MFannotWeb account at {mfannotweb_server.base}"
    for scopes, missing, has in [
        (("jobs:read",), "jobs:write", "jobs:read"),
        (("jobs:write", "jobs:cancel"), "jobs:read", "jobs:cancel, jobs:write"),
        ((), "jobs:read and jobs:write", "none"),
    ]:
        mfannotweb_server.scopes = scopes
        result = mfannot(mfannotweb_server, workdir)
        assert result.returncode == 3, result.stderr
        assert result.stderr.strip() == (
            f"error: mfannotweb: your token lacks the scope {missing} (it has: {has}); create a"
            f" token with the scopes jobs:read, jobs:write, jobs:cancel {where}"
        )
    assert mfannotweb_server.requests_to("POST", "/api/v1/jobs") == []

    # Without jobs:cancel the run goes on, and says what a stop cannot do.
    mfannotweb_server.scopes = ("jobs:read", "jobs:write")
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    assert (
        "mfannotweb: your token lacks jobs:cancel: a stopped run cannot cancel its job"
        in result.stderr
    )


def test_waits_for_a_free_slot_instead_of_failing(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.faults.append(
        Fault(
            "POST",
            "/api/v1/jobs",
            json_response(
                {"detail": "3 jobs in flight", "code": "concurrency_limit_exceeded"}, 409
            ),
            times=2,
        )
    )
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 0, result.stderr
    assert "waiting for a free one" in result.stderr
    assert len(mfannotweb_server.requests_to("GET", "/api/v1/me/usage")) >= 1
    keys = {
        r.headers["Idempotency-Key"] for r in mfannotweb_server.requests_to("POST", "/api/v1/jobs")
    }
    # each refused submit made no job, and the next one gets a new key (issue 19)
    assert len(keys) == 3 and len(mfannotweb_server.jobs) == 1


def _tamper(server: FakeMfannotWeb, files: dict[str, bytes]) -> None:
    """Serve `files` as the archive while the manifest still describes the genuine files."""
    original = server.handle

    def handle(request):
        if request.path.endswith("/download"):
            return Response(200, zip_bytes(files), {"Content-Type": "application/zip"})
        return original(request)

    server.handle = handle  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda genuine: b"tampered\n", id="other-size"),
        # One byte changed: only the SHA-256 tells.
        pytest.param(lambda genuine: bytes([genuine[0] ^ 1]) + genuine[1:], id="same-size"),
    ],
)
def test_checksum_mismatch_is_refused_and_leaves_nothing(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, tamper: Callable[[bytes], bytes]
) -> None:
    original = mfannotweb_server.handle

    def handle(request):
        response = original(request)
        if request.path.endswith("/download"):
            job = next(iter(mfannotweb_server.jobs.values()))
            files = {**job.files, "mfannot.out": tamper(job.files["mfannot.out"])}
            return Response(200, zip_bytes(files), response.headers)
        return response

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 4
    assert "mfannot.out: size or SHA-256 does not match the manifest" in result.stderr
    assert list((workdir / "out").iterdir()) == []


def _zip_with(name: str, data: bytes, symlink: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = 0o120777 << 16
        archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (_zip_with("../escape.txt", b"x"), "unsafe entry name '../escape.txt'"),
        (_zip_with("/etc/evil", b"x"), "unsafe entry name '/etc/evil'"),
        (_zip_with("link", b"/etc/passwd", symlink=True), "link is a symbolic link"),
    ],
)
def test_unsafe_archives_are_refused(
    mfannotweb_server: FakeMfannotWeb, workdir: Path, archive: bytes, message: str
) -> None:
    original = mfannotweb_server.handle

    def handle(request):
        if (
            request.path.endswith("/download")
            and next(iter(mfannotweb_server.jobs.values())).status == "done"
        ):
            return Response(200, archive, {"Content-Type": "application/zip"})
        if (
            request.path.endswith("/results")
            and next(iter(mfannotweb_server.jobs.values())).status == "done"
        ):
            name = zipfile.ZipFile(io.BytesIO(archive)).namelist()[0]
            return json_response(
                {
                    "files": [
                        {"name": name, "size_bytes": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
                    ]
                }
            )
        return original(request)

    mfannotweb_server.handle = handle  # type: ignore[method-assign]
    result = mfannot(mfannotweb_server, workdir)
    assert result.returncode == 4
    assert f"result archive refused: {message}" in result.stderr
    assert not (workdir / "escape.txt").exists()
    assert list((workdir / "out").iterdir()) == []


def test_cancel_and_usage_commands(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    mfannotweb_server.script = ["queued"] * 100
    followed = lambda: mfannotweb_server.requests_to("GET", "/api/v1/jobs/", prefix=True)  # noqa: E731
    first = mfannot(mfannotweb_server, workdir, "--job-file", "job.json", interrupt_when=followed)
    assert first.returncode == 6, first.stderr
    # With a job file, a run that gives up keeps its queued job (without: it is cancelled),
    # wherever it got by its --timeout.
    short = mfannot(mfannotweb_server, workdir, "--timeout", "1", "--job-file", "job.json")
    assert short.returncode == 5 and "gave up after --timeout 1 s" in short.stderr
    (job_id,) = mfannotweb_server.jobs
    assert mfannotweb_server.jobs[job_id].status == "queued"
    usage = run_cli(["mfannotweb", "usage"], mfannotweb_env(mfannotweb_server))
    assert "concurrent_in_flight\t1" in usage.stdout
    cancel = run_cli(["mfannotweb", "cancel", job_id], mfannotweb_env(mfannotweb_server))
    assert cancel.returncode == 0 and cancel.stdout.strip() == f"{job_id}\tcancelled"
    again = run_cli(["mfannotweb", "cancel", job_id], mfannotweb_env(mfannotweb_server))
    assert again.returncode == 4
    assert again.stderr.strip() == (
        f"error: mfannotweb job {job_id}: the service offers no cancel for a cancelled job"
    )


def test_resume_reuses_the_job_and_its_idempotency_key(
    mfannotweb_server: FakeMfannotWeb, workdir: Path
) -> None:
    mfannotweb_server.script = ["queued"] * 100
    mfannotweb_server.events_enabled = False
    followed = lambda: mfannotweb_server.requests_to("GET", "/api/v1/jobs/", prefix=True)  # noqa: E731
    first = mfannot(mfannotweb_server, workdir, "--job-file", "job.json", interrupt_when=followed)
    assert first.returncode == 6, first.stderr
    record = json.loads((workdir / "job.json").read_text())["jobs"]["mfannot"]
    assert (workdir / "job.json").stat().st_mode & 0o777 == 0o600
    job = mfannotweb_server.jobs[record["id"]]
    job.script = ["running", "done"]
    second = mfannot(mfannotweb_server, workdir, "--job-file", "job.json")
    assert second.returncode == 0, second.stderr
    assert f"re-attached to job {record['id']}" in second.stderr
    assert len(mfannotweb_server.requests_to("POST", "/api/v1/jobs")) == 1
    assert TOKEN not in (workdir / "job.json").read_text()


def test_expected_result_files(mfannotweb_server: FakeMfannotWeb, workdir: Path) -> None:
    # Every expected kind is there: the run succeeds.
    result = mfannot(
        mfannotweb_server, workdir, "--expect-file", "*.out,*.new", "--expect-file", "*.tbl"
    )
    assert result.returncode == 0, result.stderr
    # The service returned no feature table: the run fails naming it, and writes nothing.
    mfannotweb_server.omit_suffixes = (".tbl",)
    shutil.rmtree(workdir / "out")
    result = mfannot(
        mfannotweb_server, workdir, "--expect-file", "*.gff,*.gff3", "--expect-file", "*.tbl"
    )
    job_id = list(mfannotweb_server.jobs)[-1]
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: mfannotweb job {job_id}: the results hold no *.tbl file"
        " (they hold: mfannot.gff, mfannot.html, mfannot.out, run.log)"
    )
    assert list((workdir / "out").iterdir()) == []
