"""Shared fixtures: fake services on 127.0.0.1 and a way to run the real CLI."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "test-data"
CASSETTES = TEST_DATA / "cassettes"
TOKEN = "mfw_SentinelToken_5f1c2e9a"
USERNAME = "sentinel-user-7d41"
PASSWORD = "sentinel-password-93ab"
SECRETS = (TOKEN, USERNAME, PASSWORD)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    interrupt_when: Callable[[], object] | None = None,
) -> Result:
    """Run `remote-jobs` as users do: a separate process, the environment as its only input.

    With `interrupt_when`, stop it with Ctrl-C (SIGINT) once that holds (stdout is not kept):
    with a --job-file its remote jobs stay for a rerun to re-attach to, as after a run that
    gave up at its --timeout, but wherever a slow machine got by then.
    """
    if interrupt_when is not None:
        runner = start_cli(args, env or {}, cwd or Path.cwd())
        try:
            wait_for(interrupt_when, "the moment to interrupt the runner")
        finally:
            stderr = stop(runner, signal.SIGINT)
        return Result(runner.returncode, "", stderr)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BAKTA_", "MFANNOTWEB_", "CODON_", "REMOTE_JOBS_POLL_INTERVAL"))
    }
    base["PYTHONPATH"] = str(ROOT / "lib")
    done = subprocess.run(
        [sys.executable, "-m", "remote_jobs", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`remote-jobs` started in the background as Galaxy starts it, to be signalled."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BAKTA_", "MFANNOTWEB_", "CODON_", "REMOTE_JOBS_POLL_INTERVAL"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "remote_jobs", *args],
        env={**base, "PYTHONPATH": str(ROOT / "lib"), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], object], what: str, limit: float = 30.0) -> None:
    """Until `condition()` holds; `limit` only stops a hung test, it asserts no speed."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def stop(runner: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> str:
    """Send `sig` and wait for the runner to end by itself; returns its stderr.

    How fast it ends is for the bench to measure (section 7: from SIGTERM to exit); a runner
    that keeps running is killed after a safety limit, and the test fails on its exit code.
    """
    runner.send_signal(sig)
    try:
        return runner.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        runner.kill()
        return runner.communicate()[1]


@pytest.fixture
def bakta_server() -> Iterator[FakeBakta]:
    with FakeBakta() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def mfannotweb_server() -> Iterator[FakeMfannotWeb]:
    with FakeMfannotWeb(TOKEN) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def codon_server() -> Iterator[FakeCodon]:
    with FakeCodon(USERNAME, PASSWORD) as server:
        yield server  # type: ignore[misc]


def bakta_env(server: FakeBakta) -> dict[str, str]:
    return {"BAKTA_API_URL": server.base + "/api/v1"}


def mfannotweb_env(server: FakeMfannotWeb) -> dict[str, str]:
    return {"MFANNOTWEB_URL": server.base + server.api, "MFANNOTWEB_TOKEN": TOKEN}


def codon_env(server: FakeCodon) -> dict[str, str]:
    return {"CODON_API_URL": server.base, "CODON_USERNAME": USERNAME, "CODON_PASSWORD": PASSWORD}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A run folder holding copies of the test inputs under the names the cassettes use."""
    for name, source in {
        "genome.fasta": "bakta_genome.fasta",
        "plasmid.fasta": "bakta_plasmid.fasta",
        "replicons.tsv": "bakta_replicons.tsv",
        "training.tf": "bakta_prodigal.tf",
        "mito.fasta": "mito_genome.fasta",
        "cds.fasta": "codon_cds.fasta",
        "genome.ffn": "bakta_genome.ffn",
        "components.json": "codon_components.json",
    }.items():
        if (TEST_DATA / source).exists():
            shutil.copy(TEST_DATA / source, tmp_path / name)
    return tmp_path


def clock_free(lines: list[str]) -> list[str]:
    """Progress lines with their elapsed times (00:07, 1:02:03) as MM:SS: what a test can
    assert whatever the machine's speed."""
    return [re.sub(r"\b(?:\d+:)?\d\d:\d\d\b", "MM:SS", line) for line in lines]


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def tree_text(folder: Path) -> str:
    """Every file under `folder` as text (binary files decoded leniently), for secret checks."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file()
    )
