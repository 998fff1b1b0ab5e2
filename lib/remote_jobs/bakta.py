"""Bakta web API (v1): the whole flow of an annotation job, in one file.

init (per genome) -> PUT the three presigned upload links -> start with a config ->
poll all jobs with ONE job/list request per round -> fetch each finished job's result
files while the others keep running. See ../shared/notes/bakta-backend.md for the
backend facts encoded here (marked "backend:").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    InputError,
    Interrupted,
    NetworkError,
    RemoteJobError,
    RemoteJobsError,
)
from .fasta import read_fasta
from .files import staged
from .jobfile import JobFile
from .polling import PollPolicy, Progress, Waiter

if TYPE_CHECKING:  # requests is slow to import: only commands that talk to a service load it
    from .http import HttpClient

SERVICE = "bakta"
DEFAULT_URL = "https://api.bakta.computational.bio/api/v1"
# backend: job states are refreshed from the workflow engine only every ~15 s.
POLL = PollPolicy(initial=15.0, maximum=60.0)

# API result key -> the file suffix the Bakta command line uses for the same file.
RESULT_FILES = {
    "GFF3": "gff3",
    "GBFF": "gbff",
    "EMBL": "embl",
    "FNA": "fna",
    "FFN": "ffn",
    "FAA": "faa",
    "TSV": "tsv",
    "TSVHypothetical": "hypotheticals.tsv",
    "FAAHypothetical": "hypotheticals.faa",
    "TSVInference": "inference.tsv",
    "TXTLogs": "txt",
    "JSON": "json",
    "PNGCircularPlot": "png",
    "SVGCircularPlot": "svg",
}
FORMATS = tuple(RESULT_FILES.values())
DERM_TYPES = {"unknown": "UNKNOWN", "monoderm": "MONODERM", "diderm": "DIDERM"}
TRANSLATION_TABLES = (11, 4)
SUCCESS = frozenset({"SUCCESSFUL", "SUCCESSFULL"})  # backend: the old spelling still occurs
REPLICON_TYPES = frozenset({"chromosome", "plasmid", "contig", "c", "p"})
TOPOLOGIES = frozenset({"circular", "linear", "c", "l"})


@dataclass
class AnnotationOptions:
    """Everything the start request's config accepts, with the Bakta CLI's defaults."""

    translation_table: int = 11
    complete: bool = False
    compliant: bool = False
    keep_contig_headers: bool = False
    min_contig_length: int = 1
    derm_type: str = "unknown"
    genus: str | None = None
    species: str | None = None
    strain: str | None = None
    plasmid: str | None = None
    locus: str | None = None
    locus_tag: str | None = None
    prodigal_tf: Path | None = None
    replicons: Path | None = None
    replicon_table_type: str | None = None  # "TSV" or "CSV"; detected when None

    def config(self) -> dict[str, Any]:
        """The start request's config; every field the backend requires is always sent."""
        return {
            "translationTable": self.translation_table,
            "completeGenome": self.complete,
            "compliant": self.compliant,
            "keepContigHeaders": self.keep_contig_headers,
            "minContigLength": self.min_contig_length,  # backend: an integer, not a string
            "dermType": DERM_TYPES[self.derm_type],
            # backend: hasReplicons defaults to TRUE and then fails on the empty table.
            "hasReplicons": self.replicons is not None,
            # backend: any non-null value means "use the uploaded training file".
            "prodigalTrainingFile": self.prodigal_tf.name if self.prodigal_tf else None,
            "genus": self.genus,
            "species": self.species,
            "strain": self.strain,
            "plasmid": self.plasmid,
            "locus": self.locus,
            "locusTag": self.locus_tag,
        }


def sample_name(path: Path) -> str:
    """The job name, as the service itself sanitises it (it names the result files)."""
    stem = path.name
    for suffix in (".fasta", ".fna", ".fas", ".fa", ".fsa", ".dat"):
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    return re.sub(r"[^0-9a-zA-Z_.]", "_", stem)[:63]


def check_options(options: AnnotationOptions) -> None:
    if options.translation_table not in TRANSLATION_TABLES:
        raise InputError(SERVICE, "the v1 API runs translation table 11 or 4 only")
    if options.derm_type not in DERM_TYPES:
        raise InputError(SERVICE, f"unknown derm type {options.derm_type!r}")
    if options.min_contig_length < 1:
        raise InputError(SERVICE, "--min-contig-length must be at least 1")
    for label, text in (
        ("genus", options.genus),
        ("species", options.species),
        ("strain", options.strain),
        ("plasmid", options.plasmid),
        ("locus", options.locus),
        ("locus tag", options.locus_tag),
    ):
        if text is not None and ("'" in text or not text.strip()):
            raise InputError(SERVICE, f"the {label} must be non-empty and contain no quote")
    tf = options.prodigal_tf
    if tf is not None and (not tf.is_file() or tf.stat().st_size == 0):
        raise InputError(SERVICE, f"prodigal training file {options.prodigal_tf} is empty")


