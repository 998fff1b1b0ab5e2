"""A workflow built on the IUC's Bakta tool switches to remote_bakta by its step's tool id.

tests/galaxy/workflows/iuc-bakta.ga is a workflow as Galaxy saves it with the IUC's Bakta
(tools-iuc tools/bakta): a genome, the Bakta step (its state and connections in the IUC tool's
names: input_option|input_file, file_tsv, sum_txt, file_plot, annotation_plot...) and Galaxy's own
Concatenate (cat1) connected to five of its outputs. The test switches it as a user would: the
Bakta step's tool id becomes remote_bakta and the two database selects go, nothing else. As the
workflow tests do, it runs a copy whose Bakta step replays a recording (scripts/galaxy_api.py
workflow-replay-copy; bakta_default.yaml, the genome named bakta_genome.fasta as it expects),
then checks that Galaxy kept every connection and that the run used them.

scripts/test runs it on its Galaxy after the workflow tests. By hand (on the test Galaxy of that
state folder, started and stopped for the test if it is not running):
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_iuc_swap.py
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.galaxy.support import GALAXY_VENV, ROOT, STATE, GalaxyApi, galaxy_running, wait_for

IUC_WORKFLOW = ROOT / "tests" / "galaxy" / "workflows" / "iuc-bakta.ga"
GALAXY_PYTHON = GALAXY_VENV / "bin" / "python"
# Concatenate's inputs, each connected to a Bakta output (the IUC tool's output names).
CONNECTED = {
    "input1": "summary_txt",
    "queries_0|input2": "annotation_tsv",
    "queries_1|input2": "annotation_gff3",
    "queries_2|input2": "annotation_ffn",
    "queries_3|input2": "annotation_plot",
}


def switched(workflow: dict[str, Any]) -> dict[str, Any]:
    """WORKFLOW with its IUC Bakta step switched to remote_bakta: the tool id, and the two
    database selects dropped (the service has its own database)."""
    (step,) = [
        s for s in workflow["steps"].values() if "/repos/iuc/bakta/" in str(s.get("tool_id"))
    ]
    step["tool_id"] = step["content_id"] = "remote_bakta"
    state = json.loads(step["tool_state"])
    del state["input_option"]["bakta_db_select"], state["input_option"]["amrfinder_db_select"]
    step["tool_state"] = json.dumps(state)
    return workflow


def helper(*args: str | Path) -> str:
    """scripts/galaxy_api.py ARGS as the test user of the running test Galaxy."""
    env = dict(
        line.split("=", 1)
        for line in (STATE / "galaxy.env").read_text().splitlines()
        if "=" in line
    )
    done = subprocess.run(
        [GALAXY_PYTHON, ROOT / "scripts" / "galaxy_api.py", *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GALAXY_URL": env["GALAXY_URL"],
            "GALAXY_USER_KEY": env["GALAXY_USER_KEY"],
        },
    )
    return done.stdout


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GalaxyApi, Path]]:
    """The test Galaxy, and the switched workflow's replaying copy; the test user holds
    remote_bakta's test credentials meanwhile."""
    folder = tmp_path_factory.mktemp("iuc") / "iuc-bakta"
    folder.mkdir()
    workflow = folder / "iuc-bakta.ga"
    workflow.write_text(json.dumps(switched(json.loads(IUC_WORKFLOW.read_text())), indent=4))
    with galaxy_running() as api:
        out = folder.parent / "replay"
        copy = helper(
            "workflow-replay-copy",
            ROOT / "workflows" / "recordings.yml",
            out,
            workflow,
            "--step",
            "Bakta=bakta_default.yaml",
        )
        helper("workflow-credentials", "store", workflow)
        try:
            yield api, Path(copy.strip())
        finally:
            helper("workflow-credentials", "clear", workflow)


def test_an_iuc_bakta_workflow_runs_on_remote_bakta_with_every_connection(
    swapped: tuple[GalaxyApi, Path],
) -> None:
    api, copy = swapped
    history = api("POST", "histories", json={"name": "IUC Bakta workflow on remote_bakta"})["id"]
    genome = api.upload(history, ROOT / "test-data" / "bakta_genome.fasta", "bakta_genome.fasta")
    workflow = api("POST", "workflows", json={"workflow": json.loads(copy.read_text())})["id"]

    # Galaxy took every connection of the IUC tool's names: none was dropped on import.
    steps = api("GET", f"workflows/{workflow}")["steps"]
    (bakta,) = [s for s in steps.values() if s["tool_id"] == "remote_bakta"]
    (cat,) = [s for s in steps.values() if s["tool_id"] == "cat1"]
    assert set(bakta["input_steps"]) == {"input_option|input_file"}
    assert {
        name: (source["source_step"], source["step_output"])
        for name, source in cat["input_steps"].items()
    } == {name: (bakta["id"], output) for name, output in CONNECTED.items()}

    invocation = api(
        "POST",
        f"workflows/{workflow}/invocations",
        json={
            "history_id": history,
            # What Galaxy's run form and planemo send: the parameters only remote_bakta has
            # (locus, derm_type, ...) take their defaults, as after a tool upgrade.
            "allow_tool_state_corrections": True,
            "inputs_by": "name",
            "inputs": {"Genome": {"src": "hda", "id": genome}},
        },
    )["id"]

    def ended() -> dict[str, Any] | None:
        state = api("GET", f"invocations/{invocation}")["state"]
        if state in ("failed", "cancelled", "cancelling"):
            pytest.fail(f"Galaxy did not run the workflow: the invocation is {state}")
        if state not in ("scheduled", "completed"):
            return None
        summary: dict[str, Any] = api("GET", f"invocations/{invocation}/jobs_summary")
        states = summary.get("states", {})
        done = set(states) <= {"ok", "error", "failed", "deleted", "paused"}
        return summary if done and sum(states.values()) == 2 else None  # Bakta, Concatenate

    summary = wait_for("Bakta and Concatenate to end", ended, limit=600)
    assert summary["states"] == {"ok": 2}, summary

    # Concatenate read the very datasets Bakta made for the outputs it is connected to.
    jobs = {
        step["workflow_step_label"]: api("GET", f"jobs/{step['job_id']}")
        for step in api("GET", f"invocations/{invocation}")["steps"]
        if step.get("job_id")
    }
    made = {name: output["id"] for name, output in jobs["Bakta"]["outputs"].items()}
    read = {name: given["id"] for name, given in jobs["Concatenate"]["inputs"].items()}
    assert read == {name: made[output] for name, output in CONNECTED.items()}

    outputs = api("GET", f"invocations/{invocation}")["outputs"]
    text = api.display(outputs["Concatenated"]["id"])
    assert "CDSs: 10" in text  # the summary
    assert "#Sequence Id\tType\tStart" in text  # the annotation table
    assert "##gff-version 3" in text and ">JDFBHH_00005" in text  # GFF3, feature sequences
    assert "</svg>" in text  # the plot
    assert "</svg>" in api.display(outputs["Bakta plot"]["id"])
