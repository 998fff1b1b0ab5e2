"""What the tests on a real Galaxy share: the test Galaxy of `scripts/galaxy` (its state folder
is GALAXY_STATE_DIR) and its API as the test user. Their fixtures are in conftest.py."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.bakta_service import FakeBakta, FakeJob

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("GALAXY_STATE_DIR", ""))
# Galaxy's venv, as scripts/galaxy install makes it (REMOTE_JOBS_CACHE).
GALAXY_VENV = Path(
    os.environ.get("REMOTE_JOBS_CACHE", Path.home() / ".cache" / "remote-jobs-suite"),
    "galaxy-venv",
)


def galaxy(command: str, **env: str) -> None:
    """scripts/galaxy COMMAND, with the environment of the test run and ENV."""
    subprocess.run([ROOT / "scripts" / "galaxy", command], check=True, env={**os.environ, **env})


@contextmanager
def galaxy_running() -> Iterator[GalaxyApi]:
    """The API of the test Galaxy of GALAXY_STATE_DIR: the running one, or one started here (and
    stopped)."""
    if not os.environ.get("GALAXY_STATE_DIR"):
        pytest.fail("set GALAXY_STATE_DIR to a test Galaxy's state folder (see the docstring)")
    status = subprocess.run(
        [ROOT / "scripts" / "galaxy", "status"], env=os.environ, stdout=subprocess.DEVNULL
    )
    if status.returncode != 0:
        galaxy("start")
    try:
        yield GalaxyApi()
    finally:
        if status.returncode != 0:
            galaxy("stop")


def wait_for(what: str, condition: Callable[[], Any], limit: float = 180.0) -> Any:
    deadline = time.monotonic() + limit
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {limit:.0f} s: {what}")
        time.sleep(1)
    return value


class GalaxyApi:
    """The running test Galaxy's API, as the test user (from the galaxy.env of its state
    folder: GALAXY_STATE_DIR's, unless given), or as its admin."""

    def __init__(self, state: Path = STATE, admin: bool = False) -> None:
        env = dict(
            line.split("=", 1)
            for line in (state / "galaxy.env").read_text().splitlines()
            if "=" in line
        )
        self.url = env["GALAXY_URL"]
        self.headers = {"x-api-key": env["GALAXY_ADMIN_KEY" if admin else "GALAXY_USER_KEY"]}

    # A new connection per call: gunicorn drops idle keep-alive connections after 2 s, and a
    # call that reused one just then would be reset; across a restart none survives anyway.
    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.url}/api/{path}", headers=self.headers, timeout=60, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def display(self, dataset: str) -> str:
        """A dataset's content, as text."""
        url = f"{self.url}/api/datasets/{dataset}/display"
        response = requests.get(url, headers=self.headers, timeout=60)
        response.raise_for_status()
        return response.text

    def post_raw(self, path: str, **kwargs: Any) -> requests.Response:
        """POST, and Galaxy's answer as it is, errors included."""
        return requests.post(f"{self.url}/api/{path}", headers=self.headers, timeout=60, **kwargs)

    def upload(
        self, history: str, path: Path, name: str, ext: str = "fasta", limit: float = 180.0
    ) -> str:
        """Paste a file into the history as a dataset named NAME; wait until it is ok (at most
        LIMIT s)."""
        element = {"src": "pasted", "paste_content": path.read_text(), "ext": ext, "name": name}
        target = {"destination": {"type": "hdas"}, "elements": [element]}
        body = {"history_id": history, "targets": [target]}
        dataset = str(self("POST", "tools/fetch", json=body)["outputs"][0]["id"])
        wait_for(
            f"the upload of {name}",
            lambda: self("GET", f"datasets/{dataset}")["state"] == "ok",
            limit,
        )
        return dataset

    def upload_list(
        self, history: str, name: str, genomes: dict[str, Path], limit: float = 180.0
    ) -> str:
        """Paste files into the history as a list collection NAME of fasta datasets, its
        elements named by the keys of GENOMES; wait until every element is ok (at most LIMIT
        s); return the collection's id. (Galaxy makes the collection when the upload job ends.)"""
        elements = [
            {"src": "pasted", "paste_content": path.read_text(), "ext": "fasta", "name": element}
            for element, path in genomes.items()
        ]
        target = {
            "destination": {"type": "hdca"},
            "collection_type": "list",
            "name": name,
            "elements": elements,
        }
        body = {"history_id": history, "targets": [target]}
        (job,) = self("POST", "tools/fetch", json=body)["jobs"]

        def made() -> str | None:
            state = self.job_state(job["id"])
            if state in {"error", "failed", "deleted"}:
                raise AssertionError(f"the upload of the list {name} ended {state}")
            contents = self(
                "GET",
                f"histories/{history}/contents",
                params={
                    "v": "dev",  # without it Galaxy ignores q and qv, and lists everything
                    "q": ["history_content_type", "name-eq"],
                    "qv": ["dataset_collection", name],
                },
            )
            named = [
                item
                for item in contents
                if (item["history_content_type"], item["name"]) == ("dataset_collection", name)
            ]
            if state != "ok" or not named:
                return None
            newest = max(named, key=lambda item: int(item["hid"]))
            hdca = self("GET", f"dataset_collections/{newest['id']}")
            ready = {element["object"]["state"] for element in hdca["elements"]} == {"ok"}
            return str(hdca["id"]) if hdca["populated_state"] == "ok" and ready else None

        return str(wait_for(f"the upload of the list {name}", made, limit))

    def job_state(self, job: str) -> str:
        return str(self("GET", f"jobs/{job}")["state"])

    def tool_id(self, short_id: str, installed: bool) -> str:
        """The id of a suite tool: as loaded from the built repositories, or as installed."""
        if not installed:
            return short_id
        ids = [
            str(tool["id"])
            for tool in self("GET", "tools", params={"in_panel": "false"})
            if "/repos/" in str(tool["id"]) and str(tool["id"]).split("/")[-2] == short_id
        ]
        assert len(ids) == 1, f"installed copies of {short_id}: {ids}"
        return ids[0]


