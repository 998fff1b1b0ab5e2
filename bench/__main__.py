"""`python -m bench`: run every measurement, print the table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from . import asks, cleanup, economy, galaxy, latency, many, startup, transfer, waiting
from .plan import FULL, QUICK, Plan
from .proc import ROOT
from .report import Section, document, load_average, machine, merge, table

Measure = Callable[[Plan, Path], Section]
SECTIONS: dict[int, tuple[str, Measure]] = {
    1: ("transfer", transfer.measure),
    2: ("start-up", startup.measure),
    3: ("request economy", economy.measure),
    4: ("completion latency", latency.measure),
    5: ("waiting cost", waiting.measure),
    6: ("Galaxy", galaxy.measure),
    7: ("cleanup after SIGTERM", cleanup.measure),
    8: ("many genomes in Galaxy", many.measure),
    9: ("what the suite asks of the service", asks.measure),
}
DOC = ROOT / "docs" / "benchmarks.md"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few runs (a smoke test)"
    )
    parser.add_argument(
        "--only",
        type=lambda text: [int(n) for n in text.split(",")],
        help=f"comma-separated section numbers ({', '.join(map(str, SECTIONS))})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"write the report here [default: {DOC.relative_to(ROOT)} for a full run of"
        " every section; nothing for --quick or --only]; with --only, an existing report keeps"
        " its other sections",
    )
    return parser.parse_args()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"bench: stopped by {signal.Signals(signum).name}")  # runs the cleanups


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = _arguments()
    plan = QUICK if args.quick else FULL
    chosen = args.only or list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        sys.exit(f"no section {', '.join(map(str, sorted(unknown)))}")
    output = args.output or (DOC if not args.quick and not args.only else None)
    started, load = time.monotonic(), load_average()
    if float(load) > 1.0:
        print(f"bench: load average {load}: other work will skew the figures", file=sys.stderr)
    sections: list[Section] = []
    crashed = False
    for number in chosen:
        name, measure = SECTIONS[number]
        print(f"bench: {number}. {name}...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="remote-jobs-bench-") as workdir:
            try:
                sections.append(measure(plan, Path(workdir)))
            except Exception as exc:  # one broken measurement must not hide the others
                traceback.print_exc()
                crashed = True
                failed = Section(number, name)
                failed.add(name, f"failed: {exc}", "", False)
                sections.append(failed)
    minutes = (time.monotonic() - started) / 60
    print(table(sections))
    if output is not None:
        python = Path(sys.executable)
        shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else Path("python")
        command = f"{shown} -m bench" + (" --quick" if args.quick else "")
        output.parent.mkdir(parents=True, exist_ok=True)
        info = {**machine(), "load": load}
        if args.only and output.is_file():
            command += " --only " + ",".join(map(str, chosen))
            output.write_text(merge(output.read_text(), sections, info, command, minutes))
        else:
            output.write_text(document(sections, info, command, minutes))
        print(f"bench: wrote {output} ({minutes:.1f} min)", file=sys.stderr)
    return 1 if crashed else 0


sys.exit(main())
