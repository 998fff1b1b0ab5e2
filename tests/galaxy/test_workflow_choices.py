"""The organelle workflow takes several RNAweasel models at once, as users choose them.

planemo cannot give a workflow parameter several values (it stages every list of a test job as
a dataset collection), so organelle-annotation-tests.yml chooses one model. This test invokes the
workflow through Galaxy's API, as the run form does, with two models, and checks that RNAweasel
searched for both (the recording answers only a submit of exactly tRNA and rns). As the workflow
tests do, it runs a copy of the workflow whose tool steps replay recordings (scripts/galaxy_api.py
workflow-replay-copy): the workflow has no input for them.

scripts/test runs it on its Galaxy after the workflow tests. By hand (on the test Galaxy of that
state folder, started and stopped for the test if it is not running):
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_workflow_choices.py
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.galaxy.support import GALAXY_VENV, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "workflows" / "organelle-annotation" / "organelle-annotation.ga"
STATE = Path(os.environ.get("GALAXY_STATE_DIR", ""))
GALAXY_PYTHON = GALAXY_VENV / "bin" / "python"


def galaxy(command: str) -> int:
    return subprocess.run([ROOT / "scripts" / "galaxy", command], env=os.environ).returncode


@pytest.fixture(scope="module")
def galaxy_env() -> Iterator[dict[str, str]]:
    """The test Galaxy: the running one, or one started (and stopped) for this test."""
    if not os.environ.get("GALAXY_STATE_DIR"):
        pytest.fail("set GALAXY_STATE_DIR to a test Galaxy's state folder (see the docstring)")
    started = galaxy("status") != 0
    if started:
        assert galaxy("start") == 0
    try:
        yield dict(
            line.split("=", 1)
            for line in (STATE / "galaxy.env").read_text().splitlines()
            if "=" in line
        )
    finally:
        if started:
            galaxy("stop")


@pytest.fixture(scope="module")
def api(galaxy_env: dict[str, str]) -> Iterator[Callable[..., Any]]:
    """The test Galaxy's API as the test user, who holds the tools' test credentials meanwhile."""
    env = galaxy_env
    headers = {"x-api-key": env["GALAXY_USER_KEY"]}

    # A new connection per call: gunicorn drops idle keep-alive connections after 2 s, and a
    # poll that reused one just then would be reset.
    def call(method: str, path: str, raw: bool = False, **kwargs: Any) -> Any:
        url = env["GALAXY_URL"] + "/api/" + path
        response = requests.request(method, url, headers=headers, timeout=60, **kwargs)
        response.raise_for_status()
        return response.text if raw else response.json()

    def credentials(action: str) -> None:
        subprocess.run(
            [
                GALAXY_PYTHON,
                ROOT / "scripts" / "galaxy_api.py",
                "workflow-credentials",
                action,
                WORKFLOW,
            ],
            check=True,
            env={
                **os.environ,
                "GALAXY_URL": env["GALAXY_URL"],
                "GALAXY_USER_KEY": env["GALAXY_USER_KEY"],
            },
        )

    credentials("store")
    try:
        yield call
    finally:
        credentials("clear")


def replay_copy(out: Path) -> dict[str, Any]:
    """The workflow, its MFannot step replaying mfannot_default.yaml and its RNAweasel step
    rnaweasel_default.yaml (tRNA and rns)."""
    done = subprocess.run(
        [
            GALAXY_PYTHON,
            ROOT / "scripts" / "galaxy_api.py",
            "workflow-replay-copy",
            ROOT / "workflows" / "recordings.yml",
            out,
            WORKFLOW,
            "--step",
            "RNAweasel=rnaweasel_default.yaml",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(Path(done.stdout.strip()).read_text()))


def test_rnaweasel_searches_every_model_the_user_chose(
    api: Callable[..., Any], tmp_path: Path
) -> None:
    history = api("POST", "histories", json={"name": "organelle workflow, two RNA models"})["id"]
    genome = (ROOT / "test-data" / "mito_genome.fasta").read_text()
    upload = api(
        "POST",
        "tools/fetch",
        json={
            "history_id": history,
            "targets": [
                {
                    "destination": {"type": "hdas"},
                    "elements": [
                        # Named as the recordings expect: the tools send the dataset's name.
                        {
                            "src": "pasted",
                            "paste_content": genome,
                            "ext": "fasta",
                            "name": "mito_genome.fasta",
                        }
                    ],
                }
            ],
        },
    )
    genome_id = upload["outputs"][0]["id"]
    copy = replay_copy(tmp_path)
    workflow = api("POST", "workflows", json={"workflow": copy, "publish": False})["id"]
    invocation = api(
        "POST",
        f"workflows/{workflow}/invocations",
        json={
            "history_id": history,
            "inputs_by": "name",
            "inputs": {
                "Organelle genome": {"src": "hda", "id": genome_id},
                "Genetic code": "4",
                "RNAweasel models": ["tRNA", "rns"],
            },
        },
    )["id"]

    seen: dict[str, Any] = {}

    def finished() -> dict[str, Any] | None:
        # Scheduled: every step has its job. Galaxy 26 then marks the invocation completed once
        # every job has ended, possibly between two polls: both mean scheduling is done.
        seen["invocation"] = state = api("GET", f"invocations/{invocation}")["state"]
        if state in ("failed", "cancelled", "cancelling"):
            pytest.fail(f"Galaxy did not run the workflow: the invocation is {state}")
        if state not in ("scheduled", "completed"):
            return None
        summary: dict[str, Any] = api("GET", f"invocations/{invocation}/jobs_summary")
        seen["jobs"] = states = summary.get("states", {})
        ended = set(states) <= {"ok", "error", "failed", "deleted", "paused"}
        return summary if ended and sum(states.values()) == 2 else None  # MFannot, RNAweasel

    try:
        summary = wait_for("MFannot and RNAweasel to end", finished, limit=600)
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; last seen: {seen}") from None
    assert summary["states"] == {"ok": 2}, summary
    outputs = api("GET", f"invocations/{invocation}")["outputs"]
    masterfile = api("GET", f"datasets/{outputs['RNAweasel masterfile']['id']}/display", raw=True)
    assert "G-tRNA_1" in masterfile and "G-rns_2" in masterfile
