"""What a Bakta run is asked to do, checked before anything is sent: the options of a genome
annotation (and their v1 and v2 start configs), the result file names, and the input checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fasta import BAKTA_DNA, BIOPYTHON, FastaRecord, read_fasta

SERVICE = "bakta"
# The result files, by the suffix the Bakta command line gives each (v1.RESULT_FILES and
# v2.RESULT_FILES map the APIs' keys onto these).
FORMATS = (
    "gff3",
    "gbff",
    "embl",
    "fna",
    "ffn",
    "faa",
    "tsv",
    "hypotheticals.tsv",
    "hypotheticals.faa",
    "inference.tsv",
    "txt",
    "json",
    "png",
    "svg",
)  # a genome annotation (workflows bakta, bakta_baktfold)
LOG = "log"  # --format log: the job's log as the service gives it (GET job/logs), not a result
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
REPLICON_TYPES = frozenset({"chromosome", "plasmid", "contig", "c", "p"})
TOPOLOGIES = frozenset({"circular", "linear", "c", "l"})
# Bakta's own rules (its config.py and constants.py); a job breaking them fails only after
# its queue wait, so they are checked here first.
LOCUS = re.compile(r"[A-Za-z0-9_.:*#-]{1,20}")
LOCUS_TAG = re.compile(r"[A-Za-z0-9_.-]{1,24}")
LOCUS_TAG_COMPLIANT = re.compile(r"[A-Z][A-Z0-9]{2,11}")  # INSDC, with --compliant
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

    def result_formats(self) -> tuple[str, ...]:
        """The files a genome annotation with these options makes (Bakta's main.py: no plot
        with --skip-plot or in metagenome mode, no hypotheticals with --skip-cds)."""
        unmade = set()
        if "plot" in self.skips or self.meta:
            unmade |= {"png", "svg"}
        if "cds" in self.skips:
            unmade |= {"hypotheticals.tsv", "hypotheticals.faa"}
        return tuple(f for f in FORMATS if f not in unmade)

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


GENOME_SUFFIXES = (".fasta", ".fna", ".fas", ".fa", ".fsa", ".dat")


def read_genome(path: Path) -> list[FastaRecord]:
    """A genome as Bakta reads it (Biopython's FASTA reader, then its DNA pattern): gzip
    read decompressed, '-' dropped, no U, nothing before the first header."""
    return read_fasta(path, service=SERVICE, alphabet=BAKTA_DNA, layout=BIOPYTHON)


def _stem(path: Path, suffixes: Iterable[str]) -> str:
    """The input's file name without its format's suffix (and a gzip one)."""
    stem = path.name
    if stem.lower().endswith(".gz") and len(stem) > 3:
        stem = stem[:-3]
    for suffix in suffixes:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def sample_name(path: Path, suffixes: Iterable[str] = GENOME_SUFFIXES) -> str:
    """The sample's name: its folder and the prefix of its result files here, each character
    outside [0-9a-zA-Z_.] made '_' (leading dots dropped)."""
    name = re.sub(r"[^0-9a-zA-Z_.]", "_", _stem(path, suffixes))[:63].lstrip(".")
    if not name:
        raise InputError(SERVICE, f"cannot name a job after the file name {path.name!r}")
    return name


def job_name(path: Path, suffixes: Iterable[str] = GENOME_SUFFIXES) -> str:
    """The name a job is initialised with, as the backend sanitises it (each run of
    characters outside [0-9a-zA-Z_.] becomes one '_', cut at 63, trailing non-alphanumerics
    stripped), beginning with a letter or digit too: the name also labels the job in the
    service's Kubernetes workflow engine, whose label values begin and end with one. The
    files written here keep the sample's name (`sample_name`)."""
    name = re.sub(r"[^0-9a-zA-Z_.]+", "_", _stem(path, suffixes))[:63]
    return re.sub(r"^[^0-9a-zA-Z]+|[^0-9a-zA-Z]+$", "", name) or "genome"


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
    _check_locus(options)
    tf = options.prodigal_tf
    if tf is not None and (not tf.is_file() or tf.stat().st_size == 0):
        raise InputError(SERVICE, f"prodigal training file {options.prodigal_tf} is empty")
    if options.proteins is not None:
        check_trusted_proteins(options.proteins)
    if options.hmms is not None:
        _check_start(options.hmms, "HMM file", ("HMMER3",), "HMMER3 text (hmmpress input)")
    if options.regions is not None:
        _check_start(
            options.regions, "regions file", ("##gff-version 3", "LOCUS"), "GFF3 or GenBank"
        )


def _check_locus(options: AnnotationOptions) -> None:
    """The locus and locus tag prefixes as Bakta checks them (no white space, its patterns)."""
    if options.locus is not None and not LOCUS.fullmatch(options.locus):
        raise InputError(
            SERVICE,
            f"the locus {options.locus!r} must be 1 to 20 letters, digits or _.:*#- characters"
            " (Bakta's rule), no white space",
        )
    tag = options.locus_tag
    if tag is None:
        return
    if options.compliant and not LOCUS_TAG_COMPLIANT.fullmatch(tag):
        raise InputError(
            SERVICE,
            f"with --compliant the locus tag {tag!r} must be 3 to 12 upper-case letters and"
            " digits beginning with a letter (INSDC's rule, as Bakta checks it)",
        )
    if not LOCUS_TAG.fullmatch(tag):
        raise InputError(
            SERVICE,
            f"the locus tag {tag!r} must be 1 to 24 letters, digits or _.- characters"
            " (Bakta's rule), no white space",
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


def check_trusted_proteins(path: Path) -> None:
    """Trusted proteins as Bakta will read them: the service stores them as
    `trusted_proteins.faa` and Bakta picks its parser by that suffix, so only FASTA is read,
    and a protein whose header is not `>id gene~~~product~~~dbxrefs` (or
    `>id min_identity~~~min_query_cov~~~min_subject_cov~~~gene~~~product~~~dbxrefs`) is
    skipped (its expert/protein_sequences.py): refused here instead of being left out."""
    _check_start(path, "trusted proteins", (">", "LOCUS"), "FASTA")
    label = f"trusted proteins {path.name}"
    with open(path, "rb") as handle:
        if handle.read(5) == b"LOCUS":
            raise InputError(
                SERVICE,
                f"{label} is GenBank: the service stores trusted proteins as"
                " trusted_proteins.faa and Bakta would read them as FASTA; give them as FASTA",
            )
    records = read_fasta(path, service=SERVICE, alphabet=PROTEIN_LETTERS)
    with open(path, encoding="utf-8", errors="replace") as lines:
        stripped = ((n, line.lstrip("\ufeff").strip()) for n, line in enumerate(lines, start=1))
        headers = [(n, line) for n, line in stripped if line.startswith(">")]
    for (number, line), record in zip(headers, records, strict=False):
        why = _trusted_header_problem(line[1:])
        if why:
            raise InputError(
                SERVICE,
                f"{label}, line {number}: '{record.id}' {why}; Bakta reads"
                " '>id gene~~~product~~~dbxrefs' and skips other proteins",
            )


def _trusted_header_problem(header: str) -> str | None:
    """Why Bakta would skip (or fail on) a trusted protein with this header, or None."""
    _, space, description = header.partition(" ")
    if not space:
        return "has no description"
    cols = description.split("~~~")
    if len(cols) not in (3, 6):
        return f"has {len(cols)} '~~~'-separated fields, not 3 or 6"
    if len(cols) == 6:
        try:
            [float(col) for col in cols[:3]]
        except ValueError:
            return "has minimum identity and coverages that are not numbers"
    _, product, xrefs = cols[-3:]
    if not product.strip():
        return "has no product"
    if xrefs and any(":" not in xref for xref in xrefs.split(",")):
        return f"has a dbxref without 'DB:' ({xrefs})"
    return None


def check_proteins(path: Path) -> None:
    """A protein FASTA for bakta_proteins: amino acids, not nucleotides."""
    records = read_fasta(
        path, service=SERVICE, alphabet=PROTEIN_LETTERS, keep_sequences=True, layout=BIOPYTHON
    )
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


def read_replicon_table(path: Path, table_type: str | None, contigs: dict[str, set[str]]) -> str:
    """Validate a replicon table (Bakta's columns) and return its type, TSV or CSV.

    `contigs`: each genome's sequence ids, by file name. The table goes with every genome of
    the run, as if each ran alone (Bakta ignores a row naming no sequence of its genome): each
    row must name a sequence of each genome, else it would silently do nothing for one.
    """
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
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
        for genome, ids in contigs.items():
            if original not in ids:
                raise InputError(SERVICE, f"{where}: no sequence '{original}' in {genome}")
        if kind.lower() not in REPLICON_TYPES:
            raise InputError(SERVICE, f"{where}: type '{kind}' is not chromosome/plasmid/contig")
        if topology.lower() not in TOPOLOGIES:
            raise InputError(SERVICE, f"{where}: topology '{topology}' is not circular/linear")
    return table_type


def csv_to_tsv(path: Path) -> bytes:
    """A CSV replicon table as Bakta's tab-separated columns (v2's init has no table type)."""
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return "".join(
        "\t".join(cell.strip() for cell in row.split(",")) + "\n" for row in rows
    ).encode()
