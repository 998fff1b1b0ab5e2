"""A Galaxy restart while a Bakta job runs on Pulsar: the job goes on, and Galaxy picks it up.

Galaxy's Pulsar runner leaves its jobs on the Pulsar server when Galaxy stops, and on start
asks Pulsar for the jobs it had sent there (recover). This test runs the installed
remote_bakta on Pulsar against a fake Bakta service that keeps the job RUNNING, stops and
starts Galaxy (`scripts/galaxy stop`, as an admin does), then lets the remote job finish: the
Galaxy job must end ok with all its outputs, and the service must have seen one job, never
deleted.

scripts/test runs it with its Pulsar (PULSAR_URL, PULSAR_TOKEN) and its Tool Shed install
(TOOL_SHED_URL), after the other Galaxy tests: it restarts Galaxy (conftest.py).
"""

from __future__ import annotations

import os

import pytest

from tests.fakes.bakta_service import FakeBakta
from tests.galaxy.support import GalaxyApi, galaxy, run_bakta, running_remote_job, wait_for


@pytest.mark.skipif(not os.environ.get("PULSAR_URL"), reason="needs a Pulsar (scripts/pulsar)")
def test_a_bakta_job_on_pulsar_survives_a_galaxy_restart(
    bakta: FakeBakta, api: GalaxyApi, galaxy_env: dict[str, str]
) -> None:
    run = run_bakta(api, "restarted", installed=True)
    job = run["jobs"][0]["id"]
    expected = sorted(output["output_name"] for output in run["outputs"])
    assert "annotation_gff3" in expected
    remote = running_remote_job(bakta, "restarted")
    # Galaxy learns that the job runs from Pulsar's status, polled a little later.
    wait_for("Galaxy sees the job running", lambda: api.job_state(job) == "running", limit=60)
    assert "/repos/" in api("GET", f"jobs/{job}")["tool_id"]  # the installed copy

    galaxy("stop")
    galaxy("start", **galaxy_env)
    api = GalaxyApi()  # a new port may have been picked
    assert api.job_state(job) == "running"

    remote.script = ["SUCCESSFUL"]  # the service finishes the job
    wait_for("Galaxy finishes the job", lambda: api.job_state(job) in {"ok", "error"}, limit=300)
    details = api("GET", f"jobs/{job}", params={"full": "true"})
    assert details["state"] == "ok", details.get("stderr")
    outputs = api("GET", f"jobs/{job}/outputs")
    assert sorted(output["name"] for output in outputs) == expected
    for output in outputs:
        dataset = api("GET", f"datasets/{output['dataset']['id']}")
        assert dataset["state"] == "ok", (output["name"], dataset["state"])
    inits = [r for r in bakta.requests_to("POST", "/api/v1/job/init") if b"restarted" in r.body]
    assert len(inits) == 1
    assert remote.id not in bakta.deleted
