"""What breaks on the way to a service, through the real command: `remote-jobs check` and a
runner command that cannot reach its service end with the same words, naming the host, what
failed and what to try. Local stand-ins only (tests/fakes/network.py): an unresolvable name
(RFC 6761 `.invalid`), a closed port, a port that accepts and never answers (or closes at
once), a web proxy that
refuses (CONNECT, and plain HTTP), a TLS server with a self-signed certificate.

The runner retries connection failures with backoff (about 15 s in all): its scenarios run at
once, as processes started by one fixture, each asserted by its own test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    PASSWORD,
    ROOT,
    TEST_DATA,
    TOKEN,
    USERNAME,
    Result,
    assert_no_secrets,
    codon_env,
    mfannotweb_env,
    run_cli,
)
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb
from tests.fakes.network import (
    ClosedPort,
    Closing,
    RefusingProxy,
    Silent,
    self_signed,
    server_context,
)

# What a user's environment may hold that would change where requests go or whom it trusts.
NETWORK_VARIABLES = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)  # fmt: skip


@pytest.fixture(autouse=True)
def plain_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and requests' own CA bundle (certifi), unless a test sets them."""
    for name in NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def last_line(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


STEP = re.compile(
    r"^  (?P<name>\S(?:.{0,8}\S)?) +(?P<status>ok|FAILED) +(?:\d+ ms)?  (?P<detail>.+)$"
)


def steps(result: Result) -> list[tuple[str, str, str]]:
    """The check's step lines: (name, ok or FAILED, what it says), times left out."""
    found = [STEP.match(line) for line in result.stdout.splitlines()]
    return [(m["name"], m["status"], m["detail"]) for m in found if m]


def failed_step(result: Result, step: str) -> str:
    """What the check's failing step named `step` says."""
    failed = [
        detail for name, status, detail in steps(result) if (name, status) == (step, "FAILED")
    ]
    assert len(failed) == 1, result.stdout
    return failed[0]


# ---------------------------------------------------------------- the stand-ins


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.fail("these tests make their certificate with the openssl command: install openssl")
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_bakta(certificate: tuple[Path, Path]) -> Iterator[FakeBakta]:
    """A Bakta service on HTTPS, with a self-signed certificate."""
    server = FakeBakta()
    server.tls = server_context(*certificate)
    with server:
        yield server  # type: ignore[misc]


@dataclass
class Scenario:
    """A Bakta URL and environment; what `check bakta` and `bakta annotate` should say."""

    url: str
    env: dict[str, str]
    step: str  # the check's step that fails
    words: str  # what the failure's words hold
    exit_code: int = 5


@dataclass
class StandIns:
    scenarios: dict[str, Scenario]
    proxies: dict[str, RefusingProxy]


@pytest.fixture(scope="module")
def stand_ins(tls_bakta: FakeBakta) -> Iterator[StandIns]:
    with (
        ClosedPort() as closed,
        Silent() as silent,
        Closing() as closing,
        RefusingProxy("503 Service Unavailable") as busy,
        RefusingProxy("503 Service Unavailable") as busy_plain,
        RefusingProxy("403 Forbidden") as forbidding,
    ):
        scenarios = {
            "dns": Scenario(
                "https://bakta.invalid/api/v1",
                {},
                "dns",
                "name not resolved: bakta.invalid; check the host name in BAKTA_API_URL;",
            ),
            "refused": Scenario(
                f"http://127.0.0.1:{closed.port}/api/v1",
                {},
                "connect",
                f"connection refused by 127.0.0.1:{closed.port}; nothing listens there, or a firewall"
                " rejects it: check the port in BAKTA_API_URL;",
            ),
            "silent": Scenario(
                f"http://127.0.0.1:{silent.port}/api/v1",
                {},
                "api v2",
                "timed out: 127.0.0.1 accepted the connection but did not answer in time (read"
                " time-out);",
            ),
            "closed": Scenario(
                f"http://127.0.0.1:{closing.port}/api/v1",
                {},
                "api v2",
                "127.0.0.1 closed the connection without answering;",
            ),
            "proxy 503": Scenario(
                "https://bakta.example.org/api/v1",
                {"HTTPS_PROXY": f"http://127.0.0.1:{busy.port}"},
                "proxy",
                f"the proxy http://127.0.0.1:{busy.port} (HTTPS_PROXY) answered 503 Service"
                " Unavailable to CONNECT bakta.example.org:443; the proxy refuses or cannot reach"
                " bakta.example.org:",
            ),
            "proxy 403": Scenario(
                "https://bakta.example.org/api/v1",
                {"https_proxy": f"http://127.0.0.1:{forbidding.port}"},
                "proxy",
                f"the proxy http://127.0.0.1:{forbidding.port} (https_proxy) answered 403"
                " Forbidden to CONNECT bakta.example.org:443;",
            ),
            "plain http proxy 503": Scenario(
                "http://bakta.example.org/api/v1",
                {"HTTP_PROXY": f"http://127.0.0.1:{busy_plain.port}"},
                "api v2",
                "HTTP 503 from http://bakta.example.org/api/v2/workflows through the proxy"
                f" http://127.0.0.1:{busy_plain.port} (HTTP_PROXY): 503 Service Unavailable",
            ),
            "untrusted": Scenario(
                tls_bakta.base + "/api/v1",
                {},
                "tls",
                "certificate of 127.0.0.1 not trusted (self-signed certificate), issued by"
                " CN=remote-jobs test server, O=Test Site; checked against certifi's bundle ",
            ),
        }
        proxies = {"proxy 503": busy, "proxy 403": forbidding, "plain http proxy 503": busy_plain}
        yield StandIns(scenarios, proxies)


def _runner(scenario: Scenario, workdir: Path) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BAKTA_", "MFANNOTWEB_")) and k not in NETWORK_VARIABLES
    }
    env.update(scenario.env, BAKTA_API_URL=scenario.url, PYTHONPATH=str(ROOT / "lib"))
    args = ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--http-timeout", "0.5"]
    return subprocess.Popen(
        [sys.executable, "-m", "remote_jobs", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class RunnerRuns:
    results: dict[str, Result]
    proxied: dict[str, list[str]]  # the request lines each proxy got from the runner


@pytest.fixture(scope="module")
def runner(stand_ins: StandIns, tmp_path_factory: pytest.TempPathFactory) -> RunnerRuns:
    """`remote-jobs bakta annotate` of the test genome in every scenario, all at once."""
    started = {}
    for name, scenario in stand_ins.scenarios.items():
        workdir = tmp_path_factory.mktemp("run")
        shutil.copy(TEST_DATA / "bakta_genome.fasta", workdir / "genome.fasta")
        started[name] = _runner(scenario, workdir)
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = Result(process.returncode, stdout, stderr)
    proxied = {name: list(proxy.requests) for name, proxy in stand_ins.proxies.items()}
    return RunnerRuns(results, proxied)


SCENARIOS = (
    "dns", "refused", "silent", "closed", "proxy 503", "proxy 403", "plain http proxy 503", "untrusted",
)  # fmt: skip


@pytest.mark.parametrize("name", SCENARIOS)
def test_check_and_runner_name_the_network_problem_in_the_same_words(
    name: str, stand_ins: StandIns, runner: RunnerRuns
) -> None:
    scenario = stand_ins.scenarios[name]
    check = run_cli(
        ["check", "bakta", "--http-timeout", "0.5"], {"BAKTA_API_URL": scenario.url, **scenario.env}
    )
    assert check.returncode == scenario.exit_code, check.stdout + check.stderr
    words = failed_step(check, scenario.step)
    assert scenario.words in words, words
    assert check.stdout.splitlines()[1] == "NOT USABLE: bakta"
    summary = last_line(check)  # what failed: the start of its words, without the advice
    assert summary.startswith("error: check: not usable: bakta: "), summary
    assert words.startswith(summary.removeprefix("error: check: not usable: bakta: "))

    ran = runner.results[name]
    assert ran.returncode == scenario.exit_code, ran.stderr
    line = last_line(ran)
    assert line.startswith("error: bakta: "), line
    # The same words, whole: after the request the runner sent, or as the check's call said it.
    assert line.endswith(": " + words) or line == f"error: bakta: {words}", (line, words)


def test_a_refused_connect_is_retried_like_the_same_answer_over_plain_http(
    runner: RunnerRuns,
) -> None:
    """Issue 19, item 11: a proxy answering 503 to CONNECT is retried as a connection failure
    (one try and five retries), as its 503 to a plain-HTTP request is; a 403 is not retried."""
    assert runner.results["proxy 503"].returncode == 5
    connect = "CONNECT bakta.example.org:443 HTTP/1.0"
    assert runner.proxied["proxy 503"] == [connect] * 6
    plain = "GET http://bakta.example.org/api/v2/workflows HTTP/1.1"
    assert runner.proxied["plain http proxy 503"] == [plain] * 6
    assert runner.proxied["proxy 403"] == [connect]


def test_a_ca_bundle_with_the_certificate_makes_it_trusted(
    tls_bakta: FakeBakta, certificate: tuple[Path, Path]
) -> None:
    env = {"BAKTA_API_URL": tls_bakta.base + "/api/v1", "REQUESTS_CA_BUNDLE": str(certificate[0])}
    check = run_cli(["check", "bakta"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    tls = [detail for name, status, detail in steps(check) if name == "tls"]
    assert len(tls) == 1
    assert tls[0].endswith(
        "certificate issued by CN=remote-jobs test server, O=Test Site; trusted by"
        f" REQUESTS_CA_BUNDLE={certificate[0]}"
    )
    runner = run_cli(["bakta", "version"], env)
    assert runner.returncode == 0, runner.stderr
    assert "toolVersion\t1.9.4" in runner.stdout


def test_a_ca_bundle_setting_that_names_no_file_is_a_bad_setting_not_a_crash(
    tls_bakta: FakeBakta, tmp_path: Path
) -> None:
    """requests raises a bare OSError for it: the runner says what is wrong in the check's
    words, with the exit code of a bad setting, before anything is sent."""
    missing = tmp_path / "site-ca.pem"
    env = {"BAKTA_API_URL": tls_bakta.base + "/api/v1", "REQUESTS_CA_BUNDLE": str(missing)}
    sent = len(tls_bakta.log)
    check = run_cli(["check", "bakta"], env)
    words = failed_step(check, "tls")
    assert words.startswith(f"the CA bundle REQUESTS_CA_BUNDLE={missing} does not exist"), words
    runner = run_cli(["bakta", "version"], env)
    assert runner.returncode == 2, runner.stderr
    assert last_line(runner) == f"error: bakta: GET {tls_bakta.base}/api/v2/workflows: {words}"
    assert len(tls_bakta.log) == sent


# ---------------------------------------------------------------- the check against the fakes


def test_check_against_working_services_says_all_usable(
    bakta_server: FakeBakta, mfannotweb_server: FakeMfannotWeb, codon_server: FakeCodon
) -> None:
    env = {
        "BAKTA_API_URL": bakta_server.base + "/api/v1",
        **mfannotweb_env(mfannotweb_server),
        **codon_env(codon_server),
    }
    result = run_cli(["check"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "ALL USABLE"
    seen = steps(result)
    assert {status for _, status, _ in seen} == {"ok"}
    way = ["proxy", "dns", "connect"]
    assert [name for name, _, _ in seen] == [
        *way,
        "api v2",
        "api v1",
        *way,
        "identity",
        "usage",
        *way,
        "status",
        "login",
    ]
    assert lines.count("  => usable") == 3
    assert any(
        "token of tester@example.org, scopes jobs:cancel, jobs:read, jobs:write" in line
        for line in lines
    )
    assert any("0 of 3 jobs in flight" in line for line in lines)
    assert result.stderr == ""
    assert_no_secrets(result.stdout, result.stderr)
    assert len(codon_server.requests_to("POST", "/login")) == 1
    assert not codon_server.requests_to("POST", "/optimise")  # nothing is submitted
    assert not mfannotweb_server.requests_to("POST", "/api/v1/jobs")


def test_check_says_what_is_not_configured_and_where_to_add_it(
    mfannotweb_server: FakeMfannotWeb,
) -> None:
    env = {"MFANNOTWEB_URL": mfannotweb_server.base + mfannotweb_server.api}
    result = run_cli(["check", "mfannotweb", "codon"], env)
    assert result.returncode == 2, result.stdout
    assert result.stdout.splitlines()[1] == "NOT USABLE: mfannotweb, codon"
    assert failed_step(result, "token").startswith(
        "not configured: no MFannotWeb API token; in Galaxy, add it under Manage credentials of"
        " this tool"
    )
    assert failed_step(result, "settings").startswith(
        "not configured: no API URL, username and password for the codon service; in Galaxy,"
        " add them under Manage credentials of this tool"
    )
    assert not mfannotweb_server.requests_to("GET", "/api/v1")  # nothing sent without a token


def test_check_names_refused_credentials_and_missing_scopes(
    mfannotweb_server: FakeMfannotWeb, codon_server: FakeCodon
) -> None:
    env = {**codon_env(codon_server), "CODON_PASSWORD": "not-the-password"}
    codon = run_cli(["check", "codon"], env)
    assert codon.returncode == 3
    assert failed_step(codon, "login").startswith("login refused: HTTP 401")
    assert_no_secrets(codon.stdout, codon.stderr)

    mfannotweb_server.scopes = ("jobs:read",)
    mfw = run_cli(["check", "mfannotweb"], mfannotweb_env(mfannotweb_server))
    assert mfw.returncode == 3
    assert failed_step(mfw, "identity").startswith(
        "token of tester@example.org lacks the scope jobs:write (it has: jobs:read); create a"
        " token with the scopes jobs:read, jobs:write, jobs:cancel under API tokens in your MFannotWeb account at"
    )
    assert TOKEN not in mfw.stdout + mfw.stderr

    both = run_cli(["check", "mfannotweb", "codon"], {**mfannotweb_env(mfannotweb_server), **env})
    assert both.returncode == 3
    assert USERNAME not in both.stdout and PASSWORD not in both.stdout


# ---------------------------------------------------------------- what a browser shows


def reads_alike_in_any_browser(data: bytes) -> None:
    """Galaxy serves txt and tabular datasets as text/plain without a charset: a browser may
    take the bytes for UTF-8 or for windows-1252 (or Latin-1). Both readings must agree."""
    assert data.decode("cp1252", errors="replace") == data.decode("utf-8")
    assert data.decode("latin-1") == data.decode("utf-8")


def test_every_text_dataset_the_runner_composes_reads_alike_in_any_browser(
    mfannotweb_server: FakeMfannotWeb, codon_server: FakeCodon, tmp_path: Path
) -> None:
    # The check's report: its own words (where to add credentials in Galaxy), and the words of
    # a service (an account's address with accents) and of a missing setting.
    mfannotweb_server.email = "jos\u00e9.m\u00fcller@example.org"
    check = run_cli(["check", "mfannotweb", "codon"], mfannotweb_env(mfannotweb_server))
    assert check.returncode == 2, check.stdout + check.stderr
    report = check.stdout.encode("utf-8")  # what Galaxy's `> '$report'` keeps
    reads_alike_in_any_browser(report)
    assert "(on its form, or User -> Preferences -> Manage credentials)" in check.stdout
    assert "token of jose.muller@example.org, scopes" in check.stdout
    # The codon tool's score table and FASTA, composed by the runner (its JSON is the service's).
    shutil.copy(TEST_DATA / "codon_cds.fasta", tmp_path / "cds.fasta")
    args = ["codon", "optimise", "--name", "gfp", "--outdir", "out", "--poll-interval", "0"]
    args += ["--sequence", "cds.fasta", "--fitness", "cai"]
    run = run_cli(args, codon_env(codon_server), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for name in ("gfp.scores.tsv", "gfp.fasta", "gfp.json"):
        reads_alike_in_any_browser((tmp_path / "out" / name).read_bytes())
