"""MultiQC reads the Bakta summaries remote_bakta publishes for a list of genomes.

The IWC's MAG workflows map Bakta over a collection and feed its summaries (summary_txt) to
Galaxy's MultiQC tool, whose Bakta module reads Bakta's summary .txt. This test maps remote_bakta
over a list of three genomes (against the fake Bakta of tests/fakes, as
test_many_genomes.py does), lays the summary datasets out as Galaxy's MultiQC tool does
(tools-iuc tools/multiqc, bakta_plugin.xml: multiqc_WDir/bakta_0/<element identifier, each
character other than a word character, white space or '-' made '_'>.txt), runs the real
MultiQC on them (requirements-multiqc.txt: MULTIQC, default build/multiqc-venv/bin/multiqc,
which scripts/test installs) and checks that MultiQC's data holds every genome with the
counts of its summary.

scripts/test runs it with the other tests that restart Galaxy with fake services. By hand:
    GALAXY_STATE_DIR=build/galaxy-test .venv/bin/pytest tests/galaxy/test_multiqc_bakta.py
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bakta_service import FakeBakta, FakeJob
from tests.galaxy.support import ROOT, GalaxyApi, wait_for

MULTIQC = Path(os.environ.get("MULTIQC", ROOT / "build" / "multiqc-venv" / "bin" / "multiqc"))
# Three genomes of different sizes, named as MAG bins are (MultiQC's file names replace the dots).
GENOMES = {
    "bin.1": ROOT / "test-data" / "bakta_genome.fasta",
    "bin.2": ROOT / "test-data" / "bakta_plasmid.fasta",
    "bin.3": ROOT / "test-data" / "codon_cds.fasta",
}
# What MultiQC's Bakta module takes from each summary (multiqc_bakta.txt's columns).
COUNTS = ("Length", "Count", "N50", "tRNAs", "rRNAs", "CDSs", "hypotheticals", "sORFs")


def summary_counts(text: str) -> dict[str, int]:
    """The counts of a Bakta summary, as MultiQC's Bakta module reads them."""
    found = dict(re.findall(r"^([A-Za-z0-9 ]+): (\d+)$", text, flags=re.MULTILINE))
    return {name: int(found[name]) for name in COUNTS}


def multiqc_table(path: Path) -> dict[str, dict[str, str]]:
    header, *rows = [line.split("\t") for line in path.read_text().splitlines()]
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def test_multiqc_reads_the_summaries_of_a_list_mapped_over_remote_bakta(
    bakta: FakeBakta, api: GalaxyApi, tmp_path: Path
) -> None:
    if not MULTIQC.is_file():
        pytest.fail(f"no MultiQC at {MULTIQC}: pip install --no-deps -r requirements-multiqc.txt")
    history = api("POST", "histories", json={"name": "MultiQC of Bakta summaries"})["id"]
    collection = api.upload_list(history, "MAG bins", GENOMES)
    run: dict[str, Any] = api(
        "POST",
        "tools",
        json={
            "tool_id": "remote_bakta",
            "history_id": history,
            "inputs": {
                "input_option|input_file": {
                    "batch": True,
                    "values": [{"src": "hdca", "id": collection}],
                },
                "output_files|output_selection": ["sum_txt"],
            },
        },
    )
    jobs = [str(job["id"]) for job in run["jobs"]]
    assert len(jobs) == len(GENOMES)

    def started() -> list[FakeJob]:
        return [j for j in list(bakta.jobs.values()) if j.name in GENOMES and j.config]

    wait_for("the remote job of every genome starts", lambda: len(started()) == 3, limit=300)
    for job in started():
        job.script = ["SUCCESSFUL"]
    ended = {"ok", "error", "failed", "deleted"}
    wait_for(
        "Galaxy finishes every job",
        lambda: {api.job_state(job) for job in jobs} <= ended,
        limit=600,
    )
    for job in jobs:
        details = api("GET", f"jobs/{job}", params={"full": "true"})
        assert details["state"] == "ok", details.get("stderr")

    (summaries,) = [c for c in run["implicit_collections"] if c["output_name"] == "summary_txt"]
    elements = api("GET", f"dataset_collections/{summaries['id']}")["elements"]
    # Laid out as Galaxy's MultiQC tool links its Bakta inputs (bakta_plugin.xml).
    software_dir = tmp_path / "multiqc_WDir" / "bakta_0"
    software_dir.mkdir(parents=True)
    expected = {}
    for element in elements:
        identifier = re.sub(r"[^\s\w\-]", "_", element["element_identifier"])
        text = api.display(element["object"]["id"])
        assert "Bakta:" in text  # the tool's check (its pattern) before it runs MultiQC
        (software_dir / f"{identifier}.txt").write_text(text)
        expected[identifier] = summary_counts(text)
    assert sorted(expected) == ["bin_1", "bin_2", "bin_3"]

    subprocess.run(
        [MULTIQC, "multiqc_WDir", "--filename", "report"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    table = multiqc_table(tmp_path / "report_data" / "multiqc_bakta.txt")
    assert sorted(table) == sorted(expected)  # every genome, each once
    for sample, counts in expected.items():
        assert {name: int(float(table[sample][name])) for name in COUNTS} == counts, sample
    # The genomes differ, and so do their rows: MultiQC did not take one summary for all.
    assert len({table[sample]["Length"] for sample in table}) == 3
    assert int(expected["bin_1"]["CDSs"]) > 0
