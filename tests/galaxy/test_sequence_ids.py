"""The codon tool's "Id of the sequence to optimise" reaches the runner as typed, on a real Galaxy.

Galaxy's default sanitizer would turn NCBI's `lcl|ORF1` into `lclXORF1` and `seq@1` into
`seq__at__1`, and the run would fail naming a sequence that is not there. Each id below is the
header of one record of an uploaded FASTA (whose other records are decoys): the job the tool
form's request makes must end ok, having sent the codon service (the local fake, its URL from
the user's credentials) that record's sequence, and the command line Galaxy rendered must give
the id to `--sequence-id` as one intact word: no quote, `;` or `$(...)` in it reaches the shell.

scripts/test runs it on its first Galaxy (the tools of tools/), beside test_forms.py. By hand
(on the test Galaxy of that state folder, started and stopped for the test if it is not running):
    GALAXY_STATE_DIR=build/galaxy-test TOOLS_DIR=$PWD/tools .venv/bin/pytest \
        tests/galaxy/test_sequence_ids.py
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USERNAME
from tests.fakes.codon_service import FakeCodon
from tests.galaxy.support import (
    GalaxyApi,
    clear_credentials,
    galaxy_running,
    store_credentials,
    wait_for,
)

IDS = [
    "lcl|ORF1",
    "sp|P42212|GFP_AEQVI",
    "gi|123|ref|NC_000913.3|",
    "seq@1",
    "a'b",
    'a"b',
    "x;y$(z)",
]
# A coding sequence per id, each its own (ATG, a codon that tells them apart, a stop), and a
# decoy that shares no header with them.
CODONS = ["GCT", "GGC", "AAA", "GAA", "TTT", "CGT", "ATC"]
RECORDS = {name: f"ATG{codon * 10}GCCAAGTAA" for name, codon in zip(IDS, CODONS, strict=True)}
DECOY = ("decoy", "ATGCTGCTGCTGTAA")


@pytest.fixture(scope="module")
def api() -> Iterator[GalaxyApi]:
    with galaxy_running() as running:
        yield running


@pytest.fixture(scope="module")
def codon() -> Iterator[FakeCodon]:
    server = FakeCodon(USERNAME, PASSWORD)
    server.script = ["success"]  # done at the first poll
    with server:
        yield server


def test_every_id_a_fasta_header_may_hold_reaches_the_runner_intact(
    api: GalaxyApi, codon: FakeCodon, tmp_path: Path
) -> None:
    fasta = tmp_path / "ids.fasta"
    fasta.write_text("".join(f">{n} a record\n{s}\n" for n, s in [DECOY, *RECORDS.items()]))
    history = str(api("POST", "histories", json={"name": "sequence ids"})["id"])
    dataset = api.upload(history, fasta, "ids.fasta")
    tool = api("GET", "tools/remote_codon_optimisation")
    credentials = {
        "variables": [
            {"name": "url", "value": codon.base},
            {"name": "username", "value": USERNAME},
        ],
        "secrets": [{"name": "password", "value": PASSWORD}],
    }
    admin = GalaxyApi(admin=True)
    user, context = store_credentials(api, tool, {"codon_optimisation": credentials})
    try:
        jobs = {}
        for number, sequence_id in enumerate(IDS):
            inputs = {
                "name": f"id{number}",
                "input|mode": "fasta",
                "input|sequence": {"src": "hda", "id": dataset},
                "input|sequence_id": sequence_id,
                "fitness_0|function|id": "cai",
            }
            body = {
                "tool_id": tool["id"],
                "tool_version": tool["version"],
                "history_id": history,
                "inputs": inputs,
                "credentials_context": context,
            }
            jobs[sequence_id] = api("POST", "tools", json=body)["jobs"][0]["id"]
        details = {}
        for sequence_id, job in jobs.items():
            wait_for(
                f"the job of {sequence_id!r} ends",
                lambda job=job: api.job_state(job) in {"ok", "error", "failed", "deleted"},
                limit=600,
            )
            # The command line Galaxy rendered: only an admin sees it.
            details[sequence_id] = admin("GET", f"jobs/{job}", params={"full": "true"})
    finally:
        clear_credentials(api, user, tool)

    sent = {r.json()["name"]: r.json()["sequence"] for r in codon.requests_to("POST", "/optimise")}
    for number, sequence_id in enumerate(IDS):
        job = details[sequence_id]
        assert job["state"] == "ok", (sequence_id, job.get("stderr"))
        assert sent[f"id{number}"] == RECORDS[sequence_id]
        words = shlex.split(job["command_line"])
        (at,) = [i for i, word in enumerate(words) if word == "--sequence-id"]
        assert words[at + 1] == sequence_id, job["command_line"]
