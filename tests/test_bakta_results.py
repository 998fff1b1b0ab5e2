"""Bakta as the service runs today (issue 26): what its result listing may leave out, what a
fetched file must be, and the inputs it takes as Bakta itself takes them, through the real CLI
against the fake backend behaving like the newer backend (../shared/notes/bakta-v2.md, "What
the newer backend source adds")."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_jobs import bakta
from tests.conftest import bakta_env, run_cli
from tests.fakes.bakta_service import FakeBakta
from tests.fakes.server import Fault, Response

LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><form action='/login'>Access denied: please sign in</form></body></html>\n"
)


@pytest.fixture
def v2_server() -> Iterator[FakeBakta]:
    with FakeBakta(v2=True) as server:
        yield server


def annotate(server: FakeBakta, workdir: Path, *extra: str, command: str = "annotate"):
    args = ["bakta", command, "--outdir", str(workdir / "out"), "--poll-interval", "0", *extra]
    return run_cli(args, bakta_env(server), cwd=workdir)


def fetched(workdir: Path, sample: str = "genome") -> list[str]:
    return sorted(p.name for p in (workdir / "out" / sample).iterdir())


# ------------------------------------------------------------ 5: optional result files


def test_a_file_the_service_did_not_produce_is_named_and_the_rest_fetched(
    v2_server: FakeBakta, workdir: Path
) -> None:
    """A Bakta before 1.10 writes no inference table: the newer backend lists no link for it."""
    v2_server.version_v2["bakta_version"] = "1.9.4"
    result = annotate(
        v2_server, workdir, "genome.fasta", "--format", "gff3", "--format", "inference.tsv"
    )
    assert result.returncode == 0, result.stderr
    assert "bakta: genome: the service did not produce inference.tsv; fetched the rest" in (
        result.stderr.splitlines()
    )
    assert fetched(workdir) == ["genome.gff3"]


def test_meta_on_a_build_that_lists_every_link_fetches_all_but_the_plots(workdir: Path) -> None:
    """The intermediate build lists the plots in metagenome mode, and their links answer 404."""
    with FakeBakta(v2=True) as server:
        server.lists_every_file = True
        result = annotate(server, workdir, "genome.fasta", "--meta")
    assert result.returncode == 0, result.stderr
    assert "bakta: genome: the service did not produce png, svg; fetched the rest" in (
        result.stderr.splitlines()
    )
    expected = [f"genome.{s}" for s in bakta.FORMATS if s not in ("png", "svg")]
    assert fetched(workdir) == sorted(expected)


def test_meta_on_the_newer_backend_makes_no_plots_and_says_nothing_of_them(
    v2_server: FakeBakta, workdir: Path
) -> None:
    result = annotate(v2_server, workdir, "genome.fasta", "--meta")
    assert result.returncode == 0, result.stderr
    assert "did not produce" not in result.stderr
    assert "genome.png" not in fetched(workdir) and "genome.gff3" in fetched(workdir)


@pytest.mark.parametrize(("option", "plot"), [("--meta", "png"), ("--skip-plot", "svg")])
def test_plots_asked_for_where_bakta_makes_none_are_refused_before_any_request(
    v2_server: FakeBakta, workdir: Path, option: str, plot: str
) -> None:
    result = annotate(v2_server, workdir, "genome.fasta", option, "--format", plot)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: bakta: {option} makes no {plot} file"
    assert v2_server.log == []


def test_a_result_without_json_fails_even_where_json_was_not_asked_for(
    v2_server: FakeBakta, workdir: Path
) -> None:
    made = v2_server.results_v2

    def without_json(job):  # a storage that lost the one file every job has
        return {key: data for key, data in made(job).items() if key != "json"}

    v2_server.results_v2 = without_json  # type: ignore[method-assign]
    result = annotate(v2_server, workdir, "genome.fasta", "--format", "gff3")
    assert result.returncode == 4
    assert "the service lists no json file, which every finished job has" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1:]) == 1
    assert not (workdir / "out" / "genome").exists()


# ------------------------------------------------------------ 6: what a fetched file must be


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_html_page_where_a_result_file_was_expected_fails_the_genome(
    workdir: Path, api: str
) -> None:
    """A proxy's or portal's login page answered 200 for a result link."""
    with FakeBakta(v2=api == "v2") as server:
        page = Response(200, LOGIN_PAGE, {"Content-Type": "text/html; charset=utf-8"})
        server.faults.append(Fault("GET", "/bakta-web/jobs/", page))
        result = annotate(server, workdir, "genome.fasta", "--format", "gff3", "--format", "txt")
    assert result.returncode == 4
    job = next(iter(server.requests_to("POST", f"/api/{api}/job/result"))).json()
    job_id = job.get("jobID") or job.get("job_id")
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: bakta job {job_id}: the gff3 file the service sent is not GFF3 (an HTML page):"
        " it begins '<!DOCTYPE html> <html><head><title>Sign in</title></head><bo'"
    )
    assert not (workdir / "out" / "genome").exists()


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        ("png", b"GIF89a not a png"),
        ("json", b"Access denied\n"),
        ("svg", LOGIN_PAGE),
        ("txt", LOGIN_PAGE),
        ("faa", b"MKV not fasta\n"),
        ("tsv", LOGIN_PAGE),
    ],
)
def test_each_kind_of_result_file_is_checked_for_what_it_must_be(
    v2_server: FakeBakta, workdir: Path, suffix: str, content: bytes
) -> None:
    made = v2_server.results_v2
    key = next(k for k, s in bakta.v2.RESULT_FILES.items() if s == suffix)
    v2_server.results_v2 = lambda job: {**made(job), key: content}  # type: ignore[method-assign]
    result = annotate(v2_server, workdir, "genome.fasta", "--format", suffix)
    assert result.returncode == 4
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"the {suffix} file the service sent is not" in errors[0]
    assert not (workdir / "out" / "genome").exists()


def test_genuine_files_pass_the_check_even_empty_ones(v2_server: FakeBakta, workdir: Path) -> None:
    """--skip-cds: Bakta writes empty protein and feature FASTA files, and no hypotheticals."""
    result = annotate(v2_server, workdir, "genome.fasta", "--skip-cds")
    assert result.returncode == 0, result.stderr
    folder = workdir / "out" / "genome"
    assert (folder / "genome.faa").read_bytes() == b""
    assert "genome.hypotheticals.tsv" not in fetched(workdir)
    assert json.loads((folder / "genome.json").read_text())["features"] == []


# ------------------------------------------------------------ 7: locus and locus tag


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--locus", "EC K"], "the locus 'EC K' must be 1 to 20 letters, digits or _.:*#-"),
        (["--locus", "L" * 21], "must be 1 to 20"),
        (["--locus", "EC/K"], "the locus 'EC/K' must be"),
        (["--locus-tag", "ECK\t1"], "the locus tag 'ECK\\t1' must be 1 to 24 letters"),
        (["--locus-tag", "ECK:1"], "the locus tag 'ECK:1' must be 1 to 24"),
        (["--locus-tag", "T" * 25], "must be 1 to 24"),
        (["--locus-tag", "eck1", "--compliant"], "with --compliant the locus tag 'eck1' must"),
        (["--locus-tag", "1ECK", "--compliant"], "3 to 12 upper-case letters and digits"),
        (["--locus-tag", "EC", "--compliant"], "beginning with a letter"),
    ],
)
@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_locus_or_locus_tag_bakta_refuses_is_refused_before_anything_is_sent(
    workdir: Path, api: str, options: list[str], words: str
) -> None:
    with FakeBakta(v2=api == "v2") as server:
        result = annotate(server, workdir, "genome.fasta", *options)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: bakta: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.log == []


def test_a_locus_and_locus_tag_bakta_takes_are_sent(v2_server: FakeBakta, workdir: Path) -> None:
    options = ["--locus", "ECK:1.*#-_", "--locus-tag", "ECO_1.2-b", "--format", "gff3"]
    result = annotate(v2_server, workdir, "genome.fasta", *options)
    assert result.returncode == 0, result.stderr
    config = v2_server.requests_to("POST", "/api/v2/job/start")[0].json()["config"]
    assert (config["locus"], config["locus_tag"]) == ("ECK:1.*#-_", "ECO_1.2-b")


# ------------------------------------------------------------ 8: job names


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize(
    ("file", "sample", "sent"),
    [
        ("_draft genome-.fasta", "_draft_genome_", "draft_genome"),
        ("+sample  #7.fna", "_sample___7", "sample_7"),
        ("genome.v2..fasta", "genome.v2.", "genome.v2"),
        ("___.fasta", "___", "genome"),
    ],
)
def test_job_names_are_sent_as_the_backend_keeps_them_and_label_the_job(
    workdir: Path, api: str, file: str, sample: str, sent: str
) -> None:
    """The local files keep the sample's name; the job's name begins and ends with a letter or
    digit, as the workflow engine's labels must (the fake fails a job whose label is not)."""
    (workdir / file).write_bytes((workdir / "genome.fasta").read_bytes())
    with FakeBakta(v2=api == "v2") as server:
        result = annotate(server, workdir, file, "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert server.requests_to("POST", f"/api/{api}/job/init")[0].json()["name"] == sent
    assert fetched(workdir, sample) == [f"{sample}.gff3"]
    assert result.stdout.strip() == str(workdir / "out" / sample)


# ------------------------------------------------------------ 9: trusted proteins, regions

TRUSTED = (
    ">T1 gfp~~~Green fluorescent protein~~~UniRef:UniRef90_P42212\nMSKGEELFTGVVPILVELDGDV\n"
    ">T2 90~~~80~~~80~~~~~~Lipoprotein~~~\nMKKLLPTAAAGLLLLAAQPAMA\n"
)
GENBANK = "LOCUS       T1   22 aa   linear   BCT\nFEATURES             Location/Qualifiers\n//\n"
REGIONS = "##gff-version 3\nchromosome_1\tuser\tCDS\t84\t452\t.\t+\t0\tID=r1;product=TrpC\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (GENBANK, "trusted proteins trusted.faa is GenBank: the service stores trusted proteins"
         " as trusted_proteins.faa and Bakta would read them as FASTA; give them as FASTA"),
        (">T1 a protein\nMKV\n", "line 1: 'T1' has 1 '~~~'-separated fields, not 3 or 6"),
        (">T1\nMKV\n", "line 1: 'T1' has no description"),
        (TRUSTED + ">T3 x~~~~~~\nMKV\n", "line 5: 'T3' has no product"),
        (">T1 g~~~p~~~UniRef90_X\nMKV\n", "has a dbxref without 'DB:' (UniRef90_X)"),
        (">T1 a~~~b~~~c~~~g~~~p~~~\nMKV\n", "minimum identity and coverages that are not numbers"),
    ],
)  # fmt: skip
def test_trusted_proteins_bakta_would_not_read_are_refused_before_anything_is_sent(
    v2_server: FakeBakta, workdir: Path, content: str, words: str
) -> None:
    (workdir / "trusted.faa").write_text(content)
    result = annotate(v2_server, workdir, "genome.fasta", "--proteins", "trusted.faa")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: bakta: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert v2_server.log == []


