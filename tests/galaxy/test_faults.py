"""Nothing lost when many genomes meet faults (issue 29): two lists of 12 genomes mapped over
remote_bakta at once, one on the local runner and one on Pulsar (the tool installed from the
Tool Shed), against a service that misbehaves as a busy public one does, while Galaxy is
restarted and the user deletes two jobs.

The fake Bakta (conftest.py's, for this test's genomes only) answers, from a fixed seed, a
fixed share of the requests of every kind the runners send about a job (init, uploads, start,
status, result, downloads, logs) with a dropped connection, a gateway's 502 or 503, or handles
it and loses the answer (tests/fakes/server.py: Chaos); its workflow engine fails the first
jobs of two genomes (resubmitted, as Bakta's team advises); it fails one genome on its input
(not resubmitted); its downloads trickle. Every job is held RUNNING on the service until
Galaxy has been restarted, so that the restart meets running jobs on both runners. Meanwhile
a small file is uploaded, which must finish while the lists wait.

What must hold at the end:
- every genome is ok with all its outputs, each non-empty and ok; or its job failed or was
  deleted, and then no output of it looks finished; a failed one says why in one line: the
  genome Bakta refused, with Bakta's own words (the last line of its standard error); the
  local jobs that ran when Galaxy stopped, with Galaxy's words for that on each output
  ("This job was killed when Galaxy was restarted": its local runner cannot keep jobs across
  a restart, docs/admin.md); nothing else fails;
- the service never ran two jobs of one genome at the same time, and ran each genome once,
  but the two its engine failed (twice) and the local ones that the restart stopped (their
  runners deleted their remote jobs, and nothing ran them again);
- nothing started is left running on the service, but the remote job of the job deleted on
  Pulsar: Pulsar kills its runner with SIGKILL, which cannot stop it (docs/admin.md); the job
  deleted on the local runner had its remote job deleted. Jobs set up and never started (an
  init whose answer was lost and was sent again) expire unstarted there: the report names them.

scripts/test runs it last among the Galaxy tests (it restarts Galaxy), with its Pulsar. By
hand, on a test Galaxy with the tools installed from a Tool Shed and a Pulsar (scripts/test
sets these up): GALAXY_STATE_DIR=... PULSAR_URL=... .venv/bin/pytest tests/galaxy/test_faults.py
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from typing import Any

import pytest

from tests.fakes.bakta_service import BUCKET, FakeBakta
from tests.fakes.server import Chaos, Trickle
from tests.galaxy.support import ROOT, GalaxyApi, galaxy, wait_for
from tests.galaxy.test_many_genomes import map_over, stop_unfinished_jobs

SEED = 29
SHARE = 0.15  # of each kind's requests about a genome's job
GENOMES = 12
GENOME = ROOT / "test-data" / "bakta_genome.fasta"
UPLOAD = ROOT / "test-data" / "codon_cds.fasta"  # any small file
HELD = ["INIT"] + ["RUNNING"] * 100_000  # until the test releases the jobs
ENGINE_FAILS = ("faults_pulsar_03", "faults_pulsar_09")  # their first job fails in the engine
BAD_INPUT = "faults_pulsar_05"  # Bakta fails it on its input
RESTARTED = "This job was killed when Galaxy was restarted"  # Galaxy's local runner says so
KINDS = {"init", "upload", "start", "list", "result", "download"}
TERMINAL = {"ok", "error", "failed", "deleted", "deleted_new"}


def genome_of(api: GalaxyApi, job: str) -> str:
    """The element identifier of the genome a remote_bakta job ran on (the remote job's name)."""
    inputs = api("GET", f"jobs/{job}")["inputs"]
    return str(api("GET", f"datasets/{inputs['input_option|input_file']['id']}")["name"])


def last_words(details: dict[str, Any]) -> str:
    """What a failed Galaxy job says: the last line of its standard error, or Galaxy's info."""
    lines = (details.get("stderr") or "").strip().splitlines()
    return lines[-1] if lines else str(details.get("info") or "")


def release(bakta: FakeBakta, names: set[str]) -> None:
    """The service lets these genomes' jobs, held or still to come, run to their end."""
    for name in names:
        bakta.scripts[name] = ["INIT", "RUNNING", "SUCCESSFUL"]
    for job in list(bakta.jobs.values()):
        if job.name in names and job.failure is None and job.status not in ("SUCCESSFUL", "ERROR"):
            job.script = ["RUNNING", "SUCCESSFUL"]


def report(bakta: FakeBakta, left: list[Any]) -> str:
    lines = [f"seed {SEED}, share {SHARE}: {bakta.chaos_report()}"]
    lines += [
        f"left running on the service: job {job.id} of {job.name} (deleted on Pulsar, whose"
        " SIGKILL the runner cannot answer: docs/admin.md)"
        for job in left
    ]
    return "\n".join(lines)


@pytest.mark.skipif(not os.environ.get("PULSAR_URL"), reason="needs a Pulsar (scripts/pulsar)")
def test_many_genomes_meeting_faults_a_restart_and_deletions_lose_nothing(
    bakta: FakeBakta,
    api: GalaxyApi,
    galaxy_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = GalaxyApi()  # the fixture's Galaxy, which an earlier test may have restarted elsewhere
    stop_unfinished_jobs(api)
    names = {
        where: [f"faults_{where}_{number:02d}" for number in range(1, GENOMES + 1)]
        for where in ("local", "pulsar")
    }
    everyone = set(names["local"] + names["pulsar"])
    for name in everyone:
        bakta.scripts[name] = list(HELD)
    bakta.scripts[BAD_INPUT] = ["INIT", "RUNNING", "ERROR"]
    bakta.engine_failures_by_name.update(dict.fromkeys(ENGINE_FAILS, 1))
    bakta.chaos = Chaos(SEED, SHARE, functools.partial(bakta.classify, names=everyone))
    slow = Trickle("GET", BUCKET + "/jobs/", every=0.01, size=2048)
    bakta.trickles.append(slow)
    left: list[Any] = []
    try:
        history = api("POST", "histories", json={"name": "many genomes meet faults"})["id"]
        jobs: list[str] = []
        for where, installed in (("local", False), ("pulsar", True)):
            collection = api.upload_list(history, where, dict.fromkeys(names[where], GENOME))
            jobs += map_over(api, history, api.tool_id("remote_bakta", installed), collection)
        assert len(jobs) == 2 * GENOMES
        genome = {job: genome_of(api, job) for job in jobs}
        galaxy_job = {name: job for job, name in genome.items()}

        def running(where: str) -> list[str]:
            return sorted(
                {j.name for j in list(bakta.jobs.values()) if j.config and j.name in names[where]}
            )

        # The local runner takes the user's 6 (conftest.py), Pulsar all 12; the two genomes
        # the engine fails have been started again, the refused one has ended.
        def under_way() -> bool:
            again = Counter(run.name for run in bakta.runs)
            return (
                len(running("local")) >= 6
                and len(running("pulsar")) >= GENOMES
                and all(again[name] == 2 for name in ENGINE_FAILS)
                and api.job_state(galaxy_job[BAD_INPUT]) in TERMINAL
            )

        wait_for(
            "both lists run on the service (6 local, 12 on Pulsar), the engine's two failures"
            f" submitted again, {BAD_INPUT} ended",
            under_way,
            limit=300,
        )
        upload = api.upload(history, UPLOAD, "uploaded_meanwhile.fasta")
        assert api("GET", f"datasets/{upload}")["state"] == "ok"
        assert sum(api.job_state(job) not in TERMINAL for job in jobs) > GENOMES  # still waiting

        # The user deletes a job on each runner.
        plain = set(ENGINE_FAILS) | {BAD_INPUT}
        deleted = {
            where: next(name for name in running(where) if name not in plain)
            for where in ("local", "pulsar")
        }
        remote = {
            where: next(j for j in list(bakta.jobs.values()) if j.name == name and j.config)
            for where, name in deleted.items()
        }
        for name in deleted.values():
            api("DELETE", f"jobs/{galaxy_job[name]}")
        for name in deleted.values():
            wait_for(f"{name} deleted", lambda n=name: api.job_state(galaxy_job[n]) == "deleted")
        wait_for("the local remote job deleted", lambda: remote["local"].id in bakta.deleted, 30)

        # Galaxy restarts while jobs run on both runners.
        # The local jobs Galaxy runs now (a worker, a runner process): the restart ends them.
        at_stop = {
            name
            for name in names["local"]
            if api.job_state(galaxy_job[name]) in ("queued", "running")
        }
        galaxy("stop")
        galaxy("start", **galaxy_env)
        api = GalaxyApi()
        release(bakta, everyone - {deleted["pulsar"]})

        wait_for(
            "Galaxy ends every job",
            lambda: all(api.job_state(job) in TERMINAL for job in jobs),
            limit=900,
        )
        # (of this test's genomes: an earlier test leaves its own job deleted on Pulsar running)
        left = [job for job in bakta.still_running() if job.name in everyone]
        with capsys.disabled():  # the report shows in a passing run too
            print(f"\ntest_faults: {report(bakta, left)}")

        # Every genome: ok with every output whole, or ended for a reason it names.
        killed = set()
        for job, name in genome.items():
            details = api("GET", f"jobs/{job}", params={"full": "true"})
            # (the map-over's collections are listed too: the job's own datasets are these)
            outputs = [o for o in api("GET", f"jobs/{job}/outputs") if "dataset" in o]
            datasets = [api("GET", f"datasets/{o['dataset']['id']}") for o in outputs]
            if name in deleted.values():
                assert details["state"] == "deleted", name
            elif name == BAD_INPUT:
                assert details["state"] == "error", name
                assert bakta.error_log in last_words(details), (name, last_words(details))
            elif details["state"] != "ok":
                assert name in at_stop, (name, details["state"], last_words(details))
                for dataset in datasets:  # what the user reads on each of them
                    assert RESTARTED in str(dataset["misc_info"]), (name, dataset["misc_info"])
                killed.add(name)
                continue
            else:
                assert len(datasets) >= 6, name
                for dataset in datasets:
                    assert dataset["state"] == "ok" and dataset["file_size"] > 0, (name, dataset)
                gff3 = next(o for o in outputs if o["name"] == "annotation_gff3")
                assert api.display(gff3["dataset"]["id"]).startswith("##gff-version 3"), name
                continue
            assert all(dataset["state"] != "ok" for dataset in datasets), name
        assert killed, "the restart met no running local job"
        assert set(names["local"]) - killed - {deleted["local"]}, "no local genome ran after it"

        # The service: one run at a time per genome; once each, but what the engine failed.
        assert bakta.overlapping_runs() == []
        runs = Counter(run.name for run in bakta.runs)
        for name in everyone - killed:
            assert runs[name] == (2 if name in ENGINE_FAILS else 1), (name, runs[name])
        for name in killed:  # their runners deleted their remote jobs on Galaxy's SIGTERM
            assert runs[name] <= 1, name  # (none, if it was stopped before its job/start)
            for run in (r for r in bakta.runs if r.name == name):
                assert run.job_id in bakta.deleted, name
        assert [job.id for job in left] == [remote["pulsar"].id]
        assert {kind for kind, *_ in bakta.chaos.injected} >= KINDS
    finally:
        bakta.chaos = None
        bakta.trickles.remove(slow)
        for job in list(bakta.jobs.values()):
            if job.name in everyone:
                job.script = ["SUCCESSFUL"]
        stop_unfinished_jobs(GalaxyApi())
