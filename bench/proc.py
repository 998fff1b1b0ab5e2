"""Child processes: the runner's command line, the wall time and peak RSS of one run, and
the CPU and memory of live ones.

Every child is waited for with os.wait4, so its own rusage (not the bench's) is what we see,
and every wait is bounded: a child that outlives its time-out is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "test-data"
# The runner exactly as the Galaxy wrappers start it.
RUNNER = (sys.executable, "-m", "remote_jobs")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVICE_VARIABLES = ("BAKTA_", "MFANNOTWEB_", "CODON_", "REMOTE_JOBS_POLL_INTERVAL")


class BenchError(RuntimeError):
    """A measurement could not be taken (a child failed, a server misbehaved)."""


def runner_env(**settings: str) -> dict[str, str]:
    """Our environment without service settings, plus `settings` and the runner's source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_VARIABLES)}
    env["PYTHONPATH"] = str(ROOT / "lib")
    return {**env, **settings}


@dataclass(frozen=True)
class Finished:
    """One child run: exit code, wall time (s) and peak RSS (MB)."""

    returncode: int
    wall: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Finished:
        if self.returncode != 0:
            tail = " | ".join(self.stderr.strip().splitlines()[-3:])
            raise BenchError(f"{what} exited with {self.returncode}: {tail}")
        return self


def run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
) -> Finished:
    """Run a command to its end (killed after `timeout` s) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(args), stdout=out, stderr=err, env=env, cwd=cwd)
        killer = threading.Timer(timeout, child.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Finished(
            child.returncode,
            wall,
            usage.ru_maxrss * 1024 / 1e6,  # ru_maxrss is in KiB on Linux
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def spawn(
    args: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """Start a command in the background, its stderr into `log`."""
    with open(log, "wb") as err:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
        )


def wait_for(path: Path, child: subprocess.Popen[bytes], timeout: float) -> float:
    """The moment (time.monotonic) `path` exists, checked every millisecond."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return time.monotonic()
        if child.poll() is not None and not path.exists():
            raise BenchError(f"the runner exited with {child.returncode} before {path.name}")
        time.sleep(0.001)
    child.kill()
    child.wait()
    raise BenchError(f"{path.name} did not appear within {timeout:g} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    """Resident memory of a live process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise BenchError(f"no VmRSS for process {pid}")


def stop_all(children: Sequence[subprocess.Popen[bytes]], grace: float = 15.0) -> list[int]:
    """SIGTERM every child, SIGKILL those still alive after `grace` s; returns exit codes."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return [child.wait() for child in children]


def imported_modules(args: Sequence[str], env: dict[str, str]) -> set[str]:
    """Top-level packages a command imports, from `python -X importtime`."""
    command = [args[0], "-X", "importtime", *args[1:]]
    done = run(command, env=env, cwd=ROOT, timeout=60)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names
