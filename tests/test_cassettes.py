"""The committed cassettes: free of secrets, and replayable by the current code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import CASSETTES, TEST_DATA, run_cli
from tests.fakes import record

ALL = sorted(CASSETTES.glob("*.yaml"))
RECORDING_SECRETS = (record.MFANNOTWEB_TOKEN, record.CODON_USERNAME, record.CODON_PASSWORD)
REPLAY_ENV = {
    "MFANNOTWEB_TOKEN": "mfw_replay-token",
    "CODON_API_URL": record.CODON_HOST,
    "CODON_USERNAME": "replay-user",
    "CODON_PASSWORD": "replay-password",
}


def test_every_scenario_has_a_cassette() -> None:
    assert sorted(f"{s.name}.yaml" for s in record.SCENARIOS) == [p.name for p in ALL]


@pytest.mark.parametrize("cassette", ALL, ids=[p.stem for p in ALL])
def test_cassettes_hold_no_secret_and_no_local_address(cassette: Path) -> None:
    text = cassette.read_text()
    for secret in RECORDING_SECRETS:
        assert secret not in text
    assert "127.0.0.1" not in text and "localhost" not in text
    assert "Bearer mfw_" not in text
    if cassette.name.startswith("bakta_") and "job/init" in text:
        assert '"secret": "REDACTED"' in text  # Bakta's per-job secret never lands in a file


@pytest.mark.parametrize("scenario", record.SCENARIOS, ids=[s.name for s in record.SCENARIOS])
def test_cassettes_replay_with_no_network(scenario: record.Scenario, tmp_path: Path) -> None:
    for name, source in scenario.inputs.items():
        shutil.copy(TEST_DATA / source, tmp_path / name)
    cassette = CASSETTES / f"{scenario.name}.yaml"
    env = {**REPLAY_ENV, **scenario.replay_env}
    result = run_cli([*scenario.args, "--replay-cassette", str(cassette)], env, cwd=tmp_path)
    assert result.returncode == scenario.expect_rc, result.stderr
    # Never mistaken for a real run: the first line says what it was (Galaxy copies stderr into
    # each output's info).
    assert result.stderr.splitlines()[0] == (
        f"remote-jobs: replayed from recording {scenario.name}.yaml, no service contacted"
    )
    if scenario.expect_rc == 0 and "out" in scenario.args:
        written = [Path(line) for line in result.stdout.split()]
        assert written and all((tmp_path / path).exists() for path in written)
    for secret in REPLAY_ENV.values():
        assert secret == record.CODON_HOST or secret not in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["off", "false", "0", "no", "Disabled", " OFF ", "maybe"])
def test_replays_are_refused_where_the_admin_turned_them_off(tmp_path: Path, value: str) -> None:
    """Any usual word for no turns replays off; a word that is neither yes nor no is a bad
    setting (exit 2), never taken for yes."""
    shutil.copy(TEST_DATA / "bakta_genome.fasta", tmp_path / "bakta_genome.fasta")
    cassette = CASSETTES / "bakta_default.yaml"
    args = ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out"]
    result = run_cli(
        [*args, "--replay-cassette", str(cassette)],
        {**REPLAY_ENV, "REMOTE_JOBS_REPLAY": value},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    words = (
        "REMOTE_JOBS_REPLAY=maybe is neither on nor off: set it to off (or false, no, 0,"
        " disabled) or on (or true, yes, 1, enabled)"
        if value == "maybe"
        else f"replaying recordings is turned off (REMOTE_JOBS_REPLAY={value.strip()})"
    )
    assert result.stderr.splitlines() == [f"error: remote-jobs: {words}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["", "on", "true", "1", "YES", "enabled", "false"])
def test_replays_are_allowed_unless_turned_off(tmp_path: Path, value: str) -> None:
    """The same switch for the commands that only ask (here: the genetic codes)."""
    args = ["mfannotweb", "gencodes", "--replay-cassette", str(CASSETTES / "mfannot_default.yaml")]
    result = run_cli(args, {**REPLAY_ENV, "REMOTE_JOBS_REPLAY": value}, cwd=tmp_path)
    assert result.returncode == (2 if value == "false" else 0), result.stderr
    assert bool(result.stdout) == (value != "false")


def test_replay_refuses_a_request_that_was_not_recorded(tmp_path: Path) -> None:
    shutil.copy(TEST_DATA / "bakta_genome.fasta", tmp_path / "bakta_genome.fasta")
    cassette = CASSETTES / "bakta_default.yaml"
    result = run_cli(
        [
            "bakta",
            "annotate",
            "bakta_genome.fasta",
            "--outdir",
            "out",
            "--genus",
            "Listeria",
            "--replay-cassette",
            str(cassette),
        ],
        REPLAY_ENV,
        cwd=tmp_path,
    )
    assert result.returncode == 5
    api = "https://api.bakta.computational.bio/api/v1"
    # Every line one line, vcrpy's report of near matches included: the failed run's delete,
    # which the cassette does not hold either, and the request that stopped the replay.
    assert result.stderr.splitlines()[2:] == [
        f"bakta: bakta_genome: could not delete job 27f6dea4-4d2a-408e-9af8-7120cd4b63fa:"
        f" NotInCassette: DELETE {api}/job/delete is not in cassette {cassette.name} (or was"
        " already played)",
        f"error: replay: POST {api}/job/start is not in cassette {cassette.name} (or was already"
        " played)",
    ]
    assert not (tmp_path / "out" / "bakta_genome").exists()
