"""The flow of a Bakta run, on API v1 or v2: init (per input) -> PUT the presigned upload
links -> start with a config -> poll all jobs with ONE job/list request per round -> fetch each
finished job's result files while the others keep running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthError, InputError, Interrupted, RemoteJobError, RemoteJobsError
from ..fasta import read_fasta
from ..files import staged
from ..jobfile import JobFile
from ..polling import PollPolicy, Progress, Waiter
from .api import SUCCESS, Api, Workflow
from .options import (
    BAKTFOLD_FORMATS,
    FORMATS,
    PROTEIN_FORMATS,
    SERVICE,
    AnnotationOptions,
    check_bakta_json,
    check_options,
    check_proteins,
    csv_to_tsv,
    read_replicon_table,
    sample_name,
)
from .service import Service
from .v1 import V1
from .v2 import V2, BaktaV2Client

# backend: job states are refreshed from the workflow engine only every ~15 s.
POLL = PollPolicy(initial=15.0, maximum=60.0)


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
) -> dict[str, Path]:
    """Annotate each genome as its own remote job; returns sample name -> result folder.

    Uses v2 when the service has it; on a v1-only service, options only v2 runs stop the run
    before anything is created or uploaded.
    """
    check_options(options)
    chosen = _formats(formats, FORMATS)
    if "plot" in options.skips and chosen and (plots := {"png", "svg"} & set(chosen)):
        raise InputError(SERVICE, f"--skip-plot makes no {', '.join(sorted(plots))} file")
    samples = _samples(genomes, outdir, jobfile)
    known_ids: set[str] = set()
    for genome in genomes:
        known_ids.update(record.id for record in read_fasta(genome, service=SERVICE))
    table_type = "TSV"
    if options.replicons is not None:
        table_type = read_replicon_table(options.replicons, options.replicon_table_type, known_ids)

    api: Api
    if service.v2 is None:
        if v2_only := options.v2_only():
            service.require_v2(v2_only)
        _provenance(service, None, progress)
        api = V1(service.v1, options, table_type)
    else:
        workflow = Workflow(
            options.workflow_kind, "genome_fasta", options.v2_config(), options.v2_uploads()
        )
        replacements = {}
        if options.replicons is not None and table_type == "CSV":
            # v2's init has no table type: send Bakta's tab-separated columns.
            replacements["replicons_table"] = csv_to_tsv(options.replicons)
        api = V2(_v2_for(service, workflow), workflow, replacements)
        _provenance(service, workflow, progress)
    return _run(api, samples, outdir, chosen, jobfile, waiter, progress)


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
) -> dict[str, Path]:
    """Protein annotation (`bakta_proteins`, of protein FASTA files) or Baktfold (`baktfold`,
    of earlier Bakta JSON results), one v2 job per input; returns sample -> result folder."""
    spec = INPUT_WORKFLOWS[kind]
    samples = _samples(inputs, outdir, jobfile, spec.suffixes)
    for path in inputs:
        spec.check(path)
    service.require_v2([spec.command])
    workflow = Workflow(kind, spec.upload, {}, formats=spec.formats)
    api = V2(_v2_for(service, workflow), workflow, {})
    _provenance(service, workflow, progress)
    return _run(api, samples, outdir, _formats(formats, spec.formats), jobfile, waiter, progress)


def _formats(chosen: Iterable[str] | None, every: tuple[str, ...]) -> tuple[str, ...] | None:
    """None: every file the service gives (plots may be skipped, Baktfold makes none)."""
    chosen = tuple(chosen or ())
    if unknown := set(chosen) - set(every):
        raise InputError(SERVICE, f"no such result file here: {', '.join(sorted(unknown))}")
    return chosen or None


def _samples(
    paths: list[Path],
    outdir: Path,
    jobfile: JobFile,
    suffixes: Iterable[str] = (".fasta", ".fna", ".fas", ".fa", ".fsa", ".dat"),
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


def _v2_for(service: Service, workflow: Workflow) -> BaktaV2Client:
    """The v2 client, once the service's /workflows says it runs this workflow so."""
    client = service.require_v2([workflow.kind])
    offered = service.workflows.get(workflow.kind)
    if offered is None:
        raise InputError(
            SERVICE,
            f"the service does not offer the {workflow.kind} workflow"
            f" (it offers {', '.join(sorted(service.workflows)) or 'none'})",
        )
    kinds = {str(u.get("upload_kind")) for u in offered.get("uploads", []) if isinstance(u, dict)}
    wanted = {workflow.main_upload, *workflow.uploads}
    if unknown := sorted(wanted - kinds):
        raise InputError(
            SERVICE, f"the service's {workflow.kind} workflow takes no {', '.join(unknown)}"
        )
    required = {
        str(u.get("upload_kind"))
        for u in offered.get("uploads", [])
        if isinstance(u, dict) and u.get("required")
    }
    if missing := sorted(required - wanted):
        raise InputError(
            SERVICE, f"the service's {workflow.kind} workflow also requires {', '.join(missing)}"
        )
    return client


