"""The self-containment check of tests/shed fails for a repository that reaches outside."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import CASSETTES, ROOT, TEST_DATA
from tests.shed.check import problems

KNOWN = {path.name for path in TEST_DATA.iterdir() if path.is_file()}


def copy_runner(repo: Path) -> None:
    """lib/remote_jobs as .shed.yml publishes it: its sources, no __pycache__ (which the runs of
    other pytest processes may be writing meanwhile)."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "lib" / "remote_jobs", repo / "lib" / "remote_jobs", ignore=ignore)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """remote_bakta laid out as it is published: the tool beside its macros, runner and the test
    data that .shed.yml gives it."""
    repo = tmp_path / "published" / "remote_bakta"
    (repo / "test-data" / "cassettes").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "remote_bakta.xml", repo)
    shutil.copy(ROOT / "macros.xml", repo)
    copy_runner(repo)
    shed = yaml.safe_load((ROOT / ".shed.yml").read_text())
    for entry in shed["repositories"]["remote_bakta"]["include"]:
        if isinstance(entry, str) and entry.startswith("test-data/"):
            shutil.copy(ROOT / entry, repo / entry)
    return repo


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_published_layout_passes(repository: Path) -> None:
    assert problems(repository, KNOWN) == []


def test_macros_imported_from_the_parent_folder_fail(repository: Path) -> None:
    shutil.copy(repository / "macros.xml", repository.parent)
    edit(repository / "remote_bakta.xml", "<import>macros.xml", "<import>../macros.xml")
    assert problems(repository, KNOWN) == [
        "remote_bakta.xml imports ../macros.xml from outside the repository"
    ]


def test_a_runner_outside_the_tool_folder_fails(repository: Path) -> None:
    shutil.copytree(repository / "lib", repository.parent / "lib")
    edit(repository / "macros.xml", "$__tool_directory__/lib", "$__tool_directory__/../lib")
    assert problems(repository, KNOWN) == [
        "remote_bakta.xml reads $__tool_directory__/../lib: outside the repository"
    ]


def test_missing_cassettes_inputs_and_runner_modules_fail(repository: Path) -> None:
    (repository / "test-data" / "cassettes" / "bakta_error.yaml").unlink()
    (repository / "test-data" / "bakta_replicons.tsv").unlink()
    (repository / "lib" / "remote_jobs" / "polling.py").unlink()
    found = problems(repository, KNOWN)
    assert found[:2] == [
        "remote_bakta.xml: its tests replay bakta_error.yaml, which is missing",
        "remote_bakta.xml: its tests use test-data/bakta_replicons.tsv, which is missing",
    ]
    assert len(found) == 3 and found[2].startswith("lib/remote_jobs does not import:")


def test_test_data_that_no_test_uses_fails(repository: Path) -> None:
    """The pytest suite's recordings and the other tools' data stay out of the repository."""
    shutil.copy(CASSETTES / "bakta_batch.yaml", repository / "test-data" / "cassettes")
    shutil.copy(CASSETTES / "bakta_proteins.yaml", repository / "test-data" / "cassettes")
    shutil.copy(TEST_DATA / "bakta_plasmid.fasta", repository / "test-data")
    shutil.copy(TEST_DATA / "README.md", repository / "test-data")
    assert problems(repository, KNOWN) == [
        "test-data/README.md: no test of the repository uses it",
        "test-data/bakta_plasmid.fasta: no test of the repository uses it",
        "test-data/cassettes/bakta_batch.yaml: no test of the repository uses it",
        "test-data/cassettes/bakta_proteins.yaml: no test of the repository uses it",
    ]


def test_a_symbolic_link_out_of_the_repository_fails(repository: Path) -> None:
    (repository / "macros.xml").unlink()
    (repository / "macros.xml").symlink_to(ROOT / "macros.xml")
    assert problems(repository, KNOWN) == [
        "macros.xml: a symbolic link",
        "remote_bakta.xml imports macros.xml from outside the repository",
    ]


def test_a_tool_without_test_data_passes_unless_it_uses_a_macro_that_reads_it(
    tmp_path: Path,
) -> None:
    """remote_services_check replays nothing: its repository has no test-data/, which the
    macros' @REPLAY@ would read, but the tool does not use it."""
    repo = tmp_path / "remote_services_check"
    repo.mkdir()
    shutil.copy(ROOT / "tools" / "remote_services_check.xml", repo)
    shutil.copy(ROOT / "macros.xml", repo)
    copy_runner(repo)
    assert problems(repo, KNOWN) == []
    edit(repo / "remote_services_check.xml", "    > '$report'", "    @REPLAY@\n    > '$report'")
    assert problems(repo, KNOWN) == [
        "remote_services_check.xml reads $__tool_directory__/test-data/cassettes/, which is missing"
    ]