def read_replicon_table(path: Path, table_type: str | None, known_ids: set[str]) -> str:
    """Validate a replicon table (Bakta's columns) and return its type, TSV or CSV."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(SERVICE, f"cannot read replicon table {path}: {exc}") from None
    rows = [line for line in lines if not line.startswith("#")]
    if not rows:
        raise InputError(SERVICE, f"replicon table {path.name} is empty")
    if table_type is None:
        table_type = "TSV" if "\t" in rows[0] else "CSV" if "," in rows[0] else ""
        if not table_type:
            raise InputError(SERVICE, f"replicon table {path.name}: neither tabs nor commas")
    table_type = table_type.upper()
    if table_type not in ("TSV", "CSV"):
        raise InputError(SERVICE, f"replicon table type must be TSV or CSV, not {table_type}")
    separator = "\t" if table_type == "TSV" else ","
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row.split(separator)]
        where = f"replicon table {path.name}, row {number}"
        if len(cells) != 5:
            raise InputError(
                SERVICE,
                f"{where}: {len(cells)} columns, expected 5 "
                "(original id, new id, type, topology, name) separated by "
                + ("tabs" if table_type == "TSV" else "commas"),
            )
        original, _, kind, topology, _ = cells
        if original not in known_ids:
            raise InputError(SERVICE, f"{where}: no sequence '{original}' in the genome")
        if kind.lower() not in REPLICON_TYPES:
            raise InputError(SERVICE, f"{where}: type '{kind}' is not chromosome/plasmid/contig")
        if topology.lower() not in TOPOLOGIES:
            raise InputError(SERVICE, f"{where}: topology '{topology}' is not circular/linear")
    return table_type


class BaktaClient:
    """The Bakta v1 endpoints, one method each."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def version(self) -> dict[str, str]:
        return dict(self.http.json("GET", "/version"))

    def init(self, name: str, replicon_table_type: str) -> dict[str, Any]:
        body = {"name": name, "repliconTableType": replicon_table_type}
        answer = self.http.json("POST", "/job/init", json=body)  # not idempotent: no retry
        if not isinstance(answer, dict) or "job" not in answer:
            raise NetworkError(SERVICE, f"unexpected answer to job/init: {str(answer)[:200]}")
        return dict(answer)

    def start(self, job: dict[str, str], config: dict[str, Any]) -> None:
        self.http.request(
            "POST", "/job/start", job=job["jobID"], json={"job": job, "config": config}
        )

    def list(self, jobs: Iterable[dict[str, str]]) -> dict[str, Any]:
        return dict(self.http.json("POST", "/job/list", json={"jobs": list(jobs)}, idempotent=True))

    def result(self, job: dict[str, str]) -> dict[str, Any]:
        return dict(
            self.http.json("POST", "/job/result", job=job["jobID"], json=job, idempotent=True)
        )

    def logs(self, job: dict[str, str]) -> str:
        params = {"jobID": job["jobID"], "secret": job["secret"]}
        return self.http.request("GET", "/job/logs", job=job["jobID"], params=params).text

    def delete(self, job: dict[str, str]) -> None:
        """Stop the job's workflow and forget it; only a stopped run sends this.

        backend: `DELETE /api/v1/job/delete?jobID=&secret=` (src/v1/api_paths.rs; not in the
        API docs): 200 also for an unknown job, 400 "Unauthorized" for a wrong secret.
        """
        params = {"jobID": job["jobID"], "secret": job["secret"]}
        self.http.request(
            "DELETE", "/job/delete", job=job["jobID"], params=params, before_exit=True
        )


def _failure_words(client: BaktaClient, job: dict[str, str]) -> str:
    """The last meaningful line of the job's log, or a plain statement."""
    try:
        lines = [line.strip() for line in client.logs(job).splitlines() if line.strip()]
    except RemoteJobsError:
        lines = []
    return f"job ended in ERROR: {lines[-1]}" if lines else "job ended in ERROR"


