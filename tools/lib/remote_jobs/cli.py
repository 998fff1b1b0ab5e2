"""The `remote-jobs` command line: maps options and settings onto the service modules."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from . import __version__, bakta, codon, mfannotweb
from .cassette import cassette
from .credentials import check_credential
from .errors import InputError, Interrupted, RemoteJobsError
from .files import prepare_outdir
from .jobfile import JobFile, fingerprint
from .options import (
    Cassettes,
    RunSettings,
    cassette_options,
    expect_file_option,
    gencode_option,
    outdir_option,
    resubmit_option,
    run_options,
)
from .plain import ascii_text
from .polling import Progress, Waiter

if TYPE_CHECKING:
    from .http import HttpClient

F = TypeVar("F", bound=Callable[..., Any])


class RemoteJobsGroup(click.Group):
    """Turns every error into one line on stderr and its exit code (README, "Exit codes")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Interrupted as stop:
            click.echo(f"error: {stop}", err=True)
            ctx.exit(stop.exit_code)
        except RemoteJobsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug, or an answer shaped unlike the API docs
            if os.environ.get("REMOTE_JOBS_DEBUG"):
                raise
            click.echo(
                f"error: remote-jobs: unexpected {type(exc).__name__}: {exc}"
                " (set REMOTE_JOBS_DEBUG=1 to see where)",
                err=True,
            )
            ctx.exit(1)


def env_url(variable: str, default: str | None, service: str) -> str:
    value = os.environ.get(variable, "").strip() or default
    if not value:
        raise InputError(service, f"set {variable} to the service's base URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InputError(
            service, f"{variable} must be an http(s) URL without a query, like https://host/api"
        )
    return value.rstrip("/")


def env_credential(variable: str, service: str, *, header: bool = False) -> str | None:
    """A credential from the environment, None when unset; InputError (exit 2) for one that
    cannot be sent as it is (see credentials.check_credential; `header`: sent in a header)."""
    value = os.environ.get(variable, "").strip()
    return check_credential(variable, value, service, header=header) if value else None


def env_secret(variable: str, service: str, *, header: bool = False) -> str:
    value = env_credential(variable, service, header=header)
    if value is None:
        raise InputError(service, f"{variable} is not set; it holds your credential for {service}")
    return value


@dataclass
class Run:
    """What every command that talks to a service shares."""

    waiter: Waiter
    progress: Progress


@contextmanager
def remote_run(settings: RunSettings, secrets: tuple[str, ...] = ()) -> Iterator[Run]:
    """Cassette, waiting and progress for one command.

    A replayed run says so on stderr (which Galaxy copies into each output's info), and is
    refused where the admin turned replays off (REMOTE_JOBS_REPLAY: see cassette).
    """
    replay = settings.cassettes.replay
    with cassette(settings.cassettes.record, replay, secrets) as replaying:
        if replay is not None:
            click.echo(
                f"remote-jobs: replayed from recording {replay.name}, no service contacted",
                err=True,
            )
        waiter = Waiter(
            deadline=settings.deadline,
            poll_interval=0.0 if replaying else settings.poll_interval,
            sleep=(lambda seconds: None) if replaying else time.sleep,
        )
        yield Run(waiter, Progress(lambda line: click.echo(line, err=True)))


def _http(
    service: str,
    base_url: str,
    bearer: str | None = None,
    settings: RunSettings | None = None,
    setting: str | None = None,
) -> HttpClient:
    """The HTTP layer, imported here: `--help` and bad input need not pay for requests.

    With a run's `settings`: its --http-timeout, and its --timeout over every request, retry
    and wait. `setting`: the variable that holds `base_url`, named in the advice of network
    errors."""
    from .http import READ_TIMEOUT, HttpClient

    read_timeout = settings.http_timeout if settings else READ_TIMEOUT
    deadline = settings.deadline if settings else None
    return HttpClient(
        service,
        base_url,
        bearer=bearer,
        read_timeout=read_timeout,
        deadline=deadline,
        setting=setting,
    )