def test_trusted_proteins_in_bakta_s_headers_are_sent_as_they_are(
    v2_server: FakeBakta, workdir: Path
) -> None:
    (workdir / "trusted.faa").write_text(TRUSTED)
    result = annotate(
        v2_server, workdir, "genome.fasta", "--proteins", "trusted.faa", "--format", "gff3"
    )
    assert result.returncode == 0, result.stderr
    puts = v2_server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    assert [p.body for p in puts if p.path.endswith("/trusted_proteins_file")] == [TRUSTED.encode()]


def test_the_run_says_when_bakta_took_nothing_from_the_regions_file(
    v2_server: FakeBakta, workdir: Path
) -> None:
    """The backend stores the regions as `regions`, without a suffix: Bakta imports nothing
    from such a file and says so only in its log."""
    (workdir / "regions.gff3").write_text(REGIONS)
    result = annotate(
        v2_server, workdir, "genome.fasta", "--regions", "regions.gff3", "--format", "gff3"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "bakta: genome: Bakta took no CDS from the regions file regions.gff3 (the service may not"
        " hand it on in a form Bakta reads): every CDS is Bakta's own prediction"
    ) in result.stderr.splitlines()
    assert fetched(workdir) == ["genome.gff3"]  # the JSON read for this is not kept


def test_the_run_says_how_many_cdss_bakta_took_from_the_regions_file(
    v2_server: FakeBakta, workdir: Path
) -> None:
    """A service whose workflow hands the file on as `regions.gff3`: Bakta marks each CDS it
    took from it `"source": "user-provided"` in its JSON."""
    v2_server.regions_name = "regions.gff3"
    (workdir / "regions.gff3").write_text(REGIONS)
    result = annotate(v2_server, workdir, "genome.fasta", "--regions", "regions.gff3")
    assert result.returncode == 0, result.stderr
    line = "bakta: genome: Bakta took 1 CDS(s) from the regions file regions.gff3"
    assert line in result.stderr.splitlines()
    features = json.loads((workdir / "out" / "genome" / "genome.json").read_text())["features"]
    assert [(f["start"], f["stop"]) for f in features if f.get("source") == "user-provided"] == [
        (84, 452)
    ]


