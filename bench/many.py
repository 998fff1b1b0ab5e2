"""8. Many genomes in Galaxy: a list of N genomes mapped over `remote_bakta`, on the Galaxy that
`scripts/galaxy start` runs, against a fake Bakta whose jobs take D seconds each.

Galaxy runs from a state folder of its own in the bench's work folder (GALAXY_PORT is honoured,
as by scripts/galaxy), loads the built Tool Shed repositories, and its jobs talk to TimedBakta
(bench/servers.py) in this process: a job is RUNNING for D s after its job/start. For each
configuration of scripts/galaxy the bench times an upload on the idle Galaxy, then for each N
uploads N genomes as a list (not timed), submits the tool over the list, sends the same upload
UPLOAD_AFTER s later, and follows every job to its end. It reads when the fake saw each remote
job start and when a status request first heard that it was done, so that Galaxy's own time
per job is measured without the service's D or the runner's polling interval.

`--quick` does not start Galaxy (tests/test_bench.py runs it in the pytest step, while
scripts/test is still installing Galaxy); tests/galaxy/test_many_genomes.py runs the same
Galaxy calls (tests/galaxy/support.py) on the test Galaxy.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.galaxy.support import GalaxyApi

from .plan import Plan
from .proc import ROOT, TEST_DATA, BenchError
from .report import Section, Spread
from .servers import TimedBakta

BENCH_TOOL = Path(__file__).with_name("remote_bakta_list.xml")
GENOME = TEST_DATA / "bakta_genome.fasta"
UPLOAD = TEST_DATA / "codon_cds.fasta"
UPLOAD_AFTER = 2.0  # s between submitting the collection and the upload
TERMINAL = {"ok", "error", "failed", "deleted", "deleted_new", "skipped", "paused"}
LIMIT = 3 * 3600.0  # a safety time-out for one collection
RATIO_GOALS = {12: 1.25, 48: 1.5}  # wall time of N genomes / wall time of one
UPLOAD_GOAL = 10.0  # s more than on the idle Galaxy
# What scripts/galaxy reads from its environment and the bench sets itself (or must not leak).
OWN_SETTINGS = (
    "BAKTA_API_URL", "MFANNOTWEB_URL", "CODON_API_URL", "GALAXY_STATE_DIR", "TOOLS_DIR",
    "SHED_BUILD_DIR", "INSTALLED_TOOLS_ON", "TOOL_SHED_URL", "PULSAR_URL", "PULSAR_TOKEN",
    "REMOTE_JOBS_WORKERS", "REMOTE_JOBS_USER_LIMIT", "GALAXY_METADATA_STRATEGY",
    "REMOTE_JOBS_POLL_INTERVAL",
)  # fmt: skip


@dataclass(frozen=True)
class Setup:
    """A configuration of scripts/galaxy (environment settings), and what runs on it."""

    label: str
    settings: dict[str, str]
    sizes: tuple[int, ...]
    one_job_sizes: tuple[int, ...] = ()  # the alternative: remote_bakta_list, one job per list


@dataclass
class Run:
    """One collection of `genomes` genomes, from submission to the last output."""

    setup: str
    tool: str
    genomes: int
    wall: float = 0.0
    upload: float = 0.0
    starts_within: float = 0.0  # first to last remote job/start
    before: list[float] = field(default_factory=list)  # per job: created -> remote job started
    after: list[float] = field(default_factory=list)  # per job: remote done heard -> ok
    galaxy_mb: float = 0.0  # Galaxy's own processes, while the most runners waited
    idle_mb: float = 0.0  # the same before the submission
    jobs_mb: float = 0.0  # the job processes then
    waiting: int = 0  # job folders with a live process then
    states: dict[str, int] = field(default_factory=dict)


def _epoch(galaxy_time: str) -> float:
    """Galaxy's timestamps are naive UTC."""
    return dt.datetime.fromisoformat(galaxy_time).replace(tzinfo=dt.timezone.utc).timestamp()


