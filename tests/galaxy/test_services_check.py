"""The check tool (remote_services_check) on a real Galaxy, against the local fake services:
every service usable, with the user's credentials as Galaxy keeps them.

The test user stores MFannotWeb and codon credentials for the check tool (Galaxy keeps them per
tool) through Galaxy's credentials API, and runs the tool as the tool form does: the request
names the credential groups to use (credentials_context). Bakta's URL is the fake's, given to the
jobs by the Galaxy that conftest.py restarted; MFannotWeb's and the codon service's come from
the credentials. The tool loaded from the built repositories runs on the local runner; with a
Pulsar (scripts/test), the copy installed from the Tool Shed runs there too: the check reports
from the node and destination of its job.

scripts/test runs it with the other tests of tests/galaxy, before the restart test. By hand:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_services_check.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import PASSWORD, SECRETS, TOKEN, USERNAME
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
from tests.galaxy.support import GalaxyApi, clear_credentials, store_credentials, wait_for


@pytest.fixture
def mfannotweb() -> Iterator[FakeMfannotWeb]:
    with FakeMfannotWeb(TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def codon() -> Iterator[FakeCodon]:
    with FakeCodon(USERNAME, PASSWORD) as server:
        yield server  # type: ignore[misc]


@pytest.mark.parametrize(
    "installed",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                not os.environ.get("PULSAR_URL"), reason="needs a Pulsar (scripts/pulsar)"
            ),
        ),
    ],
    ids=["local", "pulsar"],
)
def test_the_check_tool_finds_every_service_usable(
    api: GalaxyApi,
    bakta: FakeBakta,
    mfannotweb: FakeMfannotWeb,
    codon: FakeCodon,
    installed: bool,
) -> None:
    tool = api("GET", f"tools/{api.tool_id('remote_services_check', installed=installed)}")
    user, context = store_credentials(
        api,
        tool,
        {
            "mfannotweb": {
                "variables": [{"name": "url", "value": mfannotweb.base + mfannotweb.api}],
                "secrets": [{"name": "token", "value": TOKEN}],
            },
            "codon_optimisation": {
                "variables": [
                    {"name": "url", "value": codon.base},
                    {"name": "username", "value": USERNAME},
                ],
                "secrets": [{"name": "password", "value": PASSWORD}],
            },
        },
    )
    try:
        history = api("POST", "histories", json={"name": "services check"})["id"]
        run = api(
            "POST",
            "tools",
            json={
                "tool_id": tool["id"],
                "tool_version": tool["version"],
                "history_id": history,
                "inputs": {"services": ["bakta", "mfannotweb", "codon"]},
                "credentials_context": context,
            },
        )
        job = run["jobs"][0]["id"]
        state = wait_for(
            "the check job ends",
            lambda: (s := api.job_state(job)) in {"ok", "error"} and s,
            limit=300,
        )
        details = api("GET", f"jobs/{job}", params={"full": "true"})
        assert state == "ok", details.get("stderr")
        assert details["exit_code"] == 0, details.get("stderr")
        dataset = run["outputs"][0]["id"]
        report = requests.get(
            f"{api.url}/api/datasets/{dataset}/display",
            headers=api.headers,
            params={"preview": "false"},
            timeout=60,
        ).text
    finally:
        clear_credentials(api, user, tool)

    lines = report.splitlines()
    assert lines[1] == "ALL USABLE", report
    assert f"bakta: {bakta.base}/api/v1 (BAKTA_API_URL)" in lines
    assert f"mfannotweb: {mfannotweb.base}{mfannotweb.api} (MFANNOTWEB_URL)" in lines
    assert f"codon: {codon.base} (CODON_API_URL)" in lines
    assert lines.count("  => usable") == 3
    assert [line for line in lines if "FAILED" in line] == []
    assert any("token of tester@example.org, scopes" in line for line in lines)
    assert any("POST /login: logged in" in line for line in lines)
    for secret in SECRETS:
        assert secret not in report
    # What the services saw: the token, and a login; nothing submitted.
    whoami = mfannotweb.requests_to("GET", mfannotweb.api)
    assert [r.headers.get("Authorization") for r in whoami] == [f"Bearer {TOKEN}"]
    assert len(codon.requests_to("POST", "/login")) == 1
    assert not codon.requests_to("POST", "/optimise")
    assert not mfannotweb.requests_to("POST", mfannotweb.api + "/jobs")
