"""Bakta web API, v1 and v2: the whole flow of a remote Bakta job, in one file.

init (per input) -> PUT the presigned upload links -> start with a config -> poll all jobs
with ONE job/list request per round -> fetch each finished job's result files while the
others keep running. v2 (`/api/v2` beside `BAKTA_API_URL`'s `/api/v1`) adds workflows
(protein annotation, Baktfold) and options v1 cannot run; the runner asks the service
whether it has v2 (`GET /api/v2/workflows`) and uses it when it is there. See
../shared/notes/bakta-backend.md and bakta-v2.md for the backend facts encoded here
(marked "backend:").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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

# v1 API result key -> the file suffix the Bakta command line uses for the same file.
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
# v2 API `result.files` key -> the same suffixes (Bakta's and Baktfold's command lines agree).
V2_RESULT_FILES = {
    "gff3": "gff3",
    "gbff": "gbff",
    "embl": "embl",
    "fna": "fna",
    "ffn": "ffn",
    "faa": "faa",
    "tsv": "tsv",
    "hypotheticals_tsv": "hypotheticals.tsv",
    "hypotheticals_faa": "hypotheticals.faa",
    "inference_tsv": "inference.tsv",
    "logs_txt": "txt",
    "json": "json",
    "circular_plot_png": "png",
    "circular_plot_svg": "svg",
}
FORMATS = tuple(RESULT_FILES.values())  # a genome annotation (workflows bakta, bakta_baktfold)
PROTEIN_FORMATS = ("tsv", "faa", "hypotheticals.tsv", "json")  # bakta_proteins
BAKTFOLD_FORMATS = tuple(f for f in FORMATS if f not in ("png", "svg"))  # baktfold: no plots
DERM_TYPES = {"unknown": "UNKNOWN", "monoderm": "MONODERM", "diderm": "DIDERM"}
TRANSLATION_TABLES = (11, 4, 25)  # v2
LOCUS_TAG_INCREMENTS = (1, 5, 10)  # v2
# Bakta's --skip-* options, in its own order; v2 config fields are skip_<name>.
SKIPS = (
    "trna",
    "tmrna",
    "rrna",
    "ncrna",
    "ncrna_region",
    "crispr",
    "cds",
    "pseudo",
    "sorf",
    "gap",
    "ori",
    "filter",
    "plot",
)
V2_VERSION_KEYS = (
    "backend_version",
    "bakta_version",
    "bakta_db_version",
    "baktfold_version",
    "baktfold_db_version",
)
SUCCESS = frozenset({"SUCCESSFUL", "SUCCESSFULL"})  # backend: the old spelling still occurs
REPLICON_TYPES = frozenset({"chromosome", "plasmid", "contig", "c", "p"})
TOPOLOGIES = frozenset({"circular", "linear", "c", "l"})
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWYBZXJUO*")
NUCLEOTIDE_LETTERS = frozenset("ACGTUN")


@dataclass(frozen=True)
class AnnotationOptions:
    """Every option of a genome annotation, with the Bakta command line's defaults.

    The CLI builds it; `v1_config` and `v2_config` turn it into each API's start config.
    """

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
    # v2 only
    meta: bool = False
    skips: tuple[str, ...] = ()
    locus_tag_increment: int = 1
    proteins: Path | None = None  # trusted proteins
    hmms: Path | None = None
    regions: Path | None = None
    baktfold: bool = False

    @property
    def workflow_kind(self) -> str:
        return "bakta_baktfold" if self.baktfold else "bakta"

    def v2_only(self) -> list[str]:
        """The options set here that the v1 API cannot run, spelled as on the command line."""
        wanted = [
            ("--translation-table 25", self.translation_table == 25),
            ("--meta", self.meta),
            *((f"--skip-{name.replace('_', '-')}", True) for name in self.skips),
            (f"--locus-tag-increment {self.locus_tag_increment}", self.locus_tag_increment != 1),
            ("--proteins", self.proteins is not None),
            ("--hmms", self.hmms is not None),
            ("--regions", self.regions is not None),
            ("--baktfold", self.baktfold),
        ]
        return [option for option, used in wanted if used]

    def v1_config(self) -> dict[str, Any]:
        """The v1 start request's config; every field the backend requires is always sent."""
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

    def v2_uploads(self) -> dict[str, Path]:
        """The optional files of the v2 `bakta` workflow, by upload kind."""
        files = {
            "prodigal_training_file": self.prodigal_tf,
            "replicons_table": self.replicons,
            "regions_file": self.regions,
            "trusted_proteins_file": self.proteins,
            "hmms_file": self.hmms,
        }
        return {kind: path for kind, path in files.items() if path is not None}

    def v2_config(self) -> dict[str, Any]:
        """The v2 Bakta config (snake_case). Texts that are not set are left out."""
        config: dict[str, Any] = {
            # backend: a use_* flag makes Bakta read that upload: true only when it was sent.
            "use_prodigal_training_file": self.prodigal_tf is not None,
            "use_replicons": self.replicons is not None,
            "use_regions": self.regions is not None,
            "use_trusted_proteins": self.proteins is not None,
            "use_hmms": self.hmms is not None,
            "translation_table": self.translation_table,
            "complete_genome": self.complete,
            "keep_contig_headers": self.keep_contig_headers,
            "compliant": self.compliant,
            "meta": self.meta,
            "min_contig_length": self.min_contig_length,
            "derm_type": self.derm_type,  # backend: lower case in v2
            "locus_tag_increment": self.locus_tag_increment,
        }
        for name, text in (
            ("genus", self.genus),
            ("species", self.species),
            ("strain", self.strain),
            ("plasmid", self.plasmid),
            ("locus", self.locus),
            ("locus_tag", self.locus_tag),
        ):
            if text is not None:
                config[name] = text
        for name in SKIPS:
            config[f"skip_{name}"] = name in self.skips
        return config


