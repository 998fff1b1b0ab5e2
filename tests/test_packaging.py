"""The suite's packaging stays consistent: pins, versions, tool ids and Tool Shed contents."""

from __future__ import annotations

import ast
import configparser
import fnmatch
import glob
import importlib.metadata
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

import remote_jobs
from tests.conftest import ROOT

# tools/ also holds macros.xml, lib/ and test-data/ (a tool folder, as published).
TOOLS = sorted(p for p in (ROOT / "tools").glob("*.xml") if ET.parse(p).getroot().tag == "tool")
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


def _imported_distributions() -> set[str]:
    """The distributions of every module outside the standard library that the runner imports,
    in functions too (whatever a run may import)."""
    modules = set()
    for path in (ROOT / "lib" / "remote_jobs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"__future__", "remote_jobs"}
    distributions = importlib.metadata.packages_distributions()
    return {name for module in modules for name in distributions[module]}


def test_every_distribution_the_runner_imports_is_pinned() -> None:
    """urllib3 too, though requests brings it: requests allows urllib3 1.26, and the runner
    needs 2.2 or later (BaseHTTPResponse, read1) and overrides one of its Retry's methods."""
    assert "urllib3" in _imported_distributions()
    assert _imported_distributions() <= set(REQUIREMENTS_TXT)
    assert _version(REQUIREMENTS_TXT["urllib3"]) >= (2, 2)


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
        "remote_services_check",
    ]
    for path in TOOLS:
        tool = ET.parse(path).getroot()
        assert re.fullmatch(r"remote_[a-z0-9_]+", tool.get("id", ""))
        assert tool.get("id") == path.stem
        assert [i.text for i in tool.iter("import")] == ["macros.xml"]
        # The check tool's <stdio> lists every exit code: its findings (2-5) are warnings.
        assert 'detect_errors="exit_code"' in path.read_text() or tool.get("id") == (
            "remote_services_check"
        )


def test_every_cassette_a_tool_test_names_exists_and_ships_with_its_repository() -> None:
    shed = yaml.safe_load((ROOT / ".shed.yml").read_text())
    for path in TOOLS:
        repo = shed["repositories"][path.stem]
        includes = [i["source"] if isinstance(i, dict) else i for i in repo["include"]]
        assert f"tools/{path.name}" in includes and "macros.xml" in includes
        named = re.findall(r'name="test_cassette" value="([^"]+)"', path.read_text())
        # The check tool's job is to reach the network: its tests replay nothing, and reach
        # only names that never resolve and closed local ports.
        assert named or path.stem == "remote_services_check"
        for cassette in named:
            assert (ROOT / "test-data" / "cassettes" / cassette).is_file()
            assert any(
                Path(f"test-data/cassettes/{cassette}").match(pattern) for pattern in includes
            )
        inputs = set(re.findall(r'value="([A-Za-z0-9_.-]{1,100})"', path.read_text()))
        for name in sorted(v for v in inputs if (ROOT / "test-data" / v).is_file()):
            assert any(Path(f"test-data/{name}").match(p) for p in includes), (path.name, name)


def test_test_data_stays_small() -> None:
    """All the recordings and inputs together; each tool's repository ships only its own
    (tests/shed). 1 MB until 0.3.0, whose Bakta tests replay a resubmission, job logs and a
    gzip-compressed genome (about 0.15 MB more)."""
    total = sum(p.stat().st_size for p in (ROOT / "test-data").rglob("*") if p.is_file())
    assert total < 1_250_000


RUNNER_FILES = sorted(
    str(p.relative_to(ROOT))
    for p in (ROOT / "lib" / "remote_jobs").rglob("*")
    if p.is_file() and "__pycache__" not in p.parts
)