def annotate(
    client: BaktaClient,
    genomes: list[Path],
    options: AnnotationOptions,
    outdir: Path,
    *,
    formats: Iterable[str] = FORMATS,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> dict[str, Path]:
    """Annotate each genome as its own remote job; returns sample name -> result folder."""
    formats = tuple(formats)
    check_options(options)
    samples: dict[str, Path] = {}
    known_ids: set[str] = set()
    for genome in genomes:
        name = sample_name(genome)
        if name in samples:
            raise InputError(SERVICE, f"two genomes would both be named '{name}'")
        known_ids.update(record.id for record in read_fasta(genome, service=SERVICE))
        samples[name] = genome
        if (outdir / name).exists() and not (jobfile.get(name) or {}).get("fetched"):
            raise InputError(SERVICE, f"{outdir / name} already exists; choose another --outdir")
    table_type = "TSV"
    if options.replicons is not None:
        table_type = read_replicon_table(options.replicons, options.replicon_table_type, known_ids)

    version = client.version()
    progress.info(
        SERVICE,
        f"Bakta {version.get('toolVersion', '?')}, database {version.get('dbVersion', '?')},"
        f" backend {version.get('backendVersion', '?')} at {client.http.base_url}",
    )

    try:
        return _submit_and_collect(
            client, samples, options, outdir, formats, table_type, jobfile, waiter, progress
        )
    except Interrupted as stop:
        keep = stop.keeps_remote_jobs(jobfile.resumable)
        _stop_remote_jobs(client, samples, jobfile, progress, keep_started=keep)
        raise


def _submit_and_collect(
    client: BaktaClient,
    samples: dict[str, Path],
    options: AnnotationOptions,
    outdir: Path,
    formats: tuple[str, ...],
    table_type: str,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> dict[str, Path]:
    pending: dict[str, str] = {}  # jobID -> sample name
    for name, genome in samples.items():
        record = jobfile.get(name)
        if record and record.get("fetched"):
            continue
        if record and record.get("started"):
            progress.info(SERVICE, f"{name}: re-attached to job {record['id']}")
        else:
            record = _submit(client, name, genome, options, table_type, jobfile)
            progress.info(SERVICE, f"{name}: submitted as job {record['id']}")
        pending[record["id"]] = name

    failures: dict[str, RemoteJobsError] = {}

    def poll_round() -> bool:
        jobs = [_job(jobfile, pending[job_id]) for job_id in pending]
        answer = client.list(jobs)
        for entry in answer.get("jobs", []):
            job_id, state = entry.get("jobID"), str(entry.get("jobStatus"))
            if job_id not in pending:
                continue
            name = pending[job_id]
            progress.state(SERVICE, name, "SUCCESSFUL" if state in SUCCESS else state)
            if state in SUCCESS:
                del pending[job_id]
                try:
                    _fetch(client, name, _job(jobfile, name), outdir, formats)
                    jobfile.put(name, {**(jobfile.get(name) or {}), "fetched": True})
                except RemoteJobsError as exc:
                    failures[name] = exc
            elif state == "ERROR":
                del pending[job_id]
                failures[name] = RemoteJobError(
                    SERVICE, _failure_words(client, _job(jobfile, name)), job_id
                )
        for entry in answer.get("failedJobs", []):
            job_id = entry.get("jobID")
            if job_id in pending:
                name = pending.pop(job_id)
                state = str(entry.get("jobStatus"))
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
    client: BaktaClient,
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
            client.delete(_job(jobfile, name))
        except RemoteJobsError as exc:
            progress.info(SERVICE, f"{name}: could not delete job {job_id}: {exc.message}")
            continue
        jobfile.drop(name)
        progress.info(SERVICE, f"{name}: deleted job {job_id}")


def _job(jobfile: JobFile, name: str) -> dict[str, str]:
    record = jobfile.get(name) or {}
    return {"jobID": record["id"], "secret": record["secret"]}


def _submit(
    client: BaktaClient,
    name: str,
    genome: Path,
    options: AnnotationOptions,
    table_type: str,
    jobfile: JobFile,
) -> dict[str, Any]:
    answer = client.init(name, table_type)
    job = answer["job"]
    record = {"id": job["jobID"], "secret": job["secret"], "started": False}
    jobfile.put(name, record)  # before anything else: a crash now still leaves a trace
    # Bakta's docs: all three links must be PUT, unused ones with an empty body.
    client.http.upload(answer["uploadLinkFasta"], genome, job=job["jobID"])
    client.http.upload(answer["uploadLinkProdigal"], options.prodigal_tf, job=job["jobID"])
    client.http.upload(answer["uploadLinkReplicons"], options.replicons, job=job["jobID"])
    client.start(job, options.config())
    record["started"] = True
    jobfile.put(name, record)
    return record


def _fetch(
    client: BaktaClient, name: str, job: dict[str, str], outdir: Path, formats: tuple[str, ...]
) -> Path:
    """Download the chosen result files; the sample's folder appears only when all are in."""
    links: dict[str, str] = client.result(job).get("ResultFiles") or {}
    wanted = {key: RESULT_FILES.get(key, key) for key in links}
    missing = set(formats) - set(wanted.values())
    if missing:
        raise RemoteJobError(
            SERVICE, f"the service returned no {', '.join(sorted(missing))} file", job["jobID"]
        )
    everything = set(formats) >= set(FORMATS)  # unknown keys are kept only when all are wanted
    with staged(outdir) as partial:
        folder = partial / name
        folder.mkdir()
        for key, suffix in wanted.items():
            if suffix in formats or (everything and key not in RESULT_FILES):
                client.http.download(links[key], folder / f"{name}.{suffix}", job=job["jobID"])
    return outdir / name
