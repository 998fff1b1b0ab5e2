"""docs/admin.md's configuration examples name every tool of tools/, and nothing else.

Generic on purpose: every YAML example of the admin guide that has a `tools:` key is checked,
whatever its kind: a job configuration (a list of `id:` routes), a Total Perspective Vortex
rule file (a mapping whose keys are regular expressions on tool ids, matched from the start as
TPV matches them) or an Ephemeris tool list (the repositories to install). Adding a tool to
tools/ without adding it to every example, or an example that leaves one out, fails here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "admin.md"
SHED = yaml.safe_load((ROOT / ".shed.yml").read_text())
TOOL_IDS = sorted(
    str(root.get("id"))
    for root in (ET.parse(p).getroot() for p in (ROOT / "tools").glob("*.xml"))
    if root.tag == "tool"
)
# Tools that are not the suite's: no example may route them with the suite's tools.
OTHER_IDS = [
    "upload1",
    "__SET_METADATA__",
    "toolshed.g2.bx.psu.edu/repos/iuc/bakta/bakta/1.9.4+galaxy1",
    "toolshed.g2.bx.psu.edu/repos/remote_other/remote_bakta/remote_bakta/0.2.0+galaxy0",
]


def installed_id(tool_id: str) -> str:
    """The id Galaxy gives the tool installed from the main Tool Shed (docs/admin.md)."""
    owner = SHED["owner"]
    return f"toolshed.g2.bx.psu.edu/repos/{owner}/{tool_id}/{tool_id}/0.2.0+galaxy0"


def yaml_blocks() -> list[tuple[int, str, Any]]:
    """(line, text, parsed YAML) of every ```yaml block of the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1), yaml.safe_load(match.group(1)))
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    ]


def examples() -> list[tuple[int, dict[str, Any]]]:
    """(line, parsed YAML) of every ```yaml block of the guide that has a `tools` key."""
    return [
        (line, document)
        for line, _, document in yaml_blocks()
        if isinstance(document, dict) and "tools" in document
    ]


EXAMPLES = examples()


def test_the_guide_has_examples_of_every_kind() -> None:
    kinds = {type(document["tools"]).__name__ for _, document in EXAMPLES}
    assert kinds == {"list", "dict"}
    assert len(TOOL_IDS) >= 5


@pytest.mark.parametrize(("line", "document"), EXAMPLES, ids=[f"line {n}" for n, _ in EXAMPLES])
def test_every_example_names_every_tool(line: int, document: dict[str, Any]) -> None:
    tools = document["tools"]
    if isinstance(tools, dict):  # TPV: regular expressions on the tool id
        patterns = [re.compile(str(key)) for key in tools]
        routed = [
            tool_id
            for tool_id in [*TOOL_IDS, *map(installed_id, TOOL_IDS), *OTHER_IDS]
            if any(p.match(tool_id) for p in patterns)
        ]
        assert [t for t in routed if t in OTHER_IDS] == [], f"line {line} routes others' tools"
        for tool_id in TOOL_IDS:
            assert installed_id(tool_id) in routed, f"line {line} leaves out {tool_id}"
    elif all("id" in entry for entry in tools):  # job_conf.yml: one route per tool id
        assert sorted(entry["id"] for entry in tools) == TOOL_IDS, f"line {line}"
    else:  # an Ephemeris tool list: the repositories it installs
        names = {entry["name"] for entry in tools}
        suite = SHED["suite"]["name"]
        if suite in names:
            entry = next(e for e in tools if e["name"] == suite)
            assert entry["install_repository_dependencies"] is True, f"line {line}"
            names = names - {suite} | set(SHED["repositories"])
        assert names == set(SHED["repositories"]), f"line {line}"
        repositories = {
            name: str(repo["include"][0]["source"]) for name, repo in SHED["repositories"].items()
        }
        assert (
            sorted(
                ET.parse(ROOT / source).getroot().get("id", "") for source in repositories.values()
            )
            == TOOL_IDS
        )