def sample_name(
    path: Path, suffixes: Iterable[str] = (".fasta", ".fna", ".fas", ".fa", ".fsa", ".dat")
) -> str:
    """The job name, as the service itself sanitises it (it names the result files).

    Leading dots are dropped too: the name becomes a folder and file prefix here.
    """
    stem = path.name
    for suffix in suffixes:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    name = re.sub(r"[^0-9a-zA-Z_.]", "_", stem)[:63].lstrip(".")
    if not name:
        raise InputError(SERVICE, f"cannot name a job after the file name {path.name!r}")
    return name


def check_options(options: AnnotationOptions) -> None:
    if options.translation_table not in TRANSLATION_TABLES:
        raise InputError(SERVICE, "the translation table must be 11, 4 or 25")
    if options.locus_tag_increment not in LOCUS_TAG_INCREMENTS:
        raise InputError(SERVICE, "the locus tag increment must be 1, 5 or 10")
    if unknown := set(options.skips) - set(SKIPS):
        raise InputError(SERVICE, f"unknown step to skip: {', '.join(sorted(unknown))}")
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
    if options.proteins is not None:
        _check_start(options.proteins, "trusted proteins", (">", "LOCUS"), "FASTA or GenBank")
    if options.hmms is not None:
        _check_start(options.hmms, "HMM file", ("HMMER3",), "HMMER3 text (hmmpress input)")
    if options.regions is not None:
        _check_start(
            options.regions, "regions file", ("##gff-version 3", "LOCUS"), "GFF3 or GenBank"
        )


