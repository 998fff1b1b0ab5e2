"""After the Galaxy tool tests: no test credential in a command line, a log or an output, and
none left on an execution node.

Usage: python scripts/check_secrets.py GALAXY_DATA_DIR REPORT.json [...] [--node DIR ...]

The secrets are the values the tools' tests give in <credentials>. The reports are planemo's
or galaxy-tool-test's JSON reports. Galaxy's own job scripts (which hold them by Galaxy's
design while a job runs) are not ours and are not searched in GALAXY_DATA_DIR; but once the
jobs ended, no file at all under a --node DIR (a Pulsar server's directory: its staging
directory held the job scripts) may hold one.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_secrets() -> set[str]:
    values: set[str] = set()
    for path in [*(REPO / "tools").glob("*.xml"), REPO / "macros.xml"]:
        for credentials in ET.parse(path).getroot().iter("credentials"):
            values.update(s.get("value", "") for s in credentials.iter("secret"))
    return {v for v in values if v}


def main(data_dir: Path, reports: list[Path], nodes: list[Path]) -> int:
    secrets = test_secrets()
    if not secrets:
        print("check_secrets: no test credentials found in tools/ and macros.xml")
        return 1
    found: list[str] = []
    tests = [test for report in reports for test in json.loads(report.read_text())["tests"]]
    for test in tests:
        job = test["data"].get("job") or {}
        for field in ("command_line", "stdout", "stderr", "tool_stdout", "tool_stderr"):
            text = str(job.get(field) or "")
            found += [f"{test['id']} {field}" for s in secrets if s in text]
    outputs = data_dir / "objects"
    files = [p for p in outputs.rglob("*") if p.is_file()] if outputs.exists() else []
    for path in files:
        data = path.read_bytes()
        found += [str(path) for s in secrets if s.encode() in data]
    node_files = [p for node in nodes for p in node.rglob("*") if p.is_file()]
    for path in node_files:
        data = path.read_bytes()
        found += [str(path) for s in secrets if s.encode() in data]
    if found:
        print("check_secrets: test credentials leaked into: " + ", ".join(sorted(set(found))))
        return 1
    print(
        f"check_secrets: {len(secrets)} test secrets in none of {len(tests)} tests' command lines"
        f" and logs, nor in {len(files)} Galaxy dataset files"
        + (f", nor in {len(node_files)} files left on execution nodes" if nodes else "")
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--node", type=Path, action="append", default=[])
    args = parser.parse_args()
    sys.exit(main(args.data_dir, args.reports, args.node))
