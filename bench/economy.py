"""3. Request economy: 100 Bakta genomes in one batch, beside a naive client; on API v1, and
on API v2 (the same batch against a fake serving v2 beside v1).

FakeBakta advances every started job one step of its script per job/list request, so a
round of polling is one step; a naive client would send one status request per pending job
per round, which the same scripts let us count without running it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from .plan import Plan
from .proc import RUNNER, TEST_DATA, BenchError, run, runner_env
from .report import Section, Spread
from .servers import BenchBakta

LIST = {"v1": "/api/v1/job/list", "v2": "/api/v2/job/list"}
GALAXY_FORMATS = ("gff3", "tsv", "gbff", "faa", "txt", "svg")  # the Galaxy tool's default


@dataclass(frozen=True)
class Batch:
    genomes: int
    rounds: int
    status_requests: int
    requests: int
    naive_status_requests: int
    peak_rss_mb: float
    wall: float

    @property
    def naive_requests(self) -> int:
        return self.requests - self.status_requests + self.naive_status_requests


def _batch(plan: Plan, seed: int, workdir: Path, api: str = "v1") -> Batch:
    rng = random.Random(seed)
    names = [f"g{i:03d}" for i in range(plan.economy_genomes)]
    scripts = {
        name: ["INIT", *["RUNNING"] * rng.randint(0, plan.economy_max_running), "SUCCESSFUL"]
        for name in names
    }
    folder = workdir / f"{api}-seed{seed}"
    folder.mkdir()
    genome = (TEST_DATA / "bakta_plasmid.fasta").read_bytes()
    for name in names:
        (folder / f"{name}.fasta").write_bytes(genome)
    args = [*RUNNER, "bakta", "annotate", *(f"{name}.fasta" for name in names)]
    args += ["--outdir", "out", "--poll-interval", "0"]
    for suffix in GALAXY_FORMATS:
        args += ["--format", suffix]
    with BenchBakta(scripts={n: list(s) for n, s in scripts.items()}, v2=api == "v2") as server:
        env = runner_env(BAKTA_API_URL=server.base + "/api/v1")
        done = run(args, env=env, cwd=folder, timeout=600).check("remote-jobs bakta annotate")
        log = list(server.log)
    rounds = max(len(script) for script in scripts.values())
    lists = [r for r in log if (r.method, r.path) == ("POST", LIST[api])]
    for number, request in enumerate(lists):
        pending = sum(1 for script in scripts.values() if len(script) > number)
        if len(request.json()["jobs"]) != pending:
            raise BenchError(f"round {number}: {len(request.json()['jobs'])} jobs, not {pending}")
    return Batch(
        len(names),
        rounds,
        len(lists),
        len(log),
        sum(len(script) for script in scripts.values()),
        done.peak_rss_mb,
        done.wall,
    )


def measure(plan: Plan, workdir: Path) -> Section:
    section = Section(3, f"Request economy: {plan.economy_genomes} Bakta genomes in one batch")
    batches = [_batch(plan, seed, workdir) for seed in plan.economy_seeds]
    per_round = Spread.of(b.status_requests / b.rounds for b in batches)
    naive_round = Spread.of(b.naive_status_requests / b.rounds for b in batches)
    per_genome = Spread.of(b.requests / b.genomes for b in batches)
    naive_genome = Spread.of(b.naive_requests / b.genomes for b in batches)
    status_genome = Spread.of(b.status_requests / b.genomes for b in batches)
    naive_status_genome = Spread.of(b.naive_status_requests / b.genomes for b in batches)
    first = plan.economy_genomes
    section.add(
        "status requests per poll round",
        f"{per_round.show('', 2)}; rounds per batch: {Spread.of(b.rounds for b in batches).show()}",
        "1",
        all(b.status_requests == b.rounds for b in batches),
    )
    v2 = [_batch(plan, seed, workdir, "v2") for seed in plan.economy_seeds]
    section.add(
        "API v2 batch: status requests per poll round",
        f"{Spread.of(b.status_requests / b.rounds for b in v2).show('', 2)}; all requests per"
        f" genome: {Spread.of(b.requests / b.genomes for b in v2).show('', 2)}",
        "1",
        all(b.status_requests == b.rounds for b in v2),
    )
    section.add(
        "naive client (one per pending job): status requests per poll round",
        f"{naive_round.show('', 1)} on average, {first} in the first round",
    )
    section.add(
        "status requests per genome over its life: runner / naive",
        f"{status_genome.show('', 2)} / {naive_status_genome.show('', 1)}",
    )
    section.add(
        "all requests per genome over its life: runner / naive",
        f"{per_genome.show('', 2)} / {naive_genome.show('', 2)}",
    )
    section.add(
        "runner for the whole batch: wall time, peak RSS",
        f"{Spread.of(b.wall for b in batches).show('s', 1)}, "
        f"{Spread.of(b.peak_rss_mb for b in batches).show('MB', 1)}",
    )
    section.notes += [
        f"Seeds {', '.join(map(str, plan.economy_seeds))}: each job's script is INIT, 0 to"
        f" {plan.economy_max_running} times RUNNING, then SUCCESSFUL; `--poll-interval 0`;"
        f" the Galaxy tool's default files ({', '.join(GALAXY_FORMATS)}). The bench also checks"
        " that every status request listed exactly the jobs still pending.",
        f"Each genome costs {6 + len(GALAXY_FORMATS)} requests besides status: job/init, three"
        f" PUTs to the upload links, job/start, job/result and {len(GALAXY_FORMATS)} downloads;"
        " the batch shares one version request.",
        f"API v2 (same seeds and scripts): {4 + len(GALAXY_FORMATS)} requests per genome besides"
        " status: job/init, one PUT (only the uploads given are sent), job/start, job/result and"
        f" {len(GALAXY_FORMATS)} downloads; the batch shares the workflows and version requests.",
    ]
    return section