def _check_start(path: Path, label: str, starts: tuple[str, ...], kind: str) -> None:
    """A cheap look at the first line: a wrong file fails here, not after the queue."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace").lstrip()
    except OSError as exc:
        raise InputError(SERVICE, f"cannot read {label} {path}: {exc.strerror}") from None
    if not head:
        raise InputError(SERVICE, f"{label} {path.name} is empty")
    if not head.startswith(starts):
        raise InputError(SERVICE, f"{label} {path.name} is not {kind}")


def check_proteins(path: Path) -> None:
    """A protein FASTA for bakta_proteins: amino acids, not nucleotides."""
    records = read_fasta(path, service=SERVICE, alphabet=PROTEIN_LETTERS, keep_sequences=True)
    for record in records:
        if not set(record.sequence) - NUCLEOTIDE_LETTERS:
            raise InputError(
                SERVICE, f"{path.name}: '{record.id}' looks like nucleotides; proteins are needed"
            )


def check_bakta_json(path: Path) -> None:
    """Baktfold reads an earlier Bakta run's JSON result: its features and sequences."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(SERVICE, f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(SERVICE, f"{path.name} is not JSON: {exc}") from None
    if not (
        isinstance(document, dict)
        and isinstance(document.get("features"), list)
        and isinstance(document.get("sequences"), list)
        and isinstance(document.get("version"), dict)
    ):
        raise InputError(
            SERVICE, f"{path.name} is not a Bakta JSON result (no features, sequences, version)"
        )


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


class _Endpoints:
    """What v1 and v2 share: the version, and job/list, job/result and job/delete, which
    differ only in how the job id is spelt."""

    api: str
    id_key: str  # "jobID" (v1) or "job_id" (v2)

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def version(self) -> dict[str, str]:
        return dict(self.http.json("GET", "/version"))

    def list(self, jobs: Iterable[dict[str, str]]) -> dict[str, Any]:
        return dict(self.http.json("POST", "/job/list", json={"jobs": list(jobs)}, idempotent=True))

    def result(self, job: dict[str, str]) -> dict[str, Any]:
        return dict(
            self.http.json("POST", "/job/result", job=job[self.id_key], json=job, idempotent=True)
        )

    def delete(self, job: dict[str, str]) -> None:
        """Stop the job's workflow and forget it; only a stopped run sends this.

        backend: `DELETE /api/v1/job/delete?jobID=&secret=` (src/v1/api_paths.rs; not in the
        API docs): 200 also for an unknown job, 400 "Unauthorized" for a wrong secret; v2 the
        same with `job_id`.
        """
        job_id = job[self.id_key]
        params = {self.id_key: job_id, "secret": job["secret"]}
        self.http.request("DELETE", "/job/delete", job=job_id, params=params, before_exit=True)


class BaktaClient(_Endpoints):
    """The Bakta v1 endpoints, one method each."""

    api = "v1"
    id_key = "jobID"

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

    def logs(self, job: dict[str, str]) -> str:
        params = {"jobID": job["jobID"], "secret": job["secret"]}
        return self.http.request("GET", "/job/logs", job=job["jobID"], params=params).text


def v2_url(v1_url: str) -> str:
    """Where v2 lives beside BAKTA_API_URL: the same host, `/api/v2` for `/api/v1`."""
    base = v1_url.rstrip("/")
    if base.endswith("/api/v1"):
        return base[: -len("/v1")] + "/v2"
    scheme, _, rest = base.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/api/v2"


class BaktaV2Client(_Endpoints):
    """The Bakta v2 endpoints (snake_case JSON), one method each."""

    api = "v2"
    id_key = "job_id"

    def workflows(self) -> dict[str, dict[str, Any]] | None:
        """The workflows by kind, or None when this deployment has no v2 API.

        No v2 shows as a 404 (or 405/501) or as an answer that is not the workflow list
        (an HTML page from a proxy); any other failure is a failure.
        """
        try:
            response = self.http.request("GET", "/workflows")
        except RemoteJobError as exc:
            if exc.status in (404, 405, 501):
                return None
            raise
        try:
            answer = response.json()
        except ValueError:
            return None
        if not isinstance(answer, list):
            return None
        return {
            str(item["workflow_kind"]): item
            for item in answer
            if isinstance(item, dict) and "workflow_kind" in item
        }

    def init(self, name: str, workflow_kind: str) -> dict[str, Any]:
        body = {"name": name, "workflow_kind": workflow_kind}
        answer = self.http.json("POST", "/job/init", json=body)  # not idempotent: no retry
        if not isinstance(answer, dict) or not isinstance(answer.get("job"), dict):
            raise NetworkError(SERVICE, f"unexpected answer to job/init: {str(answer)[:200]}")
        return dict(answer)

    def start(self, job: dict[str, str], workflow_kind: str, config: dict[str, Any]) -> None:
        """backend: `workflow_kind` and `config` sit beside `job`; the answer is JSON null."""
        body = {"job": job, "workflow_kind": workflow_kind, "config": config}
        self.http.request("POST", "/job/start", job=job["job_id"], json=body)

    # backend: GET /job/logs answers 501 ("registered but not implemented yet"): not used.


