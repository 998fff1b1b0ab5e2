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
the run. Every fake service ran in the bench process on 127.0.0.1 (section 8 also starts a
Galaxy and a Pulsar, in processes of their own). Results are medians with the
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


def _part(section: Section, extra_notes: list[str]) -> list[str]:
    lines = [f"## {section.number}. {section.title}", ""]
    lines += [f"- {note}" for note in [*section.notes, *extra_notes]]
    return [*lines, ""]


def merge(
    text: str, sections: list[Section], info: dict[str, str], command: str, minutes: float
) -> str:
    """An existing report TEXT with SECTIONS measured anew (`--only`): their rows and parts
    replace the old ones, the other sections and the header stay, and each new part says how
    and when it was measured."""
    lines = text.splitlines()
    top = lines.index(table([]).splitlines()[0])
    end = next((i for i in range(top, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows: dict[int, list[str]] = {}
    for line in lines[top + 2 : end]:
        rows.setdefault(int(line.split("|")[1]), []).append(line)
    parts: dict[int, list[str]] = {}
    number = None
    for line in lines[end:]:
        if line.startswith("## ") and line[3:].split(".")[0].isdigit():
            number = int(line[3:].split(".")[0])
        if number is not None:
            parts.setdefault(number, []).append(line)
    stamp = (
        f"Measured alone by `{command}` ({minutes:.1f} min) on {info['date']}, 1-minute load"
        f" average {info['load']} before the run; the machine as above."
    )
    for section in sections:
        rows[section.number] = table([section]).splitlines()[2:]
        parts[section.number] = _part(section, [stamp])
    out = [*lines[:top], *table([]).splitlines()]
    for number in sorted(rows):
        out += rows[number]
    out.append("")
    for number in sorted(parts):
        part = parts[number]
        while part and not part[-1]:
            part = part[:-1]
        out += [*part, ""]
    return "\n".join(out)