# ------------------------------------------------------------ 10: Baktfold only where it is


@pytest.mark.parametrize("missing", ["", None])
@pytest.mark.parametrize("command", ["annotate", "baktfold"])
def test_baktfold_on_a_deployment_without_it_stops_before_uploading(
    v2_server: FakeBakta, workdir: Path, command: str, missing: str | None
) -> None:
    """GET /workflows is a static list: it names Baktfold where the deployment has none."""
    v2_server.version_v2["baktfold_version"] = missing  # type: ignore[assignment]
    (workdir / "genome.json").write_bytes(
        (Path(__file__).parent.parent / "test-data" / "bakta_genome.json").read_bytes()
    )
    inputs = ["genome.fasta", "--baktfold"] if command == "annotate" else ["genome.json"]
    result = annotate(v2_server, workdir, *inputs, command=command)
    assert result.returncode == 2, result.stderr
    kind = "bakta_baktfold" if command == "annotate" else "baktfold"
    assert result.stderr.strip() == (
        f"error: bakta: the service at {v2_server.base}/api/v2 has no Baktfold (its GET /version"
        f" names no baktfold_version), although it lists the {kind} workflow"
    )
    assert [(r.method, r.path) for r in v2_server.log] == [
        ("GET", "/api/v2/workflows"),
        ("GET", "/api/v2/version"),
    ]


