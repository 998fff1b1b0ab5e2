"""Fixtures of the tests on a real Galaxy: the test Galaxy restarted so that its jobs talk to a
fake Bakta service, and its API as the test user.

These tests need the Galaxy state folder of a test run (GALAXY_STATE_DIR): scripts/test runs
them after its other steps. The plain `pytest` run does not collect tests/galaxy
(norecursedirs in pyproject.toml).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.bakta_service import FakeBakta
from tests.galaxy.support import GalaxyApi, galaxy

USER_LIMIT = 6  # the suite's jobs one user runs at once (test_many_genomes.py)


@pytest.fixture(scope="session")
def bakta() -> Iterator[FakeBakta]:
    """A fake Bakta whose jobs run until a test changes their script."""
    with FakeBakta(script=["RUNNING"] * 1_000_000) as server:
        yield server


@pytest.fixture(scope="session")
def galaxy_env(bakta: FakeBakta) -> dict[str, str]:
    """What `scripts/galaxy start` gets: the suite's jobs talk to the fake Bakta service and may
    not replay recordings (REMOTE_JOBS_REPLAY=off, as a production Galaxy may set it), one user
    runs USER_LIMIT of them at once, and with PULSAR_URL set (scripts/test: its Pulsar), the
    installed tools run on Pulsar."""
    env = {
        "BAKTA_API_URL": bakta.base + "/api/v1",
        "REMOTE_JOBS_REPLAY": "off",
        "REMOTE_JOBS_USER_LIMIT": str(USER_LIMIT),
    }
    if os.environ.get("PULSAR_URL"):
        env["INSTALLED_TOOLS_ON"] = "pulsar"
    return env


@pytest.fixture(scope="session")
def api(galaxy_env: dict[str, str]) -> Iterator[GalaxyApi]:
    """The test Galaxy restarted with galaxy_env; stopped at the end."""
    if not os.environ.get("GALAXY_STATE_DIR"):
        pytest.fail("set GALAXY_STATE_DIR to a test Galaxy's state folder (see the docstring)")
    galaxy("stop")
    galaxy("start", **galaxy_env)
    try:
        yield GalaxyApi()
    finally:
        galaxy("stop")