class Service:
    """The Bakta deployment: its v1 client, and its v2 client when it serves v2.

    Whether it does is asked once (`GET /api/v2/workflows`), when first needed: input
    checks come first, so bad input is refused without a request.
    """

    def __init__(self, v1: BaktaClient, v2: BaktaV2Client) -> None:
        self.v1 = v1
        self._candidate = v2
        self._workflows: dict[str, dict[str, Any]] | None = None
        self._asked = False

    def _discover(self) -> dict[str, dict[str, Any]] | None:
        if not self._asked:
            self._workflows = self._candidate.workflows()
            self._asked = True
        return self._workflows

    @property
    def v2(self) -> BaktaV2Client | None:
        return self._candidate if self._discover() is not None else None

    @property
    def workflows(self) -> dict[str, dict[str, Any]]:
        return self._discover() or {}

    def require_v2(self, what: list[str]) -> BaktaV2Client:
        if self.v2 is None:
            raise InputError(
                SERVICE,
                f"the service at {self.v1.http.base_url} offers only API v1;"
                f" {', '.join(what)} need{'s' if len(what) == 1 else ''} API v2",
            )
        return self._candidate


@dataclass(frozen=True)
class Workflow:
    """What every job of one run does: a v2 workflow kind, or v1's only one."""

    kind: str  # v2 workflow_kind; "bakta" for v1
    main_upload: str  # the upload kind of each job's own input
    config: dict[str, Any]
    uploads: dict[str, Path] = field(default_factory=dict)  # shared by all jobs of the run
    formats: tuple[str, ...] = FORMATS  # every file this workflow can give


class Api(Protocol):
    """One API version's side of the flow, so that one loop serves both."""

    label: str
    http: HttpClient

    def submit(self, name: str, path: Path, jobfile: JobFile) -> dict[str, Any]: ...
    def ref(self, record: dict[str, Any]) -> dict[str, str]: ...
    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]: ...
    def result_links(self, ref: dict[str, str]) -> dict[str, str]: ...
    def failure_words(self, ref: dict[str, str]) -> str: ...
    def delete(self, ref: dict[str, str]) -> None: ...


class _V1:
    label = "v1"

    def __init__(self, client: BaktaClient, options: AnnotationOptions, table_type: str) -> None:
        self.client, self.options, self.table_type = client, options, table_type
        self.http = client.http

    def submit(self, name: str, path: Path, jobfile: JobFile) -> dict[str, Any]:
        answer = self.client.init(name, self.table_type)
        job = answer["job"]
        record = {"id": job["jobID"], "secret": job["secret"], "started": False, "api": "v1"}
        jobfile.put(name, record)  # before anything else: a crash now still leaves a trace
        http, options = self.client.http, self.options
        # Bakta's docs: all three links must be PUT, unused ones with an empty body.
        http.upload(answer["uploadLinkFasta"], path, job=job["jobID"])
        http.upload(answer["uploadLinkProdigal"], options.prodigal_tf, job=job["jobID"])
        http.upload(answer["uploadLinkReplicons"], options.replicons, job=job["jobID"])
        self.client.start(job, options.v1_config())
        return record

    def ref(self, record: dict[str, Any]) -> dict[str, str]:
        return {"jobID": record["id"], "secret": record["secret"]}

    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        answer = self.client.list(refs)
        jobs = [(str(e.get("jobID")), str(e.get("jobStatus"))) for e in answer.get("jobs", [])]
        failed = [
            (str(e.get("jobID")), str(e.get("jobStatus"))) for e in answer.get("failedJobs", [])
        ]
        return jobs, failed

    def result_links(self, ref: dict[str, str]) -> dict[str, str]:
        links: dict[str, str] = self.client.result(ref).get("ResultFiles") or {}
        return {RESULT_FILES.get(key, key): url for key, url in links.items()}

    def failure_words(self, ref: dict[str, str]) -> str:
        """The last meaningful line of the job's log, or a plain statement."""
        try:
            lines = [line.strip() for line in self.client.logs(ref).splitlines() if line.strip()]
        except RemoteJobsError:
            lines = []
        return f"job ended in ERROR: {lines[-1]}" if lines else "job ended in ERROR"

    def delete(self, ref: dict[str, str]) -> None:
        self.client.delete(ref)


