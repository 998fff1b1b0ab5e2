"""6. Galaxy: the tools' planemo test times, read from the last `scripts/galaxy test-tools`.

The bench never starts Galaxy; it reads build/planemo/tool_test_output.json if it is there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from .plan import Plan
from .proc import ROOT
from .report import Section, Spread

REPORT = ROOT / "build" / "planemo" / "tool_test_output.json"
TOOLS = ROOT / "tools"
HOW_TO_RUN = "`scripts/test` (or `scripts/galaxy start` then `scripts/galaxy test-tools`)"
HOW_TO_METRICS = (
    "Galaxy records `runtime_seconds` with its default `core` job-metrics plugin, but"
    " `GET /api/jobs/{id}?full=true`, which planemo copies into the report, includes"
    " `job_metrics` only for admins, and `scripts/galaxy test-tools` runs the tests as a plain"
    " user. Run the tests with an admin's API key as `--galaxy_user_key`, or read"
    " `GET /api/jobs/{id}/metrics` (the core metrics are not sensitive) for the job ids in the"
    " report."
)


def _tool_ids() -> list[str]:
    """The ids of the suite's tools, from their wrappers."""
    ids = (re.search(r'<tool id="([^"]+)"', xml.read_text()) for xml in TOOLS.glob("*.xml"))
    return sorted(match.group(1) for match in ids if match)


def _seconds(job: dict[str, Any]) -> float | None:
    """How long Galaxy had the job: from its creation to its last update."""
    try:
        created = dt.datetime.fromisoformat(job["create_time"])
        updated = dt.datetime.fromisoformat(job["update_time"])
    except (KeyError, TypeError, ValueError):
        return None
    return (updated - created).total_seconds()


def _runtime(job: dict[str, Any]) -> float | None:
    for metric in job.get("job_metrics") or []:
        if metric.get("name") == "runtime_seconds":
            return float(metric.get("raw_value") or metric.get("value"))
    return None


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(6, "Galaxy tool tests (planemo), from the last test run")
    if not REPORT.is_file():
        section.add("planemo test time per tool", "not available: no planemo report")
        section.notes.append(f"There is no {REPORT.relative_to(ROOT)}: run {HOW_TO_RUN}.")
        return section
    report = json.loads(REPORT.read_text())
    stamp = dt.datetime.fromtimestamp(REPORT.stat().st_mtime, dt.timezone.utc)
    walls: dict[str, list[float]] = defaultdict(list)
    spans: dict[str, list[float]] = defaultdict(list)
    shares: dict[str, list[float]] = defaultdict(list)
    for test in report.get("tests", []):
        data = test.get("data") or {}
        tool = str(data.get("tool_id") or test.get("id", "?").rsplit("-", 1)[0])
        if data.get("time_seconds") is not None:
            walls[tool].append(float(data["time_seconds"]))
        job = data.get("job") or {}
        span, runtime = _seconds(job), _runtime(job)
        if span is not None:
            spans[tool].append(span)
            if runtime is not None and span > 0:
                shares[tool].append(100 * runtime / span)
    for tool in sorted(walls):
        section.add(
            f"`{tool}`: planemo test wall time per test", Spread.of(walls[tool]).show("s", 1)
        )
        if spans[tool]:
            section.add(
                f"`{tool}`: Galaxy job, created -> last update", Spread.of(spans[tool]).show("s", 1)
            )
        if shares[tool]:
            section.add(
                f"`{tool}`: the runner's share of the Galaxy job (runtime_seconds)",
                Spread.of(shares[tool]).show("%", 0),
            )
    missing = [tool for tool in _tool_ids() if tool not in walls]
    if missing:
        section.add("tools without a test in the report", ", ".join(f"`{t}`" for t in missing))
    summary = report.get("summary", {})
    section.notes.append(
        f"From {REPORT.relative_to(ROOT)} of {stamp:%Y-%m-%d %H:%M} UTC"
        f" ({summary.get('num_tests', '?')} tests, {summary.get('num_failures', '?')} failures,"
        f" {summary.get('num_errors', '?')} errors), not measured by this bench run. The tool"
        " tests replay recorded responses (cassettes): no waiting on a service."
    )
    if not any(shares.values()):
        section.add("the runner's share of a Galaxy job's time", "not available: no job metrics")
        section.notes.append(
            f"The report has no job metrics (`job_metrics` is null). {HOW_TO_METRICS}"
        )
    return section
