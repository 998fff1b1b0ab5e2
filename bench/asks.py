"""9. What the suite asks of the service: the requests a list of N genomes sends Bakta.

In Galaxy (the delivered configuration, scripts/galaxy's default) a list of N genomes mapped
over `remote_bakta` is N jobs, N runner processes, each polling its own remote job; on the
command line one `remote-jobs bakta annotate` run asks for all its jobs in one status request
(job/list) a round. Both wait on a fake Bakta (TimedBakta, bench/servers.py) that holds every
remote job RUNNING for W s after its job/start; the fake notes every request, and for each
job/list which jobs it asked for. The Galaxy list and a command-line run of the same N run at
the same time, each on a fake of its own (the counts are driven by the clock, not the load).
Galaxy is started as in section 8 (bench/many.py), from a state folder of its own; then once
more with REMOTE_JOBS_POLL_INTERVAL set for its jobs, the admin's cap.

`--quick` does not start Galaxy (tests/test_bench.py runs it in the pytest step): it measures
the command line only, with short jobs.
"""

from __future__ import annotations

import itertools
import shutil
import statistics
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.galaxy.support import GalaxyApi

from .many import GENOME, LIMIT, TERMINAL, BenchGalaxy, job_states, submit, upload_genomes
from .plan import Plan
from .proc import RUNNER, BenchError, run, runner_env
from .report import Section, Spread
from .servers import TimedBakta

WEB_CLIENT = 30.0  # the official web client: a status request every 2 s per open job page
REFRESH = 4.0  # the backend refreshes job states every ~15 s: the most requests that bring news
GALAXY_GOAL = 4.0  # status requests per minute per waiting genome in Galaxy
CAP = 120  # REMOTE_JOBS_POLL_INTERVAL of the capped Galaxy row, in seconds
MINUTE = 60.0


@dataclass(frozen=True)
class Asked:
    """What one list (Galaxy) or one run (command line) of `genomes` genomes asked."""

    where: str
    genomes: int
    first_minute: tuple[int, ...]  # per genome: status requests in its first minute of waiting
    after: tuple[float, ...]  # per genome: status requests per minute after its first minute
    total: float  # all requests per genome, over the list's (or run's) life
    steady: float | None  # status requests per minute of the whole list, all genomes waiting
    rounds: int  # status requests in all
    whole_rounds: bool  # every status request asked for every job waiting then


def asked(where: str, bakta: TimedBakta, ids: list[str], requests: int) -> Asked:
    """The figures of the remote jobs IDS, from the fake's log; REQUESTS: all it received
    for them."""
    mine = set(ids)
    polls = [(when, set(jobs)) for when, jobs in list(bakta.polls) if mine & set(jobs)]
    first: list[int] = []
    after: list[float] = []
    for job in ids:
        start = bakta.started_at[job]
        times = [when for when, jobs in polls if job in jobs]
        first.append(sum(1 for when in times if when < start + MINUTE))
        later = [when for when in times if when >= start + MINUTE]
        gaps = [b - a for a, b in itertools.pairwise(later)]
        if gaps:
            after.append(MINUTE / statistics.median(gaps))
    low = max(bakta.started_at[job] for job in ids) + MINUTE
    high = min(bakta.seen_done_at.get(job, float("inf")) for job in ids)
    steady = None
    if high - low >= 30:  # all waiting, each past its first minute, for half a minute at least
        inside = sum(1 for when, _ in polls if low <= when < high)
        steady = inside / ((high - low) / MINUTE)
    whole = all(
        {
            job
            for job in ids
            if bakta.started_at[job] <= when <= bakta.seen_done_at.get(job, float("inf"))
        }
        <= jobs
        for when, jobs in polls
    )
    return Asked(
        where, len(ids), tuple(first), tuple(after), requests / len(ids), steady, len(polls), whole
    )


def command_line(workdir: Path, genomes: int, seconds: float) -> Asked:
    """One `remote-jobs bakta annotate` run with GENOMES genomes, on a fake of its own."""
    folder = workdir / f"command-line-{genomes}"
    folder.mkdir()
    files = []
    for number in range(1, genomes + 1):
        files.append(str(shutil.copy(GENOME, folder / f"genome{number:02d}.fasta")))
    with TimedBakta(done_after=seconds) as bakta:
        args = [*RUNNER, "bakta", "annotate", "--outdir", str(folder / "out"), *files]
        env = runner_env(BAKTA_API_URL=bakta.base + "/api/v1")
        run(args, env=env, cwd=folder, timeout=seconds + 900).check("remote-jobs bakta annotate")
        ids = [job.id for job in bakta.jobs.values()]
        return asked("command line (one run)", bakta, ids, len(bakta.arrivals))