def stored_credentials(api: GalaxyApi, user: str, tool: dict[str, Any]) -> list[dict[str, Any]]:
    params = {"source_type": "tool", "source_id": tool["id"]}
    return list(api("GET", f"users/{user}/credentials", params=params))


def clear_credentials(api: GalaxyApi, user: str, tool: dict[str, Any]) -> None:
    for stored in stored_credentials(api, user, tool):
        url = f"{api.url}/api/users/{user}/credentials/{stored['id']}"
        requests.delete(url, headers=api.headers, timeout=60).raise_for_status()


def store_credentials(
    api: GalaxyApi, tool: dict[str, Any], services: dict[str, dict[str, list[dict[str, str]]]]
) -> tuple[str, list[dict[str, Any]]]:
    """Store a credential group per service for the tool, as a user does under Manage
    credentials; returns the user's id and the credentials_context a tool form sends."""
    user = api("GET", "users/current")["id"]
    clear_credentials(api, user, tool)  # what an earlier run may have left
    context = []
    for name, values in services.items():
        group = api(
            "POST",
            f"users/{user}/credentials",
            json={
                "source_type": "tool",
                "source_id": tool["id"],
                "source_version": tool["version"],
                "service_credential": {
                    "name": name,
                    "version": "1.0",
                    "group": {"name": "check", **values},
                },
            },
        )
        (stored,) = [
            c
            for c in stored_credentials(api, user, tool)
            if c["name"] == name and any(g["id"] == group["id"] for g in c["groups"])
        ]
        context.append(
            {
                "user_credentials_id": stored["id"],
                "name": name,
                "version": "1.0",
                "selected_group": {"id": group["id"], "name": group["name"]},
            }
        )
    return user, context


def run_bakta(api: GalaxyApi, name: str, installed: bool, **inputs: str) -> dict[str, Any]:
    """Upload the test genome as NAME.fasta to a new history and run remote_bakta on it (the
    remote job is named NAME), with INPUTS besides; returns Galaxy's answer (jobs, outputs)."""
    history = api("POST", "histories", json={"name": name})["id"]
    genome = api.upload(history, ROOT / "test-data" / "bakta_genome.fasta", f"{name}.fasta")
    return dict(
        api(
            "POST",
            "tools",
            json={
                "tool_id": api.tool_id("remote_bakta", installed=installed),
                "history_id": history,
                "inputs": {"input_option|input_file": {"src": "hda", "id": genome}, **inputs},
            },
        )
    )


def running_remote_job(bakta: FakeBakta, name: str) -> FakeJob:
    """Wait until the fake service runs the job named NAME."""

    def running() -> list[FakeJob]:
        return [j for j in list(bakta.jobs.values()) if j.name == name and j.status == "RUNNING"]

    (job,) = wait_for(f"the remote job {name} runs", running)
    return job
