"""The suite's packaging stays consistent: pins, versions, tool ids and Tool Shed contents."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

import remote_jobs
from tests.conftest import ROOT

TOOLS = sorted((ROOT / "tools").glob("*.xml"))
MACROS = ET.parse(ROOT / "macros.xml").getroot()


def _pins(lines: list[str]) -> dict[str, str]:
    return dict(line.strip().split("==") for line in lines if line.strip() and "#" not in line)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


REQUIREMENTS_TXT = _pins((ROOT / "requirements.txt").read_text().splitlines())


def test_macros_pin_the_same_runtime_requirements_as_requirements_txt() -> None:
    galaxy = {r.text: r.get("version") for r in MACROS.iter("requirement") if r.text != "python"}
    assert galaxy == REQUIREMENTS_TXT


def test_setup_cfg_installs_the_same_pins_as_requirements_txt() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert _pins(config["options"]["install_requires"].splitlines()) == REQUIREMENTS_TXT


def test_galaxys_python_satisfies_python_requires() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    minimum = config["options"]["python_requires"].removeprefix(">=")
    python = next(r.get("version", "") for r in MACROS.iter("requirement") if r.text == "python")
    assert _version(python) >= _version(minimum)


def test_tool_version_token_is_the_runner_version() -> None:
    tokens = {t.get("name"): t.text for t in MACROS.iter("token")}
    assert tokens["@TOOL_VERSION@"] == remote_jobs.__version__


def test_tools_share_a_prefix_import_the_macros_and_replay_only_named_cassettes() -> None:
    assert [p.stem for p in TOOLS] == [
        "remote_bakta",
        "remote_bakta_proteins",
        "remote_codon_optimisation",
        "remote_mfannot",
        "remote_rnaweasel",
    ]
    for path in TOOLS:
        tool = ET.parse(path).getroot()
        assert re.fullmatch(r"remote_[a-z0-9_]+", tool.get("id", ""))
        assert tool.get("id") == path.stem
        assert [i.text for i in tool.iter("import")] == ["macros.xml"]
        assert 'detect_errors="exit_code"' in path.read_text()


def test_every_cassette_a_tool_test_names_exists_and_ships_with_its_repository() -> None:
    shed = yaml.safe_load((ROOT / ".shed.yml").read_text())
    for path in TOOLS:
        repo = shed["repositories"][path.stem]
        includes = [i["source"] if isinstance(i, dict) else i for i in repo["include"]]
        assert f"tools/{path.name}" in includes and "macros.xml" in includes
        named = re.findall(r'name="test_cassette" value="([^"]+)"', path.read_text())
        assert named
        for cassette in named:
            assert (ROOT / "test-data" / "cassettes" / cassette).is_file()
            assert any(
                Path(f"test-data/cassettes/{cassette}").match(pattern) for pattern in includes
            )
        inputs = set(re.findall(r'value="([A-Za-z0-9_.-]{1,100})"', path.read_text()))
        for name in sorted(v for v in inputs if (ROOT / "test-data" / v).is_file()):
            assert any(Path(f"test-data/{name}").match(p) for p in includes), (path.name, name)


def test_test_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in (ROOT / "test-data").rglob("*") if p.is_file())
    assert total < 1_000_000


def test_the_local_galaxy_routes_every_tool_to_the_suites_runner() -> None:
    """scripts/galaxy's job_conf.yml sends every tool of tools/ to the `remote_services` runner
    by its short id (which also matches its installed copies), and with INSTALLED_TOOLS_ON the
    installed copies, by their id without the version, to their own environment."""
    helper = [sys.executable, ROOT / "scripts" / "galaxy_api.py", "tool-routes"]
    installed_on = [
        "--installed-from",
        "http://127.0.0.1:9009/",
        "--installed-environment",
        "pulsar",
    ]
    routes = subprocess.run(
        [*helper, ROOT / ".shed.yml", "remote_services", *installed_on],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    routed = {entry["id"]: entry["environment"] for entry in yaml.safe_load(routes)["tools"]}
    ids = {ET.parse(path).getroot().get("id", "") for path in TOOLS}
    installed = {f"127.0.0.1:9009/repos/remote_jobs/{id_}/{id_}" for id_ in ids}
    assert routed == dict.fromkeys(ids, "remote_services") | dict.fromkeys(installed, "pulsar")