def galaxy_list(api: GalaxyApi, bakta: TimedBakta, genomes: int, where: str) -> Asked:
    """A list of GENOMES genomes mapped over `remote_bakta`, followed to its last job's end."""
    history, names, hdca = upload_genomes(api, bakta, "remote_bakta", genomes)
    before = len(bakta.arrivals)
    jobs = submit(api, history, "remote_bakta", hdca)
    deadline = time.monotonic() + LIMIT
    while True:
        rows = job_states(api, history, jobs)
        if len(rows) == len(jobs) and all(row["state"] in TERMINAL for row in rows.values()):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"remote_bakta x {genomes}: not done within {LIMIT:.0f} s")
        time.sleep(2)
    states = sorted({str(row["state"]) for row in rows.values()})
    if states != ["ok"]:
        raise BenchError(f"remote_bakta x {genomes}: job states {states}")
    by_name = {job.name: job.id for job in list(bakta.jobs.values())}
    ids = [by_name[name] for name in names]
    return asked(where, bakta, ids, len(bakta.arrivals) - before)


def _genomes(number: int) -> str:
    return f"{number} genome{'' if number == 1 else 's'}"


def _say(text: str) -> None:
    print(f"bench: 9. {text}", flush=True, file=sys.stderr)


def _shown(result: Asked) -> Asked:
    """RESULT, also on stderr as soon as it is measured."""
    _say(repr(result))
    return result


def _measure_galaxy(plan: Plan, workdir: Path, seconds: float, failed: list[str]) -> list[Asked]:
    """Each size as a Galaxy list, with a command-line run of the same size meanwhile; then
    the capped list (FAILED: why it could not be measured)."""
    results: list[Asked] = []
    with TimedBakta(done_after=seconds) as bakta, ThreadPoolExecutor(1) as pool:
        galaxy = BenchGalaxy(workdir, bakta)
        galaxy.build()
        _say("starting Galaxy")
        with galaxy.started({}, tries=2) as api:
            for genomes in plan.asks_sizes:
                _say(f"{_genomes(genomes)}, in Galaxy and on the command line")
                cli: Future[Asked] = pool.submit(command_line, workdir, genomes, seconds)
                where = "Galaxy (a job per genome)"
                results.append(_shown(galaxy_list(api, bakta, genomes, where)))
                results.append(_shown(cli.result()))
        _say(f"starting Galaxy with REMOTE_JOBS_POLL_INTERVAL={CAP}")
        where = f"Galaxy, REMOTE_JOBS_POLL_INTERVAL={CAP}"
        try:
            with galaxy.started({"REMOTE_JOBS_POLL_INTERVAL": str(CAP)}, tries=2) as api:
                results.append(_shown(galaxy_list(api, bakta, plan.asks_capped_size, where)))
        except BenchError as error:  # the figures above stand without it
            failed.append(f"{where}: {error}")
    return results


def _per_minute(values: tuple[float, ...]) -> str:
    return Spread.of(values).show("/min", 2) if values else "none (W too short)"


def _steady(result: Asked, per: int = 1) -> str:
    if result.steady is None:
        return "none (W too short)"
    return f"{result.steady / per:.2f}/min"


def _report(section: Section, results: list[Asked], seconds: float) -> None:
    for result in results:
        label = f"{result.where}, {_genomes(result.genomes)}, jobs RUNNING {seconds:g} s"
        firsts = Spread.of(float(count) for count in result.first_minute).show("", 1)
        life = f"{result.total:.1f}; {_steady(result)}; {result.rounds} status requests in all"
        if not result.where.startswith("Galaxy"):
            section.add(
                f"{label}: status requests per round (each asked for every job waiting then);"
                " per waiting genome per minute after the first minute (the run's / N)",
                f"{'1' if result.whole_rounds else 'more than 1'};"
                f" {_steady(result, result.genomes)}",
                "1 status request per round for the whole run",
                result.whole_rounds,
            )
            section.add(
                f"{label}: all requests per genome over the run; the run's status requests per"
                " minute while every genome waited",
                life,
            )
            continue
        if "REMOTE_JOBS_POLL_INTERVAL" in result.where:
            goal = f"one per {CAP} s: <= {MINUTE / CAP:g}/min after the first minute"
            met = all(rate <= MINUTE / CAP * 1.05 for rate in result.after)
        else:
            goal = f"<= {GALAXY_GOAL:g}/min per waiting genome"
            met = max([*result.first_minute, *result.after]) <= GALAXY_GOAL
        section.add(
            f"{label}: status requests per waiting genome, in its first minute; per minute"
            " after it",
            f"{firsts}; {_per_minute(result.after)}",
            goal,
            met,
        )
        section.add(
            f"{label}: all requests per genome over its life; the list's status requests per"
            " minute while every genome waited",
            life,
        )
    sizes = sorted({result.genomes for result in results if "POLL" not in result.where})
    section.add(
        "for comparison: the official web client, one status request every 2 s per open job page",
        f"{WEB_CLIENT:g}/min per page; "
        + ", ".join(f"{n} page{'' if n == 1 else 's'}: {WEB_CLIENT * n:g}/min" for n in sizes),
    )
    section.add(
        "for comparison: the backend refreshes job states from its engine every ~15 s: the"
        " most status requests per job that can bring news",
        f"{REFRESH:g}/min per job",
    )


