"""Every Tool Shed repository as built for upload (scripts/galaxy build) is self-contained.

scripts/test runs this after building the repositories with planemo. By hand:
    scripts/galaxy build && SHED_BUILD_DIR=build/shed .venv/bin/pytest tests/shed
The plain `pytest` run does not collect tests/shed (norecursedirs in pyproject.toml).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, TEST_DATA
from tests.shed.check import problems

BUILT = Path(os.environ.get("SHED_BUILD_DIR", ""))
SHED = yaml.safe_load((ROOT / ".shed.yml").read_text())
NAMES = [*SHED["repositories"], SHED["suite"]["name"]]


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    if not os.environ.get("SHED_BUILD_DIR") or not BUILT.is_dir():
        pytest.fail("set SHED_BUILD_DIR to the output of scripts/galaxy build")


@pytest.mark.parametrize("name", NAMES)
def test_the_repository_is_self_contained(name: str) -> None:
    known = {path.name for path in TEST_DATA.iterdir() if path.is_file()}
    assert problems(BUILT / name, known) == []


def test_every_tool_of_tools_is_published_in_its_own_repository() -> None:
    published = sorted(path.name for path in BUILT.glob("*/*.xml") if path.name != "macros.xml")
    published = [name for name in published if name != "repository_dependencies.xml"]
    tools = (ROOT / "tools").glob("*.xml")
    assert published == sorted(p.name for p in tools if ET.parse(p).getroot().tag == "tool")