class _Stop:
    """The SIGTERM and SIGINT handler: the first signal interrupts the run wherever it is
    (Interrupted); later ones are ignored, so that they cannot cut short the cleanup the first
    one started (deleting the remote jobs, within its own deadline)."""

    stopping = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise Interrupted(signal.Signals(signum).name, time.monotonic())


@click.group(cls=RemoteJobsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="remote-jobs")
def cli() -> None:
    """Run Bakta, MFannot/RNAweasel and codon optimisation jobs on their web services.

    Settings and credentials come from the environment, never from the command line.
    """


# ---------------------------------------------------------------- Bakta


@cli.group("bakta")
def bakta_group() -> None:
    """Bacterial genome annotation with the Bakta web API (BAKTA_API_URL)."""


def _bakta_service(settings: RunSettings) -> bakta.Service:
    """The Bakta deployment behind BAKTA_API_URL; whether it has v2 is asked when needed."""
    url = env_url("BAKTA_API_URL", bakta.DEFAULT_URL, bakta.SERVICE)
    setting = "BAKTA_API_URL"
    v1 = bakta.BaktaClient(_http(bakta.SERVICE, url, settings=settings, setting=setting))
    v2 = bakta.BaktaV2Client(
        _http(bakta.SERVICE, bakta.v2_url(url), settings=settings, setting=setting)
    )
    return bakta.Service(v1, v2)


def _skip_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Bakta's 13 --skip-* flags, handed to the command as one tuple `skips`."""

    @functools.wraps(function)
    def collect(*args: Any, **kwargs: Any) -> Any:
        skips = tuple(name for name in bakta.SKIPS if kwargs.pop(f"skip_{name}"))
        return function(*args, skips=skips, **kwargs)

    for name in reversed(bakta.SKIPS):
        what = "circular genome plots" if name == "plot" else name.replace("_", " ")
        collect = click.option(
            f"--skip-{name.replace('_', '-')}",
            f"skip_{name}",
            is_flag=True,
            help=f"Skip {what} (API v2)."
            if name != "filter"
            else "Skip the filtering of spurious ORFs (API v2).",
        )(collect)
    return collect


def _write_folders(folders: dict[str, Path]) -> None:
    for folder in folders.values():
        click.echo(str(folder))


existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@bakta_group.command("annotate")
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@outdir_option
@click.option("--prodigal-tf", type=existing_file, help="Prodigal training file.")
@click.option(
    "--replicons",
    type=existing_file,
    help="Replicon table (Bakta's TSV or CSV columns); it goes with every genome, so each row"
    " must name a sequence of each.",
)
@click.option(
    "--replicon-table-type",
    type=click.Choice(["TSV", "CSV"], case_sensitive=False),
    help="Type of the replicon table [default: detected].",
)
@click.option(
    "--proteins",
    type=existing_file,
    help="Trusted proteins for CDS annotation: FASTA with Bakta's '>id gene~~~product~~~dbxrefs'"
    " headers, not GenBank (the service stores them as .faa) (API v2).",
)
@click.option(
    "--hmms", type=existing_file, help="Trusted HMMs for CDS annotation (HMMER3; API v2)."
)
@click.option(
    "--regions",
    type=existing_file,
    help="Pre-annotated regions to keep (GFF3 or GenBank; API v2); the run says how many CDSs"
    " Bakta took from them (none where the service does not hand the file on readably).",
)
@click.option(
    "--translation-table",
    type=click.Choice(["11", "4", "25"]),
    default="11",
    show_default=True,
    help="25 needs API v2.",
)
@click.option("--complete", is_flag=True, help="All sequences are complete replicons.")
@click.option("--compliant", is_flag=True, help="Force INSDC (GenBank/ENA/DDBJ) compliance.")
@click.option("--keep-contig-headers", is_flag=True, help="Keep the original contig headers.")
@click.option("--min-contig-length", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--derm-type",
    type=click.Choice(list(bakta.DERM_TYPES)),
    default="unknown",
    show_default=True,
    help="Cell envelope: monoderm (gram +) or diderm (gram -).",
)
@click.option("--meta", is_flag=True, help="Metagenome mode; Bakta makes no plots (API v2).")
@click.option("--genus")
@click.option("--species")
@click.option("--strain")
@click.option("--plasmid")
@click.option("--locus", help="Locus name prefix: 1 to 20 of A-Z a-z 0-9 _.:*#- (Bakta's rule).")
@click.option(
    "--locus-tag",
    help="Locus tag prefix: 1 to 24 of A-Z a-z 0-9 _.- (Bakta's rule); with --compliant 3 to 12"
    " of A-Z 0-9, beginning with a letter.",
)
@click.option(
    "--locus-tag-increment",
    type=click.Choice(["1", "5", "10"]),
    default="1",
    show_default=True,
    help="Step between locus tag numbers (API v2 for 5 and 10).",
)
@_skip_options
@click.option(
    "--baktfold",
    is_flag=True,
    help="Annotate hypothetical proteins by structure with Baktfold afterwards (API v2).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice((*bakta.FORMATS, bakta.LOG)),
    help="Result file to fetch (repeatable) [default: all the service gives]; one the service"
    " did not produce is named and the others fetched (only json must be there); 'log': also"
    " the job's log from the service (fetched only when asked for).",
)
@resubmit_option
@run_options
def bakta_annotate(
    genomes: tuple[Path, ...],
    outdir: Path,
    prodigal_tf: Path | None,
    replicons: Path | None,
    replicon_table_type: str | None,
    proteins: Path | None,
    hmms: Path | None,
    regions: Path | None,
    translation_table: str,
    complete: bool,
    compliant: bool,
    keep_contig_headers: bool,
    min_contig_length: int,
    derm_type: str,
    meta: bool,
    genus: str | None,
    species: str | None,
    strain: str | None,
    plasmid: str | None,
    locus: str | None,
    locus_tag: str | None,
    locus_tag_increment: str,
    skips: tuple[str, ...],
    baktfold: bool,
    formats: tuple[str, ...],
    resubmit: int,
    run: RunSettings,
) -> None:
    """Annotate bacterial GENOMES (FASTA, gzip-compressed or not); each is its own remote job.

    Each genome is checked as Bakta reads it (no U; '-' gaps taken; nothing before the first
    header); a byte order mark is left out of the upload, a compressed genome sent as it is.

    Results: OUTDIR/<sample>/<sample>.<ext>, named like the Bakta command line's. Uses the
    service's API v2 when it has one; options marked "API v2" stop the run on a v1-only one.
    """
    options = bakta.AnnotationOptions(
        translation_table=int(translation_table),
        complete=complete,
        compliant=compliant,
        keep_contig_headers=keep_contig_headers,
        min_contig_length=min_contig_length,
        derm_type=derm_type,
        genus=genus,
        species=species,
        strain=strain,
        plasmid=plasmid,
        locus=locus,
        locus_tag=locus_tag,
        prodigal_tf=prodigal_tf,
        replicons=replicons,
        replicon_table_type=replicon_table_type,
        meta=meta,
        skips=skips,
        locus_tag_increment=int(locus_tag_increment),
        proteins=proteins,
        hmms=hmms,
        regions=regions,
        baktfold=baktfold,
    )
    with remote_run(run) as remote:
        jobfile = JobFile(
            run.job_file,
            bakta.SERVICE,
            lambda: fingerprint(
                "bakta annotate",
                options,
                sorted(formats),
                files=(*genomes, prodigal_tf, replicons, proteins, hmms, regions),
            ),
        )
        prepare_outdir(outdir, bakta.SERVICE)
        folders = bakta.annotate(
            _bakta_service(run),
            list(genomes),
            options,
            outdir,
            formats=formats,
            jobfile=jobfile,
            waiter=remote.waiter,
            progress=remote.progress,
            resubmit=resubmit,
        )
    _write_folders(folders)


