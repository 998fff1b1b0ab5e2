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
SECTIONS = range(1, 8)  # bench/__main__.py SECTIONS


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
