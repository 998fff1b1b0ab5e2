"""Build the cassettes in test-data/cassettes/ by recording real `remote-jobs` runs.

No live service is reachable from our machines, so each run talks to the fake services of
this package (which follow the API contracts and ../shared/notes), and the recording is then
rewritten to the services' real hosts. Run from the repository root:

    .venv/bin/python -m tests.fakes.record [NAME ...]

Maintainers with network access record live runs instead with `--record-cassette`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcr.serializers import yamlserializer

from .bakta_service import FakeBakta
from .codon_service import FakeCodon
from .mfannotweb_service import FakeMfannotWeb
from .server import FakeServer

ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = ROOT / "test-data"
CASSETTES = TEST_DATA / "cassettes"
REMOTE_JOBS = [sys.executable, "-m", "remote_jobs"]

BAKTA_HOST = "https://api.bakta.computational.bio"
S3_HOST = "https://s3.computational.bio.uni-giessen.de"
MFANNOTWEB_HOST = "https://megasun.bch.umontreal.ca"  # the API is under /apps/mfannotweb/api/v1
SELF_HOSTED_MFANNOTWEB = "https://mfannot.example.org"  # the API docs' example: /api/v1 at the root
CODON_HOST = "https://codon-api.example.org"  # the real host is not public: see test-data/README
# Credentials used while recording; they must not appear in any cassette.
MFANNOTWEB_TOKEN = "mfw_RecordingToken0123456789abcdef"
CODON_USERNAME = "recording-user@example.org"
CODON_PASSWORD = "recording-password-Zq8"


@dataclass
class Scenario:
    name: str
    server: Callable[[], FakeServer]
    args: list[str]
    inputs: dict[str, str]  # file name in the run folder -> test-data file
    host: str  # the real host the fake's base URL is rewritten to
    expect_rc: int = 0
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[Any, list[str]], None] | None = None
    # Settings a replay needs too (a self-hosted service's URL); recording points them at the fake.
    replay_env: dict[str, str] = field(default_factory=dict)


def _bakta(**kwargs: Any) -> Callable[[], FakeServer]:
    """A Bakta deployment serving v1 only (pass v2=True for one that also serves v2)."""
    return lambda: FakeBakta(**kwargs)


def _mfannotweb(
    fail_with: str | None = None,
    prefix: str = "/apps/mfannotweb",
    link_style: str = "path",
    omit_suffixes: tuple[str, ...] = (),
) -> Callable[[], FakeServer]:
    """Like the public instance by default: mounted under a prefix, links as paths from the root."""

    def make() -> FakeServer:
        server = FakeMfannotWeb(MFANNOTWEB_TOKEN, prefix=prefix)
        server.fail_with = fail_with
        server.link_style = link_style
        server.omit_suffixes = omit_suffixes
        return server

    return make


def _codon(fail_with: str | None = None) -> Callable[[], FakeServer]:
    def make() -> FakeServer:
        server = FakeCodon(CODON_USERNAME, CODON_PASSWORD)
        server.fail_with = fail_with
        return server

    return make


# Named as Galaxy names the tools' test inputs: the job name comes from the dataset's name.
GENOME = {"bakta_genome.fasta": "bakta_genome.fasta"}
TRUSTED = {"bakta_trusted.faa": "bakta_trusted.faa", "bakta_trusted.hmm": "bakta_trusted.hmm", "bakta_regions.gff3": "bakta_regions.gff3"}  # fmt: skip
FEW = ["--format", "gff3", "--format", "tsv", "--format", "txt"]  # test-data stays small
SKIPS = ["--skip-trna", "--skip-tmrna", "--skip-crispr", "--skip-ori", "--skip-plot"]
MITO = {"mito_genome.fasta": "mito_genome.fasta"}
POLL = ["--poll-interval", "0"]
SCENARIOS = [
    Scenario("bakta_default", _bakta(), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", *POLL], GENOME, BAKTA_HOST),
    Scenario(
        "bakta_options",
        _bakta(),
        ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--translation-table", "4", "--complete",
         "--compliant", "--keep-contig-headers", "--min-contig-length", "200", "--derm-type", "diderm",
         "--genus", "Escherichia", "--species", "coli", "--strain", "K-12", "--plasmid", "pTEST1",
         "--locus", "ECK", "--locus-tag", "ECKTEST", "--format", "gff3", "--format", "tsv",
         "--format", "txt", *POLL],
        GENOME,
        BAKTA_HOST,
    ),
    Scenario(
        "bakta_replicons_prodigal",
        _bakta(),
        ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--replicons", "replicons.tsv",
         "--prodigal-tf", "training.tf", "--format", "gff3", "--format", "gbff", "--format", "txt", *POLL],
        {**GENOME, "replicons.tsv": "bakta_replicons.tsv", "training.tf": "bakta_prodigal.tf"},
        BAKTA_HOST,
    ),
    Scenario("bakta_gzip", _bakta(), ["bakta", "annotate", "bakta_genome.fasta.gz", "--outdir", "out", *FEW, *POLL], {"bakta_genome.fasta.gz": "bakta_genome.fasta.gz"}, BAKTA_HOST),
    Scenario("bakta_error", _bakta(script=["INIT", "RUNNING", "ERROR"]), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", *POLL], GENOME, BAKTA_HOST, expect_rc=4),
    Scenario(
        "bakta_batch",
        _bakta(scripts={"bakta_genome": ["INIT", "RUNNING", "RUNNING", "SUCCESSFUL"], "bakta_plasmid": ["INIT", "RUNNING", "SUCCESSFUL"]}),
        ["bakta", "annotate", "bakta_genome.fasta", "bakta_plasmid.fasta", "--outdir", "out", "--format", "gff3", "--format", "json", *POLL],
        {**GENOME, "bakta_plasmid.fasta": "bakta_plasmid.fasta"},
        BAKTA_HOST,
    ),
    Scenario("bakta_version", _bakta(), ["bakta", "version"], {}, BAKTA_HOST),
    # API v2, beside v1 on the same host
    Scenario("bakta_v2_default", _bakta(v2=True), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", *FEW, *POLL], GENOME, BAKTA_HOST),
    Scenario("bakta_v2_skips", _bakta(v2=True), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", *SKIPS, "--locus-tag-increment", "10", *FEW, *POLL], GENOME, BAKTA_HOST),
    Scenario(
        "bakta_v2_trusted",
        _bakta(v2=True),
        ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--proteins", "bakta_trusted.faa",
         "--hmms", "bakta_trusted.hmm", "--regions", "bakta_regions.gff3", *FEW, *POLL],
        {**GENOME, **TRUSTED},
        BAKTA_HOST,
    ),
    Scenario("bakta_v2_meta_table25", _bakta(v2=True), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--meta", "--translation-table", "25", *FEW, *POLL], GENOME, BAKTA_HOST),
    Scenario("bakta_v2_baktfold", _bakta(v2=True), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--baktfold", *FEW, *POLL], GENOME, BAKTA_HOST),
    Scenario("bakta_v2_error", _bakta(v2=True, script=["INIT", "RUNNING", "ERROR"]), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", *POLL], GENOME, BAKTA_HOST, expect_rc=4),
    # The job's log beside its files (v2: every stage's); an older v2 build without job logs (501).
    Scenario("bakta_v2_log", _bakta(v2=True), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--format", "gff3", "--format", "log", *POLL], GENOME, BAKTA_HOST),
    Scenario("bakta_v2_no_log", _bakta(v2=True, v2_logs=False), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--format", "gff3", "--format", "log", *POLL], GENOME, BAKTA_HOST),
    # The service's workflow engine fails the first job: it is resubmitted once (--resubmit 1).
    Scenario("bakta_resubmitted", _bakta(engine_failures=1), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--format", "gff3", *POLL], GENOME, BAKTA_HOST),
    Scenario("bakta_v1_refuses_meta", _bakta(), ["bakta", "annotate", "bakta_genome.fasta", "--outdir", "out", "--meta", *POLL], GENOME, BAKTA_HOST, expect_rc=2),
    Scenario("bakta_v2_version", _bakta(v2=True), ["bakta", "version"], {}, BAKTA_HOST),
    Scenario("bakta_proteins", _bakta(v2=True), ["bakta", "proteins", "bakta_proteins.faa", "--outdir", "out", *POLL], {"bakta_proteins.faa": "bakta_proteins.faa"}, BAKTA_HOST),
    # Every file Baktfold gives: the tool's tests fetch each of them (the test data stays small).
    Scenario("bakta_baktfold", _bakta(v2=True), ["bakta", "baktfold", "bakta_genome.json", "--outdir", "out", *POLL], {"bakta_genome.json": "bakta_genome.json"}, BAKTA_HOST),
    Scenario("bakta_proteins_error", _bakta(v2=True, script=["INIT", "ERROR"]), ["bakta", "proteins", "bakta_proteins.faa", "--outdir", "out", *POLL], {"bakta_proteins.faa": "bakta_proteins.faa"}, BAKTA_HOST, expect_rc=4),
    Scenario("mfannot_default", _mfannotweb(), ["mfannot", "annotate", "mito_genome.fasta", "--gencode", "4", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_gencode5", _mfannotweb(), ["mfannot", "annotate", "mito_genome.fasta", "--gencode", "5", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_failed", _mfannotweb("MFannot exited with status 2: no ORF found in any sequence"), ["mfannot", "annotate", "mito_genome.fasta", "--gencode", "4", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, expect_rc=4, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_no_tbl", _mfannotweb(omit_suffixes=(".tbl",)), ["mfannot", "annotate", "mito_genome.fasta", "--gencode", "4", "--outdir", "out", "--expect-file", "*.tbl", *POLL], MITO, MFANNOTWEB_HOST, expect_rc=4, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_selfhosted", _mfannotweb(prefix="", link_style="relative"), ["mfannot", "annotate", "mito_genome.fasta", "--gencode", "4", "--outdir", "out", *POLL], MITO, SELF_HOSTED_MFANNOTWEB, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}, replay_env={"MFANNOTWEB_URL": SELF_HOSTED_MFANNOTWEB + "/api/v1"}),
    Scenario("rnaweasel_default", _mfannotweb(), ["rnaweasel", "search", "mito_genome.fasta", "--gencode", "4", "--rna", "tRNA", "--rna", "rns", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_all", _mfannotweb(), ["rnaweasel", "search", "mito_genome.fasta", "--gencode", "1", *(x for m in ("tRNA", "intronI", "intronII", "rnpB", "rrn5", "rns", "ssrA") for x in ("--rna", m)), "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_trna", _mfannotweb(), ["rnaweasel", "search", "mito_genome.fasta", "--gencode", "4", "--rna", "tRNA", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_failed", _mfannotweb("RNAfinder: cmsearch failed (out of memory)"), ["rnaweasel", "search", "mito_genome.fasta", "--gencode", "4", "--rna", "tRNA", "--outdir", "out", *POLL], MITO, MFANNOTWEB_HOST, expect_rc=4, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("codon_default", _codon(), ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai", "--fitness", "gc_content:min=35,max=60,weight=2", "--outdir", "out", *POLL], {"cds.fasta": "codon_cds.fasta"}, CODON_HOST),
    Scenario("codon_utrs", _codon(), ["codon", "optimise", "--name", "gfp_utr", "--sequence", "cds.fasta", "--utr5", "GGATCGATCCACC", "--utr3", "TAATAAAGCGGCCGC", "--fitness", "dna_manufact:weight=1.5", "--fitness", "u_content:weight=-1", "--outdir", "out", *POLL], {"cds.fasta": "codon_cds.fasta"}, CODON_HOST),
    Scenario("codon_bakta_cds", _codon(), ["codon", "optimise", "--name", "bakta_cds", "--sequence", "cds.fasta", "--sequence-id", "JDFBHH_00005", "--fitness", "cai", "--fitness", "gc_content:min=40,max=60,weight=1", "--outdir", "out", *POLL], {"cds.fasta": "bakta_genome.ffn"}, CODON_HOST),
    Scenario("codon_components", _codon(), ["codon", "optimise", "--name", "gfp_construct", "--components", "components.json", "--fitness", "cai", "--fitness", "ppy:weight=0.5", "--outdir", "out", *POLL], {"components.json": "codon_components.json"}, CODON_HOST),
    Scenario("codon_error", _codon("worker crashed: sequence length is not a multiple of 3"), ["codon", "optimise", "--name", "gfp", "--sequence", "cds.fasta", "--fitness", "cai", "--outdir", "out", *POLL], {"cds.fasta": "codon_cds.fasta"}, CODON_HOST, expect_rc=4),
]  # fmt: skip


def rewrite(path: Path, fake_base: str, host: str) -> None:
    """Point a recording at the real host; keep Content-Length true to the rewritten bodies."""
    cassette = yamlserializer.deserialize(path.read_text())

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(fake_base + "/bakta-web", S3_HOST + "/bakta-web").replace(
                fake_base, host
            )
        if isinstance(value, bytes):
            return swap(value.decode("utf-8")).encode() if _is_text(value) else value
        return value

    for interaction in cassette["interactions"]:
        request, response = interaction["request"], interaction["response"]
        request["uri"] = swap(request["uri"])
        request["body"] = swap(request["body"])
        response["headers"].pop("Server", None)
        body = response["body"]["string"]
        new = swap(body)
        if new != body:
            response["body"]["string"] = new
            size = len(new.encode() if isinstance(new, str) else new)
            response["headers"]["Content-Length"] = [str(size)]
    path.write_text(yamlserializer.serialize(cassette))


def _is_text(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def record(scenario: Scenario) -> None:
    server = scenario.server().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp)
            for name, source in scenario.inputs.items():
                shutil.copy(TEST_DATA / source, run / name)
            if isinstance(server, FakeMfannotWeb):
                base = server.base + server.api
            else:
                base = server.base + ("/api/v1" if isinstance(server, FakeBakta) else "")
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT / "lib"),
                "BAKTA_API_URL": base,
                "MFANNOTWEB_URL": base,
                "MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN,
                "CODON_API_URL": base,
                "CODON_USERNAME": CODON_USERNAME,
                "CODON_PASSWORD": CODON_PASSWORD,
                **scenario.env,
            }
            env.update(dict.fromkeys(scenario.replay_env, base))
            target = CASSETTES / f"{scenario.name}.yaml"
            target.unlink(missing_ok=True)
            done = subprocess.run(
                [*REMOTE_JOBS, *scenario.args, "--record-cassette", str(target)],
                cwd=run, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if done.returncode != scenario.expect_rc:
                raise SystemExit(f"{scenario.name}: exit {done.returncode}\n{done.stderr}")
            rewrite(target, server.base, scenario.host)
            last = (done.stderr.strip().splitlines() or ["ok"])[-1]
            print(f"{target.relative_to(ROOT)}: {last}")
    finally:
        server.stop()


def main(names: list[str]) -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    for scenario in chosen:
        record(scenario)


if __name__ == "__main__":
    main(sys.argv[1:])
