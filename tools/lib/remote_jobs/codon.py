"""Codon optimisation service: log in, submit a job with fitness functions, poll, write results.

The login token lives 60 minutes; a 401 at any point (mid-poll included) logs in again once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AuthError, InputError, NetworkError, OutOfTime, RemoteJobError
from .fasta import ACGTU, read_fasta
from .files import refuse_existing, staged
from .jobfile import JobFile, recorded_job, results_in
from .plain import ascii_text
from .polling import PollPolicy, Progress, Waiter

if TYPE_CHECKING:  # requests is slow to import: only commands that talk to a service load it
    from .http import HttpClient

SERVICE = "codon"
POLL = PollPolicy(initial=5.0, maximum=30.0)
RUNNING = frozenset({"pending", "processing", "running"})
SUFFIXES = (".fasta", ".scores.tsv", ".json")  # of the result files, after the job's name
NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")  # whole names only (fullmatch): no newline at the end
GENE_OF_INTEREST = "gene_of_interest"
# A lost submit's job is looked for among the user's jobs of its name created since the submit
# went out, by the service's clock: this much earlier, for the two clocks' difference.
CLOCK_SKEW = timedelta(minutes=10)
PAGE = 100  # jobs per GET /jobs page
MAX_PAGES = 1000


class CodonClient:
    """The service's endpoints; renews the bearer token on a 401, once per call."""

    def __init__(self, http: HttpClient, username: str, password: str) -> None:
        self.http = http
        self._username = username
        self._password = password

    def login(self) -> None:
        self.http.bearer = None  # the login itself carries no token, not even an expired one
        try:
            # The API wants credentials as query parameters; our errors never print queries.
            answer = self.http.json(
                "POST", "/login", params={"username": self._username, "password": self._password}
            )
        except (AuthError, RemoteJobError) as exc:  # any refusal of the login is an auth failure
            raise AuthError(SERVICE, f"login refused: {exc.message}", status=exc.status) from None
        token = answer.get("token") if isinstance(answer, dict) else None
        if not token:
            raise AuthError(SERVICE, "login answered without a token")
        self.http.bearer = str(token)  # the HTTP layer sends it to this service's origin only

    def _call(self, method: str, path: str, job: str | None = None, **kwargs: Any) -> Any:
        if self.http.bearer is None:
            self.login()
        for attempt in (1, 2):
            try:
                return self.http.json(method, path, job=job, **kwargs)
            except AuthError as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                self.login()  # the 60-minute token expired: renew it and try once more
        raise AssertionError("unreachable")

    def api_status(self) -> dict[str, Any]:
        """GET /: the API's build and environment (no login needed)."""
        return dict(self.http.json("GET", "/"))

    def fitness(self) -> list[dict[str, Any]]:
        return list(self.http.json("GET", "/fitness")["fitness_functions"])

    def submit(self, payload: dict[str, Any]) -> str:
        answer = self._call("POST", "/optimise", json=payload)  # not idempotent: never retried
        return str(answer["jobid"])

    def jobs(self) -> Iterator[dict[str, Any]]:
        """GET /jobs: the user's jobs, page after page."""
        start: str | None = None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE, **({"start": start} if start else {})}
            answer = self._call("GET", "/jobs", params=params, idempotent=True)
            yield from answer.get("jobs") or []
            following = answer.get("next")
            if not following or following == start:
                return
            start = str(following)

    def status(self, job_ids: list[str]) -> dict[str, str]:
        answer = self._call("POST", "/optimise/status", json={"jobids": job_ids}, idempotent=True)
        return {str(entry["jobid"]): str(entry["status"]) for entry in answer["results"]}

    def result(self, job_id: str) -> dict[str, Any]:
        return dict(
            self._call("POST", "/optimise/result", job_id, json={"jobid": job_id}, idempotent=True)
        )


@dataclass
class FitnessSpec:
    """One fitness function with its parameters, as written on the command line."""

    name: str
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> FitnessSpec:
        """'gc_content:min=35,max=60,weight=2' -> name and raw parameter strings."""
        name, _, rest = text.partition(":")
        params: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise InputError(SERVICE, f"fitness '{text}': parameters look like key=value")
            params[key.strip()] = value.strip()
        if not name.strip():
            raise InputError(SERVICE, f"fitness '{text}' has no name")
        return cls(name.strip(), params)


