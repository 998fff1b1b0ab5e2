"""1. Transfer: a 1 GiB result download and a 200 MB genome upload, the runner beside curl.

The runner runs `bakta annotate` against BulkBakta: its genome goes to the bench storage,
which counts and drops it, and its GFF3 result is a body the storage makes on the fly.
curl fetches and sends the same through the same storage in the same round, and the
storage times every transfer the same way. Downloads and the upload are measured in
separate runner runs, so that each download starts within a second of its warm-up.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .plan import Plan
from .proc import RUNNER, BenchError, run, runner_env
from .report import Section, Spread
from .servers import BLOCK, BulkBakta, BulkStorage, Transfer

RSS_GOAL_MB = 64.0
RATIO_GOAL = 0.8
LINE = 80
CONTIGS = 4
TINY = 1024  # the other direction's size when one direction is measured
CHECK_INPUT = """
import sys, time
from pathlib import Path
from remote_jobs.fasta import read_fasta
from remote_jobs.jobfile import fingerprint
path = Path(sys.argv[1])
start = time.perf_counter()
read_fasta(path, service="bakta")
middle = time.perf_counter()
fingerprint("bench", files=(path,))
print(middle - start, time.perf_counter() - middle)
"""
# A plain download loop, as the runner had one (remote_jobs.transfer.download reads what has
# arrived, read1, checking --timeout before each read).
UNHASHED_DOWNLOAD = """
import sys, requests
with requests.get(sys.argv[1], stream=True, timeout=(10, 60)) as response:
    response.raise_for_status()
    with open(sys.argv[2], "wb") as out:
        for chunk in response.iter_content(1 << 20):
            out.write(chunk)
"""


def write_genome(path: Path, size: int, seed: int = 200) -> int:
    """A valid nucleotide FASTA of about `size` bytes: CONTIGS records of 80-column lines."""
    rng = random.Random(seed)
    to_base = bytes(b"ACGT"[i % 4] for i in range(256))
    pool = [rng.randbytes(LINE).translate(to_base) + b"\n" for _ in range(4096)]
    lines_per_contig = max(1, size // CONTIGS // (LINE + 1))
    with open(path, "wb") as out:
        for contig in range(1, CONTIGS + 1):
            out.write(b">contig_%d synthetic bench sequence\n" % contig)
            for first in range(0, lines_per_contig, len(pool)):
                out.writelines(pool[: min(len(pool), lines_per_contig - first)])
    return path.stat().st_size


def warm_up(workdir: Path, size: int) -> None:
    """Write and delete `size` bytes, so that the next download writes into memory the guest
    holds: a VM that returns freed memory to its host (free page reporting) makes the first
    write into it several times slower, whichever client comes first."""
    os.sync()
    scratch = workdir / "warm-up"
    block = bytes(BLOCK)
    with open(scratch, "wb") as out:
        for _ in range(size // BLOCK):
            out.write(block)
    scratch.unlink()


@dataclass(frozen=True)
class Sample:
    """One transfer as the storage timed it, with its client's run."""

    transfer: Transfer
    wall: float  # from launching the client to the transfer's last byte (s)
    peak_rss_mb: float

    @property
    def mb_per_s(self) -> float:
        return self.transfer.mb_per_s


def _runner(storage: BulkStorage, genome: Path, workdir: Path, method: str, size: int) -> Sample:
    """`bakta annotate` against BulkBakta; returns its `method` transfer of `size` bytes."""
    out = workdir / "out"
    with BulkBakta(storage) as api:
        before = len(storage.transfers)
        launched = time.monotonic()
        args = [*RUNNER, "bakta", "annotate", str(genome), "--outdir", str(out)]
        args += ["--format", "gff3", "--poll-interval", "0"]
        done = run(args, env=runner_env(BAKTA_API_URL=api.base + "/api/v1"), timeout=900)
        done.check("remote-jobs bakta annotate")
    shutil.rmtree(out)
    found = [
        t
        for t in storage.transfers[before:]
        if t.agent.startswith("remote-jobs/") and t.method == method and t.size == size
    ]
    if len(found) != 1:
        raise BenchError(f"expected one {method} of {size} bytes by the runner, saw {found}")
    return Sample(found[0], found[0].end - launched, done.peak_rss_mb)


def _client(args: list[str], storage: BulkStorage, target: Path | None) -> Sample:
    """One transfer by another client (curl, or the unhashed loop)."""
    before = len(storage.transfers)
    launched = time.monotonic()
    done = run(args, env=runner_env(), timeout=600).check(args[0])
    if target is not None:
        target.unlink()
    transfer = storage.transfers[before]
    return Sample(transfer, transfer.end - launched, done.peak_rss_mb)


def _input_checks(genome: Path) -> tuple[float, float]:
    """The runner's own FASTA validation and input fingerprint, timed in a fresh process."""
    done = run([RUNNER[0], "-c", CHECK_INPUT, str(genome)], env=runner_env(), timeout=600)
    validation, fingerprint = done.check("FASTA validation").stdout.split()
    return float(validation), float(fingerprint)


