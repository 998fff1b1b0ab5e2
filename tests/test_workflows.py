"""The workflows stay runnable and publishable: IWC layout, current tools, recordings.

planemo workflow_lint --iwc (run by scripts/test with Galaxy) checks the IWC rules themselves;
these checks tie the workflows to the rest of the repository and run without Galaxy.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CASSETTES, ROOT

FOLDERS = sorted(p for p in (ROOT / "workflows").iterdir() if p.is_dir())
MACROS = ET.parse(ROOT / "macros.xml").getroot()


def tools_by_id() -> dict[str, Path]:
    tools = {}
    for path in (ROOT / "tools").rglob("*.xml"):
        root = ET.parse(path).getroot()
        if root.tag == "tool":
            tools[root.get("id", "")] = path
    return tools


def current_tool_version() -> str:
    tokens = {t.get("name"): t.text for t in MACROS.iter("token")}
    return f"{tokens['@TOOL_VERSION@']}+galaxy{tokens['@VERSION_SUFFIX@']}"


def load(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    workflow = json.loads((folder / f"{folder.name}.ga").read_text(encoding="utf-8"))
    tests = yaml.safe_load((folder / f"{folder.name}-tests.yml").read_text(encoding="utf-8"))
    return workflow, tests


def test_both_workflows_are_there() -> None:
    assert [f.name for f in FOLDERS] == ["bakta-codon-optimisation", "organelle-annotation"]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_folder_is_laid_out_as_the_iwc_asks(folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    ga, tests = f"{folder.name}.ga", f"{folder.name}-tests.yml"
    assert {"README.md", "CHANGELOG.md", ".dockstore.yml", ga, tests} <= names
    assert [n for n in names if n.endswith(".ga")] == [ga]
    dockstore = yaml.safe_load((folder / ".dockstore.yml").read_text())
    [entry] = dockstore["workflows"]
    assert entry["primaryDescriptorPath"] == f"/{ga}"
    assert entry["testParameterFiles"] == [f"/{tests}"]
    workflow, _ = load(folder)
    changelog = (folder / "CHANGELOG.md").read_text().splitlines()
    latest = next(line for line in changelog if line.startswith("## ["))
    assert latest.startswith(f"## [{workflow['release']}]")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_steps_run_the_tools_of_this_repository_at_their_current_version(folder: Path) -> None:
    workflow, _ = load(folder)
    tools = tools_by_id()
    steps = [s for s in workflow["steps"].values() if s["type"] == "tool"]
    assert steps
    for step in steps:
        assert step["tool_id"] in tools, f"{step['label']}: no tool {step['tool_id']} in tools/"
        assert step["tool_version"] == current_tool_version(), (
            f"{folder.name}, step {step['label']}: update its tool_version (and the workflow's"
            f" release and CHANGELOG.md) to the tool's version {current_tool_version()}"
        )


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_no_workflow_lets_its_users_replay_a_recording(folder: Path) -> None:
    """No input reaches a tool's test hook, and no step sets it: a user's run calls the services."""
    workflow, tests = load(folder)
    for step in workflow["steps"].values():
        assert "test_cassette" not in step["input_connections"], step["label"]
        assert "recording" not in str(step["label"]).lower(), step["label"]
        if step["type"] == "tool":
            assert json.loads(step["tool_state"]).get("test_cassette", "") == "", step["label"]
    for test in tests:
        assert not [name for name in test["job"] if "recording" in name.lower()]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_the_tests_replay_a_recording_in_every_tool_step(folder: Path) -> None:
    """workflows/recordings.yml, which the tests' copies of the workflows replay, covers every
    tool step: a test never calls a live service."""
    workflow, _ = load(folder)
    recordings = yaml.safe_load((ROOT / "workflows" / "recordings.yml").read_text())
    steps = sorted(s["label"] for s in workflow["steps"].values() if s["type"] == "tool")
    assert sorted(recordings[folder.name]) == steps
    for cassette in recordings[folder.name].values():
        assert (CASSETTES / cassette).is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_the_tests_copy_differs_from_the_workflow_only_in_the_recordings(
    folder: Path, tmp_path: Path
) -> None:
    """scripts/galaxy_api.py workflow-replay-copy, which the workflow tests run."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import galaxy_api
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    recordings = yaml.safe_load((ROOT / "workflows" / "recordings.yml").read_text())
    workflow, tests = load(folder)
    copy_path = galaxy_api.replay_copy(
        folder / f"{folder.name}.ga", tmp_path, recordings[folder.name]
    )
    copy = json.loads(copy_path.read_text())
    for key, step in workflow["steps"].items():
        copied = copy["steps"][key]
        if step["type"] == "tool":
            state, copied_state = json.loads(step["tool_state"]), json.loads(copied["tool_state"])
            assert copied_state.pop("test_cassette") == recordings[folder.name][step["label"]]
            state.pop("test_cassette")
            assert copied_state == state
            copied = {**copied, "tool_state": step["tool_state"]}
        assert copied == step
    assert {k: v for k, v in copy.items() if k != "steps"} == {
        k: v for k, v in workflow.items() if k != "steps"
    }
    copied_tests = yaml.safe_load((copy_path.parent / f"{folder.name}-tests.yml").read_text())
    for test, copied_test in zip(tests, copied_tests, strict=True):
        assert copied_test["outputs"] == test["outputs"]
        for name, value in test["job"].items():
            if isinstance(value, dict) and "path" in value:
                assert Path(copied_test["job"][name]["path"]) == (folder / value["path"]).resolve()
            else:
                assert copied_test["job"][name] == value
    with pytest.raises(SystemExit, match="has no tool step"):
        galaxy_api.replay_copy(folder / f"{folder.name}.ga", tmp_path, {"No such step": "x.yaml"})