def resolve_fitness(
    specs: list[FitnessSpec], available: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Check names, parameters and types against GET /fitness; returns the request's list."""
    if not specs:
        raise InputError(SERVICE, "give at least one --fitness")
    by_id = {str(entry["id"]): entry for entry in available}
    resolved = []
    for spec in specs:
        if spec.name not in by_id:
            raise InputError(
                SERVICE, f"unknown fitness '{spec.name}' (known: {', '.join(sorted(by_id))})"
            )
        declared = {str(p["name"]): p for p in by_id[spec.name].get("parameters", [])}
        declared.setdefault("weight", {"name": "weight", "type": "number", "required": False})
        entry: dict[str, Any] = {"name": spec.name}
        for key, raw in spec.params.items():
            if key not in declared:
                raise InputError(
                    SERVICE,
                    f"fitness '{spec.name}' has no parameter '{key}'"
                    f" (it takes: {', '.join(sorted(declared))})",
                )
            entry[key] = _typed(spec.name, key, raw, str(declared[key].get("type", "string")))
        missing = [k for k, p in declared.items() if p.get("required") and k not in entry]
        if missing:
            raise InputError(SERVICE, f"fitness '{spec.name}' needs {', '.join(missing)}")
        entry.setdefault("weight", 1.0)
        resolved.append(entry)
    return resolved


def _typed(fitness: str, key: str, raw: str, kind: str) -> Any:
    try:
        if kind == "number":
            return float(raw)
        if kind == "integer":
            return int(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
    except ValueError:
        raise InputError(SERVICE, f"fitness '{fitness}': {key}={raw} is not a {kind}") from None
    return raw


def _nucleotides(label: str, sequence: str) -> str:
    letters = "".join(sequence.split()).upper()
    bad = set(letters) - ACGTU
    if not letters or bad:
        why = "is empty" if not letters else f"has characters {''.join(sorted(bad))[:10]}"
        raise InputError(SERVICE, f"{label} {why}; only A, C, G, T, U are allowed")
    return letters


def load_components(path: Path) -> list[dict[str, str]]:
    """A JSON list of {sequence, featureType} with exactly one gene_of_interest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(SERVICE, f"{path.name}: not a readable JSON file ({exc})") from None
    if not isinstance(data, list) or not data:
        raise InputError(SERVICE, f"{path.name}: expected a non-empty JSON list of components")
    components = []
    for number, item in enumerate(data, start=1):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("sequence"), str)
            or not isinstance(item.get("featureType"), str)
            or not item["featureType"].strip()
        ):
            raise InputError(
                SERVICE, f"{path.name}: component {number} needs a 'sequence' and a 'featureType'"
            )
        sequence = _nucleotides(f"component {number} ({item['featureType']})", item["sequence"])
        components.append({"sequence": sequence, "featureType": item["featureType"].strip()})
    genes = sum(1 for c in components if c["featureType"] == GENE_OF_INTEREST)
    if genes != 1:
        raise InputError(
            SERVICE,
            f"{path.name}: exactly one '{GENE_OF_INTEREST}' component needed, found {genes}",
        )
    return components


def check_name(name: str) -> None:
    """The job name also names the output files: nothing but letters, digits, '_', '.', '-'."""
    if not NAME.fullmatch(name):
        raise InputError(SERVICE, f"name {name!r}: use 1-100 letters, digits, '_', '.' or '-'")


def check_outdir(outdir: Path, name: str, record: dict[str, Any] | None) -> None:
    """Before anything is sent: no result file of this name is in `outdir` already (an input
    FASTA among them), unless it is this job's own from an earlier run with the job file."""
    names = [f"{name}{suffix}" for suffix in SUFFIXES]
    refuse_existing(outdir, names, SERVICE, set(results_in(record, outdir)))


def build_payload(
    name: str,
    fitness: list[dict[str, Any]],
    *,
    sequence: Path | None = None,
    components: Path | None = None,
    utr5: str | None = None,
    utr3: str | None = None,
    sequence_id: str | None = None,
) -> dict[str, Any]:
    """The /optimise request body from a FASTA file (one record, or the one named) or components."""
    check_name(name)
    if (sequence is None) == (components is None):
        raise InputError(SERVICE, "give exactly one of --sequence and --components")
    payload: dict[str, Any] = {"name": name, "fitness_list": fitness}
    if components is not None:
        if utr5 or utr3:
            raise InputError(SERVICE, "UTRs are components too: put them in the component list")
        payload["sequence"] = load_components(components)
        return payload
    assert sequence is not None
    records = read_fasta(sequence, service=SERVICE, alphabet=ACGTU, keep_sequences=True)
    if sequence_id:
        chosen = [record for record in records if record.id == sequence_id]
        if not chosen:
            ids = ", ".join(record.id for record in records[:5])
            more = ", ..." if len(records) > 5 else ""
            raise InputError(SERVICE, f"{sequence.name}: no sequence '{sequence_id}' ({ids}{more})")
        records = chosen
    if len(records) != 1:
        raise InputError(
            SERVICE,
            f"{sequence.name}: holds {len(records)} sequences; name the one to optimise"
            " with --sequence-id",
        )
    payload["sequence"] = records[0].sequence
    if utr5:
        payload["5_utr"] = _nucleotides("5' UTR", utr5)
    if utr3:
        payload["3_utr"] = _nucleotides("3' UTR", utr3)
    return payload


def optimise(
    client: CodonClient,
    payload: dict[str, Any],
    outdir: Path,
    *,
    jobfile: JobFile,
    waiter: Waiter,
    progress: Progress,
) -> list[Path]:
    """Submit (or re-attach), wait, and write NAME.fasta, NAME.scores.tsv and NAME.json."""
    name = str(payload["name"])
    # An earlier run's results, which this run's may replace (even if its job is forgotten).
    ours = set(results_in(jobfile.get(name), outdir))
    job_id = recorded_job(jobfile, name, _known(client), progress)
    if job_id is None:
        job_id = _lost_submit(client, name, (jobfile.get(name) or {}).get("submitted"), progress)
    if job_id is None:
        job_id = _submit(client, payload, jobfile, progress)
    jobfile.put(name, {**(jobfile.get(name) or {}), "id": job_id})

    status = "submitted"

    def finished() -> bool:
        nonlocal status
        status = client.status([job_id]).get(job_id, "pending")
        progress.state(SERVICE, name, status)
        if status == "error":
            words = _failure_words(client, job_id)
            raise RemoteJobError(SERVICE, f"job ended in error: {words}", job_id)
        return status not in RUNNING

    try:
        waiter.wait(SERVICE, POLL, finished, "optimisation still running", job_id)
    except OutOfTime as late:  # say what became of the job, not the last request
        if status in RUNNING | {"submitted"}:
            fate = (
                f"kept in {jobfile.path} for a rerun with it"
                if jobfile.resumable
                else "left running (the service has no cancel)"
            )
            raise late.leaving([f"job {job_id} ({name}) still {status}, {fate}"]) from None
        raise
    result = client.result(job_id)
    if str(result.get("status", "success")) != "success" or not result.get("results"):
        raise RemoteJobError(SERVICE, f"no results (status {result.get('status')})", job_id)
    files = write_outputs(result, name, outdir, ours)
    written = {path.name: path.stat().st_size for path in files}
    jobfile.put(
        name,
        {**(jobfile.get(name) or {}), "folder": str(outdir.absolute()), "files": written},
    )
    return files


def _submit(
    client: CodonClient, payload: dict[str, Any], jobfile: JobFile, progress: Progress
) -> str:
    """POST /optimise, on record before it is sent: the service has no idempotency key nor a
    cancel, and a submit whose answer is lost made a job all the same. It is looked for among
    the user's jobs at once, and by a rerun with the job file should this run end first."""
    name = str(payload["name"])
    submitted = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
    jobfile.put(name, {"submitted": submitted})
    try:
        job_id = client.submit(payload)
    except NetworkError as lost:
        try:
            found = _lost_submit(client, name, submitted, progress)
        except (RemoteJobError, AuthError, NetworkError):
            found = None
        if found is None:
            raise lost from None
        return found
    progress.info(SERVICE, f"{name}: submitted as job {job_id}")
    return job_id


def _lost_submit(
    client: CodonClient, name: str, submitted: object, progress: Progress
) -> str | None:
    """The job a submit sent at `submitted` (ISO time, UTC) made though its answer was lost:
    the newest of the user's jobs of this name created since then (GET /jobs). None when there
    is none (the submit never reached the service) or nothing was submitted."""
    if not isinstance(submitted, str):
        return None
    try:
        since = datetime.fromisoformat(submitted) - CLOCK_SKEW
    except ValueError:
        return None

    def created(job: dict[str, Any]) -> datetime:
        try:
            return datetime.fromisoformat(str(job.get("created_at")))
        except ValueError:  # "pending": not yet in the service's database, so the newest
            return datetime.max

    found = [job for job in client.jobs() if job.get("name") == name and created(job) >= since]
    if not found:
        progress.info(SERVICE, f"{name}: the service made no job of an earlier submit")
        return None
    job_id = str(max(found, key=created)["jobid"])
    progress.info(SERVICE, f"{name}: found job {job_id}, made by a submit whose answer was lost")
    return job_id


def _known(client: CodonClient) -> Callable[[str], str]:
    """A job id, once the service answers for it (a 404 when it no longer knows it)."""

    def look(job_id: str) -> str:
        client.status([job_id])
        return job_id

    return look


def _failure_words(client: CodonClient, job_id: str) -> str:
    """The service's words on a failed job; the failure stays the news if they cannot be had."""
    try:
        answer = client.result(job_id)
    except (RemoteJobError, AuthError, NetworkError) as exc:
        return f"no message (fetching it failed: {exc.message})"
    return str(answer.get("error") or answer.get("message") or "no message")


def write_outputs(
    result: dict[str, Any], name: str, outdir: Path, ours: set[str] | None = None
) -> list[Path]:
    """The original first, then the optimised candidates: FASTA, a score table and the raw JSON.

    `ours`: the files of an earlier run of this job that may be replaced."""
    sequences = list(result["results"])
    fitness_names: list[str] = []
    for entry in sequences:
        for item in entry.get("fitness_list", []):
            if item["name"] not in fitness_names:
                fitness_names.append(str(item["name"]))
    fasta_lines: list[str] = []
    rows = ["\t".join(["id", "type", "score", "motif_in_cds", "motif_in_utr", *fitness_names])]
    rank = 0
    for entry in sequences:
        kind = str(entry.get("type", ""))
        if kind == "original":
            seq_id = f"{name}_original"
        else:
            rank += 1
            kind = "optimised"  # the docs spell it "optimized" and "optimised"
            seq_id = f"{name}_optimised_{rank}"
        scores = {item["name"]: item.get("score") for item in entry.get("fitness_list", [])}
        fasta_lines.append(f">{seq_id} type={kind} score={entry.get('score')}")
        sequence = str(entry["sequence"])
        fasta_lines.extend(sequence[i : i + 60] for i in range(0, len(sequence), 60))
        cells = [
            seq_id,
            kind,
            entry.get("score"),
            entry.get("motif_in_cds"),
            entry.get("motif_in_utr"),
        ]
        cells += [scores.get(fitness) for fitness in fitness_names]
        rows.append("\t".join("" if cell is None else str(cell) for cell in cells))
    with staged(outdir, SERVICE, last=f"{name}.json", ours=ours or set()) as partial:
        # Galaxy datasets, composed here: plain ASCII (plain.py); json.dumps escapes as JSON does.
        for suffix, lines in ((".fasta", fasta_lines), (".scores.tsv", rows)):
            text = ascii_text("\n".join(lines) + "\n")
            (partial / f"{name}{suffix}").write_text(text, encoding="ascii")
        text = json.dumps(result, indent=2) + "\n"
        (partial / f"{name}.json").write_text(text, encoding="ascii")
    return [outdir / f"{name}{suffix}" for suffix in SUFFIXES]