def memory(state: Path) -> tuple[float, float, int]:
    """Memory (MB) of the Galaxy session's server processes and of its jobs' processes (whose
    working folder lies in the state's data folder), and the number of job folders. Each
    process counts its proportional set size (Pss): gunicorn's worker shares most of its pages
    with the master it was forked from, which resident sizes would count twice."""
    sid = int((state / "galaxy.pid").read_text())
    data = str(state / "data")
    server = jobs = 0.0
    folders = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[3]) != sid:
                continue
            pss = next(
                int(line.split()[1]) * 1024 / 1e6
                for line in (proc / "smaps_rollup").read_text().splitlines()
                if line.startswith("Pss:")
            )
            cwd = os.readlink(proc / "cwd")
        except (OSError, ValueError, StopIteration):
            continue  # gone meanwhile, or a kernel thread
        if cwd.startswith(data):
            jobs += pss
            folders.add(cwd)
        else:
            server += pss
    return server, jobs, len(folders)


class BenchGalaxy:
    """scripts/galaxy with a state folder, tools and service of the bench's own."""

    def __init__(self, workdir: Path, bakta: TimedBakta) -> None:
        self.workdir = workdir
        self.state = workdir / "galaxy"
        self.log = workdir / "scripts-galaxy.log"
        env = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
        self.env = {
            **env,
            "GALAXY_STATE_DIR": str(self.state),
            "SHED_BUILD_DIR": str(workdir / "shed"),
            "TOOLS_DIR": str(workdir / "tools"),
            "BAKTA_API_URL": bakta.base + "/api/v1",
        }

    def run(self, command: str, settings: dict[str, str] | None = None) -> None:
        with open(self.log, "a") as log:
            log.write(f"\n$ scripts/galaxy {command} {settings or ''}\n")
            log.flush()
            done = subprocess.run(
                [str(ROOT / "scripts" / "galaxy"), command],
                env={**self.env, **(settings or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=900,
            )
        if done.returncode != 0:
            tail = " | ".join(self.log.read_text().strip().splitlines()[-3:])
            raise BenchError(f"scripts/galaxy {command} exited with {done.returncode}: {tail}")

    def build(self) -> None:
        """The Tool Shed repositories, as Galaxy loads them, and the bench's one-job tool beside
        remote_bakta.xml (it needs that folder's macros.xml and runner)."""
        self.run("build")
        shutil.copytree(self.workdir / "shed", self.workdir / "tools", symlinks=True)
        shutil.copy(BENCH_TOOL, self.workdir / "tools" / "remote_bakta" / BENCH_TOOL.name)

    @contextmanager
    def started(self, settings: dict[str, str], tries: int = 1) -> Iterator[GalaxyApi]:
        """Galaxy started with SETTINGS, TRIES times at most (a loaded machine can fail one)."""
        try:
            for attempt in range(1, tries + 1):
                try:
                    self.run("start", settings)
                    break
                except BenchError as error:
                    if attempt == tries:
                        raise
                    print(f"bench: {error}; starting again", flush=True, file=sys.stderr)
            yield GalaxyApi(self.state)
        finally:
            self.run("stop")  # also after a start that failed half-way


def _upload(api: GalaxyApi, history: str, name: str) -> float:
    start = time.monotonic()
    api.upload(history, UPLOAD, name, limit=LIMIT)
    return time.monotonic() - start


def upload_genomes(
    api: GalaxyApi, bakta: TimedBakta, tool: str, genomes: int
) -> tuple[str, list[str], str]:
    """A new history with a list of GENOMES genomes, named as the fake has seen none yet (it
    knows jobs by name): the history's id, the names, and the list's id."""
    history = api("POST", "histories", json={"name": f"{tool} x {genomes}"})["id"]
    serial = len(bakta.jobs)
    names = [f"genome{serial}_{n:02d}" for n in range(1, genomes + 1)]
    hdca = api.upload_list(history, "genomes", dict.fromkeys(names, GENOME), limit=LIMIT)
    return history, names, hdca


def job_states(api: GalaxyApi, history: str, jobs: list[str]) -> dict[str, Any]:
    """The Galaxy jobs JOBS of HISTORY, by id."""
    listed = api("GET", "jobs", params={"history_id": history, "limit": 10_000})
    return {str(row["id"]): row for row in listed if str(row["id"]) in jobs}


def submit(api: GalaxyApi, history: str, tool: str, collection: str) -> list[str]:
    """TOOL over the list COLLECTION: `remote_bakta` mapped over it, or the one-job tool."""
    if tool == "remote_bakta":  # mapped over the list: one job per genome
        inputs: dict[str, Any] = {
            "input_option|input_file": {
                "batch": True,
                "values": [{"src": "hdca", "id": collection}],
            }
        }
    else:  # one job for the list
        inputs = {"genomes": {"src": "hdca", "id": collection}}
    run = api("POST", "tools", json={"tool_id": tool, "history_id": history, "inputs": inputs})
    return [str(job["id"]) for job in run["jobs"]]


def _job_genomes(api: GalaxyApi, job: str, names: list[str]) -> list[str]:
    """The genomes (remote job names) of a Galaxy job: its input's name, or the whole list."""
    inputs = api("GET", f"jobs/{job}")["inputs"]
    if "input_option|input_file" in inputs:
        return [str(api("GET", f"datasets/{inputs['input_option|input_file']['id']}")["name"])]
    return names


def collection(
    api: GalaxyApi, state: Path, bakta: TimedBakta, setup: str, tool: str, genomes: int
) -> Run:
    """Run TOOL on a list of GENOMES genomes; an upload UPLOAD_AFTER s after submitting it."""
    run = Run(setup, tool, genomes)
    history, names, hdca = upload_genomes(api, bakta, tool, genomes)
    time.sleep(5)  # the list's own upload job finished: Galaxy idle again
    run.idle_mb = memory(state)[0]
    start = time.monotonic()
    jobs = submit(api, history, tool, hdca)
    uploaded: list[float] = []
    failed: list[BaseException] = []

    def upload() -> None:
        try:
            uploaded.append(_upload(api, history, "uploaded_meanwhile.fasta"))
        except BaseException as error:  # reported by the main thread
            failed.append(error)

    time.sleep(max(0.0, start + UPLOAD_AFTER - time.monotonic()))
    uploader = threading.Thread(target=upload)
    uploader.start()
    ended: dict[str, float] = {}
    rows: dict[str, Any] = {}
    most = (-1, 0.0, 0.0)
    while len(ended) < len(jobs) or uploader.is_alive():
        if time.monotonic() - start > LIMIT:
            raise BenchError(f"{tool} x {genomes}: not done within {LIMIT:.0f} s")
        rows = job_states(api, history, jobs)
        for job, row in rows.items():
            if row["state"] in TERMINAL:
                ended.setdefault(job, time.monotonic())
        server, job_mb, folders = memory(state)
        if folders >= most[0]:
            most = (folders, server, job_mb)
        time.sleep(1)
    uploader.join()
    if failed:
        raise BenchError(f"the upload during {tool} x {genomes} failed: {failed[0]}")
    run.wall = max(ended.values()) - start
    run.upload = uploaded[0]
    run.waiting, run.galaxy_mb, run.jobs_mb = most
    for row in rows.values():
        run.states[row["state"]] = run.states.get(row["state"], 0) + 1
    # Galaxy's own time per job, on one clock: the fake's monotonic times as epoch seconds.
    offset = time.time() - time.monotonic()
    by_name = {job.name: job.id for job in list(bakta.jobs.values()) if job.name in names}
    started = {name: bakta.started_at[i] + offset for name, i in by_name.items()}
    heard = {
        name: bakta.seen_done_at[i] + offset
        for name, i in by_name.items()
        if i in bakta.seen_done_at
    }
    if len(started) != genomes:
        raise BenchError(f"{tool} x {genomes}: {len(started)} remote jobs started")
    run.starts_within = max(started.values()) - min(started.values())
    for job, row in rows.items():
        own = _job_genomes(api, job, names)
        if row["state"] != "ok" or any(name not in heard for name in own):
            continue
        run.before.append(min(started[name] for name in own) - _epoch(row["create_time"]))
        run.after.append(_epoch(row["update_time"]) - max(heard[name] for name in own))
    return run


PULSAR_MANAGERS = {  # manager name -> its num_concurrent_jobs in app.yml (None: unset)
    "unset": None,
    "one": 1,
    "two": 2,
}
PULSAR_JOBS = 4  # jobs sent to each manager at once
PULSAR_JOB_SECONDS = 15


def pulsar_managers(workdir: Path) -> dict[str, float]:
    """What Pulsar's queued manager does with its num_concurrent_jobs: a real Pulsar (the venv
    of scripts/pulsar) with a manager per setting, PULSAR_JOBS jobs of PULSAR_JOB_SECONDS s sent
    to each at once (bench/pulsar_job.py, Pulsar's own client); returns, per manager, the seconds
    between the first and the last job's start (each job writes when it started)."""
    venv = Path(
        os.environ.get("REMOTE_JOBS_CACHE", Path.home() / ".cache" / "remote-jobs-suite"),
        "pulsar-venv",
        "bin",
    )
    if not (venv / "pulsar").exists():
        raise BenchError(f"no Pulsar in {venv.parent}: run scripts/pulsar install")
    folder = workdir / "pulsar"
    port = os.environ.get("PULSAR_PORT") or str(_free_port())
    token = os.urandom(16).hex()
    config = [venv / "pulsar-config", "--directory", folder, "--host", "127.0.0.1"]
    subprocess.run(
        [*config, "--port", port, "--private_token", token], check=True, capture_output=True
    )
    managers = "".join(
        f"  {name}:\n    type: queued_python\n"
        + ("" if limit is None else f"    num_concurrent_jobs: {limit}\n")
        for name, limit in PULSAR_MANAGERS.items()
    )
    with open(folder / "app.yml", "a") as app:
        app.write(
            f"staging_directory: {folder}/staging\n"
            f"persistence_directory: {folder}/persisted\nmanagers:\n{managers}"
        )
    env = {"HOME": str(Path.home()), "PATH": f"{venv}:/usr/bin:/bin"}
    with open(folder / "pulsar.log", "wb") as log:
        server = subprocess.Popen(
            [venv / "pulsar", "-c", folder],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    clients: list[subprocess.Popen[bytes]] = []
    try:
        _wait_answering(f"http://127.0.0.1:{port}/", server)
        for name in PULSAR_MANAGERS:
            for number in range(PULSAR_JOBS):
                job = folder / f"{name}-{number}"
                job.mkdir()
                client = [venv / "python", "-I", Path(__file__).with_name("pulsar_job.py")]
                client += [f"http://127.0.0.1:{port}/", token, name, job.name, job]
                client += [str(PULSAR_JOB_SECONDS)]
                clients.append(
                    subprocess.Popen(
                        client, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
        deadline = PULSAR_JOBS * PULSAR_JOB_SECONDS * len(PULSAR_MANAGERS) + 120
        for client in clients:
            if client.wait(timeout=deadline) != 0:
                raise BenchError(f"bench/pulsar_job.py exited with {client.returncode}")
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    spans = {}
    for name in PULSAR_MANAGERS:
        starts = [
            float((folder / f"{name}-{number}" / "started").read_text())
            for number in range(PULSAR_JOBS)
        ]
        spans[name] = max(starts) - min(starts)
    return spans


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_answering(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"Pulsar exited with {server.returncode} before it answered")
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(1)
    raise BenchError("Pulsar did not answer within 120 s")


def _setups(plan: Plan) -> list[Setup]:
    return [
        Setup("delivered", {}, plan.many_sizes, plan.many_sizes),
        Setup(
            "one 2-worker local runner",
            {"REMOTE_JOBS_WORKERS": "0", "GALAXY_METADATA_STRATEGY": "directory"},
            plan.many_shared_sizes,
        ),
    ]


def _show(values: list[float]) -> str:
    return Spread.of(values).show("s", 1) if values else "none"


def _find(runs: list[Run], setup: str, tool: str, genomes: int) -> Run | None:
    return next((r for r in runs if (r.setup, r.tool, r.genomes) == (setup, tool, genomes)), None)


def _ratio(runs: list[Run], run: Run) -> float | None:
    one = _find(runs, run.setup, run.tool, 1)
    return run.wall / one.wall if one and one.wall and run.genomes > 1 else None


def _count(number: int, noun: str) -> str:
    """The count and the noun, plural unless one: 1 genome, 12 genomes."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _report(
    section: Section, runs: list[Run], idle_upload: dict[str, float], seconds: float
) -> None:
    for run in runs:
        what = f"{run.setup}: `{run.tool}`" + (
            " (one job for the list)" if run.tool != "remote_bakta" else ""
        )
        count = _count(run.genomes, "genome")
        ratio = _ratio(runs, run)
        delivered = run.setup == "delivered" and run.tool == "remote_bakta"
        goal = RATIO_GOALS.get(run.genomes) if delivered else None
        text = f"{run.wall:.0f} s"
        if ratio is not None:
            text += f" = {ratio:.2f} x one genome"
        text += f"; remote jobs started within {run.starts_within:.0f} s"
        if set(run.states) != {"ok"}:
            text += f"; job states {run.states}"
        section.add(
            f"{what}, {count} (D = {seconds:g} s): submission -> last output",
            text,
            f"<= {goal:g} x one genome" if goal else "",
            None if goal is None or ratio is None else ratio <= goal,
        )
        idle = idle_upload[run.setup]
        section.add(
            f"{what}, {count}: an upload sent {UPLOAD_AFTER:g} s after them;"
            " the same on the idle Galaxy",
            f"{run.upload:.0f} s; {idle:.0f} s",
            f"<= idle + {UPLOAD_GOAL:g} s" if delivered else "",
            (run.upload <= idle + UPLOAD_GOAL) if delivered else None,
        )
        section.add(
            f"{what}, {count}: Galaxy's own time per job (created -> remote job"
            " started; remote job done, as the runner heard it -> Galaxy job ok); memory while"
            " the most jobs ran (Galaxy's processes, idle before; the jobs' processes)",
            f"{_show(run.before)}; {_show(run.after)}; {run.galaxy_mb:,.0f} MB"
            f" ({run.idle_mb:,.0f} MB), {run.jobs_mb:,.0f} MB for {_count(run.waiting, 'job')}",
        )
    section.notes += [
        "Galaxy is the one `scripts/galaxy start` runs (Galaxy 26.1.1, SQLite, one gunicorn"
        " worker that is also the job handler), from a state folder of the bench's own; its jobs"
        f" talk to a fake Bakta in the bench process whose jobs run {seconds:g} s after their"
        " job/start. Each list is uploaded first (not timed); the clock starts when the tool is"
        f" submitted over it, and an upload of a small FASTA is sent {UPLOAD_AFTER:g} s later;"
        " the wall time ends when the bench sees the last job ended (polled every second).",
        "Configurations: *delivered* is scripts/galaxy's default (the suite's tools on a"
        " `remote_services` LocalJobRunner of 64 workers, uploads and Galaxy's tools on"
        " `local`'s 2; `metadata_strategy: directory_celery` with a Celery worker);"
        " *one 2-worker local runner* is the configuration before 0.2.0 (`REMOTE_JOBS_WORKERS=0`"
        " `GALAXY_METADATA_STRATEGY=directory`: every tool on `local`'s 2 workers, every job"
        " setting its outputs' metadata with a new Galaxy process). It runs no 48-genome list:"
        " two genomes at a time, that would take about half an hour.",
        "Galaxy's own time per job leaves out the service's D and the runner's polling interval"
        " (the Bakta interval starts at 15 s): *before* runs from the Galaxy job's creation to"
        " the fake's job/start, *after* from the first status request that heard the job done"
        " to the Galaxy job's last update (ok). Memory is the proportional set size (Pss) of"
        " the processes of Galaxy's session: Galaxy's own (gravity, gunicorn and its worker,"
        " the Celery worker and its pool) and the jobs' (each job's shell and runner, counted"
        " by their working folders); Pss counts pages shared by forked processes once.",
        "Also tried, by hand with this bench's code on the delivered configuration (48 genomes,"
        " D = 30 s, one run each, load about 2, 2026-12-05; not measured again here):"
        " `outputs_to_working_directory: true` (54.7 s from submission to the last output,"
        " against 55.8 s), `metadata_strategy: extended_celery` (58.6 s: each job took longer to"
        " prepare), a job handler process of its own (56.2 s, and 540 MB more) and one Celery"
        " worker thread instead of two (59.4 s, 450 MB less). None gained beyond run-to-run"
        " noise, so none is kept. In every variant the 48 remote jobs started within 12 to 16 s:"
        " the job handler prepares and starts the jobs one after the other, about 0.3 s each.",
        "*One job for the list* is `bench/remote_bakta_list.xml`, a bench-only tool: one Galaxy"
        " job runs `remote-jobs bakta annotate` on every genome of the list (one status request"
        " per round for all), its six outputs are collections, and a genome that fails is"
        " listed in a `failed` output while the others' results are kept.",
    ]
    ratios = {
        (run.tool, run.genomes): f"{ratio:.2f}"
        for run in runs
        if run.setup == "delivered" and (ratio := _ratio(runs, run)) is not None
    }
    wanted = [(tool, n) for tool in ("remote_bakta", "remote_bakta_list") for n in RATIO_GOALS]
    if all(key in ratios for key in wanted):
        mapped = {n: ratios["remote_bakta", n] for n in RATIO_GOALS}
        single = {n: ratios["remote_bakta_list", n] for n in RATIO_GOALS}
        section.notes.append(
            "Chosen: a list mapped over `remote_bakta`, one Galaxy job per genome, as delivered"
            f" (12 genomes in {mapped[12]} x and 48 in {mapped[48]} x the time of one)."
            f" One job for the list takes {single[48]} x at 48 genomes ({single[12]} x at 12)"
            " and is lighter (one runner process for the list), but each genome stays a"
            " Galaxy job of its own only when mapped: its own state, outputs, standard error,"
            " rerun and deletion; a failed genome fails its own job, not an *ok* job whose"
            " report lists it; each genome's outputs appear when it ends, not when the slowest"
            " ends; workflows map over lists as with any tool; and Galaxy's per-user limit"
            " counts genomes (a 500-genome list as one job would put 500 remote jobs on the"
            " public service at once). What mapped lists still pay is Galaxy's own work per"
            " job (*before* grows along the list: the job handler prepares and starts jobs one"
            " after the other), not waiting for workers or for metadata.",
        )


def measure(plan: Plan, workdir: Path) -> Section:
    seconds = plan.many_seconds
    section = Section(8, "Many genomes in Galaxy: a list mapped over remote_bakta")
    if not plan.many_galaxy:
        section.add("Galaxy with many genomes", "not measured by --quick (it starts no Galaxy)")
        section.notes.append(__doc__.split("\n\n")[-1].replace("\n", " ").strip())
        return section
    runs: list[Run] = []
    idle_upload: dict[str, float] = {}
    with TimedBakta(done_after=seconds) as bakta:
        galaxy = BenchGalaxy(workdir, bakta)
        galaxy.build()
        for setup in _setups(plan):
            print(f"bench: 8. {setup.label}: starting Galaxy", flush=True, file=sys.stderr)
            with galaxy.started(setup.settings) as api:
                history = api("POST", "histories", json={"name": "idle uploads"})["id"]
                _upload(api, history, "warm_up.fasta")  # the first upload loads the datatypes
                idle_upload[setup.label] = statistics.median(
                    _upload(api, history, f"idle_{n}.fasta") for n in range(plan.runs)
                )
                for tool, sizes in (
                    ("remote_bakta", setup.sizes),
                    ("remote_bakta_list", setup.one_job_sizes),
                ):
                    for genomes in sizes:
                        print(
                            f"bench: 8. {setup.label}: {tool} x {genomes}",
                            flush=True,
                            file=sys.stderr,
                        )
                        runs.append(
                            collection(api, galaxy.state, bakta, setup.label, tool, genomes)
                        )
    _report(section, runs, idle_upload, seconds)
    print("bench: 8. Pulsar's queued manager", flush=True, file=sys.stderr)
    spans = pulsar_managers(workdir)
    limits = (f"{limit}" if limit else "unset (default 1)" for limit in PULSAR_MANAGERS.values())
    section.add(
        f"Pulsar 0.16.0 (scripts/pulsar), `queued_python` manager: {PULSAR_JOBS} jobs of"
        f" {PULSAR_JOB_SECONDS} s sent at once, first to last start, with num_concurrent_jobs"
        f" {', '.join(limits)}",
        "; ".join(f"{span:.1f} s" for span in spans.values()),
        f"one at a time: {(PULSAR_JOBS - 1) * PULSAR_JOB_SECONDS} s",
    )
    return section
