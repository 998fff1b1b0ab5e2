"""Deleting a Galaxy job: what happens to its remote Bakta job, on a real Galaxy.

Galaxy's local runner stops a deleted job with SIGTERM and SIGKILL one second later: the runner
deletes the remote job. Pulsar kills a deleted job with SIGKILL at once: the remote job is left
to end on the service (docs/admin.md). Both tests run remote_bakta on the test Galaxy of
`scripts/galaxy`, restarted with BAKTA_API_URL pointing at a fake Bakta service (tests/fakes)
whose jobs run until told otherwise (conftest.py), and delete the Galaxy job through its API.

scripts/test runs them after its other Galaxy steps, with its Pulsar for the second one. By hand:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_job_deletion.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.fakes.bakta_service import FakeBakta
from tests.galaxy.support import GalaxyApi, run_bakta, running_remote_job, wait_for


def test_deleting_the_galaxy_job_deletes_the_remote_bakta_job(
    bakta: FakeBakta, api: GalaxyApi
) -> None:
    job = run_bakta(api, "deleted", installed=False)["jobs"][0]["id"]
    remote = running_remote_job(bakta, "deleted")
    assert api.job_state(job) == "running"

    api("DELETE", f"jobs/{job}")

    wait_for("the remote job is deleted", lambda: remote.id in bakta.deleted, limit=30)
    assert remote.id not in bakta.jobs
    deletes = [
        r
        for r in bakta.requests_to("DELETE", "/api/v1/job/delete")
        if r.query["jobID"] == remote.id
    ]
    assert [r.query for r in deletes] == [{"jobID": remote.id, "secret": remote.secret}]
    inits = [r for r in bakta.requests_to("POST", "/api/v1/job/init") if b"deleted" in r.body]
    assert len(inits) == 1
    wait_for("Galaxy marks its job deleted", lambda: api.job_state(job) == "deleted", limit=30)
    for output in api("GET", f"jobs/{job}/outputs"):  # nothing that looks finished
        assert api("GET", f"datasets/{output['dataset']['id']}")["state"] != "ok"


@pytest.mark.skipif(not os.environ.get("PULSAR_URL"), reason="needs a Pulsar (scripts/pulsar)")
def test_deleting_a_galaxy_job_on_pulsar_kills_the_runner_and_leaves_nothing_on_pulsar(
    bakta: FakeBakta, api: GalaxyApi
) -> None:
    """Pulsar stops a job with SIGKILL (psutil, pulsar.managers.util.kill): the runner cannot
    delete its remote Bakta job, which runs to its end on the service (docs/admin.md says
    so). The job's files, with its job script, must not stay on the Pulsar node."""
    job = run_bakta(api, "on_pulsar", installed=True)["jobs"][0]["id"]
    remote = running_remote_job(bakta, "on_pulsar")
    staging = Path(os.environ["PULSAR_STATE"]) / "staging"
    assert any(staging.iterdir()), "the job's files are staged on Pulsar"

    api("DELETE", f"jobs/{job}")

    wait_for("Galaxy marks its job deleted", lambda: api.job_state(job) == "deleted", limit=30)
    wait_for("Pulsar removes the job's files", lambda: not any(staging.iterdir()), limit=60)
    time.sleep(3)  # a runner stopped with SIGTERM would have deleted the job by now
    assert remote.id not in bakta.deleted and remote.id in bakta.jobs
