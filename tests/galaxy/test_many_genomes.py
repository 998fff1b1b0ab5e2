"""Many genomes at once: a list collection mapped over remote_bakta runs all its jobs at once,
an upload does not wait behind them, and one user's jobs beyond the per-user limit wait in
Galaxy (issue 20).

Galaxy's local runner holds a worker thread for each job for its whole life, and a Bakta job
waits minutes to hours on the service. `scripts/galaxy` gives the suite's tools a runner plugin
of their own with many workers (`remote_services`), so that the waiting jobs neither queue
behind each other nor take the two workers that uploads and Galaxy's own tools run on. With
every tool on one 2-worker runner (as before), this test cannot pass: two genomes start, the
others and the upload wait for them, and the fake never lets them end.

The fake Bakta service (conftest.py) holds every job RUNNING until the test releases it. The
test Galaxy lets one user run GENOMES jobs of these tools at once (conftest.py:
REMOTE_JOBS_USER_LIMIT), and the list has one genome more: GENOMES must start remotely while
the last one waits in Galaxy; an upload sent during that wait must finish while they all still
run; the last genome must start only once one of the others was released. With a Pulsar
(scripts/test), a list of GENOMES genomes also runs through the tool installed from the Tool
Shed, on Pulsar, at the same time: those jobs must all run at once there too (docs/admin.md:
the Pulsar manager for these tools).

scripts/test runs it with the other tests on the restarted Galaxy. By hand, on a test Galaxy:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_many_genomes.py
"""

from __future__ import annotations

import os
from typing import Any

from tests.fakes.bakta_service import FakeBakta, FakeJob
from tests.galaxy.conftest import USER_LIMIT
from tests.galaxy.support import ROOT, GalaxyApi, wait_for

GENOMES = USER_LIMIT
GENOME = ROOT / "test-data" / "bakta_genome.fasta"
UPLOAD = ROOT / "test-data" / "codon_cds.fasta"  # any small file
INIT = "/api/v1/job/init"


def map_over(api: GalaxyApi, history: str, tool_id: str, collection: str) -> list[str]:
    """Run TOOL_ID on every element of the list COLLECTION (Galaxy's map-over); its job ids."""
    run: dict[str, Any] = api(
        "POST",
        "tools",
        json={
            "tool_id": tool_id,
            "history_id": history,
            "inputs": {
                "input_option|input_file": {
                    "batch": True,
                    "values": [{"src": "hdca", "id": collection}],
                }
            },
        },
    )
    return [str(job["id"]) for job in run["jobs"]]


def inits(bakta: FakeBakta, name: str) -> list[int]:
    """Where the job/init requests of the remote job NAME are in the fake's request log."""
    return [
        number
        for number, request in enumerate(list(bakta.log))
        if (request.method, request.path) == ("POST", INIT) and request.json()["name"] == name
    ]


def stop_unfinished_jobs(api: GalaxyApi) -> None:
    """Delete the test user's unfinished jobs: on a Galaxy that ran this test before and it
    failed, they would hold places of the user's limit."""
    unfinished = {"new", "queued", "running"}
    for job in api("GET", "jobs", params={"state": sorted(unfinished)}):
        api("DELETE", f"jobs/{job['id']}")
    wait_for(
        "the unfinished jobs of an earlier run end",
        lambda: not api("GET", "jobs", params={"state": sorted(unfinished)}),
    )


def test_a_list_of_genomes_runs_at_once_and_an_upload_does_not_wait(
    bakta: FakeBakta, api: GalaxyApi
) -> None:
    stop_unfinished_jobs(api)
    # The short id runs on the local runner, one genome over the user's limit; with a Pulsar,
    # the installed copy runs there (its elements are named apart: the fake knows jobs by name).
    lists = {"local": (False, GENOMES + 1)}
    if os.environ.get("PULSAR_URL"):
        lists["pulsar"] = (True, GENOMES)
    history = api("POST", "histories", json={"name": "many genomes at once"})["id"]
    names: dict[str, list[str]] = {}
    try:
        jobs: list[str] = []
        for prefix, (installed, count) in lists.items():
            names[prefix] = [f"many_{prefix}_{history}_{number}" for number in range(1, count + 1)]
            collection = api.upload_list(history, prefix, dict.fromkeys(names[prefix], GENOME))
            jobs += map_over(api, history, api.tool_id("remote_bakta", installed), collection)
        assert len(jobs) == sum(len(elements) for elements in names.values())

        def started(prefix: str) -> list[FakeJob]:
            return [j for j in list(bakta.jobs.values()) if j.name in names[prefix] and j.config]

        def all_at_once() -> bool:
            return all(len(started(prefix)) >= GENOMES for prefix in names)

        # The fake holds every job RUNNING: they can only all start if they run at once.
        wait_for(f"{GENOMES} remote jobs of each list start", all_at_once, limit=300)

        api.upload(history, UPLOAD, "uploaded_meanwhile.fasta")  # waits until it is ok

        held = [job for prefix in names for job in started(prefix)]
        assert all(job.status in {"INIT", "RUNNING"} for job in held)  # none released yet
        assert {api.job_state(job) for job in jobs} <= {"new", "queued", "running"}
        local = started("local")
        assert len(local) == GENOMES  # the user's limit: the last genome waits in Galaxy
        (waiting,) = set(names["local"]) - {job.name for job in local}

        released = len(bakta.log)
        local[0].script = ["SUCCESSFUL"]  # ends at its runner's next status request
        wait_for(f"the remote job {waiting} starts", lambda: started("local")[GENOMES:])
        (init,) = inits(bakta, waiting)
        assert init > released  # only once one of the user's jobs had ended

        for job in [*held, *started("local")]:
            job.script = ["SUCCESSFUL"]
        wait_for(
            "Galaxy finishes every job",
            lambda: {api.job_state(job) for job in jobs} <= {"ok", "error", "failed", "deleted"},
            limit=600,
        )
        for job in jobs:
            details = api("GET", f"jobs/{job}", params={"full": "true"})
            assert details["state"] == "ok", details.get("stderr")
        for name in (name for elements in names.values() for name in elements):
            assert len(inits(bakta, name)) == 1, name  # one remote job each
    finally:
        # Whatever happened, nothing of this test may hold the user's places or the fake's
        # jobs for the tests after it: release every remote job it made, stop its Galaxy jobs.
        mine = {name for elements in names.values() for name in elements}
        for remote in list(bakta.jobs.values()):
            if remote.name in mine:
                remote.script = ["SUCCESSFUL"]
        stop_unfinished_jobs(api)
