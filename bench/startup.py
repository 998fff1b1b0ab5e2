"""2. Start-up: what the runner's commands cost over a bare interpreter.

Each round runs `python -c pass` and then every command once, so each difference is taken
within the round; the medians and ranges are those of the differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .plan import Plan
from .proc import ROOT, RUNNER, imported_modules, run, runner_env
from .report import Section, Spread
from .servers import BenchBakta

GOAL_MS = 150.0
CASSETTE = "test-data/cassettes/bakta_version.yaml"
THIRD_PARTY = frozenset({"click", "requests", "urllib3", "charset_normalizer", "idna", "vcr"})


@dataclass(frozen=True)
class Command:
    label: str
    args: list[str]
    env: dict[str, str]
    has_goal: bool = False


def _commands(bakta_url: str) -> list[Command]:
    python = RUNNER[0]
    return [
        Command("`remote-jobs --help`", [*RUNNER, "--help"], runner_env(), True),
        Command(
            "`remote-jobs bakta version --replay-cassette` (a vcrpy replay)",
            [*RUNNER, "bakta", "version", "--replay-cassette", CASSETTE],
            runner_env(),
            True,
        ),
        Command(
            "`remote-jobs bakta version`, live against a local fake",
            [*RUNNER, "bakta", "version"],
            runner_env(BAKTA_API_URL=bakta_url),
        ),
        Command("`python -c 'import requests'`", [python, "-c", "import requests"], runner_env()),
        Command(
            "`python -c 'import requests, vcr'`",
            [python, "-c", "import requests, vcr"],
            runner_env(),
        ),
    ]


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(2, "Start-up over a bare interpreter")
    bare: list[float] = []
    with BenchBakta() as server:
        commands = _commands(server.base + "/api/v1")
        above: dict[str, list[float]] = {command.label: [] for command in commands}
        for _ in range(plan.startup_rounds):
            baseline = run([RUNNER[0], "-c", "pass"], env=runner_env(), cwd=ROOT).wall
            bare.append(baseline * 1000)
            for command in commands:
                done = run(command.args, env=command.env, cwd=ROOT, timeout=60)
                above[command.label].append((done.check(command.label).wall - baseline) * 1000)
    section.add("`python -c pass` (the bare interpreter)", Spread.of(bare).show("ms"))
    medians = {}
    for command in commands:
        spread = Spread.of(above[command.label])
        medians[command.label] = spread.median
        section.add(
            f"{command.label}, above the bare interpreter",
            spread.show("ms"),
            f"< {GOAL_MS:.0f} ms above" if command.has_goal else "",
            spread.median < GOAL_MS if command.has_goal else None,
        )
    loaded = imported_modules([*RUNNER, "--help"], runner_env()) & THIRD_PARTY
    section.add("third-party packages that `--help` imports", ", ".join(sorted(loaded)) or "none")
    requests_ms, both_ms = (medians[c.label] for c in commands[3:5])
    section.notes += [
        f"{plan.startup_rounds} rounds; each runs the bare interpreter, then each command once."
        " The runner runs as the Galaxy wrappers run it, `python -m remote_jobs`.",
        "`--help` loads click and the runner's own modules only: the HTTP layer (requests,"
        " urllib3) is imported when a command first talks to a service, and vcrpy only when a"
        " cassette is recorded or replayed.",
        "A replay cannot avoid loading both requests and vcrpy (with PyYAML and wrapt):"
        f" `import requests` alone takes {requests_ms:.0f} ms above the bare interpreter and"
        f" `import requests, vcr` {both_ms:.0f} ms, before any of the runner's work. Only the"
        " Galaxy tool tests replay cassettes; a live command pays for requests but not vcrpy.",
    ]
    return section
