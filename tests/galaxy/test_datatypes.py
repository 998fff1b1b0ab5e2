"""The Bakta tools' GenBank and EMBL outputs connect where IWC's workflows connect the IUC Bakta's.

The IUC's `bakta` types its `annotation_gbff` and `annotation_embl` outputs `tabular`; ours are
`genbank` and `embl`, what the files are (docs/admin.md, "Datatypes of the Bakta outputs").
IWC's workflows hand the IUC Bakta's GenBank file on to one step only: ToolDistillator's
`--annotation_genbank_path` (bacterial_genome_annotation, MAG-Genome-Annotation-Parallel), which,
like its `--annotation_embl_path`, takes `txt`. Whether a dataset fits a data input is Galaxy's
`Data.matches_any` over the datatypes of the input's formats (its DatasetMatcher when a tool
runs; the workflow editor uses the same class hierarchy): a subclass fits. This asks Galaxy's
own datatypes registry, with the datatypes a default Galaxy loads (datatypes_conf.xml.sample),
in Galaxy's venv (scripts/galaxy install). It needs no running Galaxy: scripts/test runs it once
the Galaxy venv is installed.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.galaxy.support import GALAXY_VENV, ROOT

# Run in Galaxy's venv: for each [dataset extension, input formats], whether Galaxy lets the
# dataset into the input.
MATCHES = """
import json, os, sys
import galaxy.config
from galaxy.datatypes.registry import Registry

config = os.path.dirname(galaxy.config.__file__)
registry = Registry()
registry.load_datatypes(config, os.path.join(config, "sample", "datatypes_conf.xml.sample"))
answers = []
for extension, formats in json.load(sys.stdin):
    targets = [registry.get_datatype_by_extension(f) for f in formats]
    assert None not in targets, formats
    answers.append(registry.get_datatype_by_extension(extension).matches_any(targets))
print(json.dumps(answers))
"""


# Every question the tests ask, answered in one run (loading the registry takes seconds).
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    (extension, formats)
    for extension in ("genbank", "embl", "tabular")
    for formats in (("txt",), ("tabular",), ("genbank",), ("embl",))
]


@pytest.fixture(scope="module")
def fits() -> dict[tuple[str, tuple[str, ...]], bool]:
    """Whether Galaxy lets a dataset of EXTENSION into an input of FORMATS."""
    python = GALAXY_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(f"no {python}: run scripts/galaxy install")
    done = subprocess.run(
        [python, "-c", MATCHES],
        input=json.dumps(QUESTIONS),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return dict(zip(QUESTIONS, json.loads(done.stdout.splitlines()[-1]), strict=True))


def output_format(tool: str, output: str) -> str:
    root = ET.parse(ROOT / "tools" / f"{tool}.xml").getroot()
    data = root.find(f"./outputs/data[@name='{output}']")
    assert data is not None, (tool, output)
    return str(data.get("format"))


# ToolDistillator (tools-iuc tools/tooldistillator/tooldistillator.xml, its bakta inputs).
TOOLDISTILLATOR_GENBANK = ("txt",)
TOOLDISTILLATOR_EMBL = ("txt",)


@pytest.mark.parametrize("tool", ["remote_bakta", "remote_bakta_proteins"])
def test_genbank_and_embl_reach_tooldistillator_as_the_iuc_bakta_outputs_do(
    tool: str, fits: dict[tuple[str, tuple[str, ...]], bool]
) -> None:
    genbank = output_format(tool, "annotation_gbff")
    embl = output_format(tool, "annotation_embl")
    assert (genbank, embl) == ("genbank", "embl")
    assert fits[genbank, TOOLDISTILLATOR_GENBANK]
    assert fits[embl, TOOLDISTILLATOR_EMBL]
    assert fits["tabular", TOOLDISTILLATOR_GENBANK]  # the IUC Bakta's, for comparison


def test_a_genbank_input_takes_ours_and_a_tabular_input_only_the_iuc_ones(
    fits: dict[tuple[str, tuple[str, ...]], bool],
) -> None:
    """What the choice changes: a step that asks for GenBank takes our output, not the IUC's; one
    that asks for tabular (no step of IWC's does, for these files) would take only the IUC's."""
    assert fits["genbank", ("genbank",)]
    assert not fits["tabular", ("genbank",)]
    assert not fits["genbank", ("tabular",)]
    assert not fits["embl", ("tabular",)]
    assert fits["tabular", ("tabular",)]
