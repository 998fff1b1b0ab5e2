"""Results: medians with their spread, the table, the machine, and docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MET, MISSED, INFO = "met", "**not met**", ""


@dataclass(frozen=True)
class Spread:
    """Several runs of one measurement: the median and the range."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        found = tuple(values)
        if not found:
            raise ValueError("no values")
        return cls(found)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def show(self, unit: str = "", digits: int = 0) -> str:
        def number(value: float) -> str:
            return f"{value:,.{digits}f}"

        text = number(self.median) + (f" {unit}" if unit else "")
        if len(self.values) > 1:
            text += f" ({number(self.low)}-{number(self.high)}, n={len(self.values)})"
        return text


@dataclass
class Row:
    measurement: str
    result: str
    goal: str = ""
    verdict: str = INFO


@dataclass
class Section:
    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measurement: str, result: str, goal: str = "", met: bool | None = None) -> None:
        verdict = INFO if met is None else MET if met else MISSED
        self.rows.append(Row(measurement, result, goal, verdict))


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    return Path("/proc/loadavg").read_text().split()[0]


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    curl = shutil.which("curl")
    curl_version = (
        subprocess.run([curl, "--version"], capture_output=True, text=True).stdout.split()[1]
        if curl
        else "absent"
    )
    return {
        "cores": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{memory_kib / 2**20:.1f} GiB",
        "python": platform.python_version(),
        "kernel": f"{platform.system()} {platform.release()}",
        "curl": curl_version,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(sections: list[Section]) -> str:
    lines = ["| # | measurement | result | goal | met? |", "|---|---|---|---|---|"]
    for section in sections:
        for row in section.rows:
            cells = (str(section.number), row.measurement, row.result, row.goal, row.verdict)
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def document(sections: list[Section], info: dict[str, str], command: str, minutes: float) -> str:
    header = f"""# Benchmarks

Measured by `{command}` ({minutes:.1f} min) on {info["date"]}.

Machine: {info["cores"]} cores ({info["cpu"]}), {info["memory"]} of memory, {info["kernel"]},
Python {info["python"]}, curl {info["curl"]}; 1-minute load average {info["load"]} before
the run. Every server ran in the bench process on 127.0.0.1. Results are medians with the
range (min-max) and the number of runs; ratios compare measurements taken in the same round.
MB = 10^6 bytes, MiB = 2^20 bytes. Below the table, each section says how it measured and,
for each goal it missed, why.
"""
    parts = [header, table(sections), ""]
    for section in sections:
        parts.append(f"## {section.number}. {section.title}\n")
        parts.extend(f"- {note}" for note in section.notes)
        parts.append("")
    return "\n".join(parts)