def test_plain_annotation_on_a_deployment_without_baktfold_runs_and_names_no_empty_version(
    v2_server: FakeBakta, workdir: Path
) -> None:
    v2_server.version_v2.update(baktfold_version="", baktfold_db_version="", bakta_db_version="")
    result = annotate(v2_server, workdir, "genome.fasta", "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"bakta: Bakta 1.11.0, database ?, backend 0.6.0 at {v2_server.base}/api/v2 (bakta)"
    )
    assert len(v2_server.requests_to("GET", "/api/v2/version")) == 1


# ------------------------------------------------------------ 12, 13: genomes as Bakta reads them


def genome_bytes(workdir: Path) -> bytes:
    return (workdir / "genome.fasta").read_bytes()


def uploaded_genome(server: FakeBakta, api: str) -> bytes:
    kind = "fastadata.fasta" if api == "v1" else "genome_fasta"
    puts = server.requests_to("PUT", "/bakta-web/jobs/", prefix=True)
    return next(p.body for p in puts if p.path.endswith("/" + kind))


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_byte_order_mark_is_left_out_of_the_upload(workdir: Path, api: str) -> None:
    """Biopython's reader takes a file beginning with a byte order mark for no FASTA."""
    (workdir / "bom.fasta").write_bytes(b"\xef\xbb\xbf" + genome_bytes(workdir))
    with FakeBakta(v2=api == "v2") as server:
        result = annotate(server, workdir, "bom.fasta", "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert uploaded_genome(server, api) == genome_bytes(workdir)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b">c1\nACGUACGU\n", "line 2: characters 'U' are not allowed (allowed: ABCDGHKMNRSTVWY-);"
         " RNA? DNA is needed (T, not U)"),
        (b"\n>c1\nACGT\n", "line 1: not FASTA: the first line must be a '>' header"),
        (b">c1\nACGT\n >c2\nACGT\n", "line 3: characters '2>' are not allowed"),
        (b">c1\nAC\x0bGT\n", "line 2: the character U+000B is not allowed in a sequence"),
        (b">c1\n----\n", "sequence 'c1' is empty"),
    ],
)  # fmt: skip
def test_a_genome_bakta_s_reader_refuses_is_refused_before_anything_is_sent(
    bakta_server: FakeBakta, workdir: Path, content: bytes, words: str
) -> None:
    (workdir / "bad.fasta").write_bytes(content)
    result = annotate(bakta_server, workdir, "bad.fasta")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: bakta: bad.fasta") and words in result.stderr
    assert bakta_server.log == []