def _format_option(formats: tuple[str, ...]) -> Callable[[F], F]:
    return click.option(
        "--format",
        "formats",
        multiple=True,
        type=click.Choice((*formats, bakta.LOG)),
        help="Result file to fetch (repeatable) [default: all]; 'log': also the job's log from"
        " the service (fetched only when asked for).",
    )


def _run_workflow(
    kind: str,
    inputs: tuple[Path, ...],
    outdir: Path,
    formats: tuple[str, ...],
    resubmit: int,
    run: RunSettings,
) -> None:
    with remote_run(run) as remote:
        jobfile = JobFile(
            run.job_file, bakta.SERVICE, lambda: fingerprint(kind, sorted(formats), files=inputs)
        )
        prepare_outdir(outdir, bakta.SERVICE)
        folders = bakta.run_workflow(
            _bakta_service(run),
            kind,
            list(inputs),
            outdir,
            formats=formats,
            jobfile=jobfile,
            waiter=remote.waiter,
            progress=remote.progress,
            resubmit=resubmit,
        )
    _write_folders(folders)


@bakta_group.command("proteins")
@click.argument(
    "proteins", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@outdir_option
@_format_option(bakta.PROTEIN_FORMATS)
@resubmit_option
@run_options
def bakta_proteins(
    proteins: tuple[Path, ...],
    outdir: Path,
    formats: tuple[str, ...],
    resubmit: int,
    run: RunSettings,
) -> None:
    """Annotate PROTEINS (protein FASTA) with Bakta's protein workflow; API v2.

    Results: OUTDIR/<sample>/<sample>.tsv, .faa, .hypotheticals.tsv, .json.
    """
    _run_workflow("bakta_proteins", proteins, outdir, formats, resubmit, run)


@bakta_group.command("baktfold")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@outdir_option
@_format_option(bakta.BAKTFOLD_FORMATS)
@resubmit_option
@run_options
def bakta_baktfold(
    results: tuple[Path, ...],
    outdir: Path,
    formats: tuple[str, ...],
    resubmit: int,
    run: RunSettings,
) -> None:
    """Run Baktfold on RESULTS (Bakta JSON results of earlier runs); API v2.

    Results: OUTDIR/<sample>/<sample>.<ext>, the 12 files named like Bakta's (no plots).
    """
    _run_workflow("baktfold", results, outdir, formats, resubmit, run)


@bakta_group.command("version")
@run_options
def bakta_version(run: RunSettings) -> None:
    """Print the service's versions: Bakta, its database and the backend (v2: and Baktfold)."""
    with remote_run(run):
        service = _bakta_service(run)
        if service.v2 is not None:
            version = service.v2.version()
            keys: tuple[str, ...] = bakta.V2_VERSION_KEYS
        else:
            version = service.v1.version()
            keys = ("toolVersion", "dbVersion", "backendVersion")
    for key in keys:
        click.echo(f"{key}\t{version.get(key, '')}")


# ---------------------------------------------------------------- MFannotWeb


def _mfannotweb(settings: RunSettings | None = None) -> mfannotweb.MfannotWebClient:
    url = env_url("MFANNOTWEB_URL", mfannotweb.DEFAULT_URL, mfannotweb.SERVICE)
    token = env_secret("MFANNOTWEB_TOKEN", mfannotweb.SERVICE, header=True)
    http = _http(mfannotweb.SERVICE, url, bearer=token, settings=settings, setting="MFANNOTWEB_URL")
    return mfannotweb.MfannotWebClient(http)


def _mfannotweb_run(
    kind: str,
    genome: Path,
    gencode: int,
    rna: list[str],
    outdir: Path,
    expect: tuple[str, ...],
    settings: RunSettings,
) -> None:
    prepare_outdir(outdir, mfannotweb.SERVICE)
    client = _mfannotweb(settings)
    with remote_run(settings, secrets=(client.http.bearer or "",)) as run:
        jobfile = JobFile(
            settings.job_file,
            mfannotweb.SERVICE,
            lambda: fingerprint(kind, gencode, sorted(rna), files=(genome,)),
        )
        files = mfannotweb.run(
            client,
            kind,
            genome,
            gencode,
            rna,
            outdir,
            expect=expect,
            jobfile=jobfile,
            waiter=run.waiter,
            progress=run.progress,
        )
    for path in files:
        click.echo(str(path))


@cli.group("mfannot")
def mfannot_group() -> None:
    """Mitochondrial and plastid genome annotation with MFannot on MFannotWeb."""


@mfannot_group.command("annotate")
@click.argument("genome", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@gencode_option
@outdir_option
@expect_file_option
@run_options
def mfannot_annotate(
    genome: Path,
    gencode: int,
    outdir: Path,
    expect: tuple[str, ...],
    run: RunSettings,
) -> None:
    """Annotate an organelle GENOME (FASTA); results.zip is verified and extracted into OUTDIR."""
    _mfannotweb_run("mfannot", genome, gencode, [], outdir, expect, run)


@cli.group("rnaweasel")
def rnaweasel_group() -> None:
    """RNA model search (tRNA, introns, rRNAs, ...) with RNAweasel on MFannotWeb."""


@rnaweasel_group.command("search")
@click.argument("genome", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@gencode_option
@click.option(
    "--rna",
    "rna",
    multiple=True,
    required=True,
    help="RNA model to search for (repeatable); see the server's list.",
)
@outdir_option
@expect_file_option
@run_options
def rnaweasel_search(
    genome: Path,
    gencode: int,
    rna: tuple[str, ...],
    outdir: Path,
    expect: tuple[str, ...],
    run: RunSettings,
) -> None:
    """Search GENOME (FASTA) for RNA models; results.zip is verified and extracted into OUTDIR."""
    _mfannotweb_run("rnaweasel", genome, gencode, list(rna), outdir, expect, run)


@cli.group("mfannotweb")
def mfannotweb_group() -> None:
    """MFannotWeb account and discovery (MFANNOTWEB_URL, MFANNOTWEB_TOKEN)."""


@mfannotweb_group.command("gencodes")
@cassette_options
def mfannotweb_gencodes(cassettes: Cassettes) -> None:
    """List the genetic codes the server accepts."""
    url = env_url("MFANNOTWEB_URL", mfannotweb.DEFAULT_URL, mfannotweb.SERVICE)
    client = mfannotweb.MfannotWebClient(_http(mfannotweb.SERVICE, url, setting="MFANNOTWEB_URL"))
    with cassette(cassettes.record, cassettes.replay):
        table = client.gencodes()
    for code, name in sorted(table.items()):
        click.echo(f"{code}\t{name}")


@mfannotweb_group.command("usage")
@cassette_options
def mfannotweb_usage(cassettes: Cassettes) -> None:
    """Show your in-flight jobs against your concurrency cap."""
    client = _mfannotweb()
    with cassette(cassettes.record, cassettes.replay, (client.http.bearer or "",)):
        usage = client.usage()
    for key, value in usage.items():
        click.echo(f"{key}\t{value}")


@mfannotweb_group.command("cancel")
@click.argument("job_id")
@cassette_options
def mfannotweb_cancel(job_id: str, cassettes: Cassettes) -> None:
    """Cancel a queued job (running jobs cannot be cancelled)."""
    client = _mfannotweb()
    with cassette(cassettes.record, cassettes.replay, (client.http.bearer or "",)):
        client.cancel(client.job(job_id))
    click.echo(f"{job_id}\tcancelled")


# ---------------------------------------------------------------- codon optimisation


def _codon(settings: RunSettings) -> codon.CodonClient:
    url = env_url("CODON_API_URL", None, codon.SERVICE)
    username = env_secret("CODON_USERNAME", codon.SERVICE)
    password = env_secret("CODON_PASSWORD", codon.SERVICE)
    return codon.CodonClient(
        _http(codon.SERVICE, url, settings=settings, setting="CODON_API_URL"),
        username,
        password,
    )


def _codon_secrets() -> tuple[str, ...]:
    return tuple(os.environ.get(name, "").strip() for name in ("CODON_USERNAME", "CODON_PASSWORD"))


@cli.group("codon")
def codon_group() -> None:
    """Codon optimisation (CODON_API_URL, CODON_USERNAME, CODON_PASSWORD)."""


@codon_group.command("optimise")
@click.option("--name", required=True, help="Job name; also names the output files.")
@click.option(
    "--sequence",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="FASTA file with the coding sequence (see --sequence-id).",
)
@click.option(
    "--components",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON list of {sequence, featureType}, one of them gene_of_interest.",
)
@click.option(
    "--sequence-id", help="The id of the sequence to optimise, if the FASTA holds several."
)
@click.option("--utr5", help="5' UTR sequence (with --sequence).")
@click.option("--utr3", help="3' UTR sequence (with --sequence).")
@click.option(
    "--fitness",
    "fitness",
    multiple=True,
    required=True,
    help="NAME[:key=value,...], e.g. 'gc_content:min=35,max=60,weight=2' (repeatable).",
)
@outdir_option
@run_options
def codon_optimise(
    name: str,
    sequence: Path | None,
    sequence_id: str | None,
    components: Path | None,
    utr5: str | None,
    utr3: str | None,
    fitness: tuple[str, ...],
    outdir: Path,
    run: RunSettings,
) -> None:
    """Optimise a coding sequence; writes NAME.fasta, NAME.scores.tsv and NAME.json."""
    codon.check_name(name)
    specs = [codon.FitnessSpec.parse(text) for text in fitness]
    document = None
    if run.job_file is not None:  # the fitness list comes first: the job file is checked before
        document = JobFile.check(run.job_file, codon.SERVICE)
    prepare_outdir(outdir, codon.SERVICE)
    codon.check_outdir(outdir, name, ((document or {}).get("jobs") or {}).get(name))
    client = _codon(run)
    with remote_run(run, secrets=_codon_secrets()) as remote:
        fitness_list = codon.resolve_fitness(specs, client.fitness())
        payload = codon.build_payload(
            name,
            fitness_list,
            sequence=sequence,
            sequence_id=sequence_id,
            components=components,
            utr5=utr5,
            utr3=utr3,
        )
        jobfile = JobFile(run.job_file, codon.SERVICE, lambda: fingerprint(payload))
        files = codon.optimise(
            client, payload, outdir, jobfile=jobfile, waiter=remote.waiter, progress=remote.progress
        )
    for path in files:
        click.echo(str(path))


@codon_group.command("fitness")
@cassette_options
def codon_fitness(cassettes: Cassettes) -> None:
    """List the fitness functions and their parameters."""
    url = env_url("CODON_API_URL", None, codon.SERVICE)
    client = codon.CodonClient(_http(codon.SERVICE, url, setting="CODON_API_URL"), "", "")
    with cassette(cassettes.record, cassettes.replay):
        functions = client.fitness()
    for entry in functions:
        params = ", ".join(
            f"{p['name']} ({p.get('type')}{', required' if p.get('required') else ''})"
            for p in entry.get("parameters", [])
        )
        click.echo(f"{entry['id']}\t{entry.get('name', '')}\t{params}")


# ---------------------------------------------------------------- check


@cli.command("check")
@click.argument("services", nargs=-1, type=click.Choice(["bakta", "mfannotweb", "codon"]))
@click.option(
    "--http-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Time-out of each connection and answer, in seconds.",
)
def check_command(services: tuple[str, ...], http_timeout: float) -> None:
    """Check that SERVICES (default: all) can be used from here, with this environment.

    For each: the proxy, DNS, TCP connect, TLS and whose certificate, then the service's own
    discovery calls with your credentials, each timed; one line per step. Sends no input
    anywhere. Exit code 0 only when every service is usable; otherwise the gravest of 2 (not
    configured), 3 (credentials refused), 4 (refused), 5 (network).
    """
    import platform
    import socket

    import requests

    from . import check

    def url(variable: str, default: str | None, service: str) -> check.Setting:
        value = env_url(variable, default, service)  # InputError: not configured
        return check.Setting(variable, value, default=not os.environ.get(variable, "").strip())

    def run(service: str) -> check.Report:
        where = service
        try:
            if service == "bakta":
                return check.check_bakta(
                    url("BAKTA_API_URL", bakta.DEFAULT_URL, service), http_timeout
                )
            if service == "mfannotweb":
                setting = url("MFANNOTWEB_URL", mfannotweb.DEFAULT_URL, service)
                where = str(setting)
                token = env_credential("MFANNOTWEB_TOKEN", service, header=True)
                return check.check_mfannotweb(setting, token, http_timeout)
            if not os.environ.get("CODON_API_URL", "").strip():
                what = "API URL, username and password for the codon service"
                variables = "CODON_API_URL, CODON_USERNAME and CODON_PASSWORD"
                return check.not_configured(
                    service, "(CODON_API_URL is not set)", check.missing(what, variables, "them")
                )
            setting = url("CODON_API_URL", None, service)
            where = str(setting)
            return check.check_codon(
                setting,
                env_credential("CODON_USERNAME", service),
                env_credential("CODON_PASSWORD", service),
                http_timeout,
            )
        except InputError as exc:  # a URL that is not one, a credential that cannot be sent
            return check.not_configured(service, where, exc.message)

    def echo(line: str, err: bool = False) -> None:  # a Galaxy dataset: plain ASCII (plain.py)
        click.echo(ascii_text(line), err=err)

    reports = [run(service) for service in services or check.SERVICES]
    echo(
        f"remote-jobs {__version__} check on node {socket.gethostname()} (Python"
        f" {platform.python_version()}, requests {requests.__version__})"
    )
    bad = [r.service for r in reports if not r.usable]
    good = [r.service for r in reports if r.usable]
    verdict = f"NOT USABLE: {', '.join(bad)}" if bad else "ALL USABLE"
    echo(verdict + (f"; usable: {', '.join(good)}" if bad and good else ""))
    for report in reports:
        echo("")
        echo(f"{report.service}: {report.where}")
        for step in report.steps:
            took = f"{step.seconds * 1000:.0f} ms" if step.seconds is not None else ""
            echo(f"  {step.name:<9} {'ok' if step.ok else 'FAILED':<7}{took:>8}  {step.detail}")
        echo(f"  => {'usable' if report.usable else f'not usable (exit {report.exit_code})'}")
    if bad:
        failures = "; ".join(f"{r.service}: {r.failure}" for r in reports if not r.usable)
        echo(f"error: check: not usable: {failures}", err=True)
    sys.exit(check.exit_code(reports))


def main() -> None:
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        sys.exit(cli.main(prog_name="remote-jobs", standalone_mode=True))
    except Interrupted as interrupted:  # before or after a command ran: nothing to clean up
        click.echo(f"error: {interrupted}", err=True)
        _end_now(interrupted.exit_code)
    except SystemExit as end:
        if stop.stopping:
            _end_now(end.code if isinstance(end.code, int) else 1)
        raise


def _end_now(code: int) -> None:
    """A stopped run has said all it has to say: it ends now, without the interpreter's
    teardown (a tenth of a second of Galaxy's one, or a hang on a thread still waiting for a
    DELETE's answer)."""
    with contextlib.suppress(OSError):  # a reader that has gone
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
