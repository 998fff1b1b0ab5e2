"""The flow of a Bakta run, on API v1 or v2: init (per input) -> PUT the presigned upload
links -> start with a config -> poll all jobs with ONE job/list request per round -> fetch each
finished job's result files while the others keep running.

A job the run leaves unfinished (stopped, or failed: a later genome's init refused, an answer
shaped unlike the docs, a result file that cannot be fetched, the job file unwritable) is
deleted, all of them at once, unless the job file keeps it for a rerun; a rerun with the job
file finds out first what became of each recorded job (see `_Batch.reattach`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    FAILURE_GRACE,
    AuthError,
    InputError,
    Interrupted,
    OutOfTime,
    RemoteJobError,
    RemoteJobsError,
)
from ..files import sizes, staged, whole
from ..jobfile import JobFile, JobFileError, results_in
from ..polling import PollPolicy, Progress, Waiter
from . import results
from .api import SUCCESS, Api, Workflow
from .logs import Failure
from .options import (
    BAKTFOLD_FORMATS,
    FORMATS,
    GENOME_SUFFIXES,
    LOG,
    PROTEIN_FORMATS,
    SERVICE,
    AnnotationOptions,
    check_bakta_json,
    check_options,
    check_proteins,
    csv_to_tsv,
    job_name,
    read_genome,
    read_replicon_table,
    sample_name,
)
from .service import Service
from .v1 import V1
from .v2 import V2, BaktaV2Client

# backend: job states are refreshed from the workflow engine only every ~15 s.
POLL = PollPolicy(initial=15.0, maximum=60.0)
# backend: a started job waits in INIT while the service is busy (the API docs: "queued due
# to high demand").
QUEUED = "queued on the service"
# The last progress line of a job: how long it was seen queued and running.
SUMMARY = {QUEUED: "queued", "RUNNING": "ran"}
RESUBMIT = 1  # default of --resubmit: a job that failed inside the service is submitted again


def annotate(
    service: Service,
    genomes: list[Path],
    options: AnnotationOptions,
    outdir: Path,
    *,
    formats: Iterable[str] | None = None,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
    resubmit: int = RESUBMIT,
) -> dict[str, Path]:
    """Annotate each genome as its own remote job; returns sample name -> result folder.

    Uses v2 when the service has it; on a v1-only service, options only v2 runs stop the run
    before anything is created or uploaded. Jobs a job file names are followed over the API
    they were created with.
    """
    check_options(options)
    chosen = _formats(formats, FORMATS)
    plots = set(chosen or ()) & {"png", "svg"}
    if plots and "png" not in options.result_formats():
        # backend: Bakta makes no plot with --skip-plot or in metagenome mode (its main.py).
        why = "--skip-plot" if "plot" in options.skips else "--meta"
        raise InputError(SERVICE, f"{why} makes no {', '.join(sorted(plots))} file")
    samples = _samples(genomes, outdir, jobfile)
    table_type = "TSV"
    if options.replicons is not None:
        # One table for every genome of the run, as if each ran alone: checked against each.
        contigs = {
            path.name: {record.id for record in read_genome(path)} for path in samples.values()
        }
        table_type = read_replicon_table(options.replicons, options.replicon_table_type, contigs)
    else:
        for path in samples.values():
            read_genome(path)

    api: Api
    recorded = _recorded_api(jobfile)
    if recorded == "v1" or (recorded is None and service.v2 is None):
        if v2_only := options.v2_only():
            if recorded == "v1":  # only an edited job file: its fingerprint holds the options
                raise InputError(
                    SERVICE,
                    f"the job file's jobs run on API v1, which cannot run {', '.join(v2_only)};"
                    " remove the job file or use another --job-file",
                )
            service.require_v2(v2_only)
        if recorded is None and service.v2_trouble:
            progress.info(SERVICE, f"API v2 could not be asked ({service.v2_trouble}); using v1")
        progress.info(SERVICE, service.provenance(None))
        api = V1(service.v1, options, table_type)
    else:
        workflow = Workflow(
            options.workflow_kind, "genome_fasta", options.v2_config(), options.v2_uploads()
        )
        replacements = {}
        if options.replicons is not None and table_type == "CSV":
            # v2's init has no table type: send Bakta's tab-separated columns.
            replacements["replicons_table"] = csv_to_tsv(options.replicons)
        api = V2(_v2_for(service, workflow, recorded), workflow, replacements)
        progress.info(SERVICE, service.provenance(workflow))
    batch = _Batch(
        api, samples, outdir, chosen, options.result_formats(), jobfile, waiter, progress,
        resubmit, regions=options.regions,
    )  # fmt: skip
    return batch.run()


@dataclass(frozen=True)
class InputWorkflow:
    """A v2 workflow that takes one file of its own per job and no config."""

    kind: str
    upload: str
    suffixes: tuple[str, ...]  # dropped from the input's name to name the job
    check: Callable[[Path], None]
    formats: tuple[str, ...]
    command: str  # as the user typed it, for messages


INPUT_WORKFLOWS = {
    "bakta_proteins": InputWorkflow(
        "bakta_proteins",
        "protein_fasta",
        (".faa", ".fasta", ".fas", ".fa"),
        check_proteins,
        PROTEIN_FORMATS,
        "bakta proteins",
    ),
    "baktfold": InputWorkflow(
        "baktfold", "bakta_json", (".json",), check_bakta_json, BAKTFOLD_FORMATS, "bakta baktfold"
    ),
}


def run_workflow(
    service: Service,
    kind: str,
    inputs: list[Path],
    outdir: Path,
    *,
    formats: Iterable[str] | None = None,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
    resubmit: int = RESUBMIT,
) -> dict[str, Path]:
    """Protein annotation (`bakta_proteins`, of protein FASTA files) or Baktfold (`baktfold`,
    of earlier Bakta JSON results), one v2 job per input; returns sample -> result folder."""
    spec = INPUT_WORKFLOWS[kind]
    samples = _samples(inputs, outdir, jobfile, spec.suffixes)
    for path in inputs:
        spec.check(path)
    recorded = _recorded_api(jobfile)
    if recorded is None:
        service.require_v2([spec.command])
    workflow = Workflow(kind, spec.upload, {}, formats=spec.formats)
    api = V2(_v2_for(service, workflow, recorded), workflow, {})
    progress.info(SERVICE, service.provenance(workflow))
    chosen = _formats(formats, spec.formats)
    batch = _Batch(
        api, samples, outdir, chosen, spec.formats, jobfile, waiter, progress, resubmit,
        suffixes=spec.suffixes,
    )  # fmt: skip
    return batch.run()


def _recorded_api(jobfile: JobFile) -> str | None:
    """The API the job file's jobs were created with: they are followed over it, even when
    the service has since gained v2 (both APIs serve the same jobs)."""
    apis = {str(record.get("api", "v1")) for record in jobfile.jobs.values()}
    if len(apis) > 1:
        raise InputError(
            SERVICE,
            f"job file {jobfile.path} holds jobs of API {' and '.join(sorted(apis))};"
            " remove it or use another --job-file",
        )
    return next(iter(apis), None)


def _v2_for(service: Service, workflow: Workflow, recorded: str | None) -> BaktaV2Client:
    if recorded == "v1":
        raise InputError(
            SERVICE,
            f"the job file's jobs run on API v1, which cannot run {workflow.kind};"
            " remove the job file or use another --job-file",
        )
    if recorded == "v2" and service.v2 is None:
        raise InputError(
            SERVICE,
            f"the job file's jobs run on API v2, which the service at"
            f" {service.v1.http.base_url} no longer offers; remove the job file or use another"
            " --job-file",
        )
    return service.v2_for(workflow)


def _formats(chosen: Iterable[str] | None, every: tuple[str, ...]) -> tuple[str, ...] | None:
    """None: every file the service gives (plots may be skipped, Baktfold makes none); LOG:
    the job's log besides (not a result file: fetched only when asked for)."""
    chosen = tuple(chosen or ())
    if unknown := set(chosen) - {*every, LOG}:
        raise InputError(SERVICE, f"no such result file here: {', '.join(sorted(unknown))}")
    return chosen or None


