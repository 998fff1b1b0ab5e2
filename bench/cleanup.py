"""7. Cleanup after SIGTERM: from the signal to the runner's exit, while its Bakta jobs run.

Galaxy sends SIGTERM when a job is deleted and SIGKILL about one second later: the runner
deletes its remote jobs in that second. Here the service never answers a DELETE (it holds
each one open until the measurement is over), the worst case: 1, 8 and 50 genomes running.
The exit is seen by a thread blocked in waitpid, on the same clock as the signal.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.fakes.server import Request, Response

from .plan import Plan
from .proc import RUNNER, TEST_DATA, BenchError, runner_env, spawn
from .report import Section, Spread
from .servers import TimedBakta

GOAL = 1.0  # seconds: Galaxy's SIGKILL comes about one second after its SIGTERM
START = "/api/v1/job/start"
LIST = "/api/v1/job/list"
DELETE = "/api/v1/job/delete"


class HangingDeleteBakta(TimedBakta):
    """Jobs that never finish, and a DELETE that is never answered while the bench runs."""

    def __init__(self) -> None:
        super().__init__(done_after=None)
        self.release = threading.Event()

    def handle(self, request: Request) -> Response:
        if (request.method, request.path) == ("DELETE", DELETE):
            with self.lock:
                self.arrivals.append((time.monotonic(), request.method, request.path))
            self.release.wait(120)
            return Response(200, b"")
        return super().handle(request)


def _polling(server: HangingDeleteBakta, count: int, child: subprocess.Popen[bytes]) -> None:
    """Until every job is started and a status request came after the last start."""
    deadline = time.monotonic() + 60 + count
    while time.monotonic() < deadline:
        arrivals = list(server.arrivals)
        starts = [t for t, m, p in arrivals if (m, p) == ("POST", START)]
        if len(starts) == count and any(
            t > max(starts) for t, m, p in arrivals if (m, p) == ("POST", LIST)
        ):
            return
        if child.poll() is not None:
            raise BenchError(f"the runner exited with {child.returncode} before polling")
        time.sleep(0.01)
    raise BenchError(f"{count} jobs were not all started and polled in time")


def _sent(server: HangingDeleteBakta) -> int:
    """The DELETEs the runner sent before it ended: those the server has read once they stop
    coming (on a loaded machine it may read the last ones after the runner is gone)."""
    count, settled = -1, time.monotonic() + 0.5
    while time.monotonic() < settled + 2.5:
        now = sum(1 for _, m, p in list(server.arrivals) if (m, p) == ("DELETE", DELETE))
        if now != count:
            count, settled = now, time.monotonic() + 0.5
        elif time.monotonic() >= settled:
            break
        time.sleep(0.05)
    return count


def _once(workdir: Path, count: int, run: int) -> tuple[float, int, int]:
    """(seconds from SIGTERM to exit, exit code, DELETEs the service received)."""
    folder = workdir / f"{count}-genomes-{run}"
    folder.mkdir()
    names = [f"g{number:02d}.fasta" for number in range(count)]
    for name in names:
        shutil.copy(TEST_DATA / "bakta_plasmid.fasta", folder / name)
    with HangingDeleteBakta() as server:
        env = runner_env(BAKTA_API_URL=server.base + "/api/v1")
        args = [*RUNNER, "bakta", "annotate", *names, "--outdir", "out"]
        args += ["--poll-interval", "0.5", "--format", "gff3"]
        child = spawn(args, env=env, cwd=folder, log=folder / "stderr.txt")
        ended: list[float] = []
        waiter = threading.Thread(target=lambda: (child.wait(), ended.append(time.monotonic())))
        try:
            _polling(server, count, child)
            waiter.start()
            signalled = time.monotonic()
            child.send_signal(signal.SIGTERM)
            waiter.join(30)
            if not ended:
                raise BenchError(f"the runner with {count} genomes did not end within 30 s")
            deletes = _sent(server)
        finally:
            server.release.set()
            if child.poll() is None:
                child.kill()
                child.wait()
    return ended[0] - signalled, child.returncode, deletes


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(7, "Cleanup after SIGTERM: signal -> runner gone, DELETE never answered")
    for count in plan.cleanup_genomes:
        runs = [_once(workdir, count, run) for run in range(plan.cleanup_runs)]
        seconds = Spread.of(elapsed for elapsed, _, _ in runs)
        section.add(
            f"{count} running genome{'s' if count > 1 else ''}: SIGTERM -> exit",
            Spread.of(s * 1000 for s in seconds.values).show("ms")
            + f"; exit codes {sorted({code for _, code, _ in runs})};"
            f" DELETEs sent {sorted({sent for _, _, sent in runs})} of {count}",
            f"< {GOAL:g} s",
            seconds.high < GOAL and all(code == 6 for _, code, _ in runs),
        )
    section.notes += [
        "`remote-jobs bakta annotate g00.fasta ... --poll-interval 0.5 --format gff3` against"
        " a fake Bakta whose jobs never finish and which holds every DELETE open, unanswered,"
        " until the measurement is over. Once every job is started and polled, the bench sends"
        " SIGTERM and times, on one clock, the signal and the runner's exit (a thread blocked in"
        " waitpid). The goal is judged on the slowest run.",
        "The runner sends its DELETEs at once, each from a thread of its own, and gives them"
        " one deadline, 0.6 s after the signal (errors.STOP_GRACE), whatever their number;"
        " then it writes its last lines and ends at once (os._exit, without the interpreter's"
        " teardown, which took about 0.1 s more).",
    ]
    return section