class _V2:
    label = "v2"

    def __init__(
        self, client: BaktaV2Client, workflow: Workflow, replacements: dict[str, bytes]
    ) -> None:
        self.client, self.workflow = client, workflow
        self.replacements = replacements  # upload kind -> the bytes to send instead of the file
        self.http = client.http

    def submit(self, name: str, path: Path, jobfile: JobFile) -> dict[str, Any]:
        workflow = self.workflow
        answer = self.client.init(name, workflow.kind)
        job = answer["job"]
        record = {"id": job["job_id"], "secret": job["secret"], "started": False, "api": "v2"}
        jobfile.put(name, record)  # before anything else: a crash now still leaves a trace
        links = {
            str(u.get("upload_kind")): str(u.get("url"))
            for u in answer.get("uploads", [])
            if isinstance(u, dict)
        }
        files = {workflow.main_upload: path, **workflow.uploads}
        if missing := sorted(set(files) - set(links)):
            raise RemoteJobError(
                SERVICE, f"job/init gave no upload link for {', '.join(missing)}", job["job_id"]
            )
        # Only what was given is uploaded: the config's use_* flags say which files exist.
        for kind, file in files.items():
            if kind in self.replacements:
                self.client.http.request(
                    "PUT", links[kind], job=job["job_id"], data=self.replacements[kind]
                )
            else:
                self.client.http.upload(links[kind], file, job=job["job_id"])
        self.client.start(job, workflow.kind, workflow.config)
        return record

    def ref(self, record: dict[str, Any]) -> dict[str, str]:
        return {"secret": record["secret"], "job_id": record["id"]}

    def poll(
        self, refs: list[dict[str, str]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        answer = self.client.list(refs)
        jobs = [
            (str(e.get("job_id")), str(e.get("status")).upper()) for e in answer.get("jobs", [])
        ]
        failed = [
            (str(e.get("job_id")), str(e.get("status")).upper())
            for e in answer.get("failed_jobs", [])
        ]
        return jobs, failed

    def result_links(self, ref: dict[str, str]) -> dict[str, str]:
        answer = self.client.result(ref)
        files: dict[str, str] = (answer.get("result") or {}).get("files") or {}
        return {V2_RESULT_FILES.get(key, key): url for key, url in files.items()}

    def failure_words(self, ref: dict[str, str]) -> str:
        return "job ended in ERROR"  # backend: v2 has no job log yet (501)

    def delete(self, ref: dict[str, str]) -> None:
        self.client.delete(ref)


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
        api = _V1(service.v1, options, table_type)
    else:
        workflow = Workflow(
            options.workflow_kind, "genome_fasta", options.v2_config(), options.v2_uploads()
        )
        replacements = {}
        if options.replicons is not None and table_type == "CSV":
            # v2's init has no table type: send Bakta's tab-separated columns.
            replacements["replicons_table"] = _csv_to_tsv(options.replicons)
        api = _V2(_v2_for(service, workflow), workflow, replacements)
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
    api = _V2(_v2_for(service, workflow), workflow, {})
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


def _csv_to_tsv(path: Path) -> bytes:
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    return "".join(
        "\t".join(cell.strip() for cell in row.split(",")) + "\n" for row in rows
    ).encode()


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
