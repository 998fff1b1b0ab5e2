"""Many genomes meeting faults at once, in one command-line run (issue 29).

One `remote-jobs bakta annotate` of 12 genomes against a fake Bakta that, from a fixed seed,
drops connections (before the request reaches the service, or after it was handled: the answer
lost), and answers a gateway's 502 or 503, on a fixed share of the requests of every kind the
run sends about a job (init, the uploads, start, status, result, the downloads, the logs); whose
workflow engine fails two genomes' first jobs; which fails one genome on its input; and whose
downloads trickle. The same faults through Galaxy, with a restart and deleted jobs:
tests/galaxy/test_faults.py.

Every genome must be delivered whole, but the one whose input Bakta refused, which fails with
Bakta's words; no genome may ever have two runs on the service at once; nothing started may be
left running; a job set up but never started (its job/init handled, its answer lost, sent
again) is allowed: it expires unstarted on the service, and the test names it.
"""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from pathlib import Path

from tests.conftest import TEST_DATA, bakta_env, run_cli
from tests.fakes.bakta_service import BUCKET, FakeBakta
from tests.fakes.server import Chaos, Trickle

SEED = 29
SHARE = 0.2  # of each kind's requests about a genome's job
GENOMES = [f"chaos{number:02d}" for number in range(1, 13)]
ENGINE_FAILS = ("chaos03", "chaos08")  # their first job fails in the service's engine
BAD_INPUT = "chaos05"  # Bakta fails it on its input: never resubmitted
KINDS = {"init", "upload", "start", "list", "result", "download"}


def chaotic_bakta(names: list[str], seed: int = SEED, share: float = SHARE) -> FakeBakta:
    """The fake service of these tests, for the genomes NAMES (its jobs' names)."""
    server = FakeBakta(
        script=["INIT", "RUNNING", "RUNNING", "SUCCESSFUL"],
        scripts={BAD_INPUT: ["INIT", "RUNNING", "ERROR"]},
    )
    server.engine_failures_by_name = dict.fromkeys(ENGINE_FAILS, 1)
    server.chaos = Chaos(seed, share, functools.partial(server.classify, names=set(names)))
    server.trickles.append(Trickle("GET", BUCKET + "/jobs/", every=0.002, size=2048))
    return server


def test_a_batch_meeting_seeded_faults_loses_nothing(workdir: Path) -> None:
    for name in GENOMES:
        shutil.copy(TEST_DATA / "bakta_genome.fasta", workdir / f"{name}.fasta")
    server = chaotic_bakta(GENOMES)
    with server:
        result = run_cli(
            ["bakta", "annotate", *(f"{name}.fasta" for name in GENOMES), "--outdir", "out",
             "--poll-interval", "0.2", "--format", "gff3", "--format", "json", "--format", "tsv"],
            env=bakta_env(server),
            cwd=workdir,
            timeout=300,
        )  # fmt: skip
    print(server.chaos_report())
    assert server.chaos is not None
    assert {kind for kind, *_ in server.chaos.injected} >= KINDS  # faults of every kind
    # One line for the one failure, with Bakta's words; every other genome whole.
    assert result.returncode == 4, result.stderr
    (bad,) = [run.job_id for run in server.runs if run.name == BAD_INPUT]
    last = result.stderr.splitlines()[-1]
    assert f"job {bad}: " in last and server.error_log in last, last
    for name in GENOMES:
        folder = workdir / "out" / name
        if name == BAD_INPUT:
            assert not folder.exists()
            continue
        assert sorted(p.name for p in folder.iterdir()) == [
            f"{name}.{suffix}" for suffix in ("gff3", "json", "tsv")
        ], name
        assert (folder / f"{name}.gff3").read_text().startswith("##gff-version 3"), name
    # One run at a time per genome; the engine's failures run again, the input's does not.
    assert server.overlapping_runs() == []
    runs = Counter(run.name for run in server.runs)
    assert runs == {name: 2 if name in ENGINE_FAILS else 1 for name in GENOMES}
    assert server.still_running() == []
    assert {job.name for job in server.never_started()} <= set(GENOMES)
