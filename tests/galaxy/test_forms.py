"""What Galaxy's forms refuse, and how a replayed run shows, on the running test Galaxy.

- A choice a tool needs (the files to fetch of `remote_bakta` and of Baktfold, RNAweasel's
  models), submitted empty through Galaxy's API as no value or as an empty list, gets the
  form's error and no job; the same request with a choice makes a job.
- A run that replays a recording says so in the info of each of its outputs
  ("replayed from recording NAME, no service contacted", from the job's stderr), and each output
  records the runner's version (the tools' <version_command>).

scripts/test runs it on its first Galaxy (the tools of tools/) after the workflow tests. By hand
(on the test Galaxy of that state folder, started and stopped for the test if it is not running):
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_forms.py
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import remote_jobs
from tests.galaxy.support import GalaxyApi, galaxy_running, wait_for

ROOT = Path(__file__).resolve().parents[2]
ENDED = ("ok", "error", "failed", "deleted")
REPLAYED = "remote-jobs: replayed from recording {}, no service contacted"


@pytest.fixture(scope="module")
def api() -> Iterator[GalaxyApi]:
    with galaxy_running() as running:
        yield running


@pytest.fixture(scope="module")
def history(api: GalaxyApi) -> str:
    return str(api("POST", "histories", json={"name": "forms and replays"})["id"])


@pytest.fixture(scope="module")
def datasets(api: GalaxyApi, history: str) -> dict[str, str]:
    """The test inputs, named as the recordings expect."""
    files = {
        "bakta_genome.fasta": "fasta",
        "bakta_genome.json": "json",
        "mito_genome.fasta": "fasta",
    }
    elements = [
        {
            "src": "pasted",
            "paste_content": (ROOT / "test-data" / n).read_text(),
            "ext": e,
            "name": n,
        }
        for n, e in files.items()
    ]
    target = {"destination": {"type": "hdas"}, "elements": elements}
    outputs = api("POST", "tools/fetch", json={"history_id": history, "targets": [target]})[
        "outputs"
    ]
    ids = {str(output["name"]): str(output["id"]) for output in outputs}
    assert sorted(ids) == sorted(files)
    for name, dataset in ids.items():
        wait_for(
            f"the upload of {name}",
            lambda dataset=dataset: api("GET", f"datasets/{dataset}")["state"] == "ok",
            limit=600,
        )
    return ids


def submit(api: GalaxyApi, tool_id: str, history: str, inputs: dict[str, Any]) -> requests.Response:
    return api.post_raw("tools", json={"tool_id": tool_id, "history_id": history, "inputs": inputs})


def jobs_of(api: GalaxyApi, history: str) -> list[str]:
    return [str(job["id"]) for job in api("GET", "jobs", params={"history_id": history})]


# tool id, the inputs besides the choice, the choice's parameter, a valid choice, the message
CHOICES = [
    (
        "remote_bakta",
        {"input_option|input_file": "bakta_genome.fasta", "test_cassette": "bakta_default.yaml"},
        "output_files|output_selection",
        ["file_gff3"],
        "Select at least one file",
    ),
    (
        "remote_bakta_proteins",
        {
            "mode|mode": "baktfold",
            "mode|bakta_json": "bakta_genome.json",
            "test_cassette": "bakta_baktfold.yaml",
        },
        "mode|output_selection",
        ["gff3"],
        "Select at least one file",
    ),
    (
        "remote_rnaweasel",
        {"genome": "mito_genome.fasta", "gencode": "4", "test_cassette": "rnaweasel_trna.yaml"},
        "rna",
        ["tRNA"],
        "Select at least one RNA model",
    ),
]


@pytest.mark.parametrize(
    ("tool_id", "inputs", "choice", "valid", "message"), CHOICES, ids=[c[0] for c in CHOICES]
)
def test_an_empty_choice_gets_the_forms_error_and_no_job(
    api: GalaxyApi,
    history: str,
    datasets: dict[str, str],
    tool_id: str,
    inputs: dict[str, Any],
    choice: str,
    valid: list[str],
    message: str,
) -> None:
    inputs = {
        k: {"src": "hda", "id": datasets[v]} if v in datasets else v for k, v in inputs.items()
    }
    before = jobs_of(api, history)
    for empty, words in ((None, "an invalid option (None) was selected"), ([], message)):
        refused = submit(api, tool_id, history, {**inputs, choice: empty})
        assert refused.status_code == 400, (empty, refused.text)
        assert words in refused.json()["err_data"][choice], (empty, refused.text)
    assert jobs_of(api, history) == before
    # The same request with a choice is a job: nothing else in it was wrong.
    accepted = submit(api, tool_id, history, {**inputs, choice: valid})
    assert accepted.status_code == 200, accepted.text
    job = accepted.json()["jobs"][0]["id"]
    assert job not in before and job in jobs_of(api, history)
    wait_for(f"the {tool_id} job ends", lambda: api.job_state(job) in ENDED, limit=300)


def test_each_output_of_a_replayed_run_says_it_was_replayed(
    api: GalaxyApi, history: str, datasets: dict[str, str]
) -> None:
    inputs = {
        "input_option|input_file": {"src": "hda", "id": datasets["bakta_genome.fasta"]},
        "test_cassette": "bakta_default.yaml",
    }
    answer = api(
        "POST", "tools", json={"tool_id": "remote_bakta", "history_id": history, "inputs": inputs}
    )
    job = answer["jobs"][0]["id"]
    wait_for("the replayed Bakta job ends", lambda: api.job_state(job) in ENDED, limit=300)
    details = api("GET", f"jobs/{job}", params={"full": "true"})
    assert details["state"] == "ok", details["stderr"]
    assert details["stderr"].splitlines()[0] == REPLAYED.format("bakta_default.yaml")
    outputs = answer["outputs"]
    assert len(outputs) == 6
    for output in outputs:
        # Galaxy keeps 255 characters of the job's stdout and stderr as each output's info.
        keys = {"keys": "misc_info,tool_version"}
        dataset = api("GET", f"datasets/{output['id']}", params=keys)
        info = dataset["misc_info"].strip().splitlines()
        assert info[0] == REPLAYED.format("bakta_default.yaml"), output["output_name"]
        assert dataset["tool_version"] == f"remote-jobs, version {remote_jobs.__version__}"
