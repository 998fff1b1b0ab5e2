"""`remote-jobs check`: can the services be used from here, with this environment?

For each service: the way there (network.probe: proxy, DNS, TCP, the proxy's CONNECT, TLS and
whose certificate), then the service's own discovery calls with the credentials given (Bakta
v1 and v2 versions; MFannotWeb's whoami with the token's scopes, and the user's usage; the
codon service's status and login). Each step is timed; the first that fails ends the service's
check with what failed and what to try, in the words the runner's errors use. Nothing is
submitted and no input is sent anywhere. No secret is ever part of a step's text.

A library: the CLI reads the environment, calls these functions and formats their reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import bakta, codon, mfannotweb
from .errors import RemoteJobsError
from .http import HttpClient, redact_url
from .network import Step, probe

SERVICES = ("bakta", "mfannotweb", "codon")
NOT_CONFIGURED = 2  # the exit code of a missing setting or credential


def missing(what: str, variables: str, it: str = "it") -> str:
    """The words for a credential that was not given: where to give it, in Galaxy (which keeps
    credentials per tool) and on the command line."""
    return (
        f"not configured: no {what}; in Galaxy, add {it} under Manage credentials of this tool"
        f" (on its form, or User -> Preferences -> Manage credentials); on the command line, set"
        f" {variables}"
    )


@dataclass(frozen=True)
class Setting:
    """A URL from the environment: its variable, and whether it was set or is the default.
    `url` may hold a user and password: shown, it is `shown`."""

    variable: str
    url: str
    default: bool = False

    @property
    def shown(self) -> str:
        return redact_url(self.url)

    def __str__(self) -> str:
        how = f"the default; {self.variable} is not set" if self.default else self.variable
        return f"{self.shown} ({how})"


@dataclass
class Report:
    """One service's check: the steps up to the first failure, and the exit code it means
    (0 usable; 2 not configured; 3 credentials refused; 4 refused; 5 network)."""

    service: str
    where: str
    steps: list[Step] = field(default_factory=list)
    exit_code: int = 0

    @property
    def usable(self) -> bool:
        return self.exit_code == 0

    @property
    def failure(self) -> str | None:
        """What failed, in short (the failed step's words without the advice)."""
        failed = [step for step in self.steps if not step.ok]
        if not failed:
            return None
        step = failed[-1]
        return step.failure.what if step.failure else step.detail

    def add(self, step: Step, exit_code: int = 0) -> bool:
        """Record a step; False (and the exit code) when it failed."""
        self.steps.append(step)
        if not step.ok:
            self.exit_code = exit_code or 5
        return step.ok

    def call(self, name: str, action: Callable[[], str]) -> bool:
        """A service call as a step: its summary, or the runner's one-line error."""
        start = time.monotonic()
        try:
            detail = action()
        except RemoteJobsError as exc:
            return self.add(Step(name, False, exc.message, time.monotonic() - start), exc.exit_code)
        return self.add(Step(name, True, detail, time.monotonic() - start))


def not_configured(service: str, where: str, what: str) -> Report:
    """A service that cannot be checked at all: its URL is missing or unusable."""
    report = Report(service, where)
    report.add(Step("settings", False, what), NOT_CONFIGURED)
    return report


def _client(service: str, url: Setting, timeout: float, bearer: str | None = None) -> HttpClient:
    # One attempt per call: a check reports what happens, it does not ride failures out.
    return HttpClient(
        service, url.url, bearer=bearer, setting=url.variable, read_timeout=timeout, retries=0
    )


def _reached(report: Report, url: Setting, timeout: float) -> bool:
    return all(report.add(step, 5) for step in probe(url.url, url.variable, timeout))


def check_bakta(url: Setting, timeout: float) -> Report:
    report = Report(bakta.SERVICE, str(url))
    if not _reached(report, url, timeout):
        return report
    v1 = bakta.BaktaClient(_client(bakta.SERVICE, url, timeout))
    v2 = bakta.BaktaV2Client(
        _client(bakta.SERVICE, Setting(url.variable, bakta.v2_url(url.url)), timeout)
    )

    def version_v1() -> str:
        answer = v1.version()
        return (
            f"GET /version: Bakta {answer.get('toolVersion', '?')}, database"
            f" {answer.get('dbVersion', '?')}, backend {answer.get('backendVersion', '?')}"
        )

    workflows: dict[str, dict[str, Any]] | None = None

    def discover_v2() -> str:
        nonlocal workflows
        workflows = v2.workflows()
        if workflows is None:
            return (
                "GET /api/v2/workflows: no API v2 here; plain annotation runs on v1, the options"
                " that need v2 and the protein tool do not"
            )
        return f"GET /api/v2/workflows: {', '.join(sorted(workflows)) or 'no workflow'}"

    def version_v2() -> str:
        answer = v2.version()
        names = {key: key.removesuffix("_version").replace("_", " ") for key in answer}
        return "GET /api/v2/version: " + ", ".join(f"{names[k]} {v}" for k, v in answer.items())

    # In the runner's order: v2 is asked first, whether the job then runs on v1 or v2.
    if report.call("api v2", discover_v2) and (not workflows or report.call("version", version_v2)):
        report.call("api v1", version_v1)
    return report


def check_mfannotweb(url: Setting, token: str | None, timeout: float) -> Report:
    report = Report(mfannotweb.SERVICE, str(url))
    if not _reached(report, url, timeout):
        return report
    if not token:
        report.add(
            Step(
                "token",
                False,
                missing("MFannotWeb API token", "MFANNOTWEB_TOKEN"),
            ),
            NOT_CONFIGURED,
        )
        return report
    client = mfannotweb.MfannotWebClient(_client(mfannotweb.SERVICE, url, timeout, bearer=token))

    def identity() -> str:
        answer = client.whoami()
        who = answer.get("identity") or {}
        scopes = mfannotweb.token_scopes(who)
        account = f"token of {who.get('email') or 'user ' + str(who.get('id', '?'))}"
        if needed := [s for s in ("jobs:read", "jobs:write") if s not in scopes]:
            raise mfannotweb.scope_error(scopes, needed, url.shown, account)
        have = ", ".join(sorted(scopes)) or "none"
        note = (
            "; without jobs:cancel a deleted Galaxy job cannot cancel its queued remote job"
            if "jobs:cancel" not in scopes
            else ""
        )
        return f"GET /api/v1: API {answer.get('version', '?')}, {account}, scopes {have}{note}"

    def usage() -> str:
        answer = client.usage()
        return (
            f"GET /api/v1/me/usage: {answer.get('concurrent_in_flight', '?')} of"
            f" {answer.get('concurrent_limit', '?')} jobs in flight,"
            f" {answer.get('jobs_last_24h', '?')} in the last 24 h; results kept"
            f" {answer.get('ttl_days', '?')} days"
        )

    if report.call("identity", identity):
        report.call("usage", usage)
    return report


def check_codon(url: Setting, username: str | None, password: str | None, timeout: float) -> Report:
    report = Report(codon.SERVICE, str(url))
    if not _reached(report, url, timeout):
        return report
    client = codon.CodonClient(_client(codon.SERVICE, url, timeout), username or "", password or "")

    def status() -> str:
        answer = client.api_status()
        build = str(answer.get("build") or "?")[:12]
        return f"GET /: build {build}, environment {answer.get('environment', '?')}"

    def login() -> str:
        client.login()
        return "POST /login: logged in (the service gave a token)"

    if not report.call("status", status):
        return report
    if not (username and password):
        report.add(
            Step(
                "login",
                False,
                missing(
                    "username or password for the codon service",
                    "CODON_USERNAME and CODON_PASSWORD",
                ),
            ),
            NOT_CONFIGURED,
        )
        return report
    report.call("login", login)
    return report


def exit_code(reports: list[Report]) -> int:
    """0 when every service asked for is usable, else the gravest of their exit codes."""
    return max((report.exit_code for report in reports), default=0)
