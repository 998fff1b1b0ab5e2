"""A Galaxy whose admin turned replays off runs no tool from a recording.

The tools' hidden `test_cassette` parameter, which their tests set, can be set by any API caller.
With REMOTE_JOBS_REPLAY=off in the jobs' environment (docs/admin.md), the runner refuses it: the
job fails with exit code 2 and says why, and nothing reaches the service. conftest.py restarts
the test Galaxy so, with a fake Bakta service, for the local runner and, with PULSAR_URL set,
for the tools installed from the Tool Shed, which run on Pulsar.

scripts/test runs it with tests/galaxy/test_job_deletion.py. By hand:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_replay_switch.py
"""

from __future__ import annotations

import os

import pytest

from tests.fakes.bakta_service import FakeBakta
from tests.galaxy.support import GalaxyApi, run_bakta, wait_for

ON_PULSAR = pytest.mark.skipif(not os.environ.get("PULSAR_URL"), reason="needs scripts/pulsar")


@pytest.mark.parametrize("installed", [False, pytest.param(True, marks=ON_PULSAR)])
def test_a_replay_is_refused_where_the_admin_turned_replays_off(
    bakta: FakeBakta, api: GalaxyApi, installed: bool
) -> None:
    name = f"replay_off_{'installed' if installed else 'local'}"
    answer = run_bakta(api, name, installed=installed, test_cassette="bakta_default.yaml")
    job = answer["jobs"][0]["id"]
    ended = ("ok", "error", "failed", "deleted")
    wait_for(f"the job {name} ends", lambda: api.job_state(job) in ended, limit=300)
    details = api("GET", f"jobs/{job}", params={"full": "true"})
    assert details["state"] == "error"
    assert details["exit_code"] == 2
    assert details["stderr"].strip().splitlines()[-1] == (
        "error: remote-jobs: replaying recordings is turned off (REMOTE_JOBS_REPLAY=off)"
    )
    assert "replayed from recording" not in details["stderr"]
    assert not [r for r in bakta.log if name.encode() in r.body]