def measure(plan: Plan, workdir: Path) -> Section:
    seconds = plan.asks_seconds
    section = Section(9, "What the suite asks of the service")
    failed: list[str] = []
    if plan.asks_galaxy:
        results = _measure_galaxy(plan, workdir, seconds, failed)
    else:
        with ThreadPoolExecutor(len(plan.asks_sizes)) as pool:
            runs = [pool.submit(command_line, workdir, n, seconds) for n in plan.asks_sizes]
            results = [future.result() for future in runs]
        section.notes.append(
            "Galaxy not measured by --quick (it starts no Galaxy): the command line only."
        )
    _report(section, results, seconds)
    for why in failed:
        section.add(why.split(":")[0], f"failed: {why.split(':', 1)[1].strip()}", "", False)
    section.notes.append(" ".join(__doc__.split("\n\n")[1].split()))
    section.notes.append(HOW_COUNTED)
    section.notes += _meaning(results)
    return section


HOW_COUNTED = (
    "Counted from the fake's log. A genome's status requests are the job/list requests that"
    " asked for its remote job, from its job/start on: how many in its first minute, and after"
    " it one per the median gap between them (60 / gap, per minute). The list's (or run's)"
    " status requests per minute count every job/list while every genome of it waited past its"
    " first minute and none had been heard done. All requests per genome are every request the"
    " list (or run) sent the fake, divided by N: the version, job/init, the genome's upload,"
    " job/start, the status requests, job/result and the downloads of the result files (the"
    " command line fetches all 14 by default, `remote_bakta` its form's default choice)."
    " With REMOTE_JOBS_POLL_INTERVAL=120 the list's rate over a window of about three minutes"
    " depends on where the few polls fall in it: the per-genome rate is the figure to read."
    " The counts follow the runners' clocks, not the machine's speed: a loaded machine changes"
    " when the jobs start, not how often they ask."
)


def _meaning(results: list[Asked]) -> list[str]:
    """What the figures mean for the service, from the figures themselves."""
    galaxy = [r for r in results if r.where.startswith("Galaxy (")]
    if not galaxy:
        return []
    first = max(max(r.first_minute) for r in galaxy)
    after = max(max(r.after) for r in galaxy if r.after) if any(r.after for r in galaxy) else 0
    largest = max(galaxy, key=lambda r: r.genomes)
    met = max(first, after) <= GALAXY_GOAL
    text = (
        f"In Galaxy each waiting genome's job asks {first} times in its first minute (right"
        " after job/start, then 15 and 37.5 s later: the runner's interval grows 1.5 x a round"
        f" from 15 s) and at most {after:.2f} times a minute after it (every 60 s), so a list"
        " of N genomes sends about N status requests a minute while it waits"
        f" ({_steady(largest)} for {largest.genomes}), against {WEB_CLIENT:g} a minute for each"
        " job page open in the official web client, and about 3N in the minute its jobs start."
        f" The goal of {GALAXY_GOAL:g} a minute per waiting genome, the most that the backend's"
        " ~15 s refresh can answer with news, is "
        + ("met in every minute" if met else "**not met**")
        + ". On the command line one status request a round asks for every genome of the run:"
        " the run sends what one genome does, about one a minute, however many it waits on."
    )
    notes = [text]
    if met:
        notes.append(
            "So one Galaxy job per genome is kept as it is: a status round shared by a Galaxy"
            " server's jobs would bring a list from N to about one request a minute, but is not"
            " needed for the goal; an admin bounds what one user sends with the per-user limit"
            " (a user's L waiting jobs send about L a minute, whatever the list's length) and"
            " can slow every job with REMOTE_JOBS_POLL_INTERVAL (docs/admin.md, *What a list of"
            " N genomes asks of the service*)."
        )
    return notes