def test_the_whole_runner_ships_with_every_tool_and_pulsar_stages_it() -> None:
    """Subpackages too (lib/remote_jobs/bakta/): planemo expands .shed.yml's includes with
    glob.glob, whose * stays in one folder; Galaxy matches <required_files> with fnmatch."""
    assert "lib/remote_jobs/bakta/flow.py" in RUNNER_FILES
    shed = yaml.safe_load((ROOT / ".shed.yml").read_text())
    for path in TOOLS:
        includes = shed["repositories"][path.stem]["include"]
        patterns = [i["source"] if isinstance(i, dict) else i for i in includes]
        shipped = {
            str(Path(found).relative_to(ROOT))
            for pattern in patterns
            for found in glob.glob(str(ROOT / pattern))
        }
        assert set(RUNNER_FILES) <= shipped, (path.stem, sorted(set(RUNNER_FILES) - shipped))
    # Both required_files macros (with and without the recordings) stage the runner_files.
    for required in MACROS.iter("required_files"):
        assert [e.get("macro") for e in required.iter("expand")] == ["runner_files"]
    (runner,) = (xml for xml in MACROS.iter("xml") if xml.get("name") == "runner_files")
    staged = [(i.get("type"), i.get("path", "")) for i in runner.iter("include")]
    for name in RUNNER_FILES:
        assert any(
            fnmatch.fnmatch(name, path) if kind == "glob" else name == path for kind, path in staged
        ), name


def _outputs(tool: ET.Element) -> set[str]:
    """The names of the tool's outputs, macros expanded (macros.xml's <xml> macros)."""
    macros = {m.get("name"): m for m in MACROS.iter("xml")}

    def walk(element: ET.Element) -> set[str]:
        names = set()
        for child in element:
            if child.tag == "expand":
                names |= walk(macros[child.get("macro")])
            elif child.tag in ("data", "collection"):
                names.add(str(child.get("name")))
        return names

    return walk(tool.find("outputs") or ET.Element("outputs"))


def test_every_output_of_every_tool_is_asserted_by_a_test() -> None:
    """Each output some test checks: its contents, a file to compare with, or its elements."""
    for path in TOOLS:
        tool = ET.parse(path).getroot()
        asserted = {
            str(output.get("name"))
            for test in tool.iter("test")
            for output in test
            if output.tag in ("output", "output_collection")
            and (output.get("file") or len(output) > 0)
        }
        outputs = _outputs(tool)
        assert outputs, path.name
        assert sorted(outputs - asserted) == [], f"{path.name}: outputs no test asserts"


def test_every_tool_reports_the_runner_version_as_it_runs_the_runner() -> None:
    """<version_command> runs the runner the way the command does (@RUNNER@, from the tool's
    folder): Galaxy stores its answer with the outputs."""

    tokens = {t.get("name"): t.text or "" for t in MACROS.iter("token")}
    (version_command,) = [
        m.findtext("version_command")
        for m in MACROS.iter("xml")
        if m.get("name") == "version_command"
    ]
    assert version_command == "@RUNNER@ --version"
    for path in TOOLS:
        tool = ET.parse(path).getroot()
        assert [e.get("macro") for e in tool if e.tag == "expand"][-1] == "version_command"
        command = version_command.replace("@RUNNER@", tokens["@RUNNER@"])
        command = command.replace("$__tool_directory__", str(path.parent))
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
        assert done.stdout == f"remote-jobs, version {remote_jobs.__version__}\n"


RECIPE = ROOT / "packaging" / "bioconda" / "remote-jobs" / "meta.yaml"


def test_the_bioconda_recipe_packages_this_version_with_setup_cfgs_requirements() -> None:
    """packaging/bioconda/remote-jobs/meta.yaml stays in step with setup.cfg."""
    text = RECIPE.read_text()
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    version = re.search(r'{% set version = "([^"]+)" %}', text)
    assert version and version[1] == remote_jobs.__version__
    assert "noarch: python" in text
    requirements = text.split("\nrequirements:\n", 1)[1].split("\n\n", 1)[0]
    run = requirements.split("  run:\n", 1)[1].splitlines()
    pins = dict(line.removeprefix("    - ").split(" ==") for line in run if "==" in line)
    assert pins == REQUIREMENTS_TXT
    minimum = config["options"]["python_requires"]
    assert f"    - python {minimum}" in run
    (entry_point,) = config["options.entry_points"]["console_scripts"].strip().splitlines()
    assert f"    - {entry_point}" in text
    assert "    - remote-jobs --help" in text
    assert "  license_file: LICENSE\n" in text
    assert f"  license: {config['metadata']['license']}\n" in text


def test_the_licence_file_is_the_licence_the_metadata_names() -> None:
    """LICENSE is the MIT licence that setup.cfg names, and setup.cfg ships it (wheel, sdist)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["license"] == "MIT"
    assert config["metadata"]["license_files"].split() == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge" in text


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