def _provenance(service: Service, workflow: Workflow | None, progress: Progress) -> None:
    """The versions that will make the results, on stderr (README: provenance lines)."""
    if workflow is None or service.v2 is None:
        version = service.v1.version()
        progress.info(
            SERVICE,
            f"Bakta {version.get('toolVersion', '?')}, database {version.get('dbVersion', '?')},"
            f" backend {version.get('backendVersion', '?')} at {service.v1.http.base_url}",
        )
        return
    version = service.v2.version()
    stages = service.workflows.get(workflow.kind, {}).get("stages") or [workflow.kind]
    parts = []
    if any(stage.startswith("bakta") for stage in stages):
        parts.append(
            f"Bakta {version.get('bakta_version', '?')},"
            f" database {version.get('bakta_db_version', '?')}"
        )
    if "baktfold" in stages:
        parts.append(
            f"Baktfold {version.get('baktfold_version', '?')},"
            f" database {version.get('baktfold_db_version', '?')}"
        )
    progress.info(
        SERVICE,
        f"{', '.join(parts)}, backend {version.get('backend_version', '?')}"
        f" at {service.v2.http.base_url} ({workflow.kind})",
    )


def _run(
    api: Api,
    samples: dict[str, Path],
    outdir: Path,
    formats: tuple[str, ...] | None,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> dict[str, Path]:
    for name in samples:
        record = jobfile.get(name)
        if record and record.get("api", "v1") != api.label:
            raise InputError(
                SERVICE,
                f"{name}: the job file's job runs on API {record.get('api', 'v1')}, but this"
                f" run uses API {api.label}; remove the job file or use another --job-file",
            )
    try:
        return _submit_and_collect(api, samples, outdir, formats, jobfile, waiter, progress)
    except Interrupted as stop:
        keep = stop.keeps_remote_jobs(jobfile.resumable)
        _stop_remote_jobs(api, samples, jobfile, progress, keep_started=keep)
        raise


def _submit_and_collect(
    api: Api,
    samples: dict[str, Path],
    outdir: Path,
    formats: tuple[str, ...] | None,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> dict[str, Path]:
    pending: dict[str, str] = {}  # job id -> sample name
    for name, path in samples.items():
        record = jobfile.get(name)
        if record and record.get("fetched"):
            continue
        if record and record.get("started"):
            progress.info(SERVICE, f"{name}: re-attached to job {record['id']}")
        else:
            record = api.submit(name, path, jobfile)
            record["started"] = True
            jobfile.put(name, record)
            progress.info(SERVICE, f"{name}: submitted as job {record['id']}")
        pending[record["id"]] = name

    failures: dict[str, RemoteJobsError] = {}

    def ref(name: str) -> dict[str, str]:
        return api.ref(jobfile.get(name) or {})

    def poll_round() -> bool:
        jobs, failed = api.poll([ref(pending[job_id]) for job_id in pending])
        for job_id, state in jobs:
            if job_id not in pending:
                continue
            name = pending[job_id]
            progress.state(SERVICE, name, "SUCCESSFUL" if state in SUCCESS else state)
            if state in SUCCESS:
                del pending[job_id]
                try:
                    _fetch(api, name, ref(name), job_id, outdir, formats)
                    jobfile.put(name, {**(jobfile.get(name) or {}), "fetched": True})
                except RemoteJobsError as exc:
                    failures[name] = exc
            elif state == "ERROR":
                del pending[job_id]
                failures[name] = RemoteJobError(SERVICE, api.failure_words(ref(name)), job_id)
        for job_id, state in failed:
            if job_id in pending:
                name = pending.pop(job_id)
                progress.state(SERVICE, name, state)
                kind = AuthError if state == "UNAUTHORIZED" else RemoteJobError
                failures[name] = kind(SERVICE, f"the service reports the job as {state}", job_id)
        # backend: a job that is not yet in either list is still starting, not finished.
        return not pending

    if pending:
        waiter.wait(SERVICE, POLL, poll_round, f"{len(pending)} job(s) still running")
    if failures:
        first = next(iter(failures.values()))
        if len(failures) == 1:
            raise first
        summary = "; ".join(f"{name}: {exc.message}" for name, exc in failures.items())
        raise type(first)(SERVICE, f"{len(failures)} of {len(samples)} jobs failed: {summary}")
    return {name: outdir / name for name in samples}


def _stop_remote_jobs(
    api: Api,
    samples: dict[str, Path],
    jobfile: JobFile,
    progress: Progress,
    *,
    keep_started: bool,
) -> None:
    """Delete the run's unfinished jobs: nobody is waiting for them any more.

    With `keep_started`, started jobs stay for a later run to re-attach to; a job whose
    uploads were cut short goes anyway, since a new run starts that one afresh.
    """
    for name in samples:
        record = jobfile.get(name)
        if not record or record.get("fetched"):
            continue
        job_id = record["id"]
        if keep_started and record.get("started"):
            progress.info(
                SERVICE,
                f"{name}: job {job_id} is kept; run again with the same --job-file to re-attach",
            )
            continue
        try:
            api.delete(api.ref(record))
        except RemoteJobsError as exc:
            progress.info(SERVICE, f"{name}: could not delete job {job_id}: {exc.message}")
            continue
        jobfile.drop(name)
        progress.info(SERVICE, f"{name}: deleted job {job_id}")


def _fetch(
    api: Api,
    name: str,
    ref: dict[str, str],
    job_id: str,
    outdir: Path,
    formats: tuple[str, ...] | None,
) -> Path:
    """Download the chosen result files; the sample's folder appears only when all are in.

    `formats` None: every file the service lists, unknown ones kept under their key.
    """
    links = api.result_links(ref)
    if formats is not None:
        if missing := set(formats) - set(links):
            raise RemoteJobError(
                SERVICE, f"the service returned no {', '.join(sorted(missing))} file", job_id
            )
        links = {suffix: url for suffix, url in links.items() if suffix in formats}
    with staged(outdir) as partial:
        folder = partial / name
        folder.mkdir()
        for suffix, url in links.items():
            api.http.download(url, folder / f"{name}.{suffix}", job=job_id)
    return outdir / name