def _samples(
    paths: list[Path],
    outdir: Path,
    jobfile: JobFile,
    suffixes: Iterable[str] = GENOME_SUFFIXES,
) -> dict[str, Path]:
    samples: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(SERVICE, f"{path}: no such file")
        name = sample_name(path, suffixes)
        if name in samples:
            raise InputError(SERVICE, f"two inputs would both be named '{name}'")
        samples[name] = path
        if (outdir / name).exists() and not (jobfile.get(name) or {}).get("fetched"):
            raise InputError(SERVICE, f"{outdir / name} already exists; choose another --outdir")
    return samples


class _Batch:
    """One run's remote jobs, one per input, polled together with one status request per
    round; each one's files are fetched as it finishes, while the others run on."""

    def __init__(
        self,
        api: Api,
        samples: dict[str, Path],
        outdir: Path,
        formats: tuple[str, ...] | None,
        expected: tuple[str, ...],
        jobfile: JobFile,
        waiter: Waiter,
        progress: Progress,
        resubmit: int = RESUBMIT,
        *,
        suffixes: tuple[str, ...] = GENOME_SUFFIXES,
        regions: Path | None = None,
    ) -> None:
        self.api, self.samples, self.outdir = api, samples, outdir
        self.want_log = formats is not None and LOG in formats
        self.formats = None if formats is None else tuple(f for f in formats if f != LOG)
        self.expected = expected  # the files the service should make, when formats is None
        # dropped from an input's file name to name its job; the user's regions file (fetch
        # says whether Bakta used it)
        self.suffixes, self.regions = suffixes, regions
        self.jobfile, self.waiter, self.progress = jobfile, waiter, progress
        self.resubmit = resubmit  # times a job that failed inside the service is submitted again
        self.pending: dict[str, str] = {}  # job id -> sample name
        self.failures: dict[str, RemoteJobsError] = {}
        self.ended: set[str] = set()  # samples whose job ended on the service without results
        self.unlisted: set[str] = set()  # jobs started by this run that no job/list showed yet
        self.renewed: set[str] = set()  # samples submitted afresh after a job lost at its start
        self.states: dict[str, str] = {}  # job id -> its state when last polled

    def run(self) -> dict[str, Path]:
        try:
            self.reattach()
            self.submit()
            if self.pending:
                what = f"{len(self.pending)} job(s) still running"
                self.waiter.wait(SERVICE, POLL, self.poll_round, what)
            self.raise_failures()
        except Interrupted as stop:
            self.leave(stop.keeps_remote_jobs(self.jobfile.resumable), until=stop.cleanup_until)
            raise
        except Exception as failure:  # a RemoteJobsError, or an answer shaped unlike the docs
            keep = self.jobfile.resumable and not isinstance(failure, JobFileError)
            left = self.leave(keep, until=time.monotonic() + FAILURE_GRACE)
            if isinstance(failure, OutOfTime):  # which jobs it left, not the request it ended
                raise failure.leaving(left) from None
            raise
        return {name: self.outdir / name for name in self.samples}

    def record(self, name: str) -> dict[str, Any]:
        return self.jobfile.get(name) or {}

    def reattach(self) -> None:
        """What became of the jobs the job file names, asked in one status request.

        A started job is followed on (backend: v1's and v2's job/list list started jobs
        only). One the service lists in neither list was never started (a run stopped
        before, or its job/start got no answer the backend did not act on): it is deleted and
        its genome submitted afresh, so a job is never started twice. One the service no longer
        knows (expired; or initialised, never started, and lost when the service restarted:
        its state of such jobs lives in memory) is forgotten and submitted afresh too; unless
        its files were fetched by an earlier run: then it is fetched again into this --outdir
        while the service still has it.
        """
        looked = {
            name: self.record(name)
            for name in self.samples
            if self.jobfile.get(name) and not self.delivered(name)
        }
        if not looked:
            return
        jobs, failed = self.api.poll([self.api.ref(record) for record in looked.values()])
        states = {job_id: state for job_id, state in jobs}
        gone = {job_id: state for job_id, state in failed}
        for name, record in looked.items():
            job_id = str(record["id"])
            if job_id in states:
                if not record.get("started"):  # its job/start went through after all
                    self.jobfile.put(name, {**record, "started": True})
                again = " to fetch its files again" if record.get("fetched") else ""
                self.progress.info(SERVICE, f"{name}: re-attached to job {job_id}{again}")
                self.pending[job_id] = name
                self.seen(job_id, states[job_id])
            elif gone.get(job_id) == "NOT_FOUND":
                if record.get("fetched"):
                    where = record.get("folder") or "another --outdir"
                    raise RemoteJobError(
                        SERVICE,
                        f"{name}: the files of this job were fetched into {where} by an earlier"
                        " run, and the service no longer has them; use that folder, or remove"
                        " the job file to annotate afresh",
                        job_id,
                    )
                self.jobfile.drop(name)
                self.progress.info(
                    SERVICE,
                    f"{name}: the service no longer knows job {job_id} (expired, or lost in a"
                    " restart of the service); submitting it afresh",
                )
            elif job_id in gone:
                self.ended_on_service(name, job_id, gone[job_id])
            else:
                self.delete_unstarted(name, record)

    def delivered(self, name: str) -> bool:
        """Whether an earlier run fetched the job's files into this run's folder, every one
        still there whole (the size it had when fetched); otherwise they are fetched again."""
        record, folder = self.record(name), self.outdir / name
        if not record.get("fetched") or not folder.is_dir():
            return False
        if "files" not in record:  # a job file of an earlier version: the folder counts
            return True
        files = results_in(record, folder)
        return bool(files) and whole(folder, files)

    def delete_now(self, name: str, record: dict[str, Any]) -> None:
        """Delete one job the run is done with, saying so only when that fails."""
        from ..http import at_once

        until = time.monotonic() + FAILURE_GRACE
        delete = functools.partial(self.api.delete, self.api.ref(record), until=until)
        why = at_once({name: delete}, until)[name]
        if why is not None:
            self.progress.info(SERVICE, f"{name}: could not delete job {record['id']}: {why}")

    def delete_unstarted(self, name: str, record: dict[str, Any]) -> None:
        """A recorded job that was never started goes; its genome is submitted afresh."""
        self.delete_now(name, record)
        self.jobfile.drop(name)
        self.progress.info(
            SERVICE, f"{name}: job {record['id']} was never started; submitting it afresh"
        )

    def submit(self) -> None:
        for name in self.samples:
            if self.jobfile.get(name):
                continue  # re-attached, fetched, or ended
            job_id = self.submit_one(name)
            self.progress.info(SERVICE, f"{name}: submitted as job {job_id}")

    def submit_one(self, name: str, **extra: Any) -> str:
        """A new job for this sample, followed from now on; `extra` goes on its record."""
        # The job is on record (not started) from its init on; started once job/start is
        # answered: a rerun never starts a job twice (see reattach).
        path = self.samples[name]
        record = self.api.submit(name, job_name(path, self.suffixes), path, self.jobfile)
        self.jobfile.put(name, {**record, "started": True, **extra})
        job_id = str(record["id"])
        self.pending[job_id] = name
        self.unlisted.add(job_id)
        return job_id

    def poll_round(self) -> bool:
        refs = [self.api.ref(self.record(name)) for name in self.pending.values()]
        jobs, failed = self.api.poll(refs)
        for job_id, state in jobs:
            if job_id in self.pending:
                self.seen(job_id, state)
        for job_id, state in failed:
            if job_id not in self.pending:
                continue
            name = self.pending.pop(job_id)
            if state == "NOT_FOUND" and job_id in self.unlisted and name not in self.renewed:
                self.lost_at_start(name, job_id)
            else:
                self.ended_on_service(name, job_id, state)
        # backend: a job that is not yet in either list is still starting, not finished.
        return not self.pending

    def lost_at_start(self, name: str, job_id: str) -> None:
        """backend: v1's job/start answers 200 for a job it does not know (one lost in a
        restart of the service between its init and its start): the first job/list after it
        says NOT_FOUND. Submitted afresh once, as a forgotten job is (see reattach)."""
        self.renewed.add(name)
        self.jobfile.drop(name)
        self.progress.info(
            SERVICE,
            f"{name}: the service does not know job {job_id}, whose start it accepted (lost in a"
            " restart of the service between its init and its start); submitting it afresh",
        )
        self.progress.forget(SERVICE, name)
        new_id = self.submit_one(name)
        self.progress.info(SERVICE, f"{name}: submitted as job {new_id}")

    def seen(self, job_id: str, state: str) -> None:
        name = self.pending[job_id]
        self.unlisted.discard(job_id)
        self.states[job_id] = state
        ended = state in SUCCESS or state == "ERROR"
        label = QUEUED if state == "INIT" else "SUCCESSFUL" if state in SUCCESS else state
        self.progress.state(SERVICE, name, label, summary=SUMMARY if ended else None)
        if state in SUCCESS:
            del self.pending[job_id]
            try:
                self.fetch(name, job_id)
            except OutOfTime:  # the run's, not this job's
                raise
            except RemoteJobsError as exc:  # this job's; the others are still delivered
                self.failures[name] = exc
        elif state == "ERROR":
            del self.pending[job_id]
            self.failed(name, job_id)

    def failed(self, name: str, job_id: str) -> None:
        """A job that ended in ERROR: one that failed inside the service, not on its input, is
        submitted again (`resubmit` times at most, counted on its record across reruns)."""
        self.ended.add(name)  # left as it is on the service, unless submitted again
        record = self.record(name)
        failure = self.api.failure(self.api.ref(record))
        done = int(record.get("resubmitted", 0))
        if failure.in_service and done < self.resubmit:
            self.ended.discard(name)
            self.resubmitted(name, job_id, failure, done + 1)
            return
        words = failure.words
        if failure.in_service:
            words += (
                f"; it failed inside the service again after {done} resubmission(s)"
                if done
                else "; submitting it again may help (--resubmit)"
            )
        self.failures[name] = RemoteJobError(SERVICE, words, job_id)

    def resubmitted(self, name: str, job_id: str, failure: Failure, count: int) -> None:
        """Delete the job that failed inside the service and submit its input again; the job
        file follows the new job."""
        self.delete_now(name, self.record(name))
        self.progress.forget(SERVICE, name)
        new_id = self.submit_one(name, resubmitted=count)
        self.progress.info(
            SERVICE,
            f"{name}: job {job_id} failed inside the service, not on its input: {failure.words};"
            f" resubmitted as job {new_id} ({count} of --resubmit {self.resubmit}), job"
            f" {job_id} deleted",
        )

    def ended_on_service(self, name: str, job_id: str, state: str) -> None:
        """The service reports the job as NOT_FOUND or UNAUTHORIZED."""
        self.progress.state(SERVICE, name, state, summary=SUMMARY)
        self.ended.add(name)
        kind = AuthError if state == "UNAUTHORIZED" else RemoteJobError
        self.failures[name] = kind(SERVICE, f"the service reports the job as {state}", job_id)

    def raise_failures(self) -> None:
        if not self.failures:
            return
        first = next(iter(self.failures.values()))
        if len(self.failures) == 1:
            raise first
        summary = "; ".join(f"{name}: {exc.message}" for name, exc in self.failures.items())
        count = f"{len(self.failures)} of {len(self.samples)} jobs failed"
        raise type(first)(SERVICE, f"{count}: {summary}")

    def fetch(self, name: str, job_id: str) -> None:
        """Download the chosen result files; the sample's folder appears only when all are in.

        `formats` None: every file the service lists, unknown ones kept under their key. A file
        the service did not produce (not listed, or listed and answering 404) is named and the
        others fetched; only `json`, which every finished job has, must be there (results.py).
        """
        files = listed = self.api.result_files(self.api.ref(self.record(name)))
        if results.ALWAYS not in files:
            raise RemoteJobError(
                SERVICE,
                f"the service lists no {results.ALWAYS} file, which every finished job has"
                f" (it lists {', '.join(sorted(files)) or 'none'})",
                job_id,
            )
        wanted = self.formats or self.expected
        missing = [suffix for suffix in wanted if suffix not in files]
        if self.formats is not None:
            files = {suffix: file for suffix, file in files.items() if suffix in self.formats}
        for file in files.values():
            if problem := file.problem():
                raise RemoteJobError(SERVICE, problem, job_id)
        log = self.log_of(name, job_id) if self.want_log else None
        ours = {f"{name}/{file}" for file in results_in(self.record(name), self.outdir / name)}
        with staged(self.outdir, SERVICE, ours=ours) as partial:
            folder = partial / name
            folder.mkdir()
            missing += results.fetch_files(self.api.http, files, folder, name, job_id)
            if self.regions is not None:
                used = results.regions_line(
                    self.api.http, listed[results.ALWAYS], folder, name, job_id, self.regions
                )
            if log is not None:
                (folder / f"{name}.{LOG}").write_text(log, encoding="utf-8")
            fetched = sizes(folder)
        if self.regions is not None:
            self.progress.info(SERVICE, used)
        if missing:
            self.progress.info(
                SERVICE,
                f"{name}: the service did not produce {', '.join(missing)}; fetched the rest",
            )
        where = str((self.outdir / name).absolute())
        record = {**self.record(name), "fetched": True, "folder": where, "files": fetched}
        self.jobfile.put(name, record)

    def log_of(self, name: str, job_id: str) -> str | None:
        """The finished job's log (every stage's on v2); None, said in one line, when the
        service gives no logs (an older backend: 404, 501)."""
        text = self.api.log_text(self.api.ref(self.record(name)))
        if text is None:
            self.progress.info(
                SERVICE,
                f"{name}: the service gives no log of job {job_id} (its job/logs is not"
                f" implemented); no {name}.{LOG} file",
            )
        return text

    def leave(self, keep: bool, *, until: float) -> list[str]:
        """Delete the jobs the run leaves unfinished (running, or finished but not fetched),
        all at once, answered by `until` or given up: nobody waits for them any more.

        With `keep`, they stay on record for a rerun with the job file, which finds out what
        became of each (`reattach`). A job that ended on the service without results is left
        as it is. Returns, per job left, its id, its state and what became of it.
        """
        from ..http import at_once

        doomed: dict[str, dict[str, str]] = {}
        left: list[str] = []
        for name in self.samples:
            record = self.record(name)
            if not record or record.get("fetched") or name in self.ended:
                continue
            if keep:
                self.progress.info(
                    SERVICE,
                    f"{name}: job {record['id']} is kept; run again with the same --job-file to"
                    " re-attach",
                )
                where = self.jobfile.path
                left.append(f"{self.described(name)}, kept in {where} for a rerun with it")
                continue
            doomed[name] = self.api.ref(record)
        if not doomed:
            return left
        outcomes = at_once(
            {
                name: functools.partial(self.api.delete, ref, until=until)
                for name, ref in doomed.items()
            },
            until,
        )
        for name, why in outcomes.items():
            job_id = self.record(name).get("id")
            if why is None:
                self.progress.info(SERVICE, f"{name}: deleted job {job_id}")
            else:
                self.progress.info(SERVICE, f"{name}: could not delete job {job_id}: {why}")
            fate = "deleted" if why is None else f"not deleted ({why})"
            left.append(f"{self.described(name)}, {fate}")
        # A job file that could not be written before cannot be now: the run says so already.
        with contextlib.suppress(JobFileError):
            self.jobfile.drop(*(name for name, why in outcomes.items() if why is None))
        return left

    def described(self, name: str) -> str:
        """A job the run leaves: its id, its sample and its state when last polled."""
        record = self.record(name)
        job_id = str(record.get("id"))
        state = self.states.get(job_id)
        if not record.get("started"):
            state = "never started"
        elif state in SUCCESS:
            state = f"{state}, its files not fetched"
        elif state is None:
            state = "still running"  # not yet polled
        else:
            state = f"still {state}"
        return f"job {job_id} ({name}) {state}"