Measure = Callable[[], Sample]


def _clients(
    plan: Plan, storage: BulkStorage, genome: Path, tiny: Path, workdir: Path
) -> tuple[dict[str, Measure], dict[str, Measure]]:
    """The download and upload of each client, ready to run."""
    curl = shutil.which("curl")
    target = workdir / "download.out"
    url = storage.base + "/bench/result.gff3"
    size = genome.stat().st_size
    downloads: dict[str, Measure] = {
        "runner": lambda: _runner(storage, tiny, workdir, "GET", plan.download_bytes),
        "unhashed": lambda: _client(
            [RUNNER[0], "-c", UNHASHED_DOWNLOAD, url, str(target)], storage, target
        ),
    }
    uploads: dict[str, Measure] = {"runner": lambda: _runner(storage, genome, workdir, "PUT", size)}
    if curl:
        quiet = [curl, "--silent", "--show-error", "--fail"]
        downloads["curl"] = lambda: _client([*quiet, "--output", str(target), url], storage, target)
        put = ["--header", "Expect:", "--upload-file", str(genome)]
        uploads["curl"] = lambda: _client([*quiet, *put, storage.base + "/bench/up"], storage, None)
    return downloads, uploads


@dataclass
class Rounds:
    """Per client, one sample per round; the rounds line up across clients."""

    download: dict[str, list[Sample]]
    upload: dict[str, list[Sample]]
    checks: list[tuple[float, float]]  # FASTA validation, fingerprint (s)

    def ratio(self, kind: str, name: str) -> Spread:
        samples = getattr(self, kind)
        mine, curl = samples[name], samples["curl"]
        return Spread.of(a.mb_per_s / b.mb_per_s for a, b in zip(mine, curl, strict=True))

    def speed(self, kind: str, name: str) -> Spread:
        return Spread.of(sample.mb_per_s for sample in getattr(self, kind)[name])

    def checked(self, size: int) -> list[float]:
        """MB/s of the runner's whole per-byte path before a job starts: validation,
        fingerprint and PUT, one value per round."""
        return [
            size / 1e6 / (validation + fingerprint + sample.transfer.seconds)
            for (validation, fingerprint), sample in zip(
                self.checks, self.upload["runner"], strict=True
            )
        ]

    def checked_ratio(self, size: int) -> Spread:
        curl = self.upload["curl"]
        return Spread.of(a / b.mb_per_s for a, b in zip(self.checked(size), curl, strict=True))