def test_alignment_gaps_are_taken_as_bakta_takes_them(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    gapped = genome_bytes(workdir).replace(b"GATGCATACG", b"GATG--CATACG")
    (workdir / "gapped.fasta").write_bytes(gapped)
    result = annotate(bakta_server, workdir, "gapped.fasta", "--format", "fna")
    assert result.returncode == 0, result.stderr
    assert uploaded_genome(bakta_server, "v1") == gapped
    assert b"-" not in (workdir / "out" / "gapped" / "gapped.fna").read_bytes()


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_gzip_compressed_genome_is_checked_decompressed_and_sent_as_it_is(
    workdir: Path, api: str
) -> None:
    packed = gzip.compress(genome_bytes(workdir), mtime=0)
    (workdir / "packed.fna.gz").write_bytes(packed)
    (workdir / "replicons.tsv").write_text("chromosome_1\tchr\tc\tc\tchr\n")
    with FakeBakta(v2=api == "v2") as server:
        result = annotate(
            server, workdir, "packed.fna.gz", "--replicons", "replicons.tsv", "--format", "gff3"
        )
    assert result.returncode == 0, result.stderr
    assert uploaded_genome(server, api) == packed
    assert server.requests_to("POST", f"/api/{api}/job/init")[0].json()["name"] == "packed"
    assert fetched(workdir, "packed") == ["packed.gff3"]


def test_a_gzip_compressed_genome_is_checked_whole(bakta_server: FakeBakta, workdir: Path) -> None:
    (workdir / "rna.fa.gz").write_bytes(
        gzip.compress(b">c1\nACGT\n>c2\nACGT\n>c3\nACGT\n>c9\nACGU\n")
    )
    result = annotate(bakta_server, workdir, "rna.fa.gz")
    assert result.returncode == 2
    assert "rna.fa.gz, line 8: characters 'U' are not allowed" in result.stderr
    (workdir / "cut.fa.gz").write_bytes(gzip.compress(genome_bytes(workdir))[:300])
    result = annotate(bakta_server, workdir, "cut.fa.gz")
    assert result.returncode == 2
    assert result.stderr.startswith("error: bakta: cut.fa.gz: not a readable gzip file")
    assert len(result.stderr.strip().splitlines()) == 1
    assert bakta_server.log == []


def test_a_gzip_compressed_genome_with_a_byte_order_mark_is_sent_decompressed_without_it(
    bakta_server: FakeBakta, workdir: Path
) -> None:
    (workdir / "bom.fasta.gz").write_bytes(gzip.compress(b"\xef\xbb\xbf" + genome_bytes(workdir)))
    result = annotate(bakta_server, workdir, "bom.fasta.gz", "--format", "gff3")
    assert result.returncode == 0, result.stderr
    assert uploaded_genome(bakta_server, "v1") == genome_bytes(workdir)
