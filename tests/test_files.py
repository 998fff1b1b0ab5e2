"""The output folder and the job file through the real command: nothing of the user's is
replaced or removed, runs that share a folder do not trip over each other, and nothing
half-written looks finished."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import codon_env, run_cli
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
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
