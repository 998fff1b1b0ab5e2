"""What the bench measures, at full size or as a quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    runs: int = 3  # repeats of the expensive measurements
    startup_rounds: int = 11
    download_bytes: int = 1 << 30  # 1 GiB
    genome_bytes: int = 200_000_000  # 200 MB
    small_factor: int = 16  # the same transfer at 1/16 of the size: is memory flat?
    economy_genomes: int = 100
    economy_seeds: tuple[int, ...] = (1, 2, 3)
    economy_max_running: int = 20  # each job's script: INIT, 0..N RUNNING, SUCCESSFUL
    latency_runs: int = 5
    poll_interval: float = 2.0  # for the polled service's latency
    sse_done_after: float = 1.0
    sse_linger: float = 15.0  # how long a stream stays open after `done`
    sse_unchunked_runs: int = 3
    waiting_runners: int = 200
    waiting_poll: float = 5.0
    waiting_window: float = 30.0
    cleanup_genomes: tuple[int, ...] = (1, 8, 50)
    cleanup_runs: int = 3
    many_galaxy: bool = True  # section 8 starts Galaxy (scripts/galaxy)
    many_seconds: float = 60.0  # D: each remote Bakta job runs this long
    many_sizes: tuple[int, ...] = (1, 12, 48)  # genomes per list, delivered configuration
    many_shared_sizes: tuple[int, ...] = (1, 12)  # the same with one 2-worker runner
    asks_galaxy: bool = True  # section 9 starts Galaxy (scripts/galaxy)
    asks_seconds: float = 240.0  # W: each remote Bakta job is RUNNING this long
    asks_sizes: tuple[int, ...] = (1, 12, 48)  # genomes per list (Galaxy) and per run (CLI)
    asks_capped_size: int = 12  # the Galaxy list with REMOTE_JOBS_POLL_INTERVAL set


FULL = Plan()
QUICK = Plan(
    runs=2,
    startup_rounds=5,
    download_bytes=64 << 20,
    genome_bytes=10_000_000,
    small_factor=4,
    economy_genomes=20,
    economy_seeds=(1,),
    latency_runs=2,
    sse_linger=3.0,
    sse_unchunked_runs=1,
    waiting_runners=20,
    waiting_window=10.0,
    cleanup_genomes=(1, 8),
    cleanup_runs=1,
    many_galaxy=False,
    asks_galaxy=False,
    asks_seconds=1.0,
    asks_sizes=(1, 3),
)
