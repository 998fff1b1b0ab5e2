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
MFANNOTWEB_BASE = "https://megasun.bch.umontreal.ca/apps/mfannotweb"
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


def _bakta(**kwargs: Any) -> Callable[[], FakeServer]:
    return lambda: FakeBakta(**kwargs)


def _mfannotweb(fail_with: str | None = None) -> Callable[[], FakeServer]:
    def make() -> FakeServer:
        server = FakeMfannotWeb(MFANNOTWEB_TOKEN)
        server.fail_with = fail_with
        return server

    return make


def _codon(fail_with: str | None = None) -> Callable[[], FakeServer]:
    def make() -> FakeServer:
        server = FakeCodon(CODON_USERNAME, CODON_PASSWORD)
        server.fail_with = fail_with
        return server

    return make


GENOME = {"genome.fasta": "bakta_genome.fasta"}
MITO = {"genome.fasta": "mito_genome.fasta"}
POLL = ["--poll-interval", "0"]
SCENARIOS = [
    Scenario("bakta_default", _bakta(), ["bakta", "annotate", "genome.fasta", "--outdir", "out", *POLL], GENOME, BAKTA_HOST),
    Scenario(
        "bakta_options",
        _bakta(),
        ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--translation-table", "4", "--complete",
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
        ["bakta", "annotate", "genome.fasta", "--outdir", "out", "--replicons", "replicons.tsv",
         "--prodigal-tf", "training.tf", "--format", "gff3", "--format", "gbff", "--format", "txt", *POLL],
        {**GENOME, "replicons.tsv": "bakta_replicons.tsv", "training.tf": "bakta_prodigal.tf"},
        BAKTA_HOST,
    ),
    Scenario("bakta_error", _bakta(script=["INIT", "RUNNING", "ERROR"]), ["bakta", "annotate", "genome.fasta", "--outdir", "out", *POLL], GENOME, BAKTA_HOST, expect_rc=4),
    Scenario(
        "bakta_batch",
        _bakta(scripts={"genome": ["INIT", "RUNNING", "RUNNING", "SUCCESSFUL"], "plasmid": ["INIT", "RUNNING", "SUCCESSFUL"]}),
        ["bakta", "annotate", "genome.fasta", "plasmid.fasta", "--outdir", "out", "--format", "gff3", "--format", "json", *POLL],
        {**GENOME, "plasmid.fasta": "bakta_plasmid.fasta"},
        BAKTA_HOST,
    ),
    Scenario("bakta_version", _bakta(), ["bakta", "version"], {}, BAKTA_HOST),
    Scenario("mfannot_default", _mfannotweb(), ["mfannot", "annotate", "genome.fasta", "--gencode", "4", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_gencode5", _mfannotweb(), ["mfannot", "annotate", "genome.fasta", "--gencode", "5", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("mfannot_failed", _mfannotweb("MFannot exited with status 2: no ORF found in any sequence"), ["mfannot", "annotate", "genome.fasta", "--gencode", "4", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, expect_rc=4, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_default", _mfannotweb(), ["rnaweasel", "search", "genome.fasta", "--gencode", "4", "--rna", "tRNA", "--rna", "rns", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_all", _mfannotweb(), ["rnaweasel", "search", "genome.fasta", "--gencode", "1", *(x for m in ("tRNA", "intronI", "intronII", "rnpB", "rrn5", "rns", "ssrA") for x in ("--rna", m)), "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_trna", _mfannotweb(), ["rnaweasel", "search", "genome.fasta", "--gencode", "4", "--rna", "tRNA", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
    Scenario("rnaweasel_failed", _mfannotweb("RNAfinder: cmsearch failed (out of memory)"), ["rnaweasel", "search", "genome.fasta", "--gencode", "4", "--rna", "tRNA", "--outdir", "out", *POLL], MITO, MFANNOTWEB_BASE, expect_rc=4, env={"MFANNOTWEB_TOKEN": MFANNOTWEB_TOKEN}),
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
            base = server.base + (
                "/api/v1" if isinstance(server, (FakeBakta, FakeMfannotWeb)) else ""
            )
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
