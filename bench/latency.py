"""4. Completion latency: from the server marking a job done to its result files on disk.

MFannotWeb tells the runner through its event stream; Bakta is polled at a fixed interval.
The servers run in this process, so their "done" instant and the moment the bench sees the
files share one clock (time.monotonic); the files are looked for every millisecond.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from .plan import Plan
from .proc import RUNNER, TEST_DATA, BenchError, runner_env, spawn, wait_for
from .report import Section, Spread
from .servers import LiveEventsMfannotWeb, TimedBakta

SSE_GOAL = 1.0
TOKEN = "mfw_bench_token"
LIST = "/api/v1/job/list"


def _event_stream(plan: Plan, workdir: Path, *, chunked: bool, run: int) -> float:
    folder = workdir / f"sse-{'chunked' if chunked else 'close'}-{run}"
    folder.mkdir()
    server = LiveEventsMfannotWeb(
        TOKEN, done_after=plan.sse_done_after, linger=plan.sse_linger, chunked=chunked
    )
    with server:
        env = runner_env(MFANNOTWEB_URL=server.base + "/api/v1", MFANNOTWEB_TOKEN=TOKEN)
        args = [*RUNNER, "mfannot", "annotate", str(TEST_DATA / "mito_genome.fasta")]
        args += ["--gencode", "4", "--outdir", "out"]
        child = spawn(args, env=env, cwd=folder, log=folder / "stderr.txt")
        timeout = plan.sse_done_after + plan.sse_linger + 30
        appeared = wait_for(folder / "out" / "results.zip", child, timeout)
        if child.wait(30) != 0:
            raise BenchError(f"mfannot annotate exited with {child.returncode}")
        (done_at,) = server.done_at.values()
    return appeared - done_at


def _polled(plan: Plan, workdir: Path, rng: random.Random, run: int) -> tuple[float, float]:
    """(done -> files on disk, done -> the status request that saw it), in seconds."""
    folder = workdir / f"polled-{run}"
    folder.mkdir()
    shutil.copy(TEST_DATA / "bakta_plasmid.fasta", folder / "genome.fasta")
    # Finish at a random phase between two polls.
    with TimedBakta(done_after=rng.uniform(1.0, 1.0 + plan.poll_interval)) as server:
        env = runner_env(BAKTA_API_URL=server.base + "/api/v1")
        args = [*RUNNER, "bakta", "annotate", "genome.fasta", "--outdir", "out"]
        args += ["--poll-interval", f"{plan.poll_interval:g}", "--format", "gff3"]
        child = spawn(args, env=env, cwd=folder, log=folder / "stderr.txt")
        appeared = wait_for(folder / "out" / "genome", child, 60)
        if child.wait(30) != 0:
            raise BenchError(f"bakta annotate exited with {child.returncode}")
        (done_at,) = server.done_at.values()
        seen = min(t for t, m, p in server.arrivals if (m, p) == ("POST", LIST) and t >= done_at)
    return appeared - done_at, seen - done_at


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(4, "Completion latency: job done -> result files on disk")
    chunked = Spread.of(
        _event_stream(plan, workdir, chunked=True, run=n) for n in range(plan.latency_runs)
    )
    section.add(
        "MFannotWeb, event stream with chunked framing",
        Spread.of(seconds * 1000 for seconds in chunked.values).show("ms"),
        f"< {SSE_GOAL:g} s",
        chunked.median < SSE_GOAL,
    )
    close = Spread.of(
        _event_stream(plan, workdir, chunked=False, run=n) for n in range(plan.sse_unchunked_runs)
    )
    section.add(
        "MFannotWeb, event stream without chunked framing (ends when the connection closes)",
        close.show("s", 2),
        f"< {SSE_GOAL:g} s",
        close.median < SSE_GOAL,
    )
    rng = random.Random(4)
    polled = [_polled(plan, workdir, rng, n) for n in range(plan.latency_runs)]
    interval = f"{plan.poll_interval:g} s"
    section.add(
        f"Bakta, --poll-interval {interval}: done -> seen by the next status request",
        Spread.of(seen * 1000 for _, seen in polled).show("ms"),
        f"<= {interval}",
        max(seen for _, seen in polled) <= plan.poll_interval,
    )
    total = Spread.of(latency * 1000 for latency, _ in polled)
    section.add(
        f"Bakta, --poll-interval {interval}: done -> files on disk",
        total.show("ms"),
        f"<= {interval} (one interval)",
        total.median <= plan.poll_interval * 1000,
    )
    section.notes += [
        "Event stream: `remote-jobs mfannot annotate` against a fake MFannotWeb whose stream"
        f" stays open, marks the job done {plan.sse_done_after:g} s after the stream opened,"
        f" sends `done`, and stays open {plan.sse_linger:g} s more with keep-alive comments"
        " every 15 s (as the real server sends them) before it ends. Latency runs from marking"
        " the job done to results.zip appearing (moved in last, after every file was checked).",
        "Polling: `remote-jobs bakta annotate --poll-interval"
        f" {plan.poll_interval:g} --format gff3` against a fake Bakta whose job turns"
        f" SUCCESSFUL at a random moment 1 to {1 + plan.poll_interval:g} s after job/start"
        " (seeded), however often it is polled. `seen` is the first job/list after that"
        " moment; the rest is job/result and the download.",
    ]
    if close.median >= SSE_GOAL:
        section.notes.append(
            "Without chunked framing the events reached the runner late, although `iter_sse`"
            " (lib/remote_jobs/sse.py) reads the stream with urllib3's `read1()`"
            " (`transfer.arrivals`), which returns what has arrived without waiting to fill"
            " a buffer: look there first (an older runner read through requests'"
            " `iter_lines()`, which waited for 512 bytes or the end of the stream)."
        )
    return section
