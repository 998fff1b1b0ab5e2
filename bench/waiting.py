"""5. Waiting cost: 200 runners at once, each polling a Bakta job that never finishes.

Once every job has started and every runner is in its polling loop, the runners' CPU time
is read from /proc/<pid>/stat at the start and end of each of three equal windows, and their
resident memory from /proc/<pid>/status. Every runner is stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .plan import Plan
from .proc import RUNNER, TEST_DATA, BenchError, cpu_seconds, rss_mb, runner_env, spawn, stop_all
from .report import Section, Spread
from .servers import TimedBakta

CPU_GOAL = 5.0  # percent of the machine
RSS_GOAL_MB = 40.0
WINDOWS = 3
START = "/api/v1/job/start"
LIST = "/api/v1/job/list"


def _wait_until_started(server: TimedBakta, children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60 + 2 * len(children)
    while time.monotonic() < deadline:
        started = sum(1 for _, m, p in list(server.arrivals) if (m, p) == ("POST", START))
        if started == len(children):
            return
        if any(child.poll() is not None for child in children):
            raise BenchError("a runner exited before its job started")
        time.sleep(0.2)
    raise BenchError("not every runner started its job in time")


def _status_requests(server: TimedBakta) -> int:
    return sum(1 for _, m, p in list(server.arrivals) if (m, p) == ("POST", LIST))


def measure(plan: Plan, workdir: Path) -> Section:
    count, poll = plan.waiting_runners, plan.waiting_poll
    section = Section(5, f"Waiting cost: {count} runners polling slow jobs")
    shutil.copy(TEST_DATA / "bakta_plasmid.fasta", workdir / "genome.fasta")
    cores = len(os.sched_getaffinity(0))
    children: list[subprocess.Popen[bytes]] = []
    with TimedBakta(done_after=None) as server:
        env = runner_env(BAKTA_API_URL=server.base + "/api/v1")
        try:
            launched = time.monotonic()
            for number in range(count):
                args = [*RUNNER, "bakta", "annotate", "genome.fasta", "--outdir", f"out{number}"]
                args += ["--poll-interval", f"{poll:g}", "--format", "gff3"]
                children.append(spawn(args, env=env, cwd=workdir, log=workdir / f"{number}.log"))
            _wait_until_started(server, children)
            ready = time.monotonic() - launched
            time.sleep(poll + 1)  # every runner has slept once: they are all in the loop
            pids = [child.pid for child in children]
            shares: list[float] = []
            window = plan.waiting_window / WINDOWS
            requests_before = _status_requests(server)
            bench_before = time.process_time()
            for _ in range(WINDOWS):
                before, start = sum(map(cpu_seconds, pids)), time.monotonic()
                time.sleep(window)
                used, elapsed = sum(map(cpu_seconds, pids)) - before, time.monotonic() - start
                shares.append(100 * used / elapsed / cores)
            bench_share = 100 * (time.process_time() - bench_before) / plan.waiting_window / cores
            requests = _status_requests(server) - requests_before
            memory = Spread.of(map(rss_mb, pids))
            if any(child.poll() is not None for child in children):
                raise BenchError("a runner exited while waiting")
        finally:
            codes = stop_all(children)
    cpu = Spread.of(shares)
    section.add(
        f"{count} runners, --poll-interval {poll:g}: CPU, % of the {cores}-core machine",
        f"{cpu.show('%', 2)} ({WINDOWS} windows of {window:.0f} s)",
        f"< {CPU_GOAL:g} %",
        cpu.median < CPU_GOAL,
    )
    section.add(
        "resident memory per waiting runner (VmRSS)",
        f"{memory.show('MB', 1)} over {count} runners",
        f"< {RSS_GOAL_MB:g} MB",
        memory.high < RSS_GOAL_MB,
    )
    section.add(
        "status requests in the windows (expected: runners x window / interval)",
        f"{requests} (expected ~{count * plan.waiting_window / poll:.0f})",
    )
    section.add(
        "the fake server and the bench (one process) in the windows, % of the machine",
        f"{bench_share:.2f} %",
    )
    section.add(f"from launching {count} runners to all jobs started", f"{ready:.1f} s")
    stopped = sum(1 for code in codes if code == 6)
    section.add("runners stopped by SIGTERM with exit code 6 (interrupted)", f"{stopped}/{count}")
    section.notes.append(
        "Each runner ran `remote-jobs bakta annotate genome.fasta --poll-interval"
        f" {poll:g} --format gff3` against one fake Bakta (a ThreadingHTTPServer) whose jobs"
        " stay RUNNING; CPU is the sum of utime + stime of all runners over each window."
    )
    per_poll = cpu.median / 100 * cores * plan.waiting_window / max(requests, 1) * 1000
    section.notes.append(
        f"That is about {per_poll:.1f} ms of CPU per status request. The default"
        " Bakta interval starts at 15 s and grows to 60 s, so waiting runners normally poll"
        f" {15 / poll:g} to {60 / poll:g} times less often than here."
    )
    return section
