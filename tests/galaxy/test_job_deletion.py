"""Deleting a Galaxy job deletes its remote Bakta job: the whole chain, on a real Galaxy.

Galaxy's local runner stops a deleted job with SIGTERM and SIGKILL one second later. This test
restarts the local Galaxy of `scripts/galaxy` with BAKTA_API_URL pointing at a fake Bakta
service (tests/fakes) whose jobs never finish, runs remote_bakta, deletes the Galaxy job
through Galaxy's API, and checks that the service was asked to delete the remote job.

scripts/test runs it last, since it restarts Galaxy (and stops it at the end). By hand:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy
The plain `pytest` run does not collect tests/galaxy (norecursedirs in pyproject.toml).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.bakta_service import FakeBakta

ROOT = Path(__file__).resolve().parents[2]
# Never the Galaxy of `scripts/galaxy serve` by default: this test restarts and stops it.
STATE = Path(os.environ.get("GALAXY_STATE_DIR", ""))


def galaxy(command: str, **env: str) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "galaxy"), command], check=True, env={**os.environ, **env}
    )


def wait_for(what: str, condition: Callable[[], Any], limit: float = 180.0) -> Any:
    deadline = time.monotonic() + limit
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {limit:.0f} s: {what}")
        time.sleep(0.5)
    return value


@pytest.fixture(scope="module")
def bakta() -> Iterator[FakeBakta]:
    with FakeBakta(script=["INIT"] + ["RUNNING"] * 1_000_000) as server:
        yield server


@pytest.fixture(scope="module")
def api(bakta: FakeBakta) -> Iterator[Callable[..., Any]]:
    """Galaxy restarted so that its jobs talk to the fake; calls its API as the test user."""
    if not os.environ.get("GALAXY_STATE_DIR"):
        pytest.fail("set GALAXY_STATE_DIR to a test Galaxy's state folder (see the docstring)")
    galaxy("stop")
    galaxy("start", BAKTA_API_URL=bakta.base + "/api/v1")
    try:
        env = dict(
            line.split("=", 1)
            for line in (STATE / "galaxy.env").read_text().splitlines()
            if "=" in line
        )
        session = requests.Session()
        session.headers["x-api-key"] = env["GALAXY_USER_KEY"]

        def call(method: str, path: str, **kwargs: Any) -> Any:
            response = session.request(
                method, env["GALAXY_URL"] + "/api/" + path, timeout=60, **kwargs
            )
            response.raise_for_status()
            return response.json()

        yield call
    finally:
        galaxy("stop")


def test_deleting_the_galaxy_job_deletes_the_remote_bakta_job(
    bakta: FakeBakta, api: Callable[..., Any]
) -> None:
    history = api("POST", "histories", json={"name": "job deletion"})["id"]
    paste = {
        "src": "pasted",
        "paste_content": (ROOT / "test-data" / "bakta_genome.fasta").read_text(),
        "ext": "fasta",
        "name": "genome.fasta",
    }
    upload = api(
        "POST",
        "tools/fetch",
        json={
            "history_id": history,
            "targets": [{"destination": {"type": "hdas"}, "elements": [paste]}],
        },
    )
    genome = upload["outputs"][0]["id"]
    wait_for("the upload", lambda: api("GET", f"datasets/{genome}")["state"] == "ok")

    run = api(
        "POST",
        "tools",
        json={
            "tool_id": "remote_bakta",
            "history_id": history,
            "inputs": {"genome": {"src": "hda", "id": genome}},
        },
    )
    job = run["jobs"][0]["id"]
    wait_for("the remote job is polled", lambda: bakta.requests_to("POST", "/api/v1/job/list"))
    (remote,) = bakta.jobs.values()
    assert api("GET", f"jobs/{job}")["state"] == "running"

    api("DELETE", f"jobs/{job}")

    wait_for("the remote job is deleted", lambda: bakta.deleted, limit=30)
    assert bakta.deleted == [remote.id] and bakta.jobs == {}
    (delete,) = bakta.requests_to("DELETE", "/api/v1/job/delete")
    assert delete.query == {"jobID": remote.id, "secret": remote.secret}
    assert len(bakta.requests_to("POST", "/api/v1/job/init")) == 1
    wait_for(
        "Galaxy marks its job deleted",
        lambda: api("GET", f"jobs/{job}")["state"] == "deleted",
        limit=30,
    )
    for output in api("GET", f"jobs/{job}/outputs"):  # nothing that looks finished
        assert api("GET", f"datasets/{output['dataset']['id']}")["state"] != "ok"