def _rounds(plan: Plan, storage: BulkStorage, genome: Path, tiny: Path, workdir: Path) -> Rounds:
    downloads, uploads = _clients(plan, storage, genome, tiny, workdir)
    got = Rounds({name: [] for name in downloads}, {name: [] for name in uploads}, [])
    for number in range(plan.runs):
        storage.download_size = plan.download_bytes
        names = list(downloads)
        for name in names[number % len(names) :] + names[: number % len(names)]:
            warm_up(workdir, plan.download_bytes)
            got.download[name].append(downloads[name]())
        storage.download_size = TINY
        for name in uploads:
            got.upload[name].append(uploads[name]())
        got.checks.append(_input_checks(genome))
    return got


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(1, "Transfer: 1 GiB download, 200 MB upload, runner beside curl")
    genome, tiny = workdir / "genome.fasta", workdir / "tiny.fasta"
    size = write_genome(genome, plan.genome_bytes)
    write_genome(tiny, TINY)
    with BulkStorage(plan.download_bytes) as storage:
        got = _rounds(plan, storage, genome, tiny, workdir)
        # The same at a fraction of the sizes: does the runner's memory grow with them?
        small = plan.download_bytes // plan.small_factor
        storage.download_size = small
        small_size = write_genome(genome, plan.genome_bytes // plan.small_factor)
        small_down = _runner(storage, tiny, workdir, "GET", small)
        storage.download_size = TINY
        small_up = _runner(storage, genome, workdir, "PUT", small_size)
    down_label = f"{plan.download_bytes / 2**30:g} GiB"
    up_label = f"{size / 1e6:.0f} MB"
    if "curl" in got.download:
        _versus_curl(section, got, size, down_label, up_label)
    else:
        section.add("download throughput, runner", got.speed("download", "runner").show("MB/s"))
        section.add("upload throughput, runner", got.speed("upload", "runner").show("MB/s"))
        section.notes.append(
            "curl is not installed, so there is no side-by-side figure: install it"
            " (`apt-get install curl`) and run the bench again."
        )
    validation = Spread.of(v for v, _ in got.checks)
    section.add(
        f"FASTA validation of the {up_label} genome (runner, before the upload)",
        f"{validation.show('s', 2)} = {size / validation.median / 1e6:.0f} MB/s",
    )
    section.add(
        "SHA-256 of the genome for the job-file fingerprint (runner, only with --job-file)",
        f"{Spread.of(f for _, f in got.checks).show('s', 2)}",
    )
    down_rss = Spread.of(s.peak_rss_mb for s in got.download["runner"])
    up_rss = Spread.of(s.peak_rss_mb for s in got.upload["runner"])
    section.add(
        f"peak RSS of the runner: {down_label} down; {up_label} up",
        f"{down_rss.show('MB', 1)}; {up_rss.show('MB', 1)}",
        f"< {RSS_GOAL_MB:.0f} MB",
        max(down_rss.high, up_rss.high) < RSS_GOAL_MB,
    )
    section.add(
        f"peak RSS of the runner at 1/{plan.small_factor} of the sizes: down; up",
        f"{small_down.peak_rss_mb:.1f} MB; {small_up.peak_rss_mb:.1f} MB",
        "the same: flat",
        abs(small_down.peak_rss_mb - down_rss.median) < 3
        and abs(small_up.peak_rss_mb - up_rss.median) < 3,
    )
    section.notes += [note.format(runs=plan.runs) for note in NOTES]
    section.notes += _why(got, size)
    return section


def _why(got: Rounds, size: int) -> list[str]:
    """What the numbers say about the goals this run missed."""
    notes: list[str] = []
    if "curl" not in got.download:
        return notes
    if got.ratio("download", "runner").median < RATIO_GOAL:
        notes.append(
            "Download below goal: the bare requests loop (no runner) reached"
            f" {got.speed('download', 'unhashed').median:,.0f} MB/s, "
            f"{got.ratio('download', 'unhashed').median:.2f}x curl, in the same rounds: compare"
            " `HttpClient.download` in lib/remote_jobs/http.py with it."
        )
    validation = statistics.median(v for v, _ in got.checks)
    fingerprint = statistics.median(f for _, f in got.checks)
    if got.checked_ratio(size).median >= RATIO_GOAL:
        return notes
    notes.append(
        "Upload counting the input checks below goal: before the first byte goes out the"
        " runner validates the genome line by line in Python (`read_fasta` in"
        f" lib/remote_jobs/fasta.py, {size / validation / 1e6:.0f} MB/s) and, with --job-file,"
        f" hashes it for the job's fingerprint ({fingerprint:.2f} s). Checking first is"
        " deliberate (bad input must fail before anything is sent); the PUT itself streams at"
        f" {got.speed('upload', 'runner').median:,.0f} MB/s."
    )
    return notes


def _versus_curl(section: Section, got: Rounds, size: int, down: str, up: str) -> None:
    ratio = got.ratio("download", "runner")
    section.add(
        f"download of a {down} result: runner / curl throughput",
        f"{ratio.show('x', 2)}; runner {got.speed('download', 'runner').show('MB/s')},"
        f" curl {got.speed('download', 'curl').show('MB/s')}",
        f">= {RATIO_GOAL}x curl",
        ratio.median >= RATIO_GOAL,
    )
    section.add(
        "for comparison: the bare requests download loop (no runner) / curl",
        f"{got.ratio('download', 'unhashed').show('x', 2)};"
        f" {got.speed('download', 'unhashed').show('MB/s')}",
    )
    ratio = got.ratio("upload", "runner")
    section.add(
        f"upload of a {up} genome (the PUT): runner / curl throughput",
        f"{ratio.show('x', 2)}; runner {got.speed('upload', 'runner').show('MB/s')},"
        f" curl {got.speed('upload', 'curl').show('MB/s')}",
        f">= {RATIO_GOAL}x curl",
        ratio.median >= RATIO_GOAL,
    )
    whole = got.checked_ratio(size)
    section.add(
        "upload counting the runner's input checks (validation + fingerprint + PUT) / curl",
        f"{whole.show('x', 3)}; runner {Spread.of(got.checked(size)).show('MB/s')}",
        f">= {RATIO_GOAL}x curl",
        whole.median >= RATIO_GOAL,
    )
    section.add(
        "upload from launch to genome stored: runner; curl",
        f"{Spread.of(s.wall for s in got.upload['runner']).show('s', 2)};"
        f" {Spread.of(s.wall for s in got.upload['curl']).show('s', 2)}",
    )


NOTES = (
    "{runs} rounds. Downloads: `remote-jobs bakta annotate tiny.fasta --format gff3"
    " --poll-interval 0` against a fake Bakta API whose presigned links point at the bench"
    " storage; `curl -o FILE URL`; and the runner's own loop without the SHA-256 (requests,"
    " `iter_content(1 MiB)`, write); each into a file on the same disk, in an order that"
    " rotates every round. Upload: the same command with the genome and a 1 KiB result, and"
    " `curl -H 'Expect:' -T genome.fasta URL` (the runner sends no `Expect: 100-continue`"
    " either).",
    "Throughput is timed by the storage, from the request's headers to the last body byte,"
    " alike for every client; ratios are taken per round, and their median is shown.",
    "Before each download the bench writes and deletes a scratch file of the same size: this"
    " VM reports freed memory to its host (free page reporting), and the first write into such"
    " memory is several times slower, which without the warm-up favoured whichever client ran"
    " right after another one's file was deleted.",
    "Peak RSS is ru_maxrss of the runner process (os.wait4).",
)
