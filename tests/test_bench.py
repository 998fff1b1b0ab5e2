"""The bench still runs: `python -m bench --quick` takes every measurement and writes its report.

A smoke run at small sizes (about a minute). It checks that each section measures and reports,
never the figures: those are what a full run writes to docs/benchmarks.md, and a target the
quick run misses is reported as "not met", not failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = range(1, 10)  # bench/__main__.py SECTIONS


def test_the_quick_bench_measures_every_section_and_writes_its_report(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    text = report.read_text()
    assert "--quick" in text  # the command that made it
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for number in SECTIONS:
        assert any(row.startswith(f"| {number} |") for row in rows), f"section {number}"
    assert not [row for row in rows if "failed:" in row], run.stderr[-3000:]


def test_a_section_measured_alone_replaces_only_its_own_rows_and_notes() -> None:
    """`python -m bench --only N --output REPORT` keeps REPORT's other sections."""
    from bench.report import Section, document, merge

    def section(number: int, result: str) -> Section:
        made = Section(number, f"section {number}")
        made.add(f"measurement {number}", result)
        made.notes.append(f"how {number} was measured ({result})")
        return made

    info = {"cores": "2", "cpu": "cpu", "memory": "1 GiB", "kernel": "k", "python": "3"}
    info |= {"curl": "8", "date": "then", "load": "0.1"}
    old = document([section(1, "old"), section(2, "old"), section(3, "old")], info, "cmd", 1.0)

    new = merge(old, [section(2, "new")], {**info, "date": "now"}, "cmd --only 2", 2.0)

    assert new.startswith(old.split("| # |")[0])  # the header of the full run
    rows = [line for line in new.splitlines() if line.startswith("| ") and "#" not in line]
    assert [row.split(" | ")[2] for row in rows] == ["old", "new", "old"]
    assert "how 2 was measured (new)" in new and "(old)" not in new.split("## 2.")[1].split("##")[0]
    assert "Measured alone by `cmd --only 2` (2.0 min) on now" in new
    assert new.count("## 1. ") == new.count("## 3. ") == 1
