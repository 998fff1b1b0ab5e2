"""The codon optimisation flow against the fake service, and its bad inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import assert_no_secrets, codon_env, run_cli, tree_text
from tests.fakes.codon_service import FakeCodon

FITNESS = ["--fitness", "cai", "--fitness", "gc_content:min=35,max=60,weight=2"]


def optimise(
    server: FakeCodon,
    workdir: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    interrupt_when: Callable[[], object] | None = None,
):
    args = [
        "codon",
        "optimise",
        "--name",
        "gfp",
        "--outdir",
        str(workdir / "out"),
        "--poll-interval",
        "0",
        *extra,
    ]
    env = {**codon_env(server), **(env or {})}
    return run_cli(args, env, cwd=workdir, interrupt_when=interrupt_when)


def test_optimise_writes_candidates_scores_and_raw_json(
    codon_server: FakeCodon, workdir: Path
) -> None:
    result = optimise(
        codon_server, workdir, "--sequence", "cds.fasta", "--utr5", "GGATCC", *FITNESS
    )
    assert result.returncode == 0, result.stderr
    out = workdir / "out"
    fasta = (out / "gfp.fasta").read_text().splitlines()
    headers = [line for line in fasta if line.startswith(">")]
    assert headers[0].startswith(">gfp_original type=original score=")
    assert [h.split()[0] for h in headers[1:]] == [
        ">gfp_optimised_1",
        ">gfp_optimised_2",
        ">gfp_optimised_3",
    ]
    rows = [line.split("\t") for line in (out / "gfp.scores.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "type", "score", "motif_in_cds", "motif_in_utr", "cai", "gc_content"]
    assert [r[1] for r in rows[1:]] == ["original", "optimised", "optimised", "optimised"]
    raw = json.loads((out / "gfp.json").read_text())
    assert raw["status"] == "success" and len(raw["results"]) == 4
    body = codon_server.requests_to("POST", "/optimise")[0].json()
    assert body["5_utr"] == "GGATCC"
    assert body["fitness_list"] == [
        {"name": "cai", "weight": 1.0},
        {"name": "gc_content", "min": 35.0, "max": 60.0, "weight": 2.0},
    ]
    assert "codon gfp: pending -> processing" in result.stderr
    assert_no_secrets(result.stdout, result.stderr, tree_text(out))


def test_components_mode_sends_the_component_list(codon_server: FakeCodon, workdir: Path) -> None:
    result = optimise(codon_server, workdir, "--components", "components.json", "--fitness", "cai")
    assert result.returncode == 0, result.stderr
    body = codon_server.requests_to("POST", "/optimise")[0].json()
    assert [c["featureType"] for c in body["sequence"]] == [
        "promoter",
        "5_utr",
        "gene_of_interest",
        "poly_a_tail",
    ]
    assert "5_utr" not in body


def test_expired_token_is_renewed_mid_poll(codon_server: FakeCodon, workdir: Path) -> None:
    original = codon_server.handle

    def expire_on_second_status(request):  # the 60-minute token runs out while we poll
        if (
            request.path == "/optimise/status"
            and len(codon_server.requests_to("POST", "/optimise/status")) == 2
        ):
            codon_server.expire_tokens()
        return original(request)

    codon_server.handle = expire_on_second_status  # type: ignore[method-assign]
    result = optimise(codon_server, workdir, "--sequence", "cds.fasta", *FITNESS)
    assert result.returncode == 0, result.stderr
    assert len(codon_server.requests_to("POST", "/login")) == 2
    assert len(codon_server.requests_to("POST", "/optimise")) == 1


def test_wrong_password_fails_fast_with_the_auth_exit_code(
    codon_server: FakeCodon, workdir: Path
) -> None:
    result = optimise(
        codon_server, workdir, "--sequence", "cds.fasta", *FITNESS, env={"CODON_PASSWORD": "wrong"}
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: codon: login refused: HTTP 401 from {codon_server.base}/login: Invalid username or password"
    )
    assert len(codon_server.requests_to("POST", "/login")) == 1
    assert not codon_server.requests_to("POST", "/optimise")
    assert "wrong" not in result.stderr + result.stdout


def test_remote_error_names_the_job_and_the_servers_words(
    codon_server: FakeCodon, workdir: Path
) -> None:
    codon_server.fail_with = "worker crashed: out of memory"
    result = optimise(codon_server, workdir, "--sequence", "cds.fasta", *FITNESS)
    assert result.returncode == 4
    job_id = next(iter(codon_server.jobs))
    assert (
        f"error: codon job {job_id}: job ended in error: worker crashed: out of memory"
        in result.stderr
    )
    assert not (workdir / "out" / "gfp.fasta").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sequence", "cds.fasta", "--fitness", "speed"],
            "unknown fitness 'speed' (known: cai, dna_manufact, gc_content, ppy, u_content)",
        ),
        (
            ["--sequence", "cds.fasta", "--fitness", "gc_content:min=35"],
            "fitness 'gc_content' needs max",
        ),
        (
            ["--sequence", "cds.fasta", "--fitness", "cai:colour=red"],
            "fitness 'cai' has no parameter 'colour'",
        ),
        (
            ["--sequence", "cds.fasta", "--fitness", "cai:weight=heavy"],
            "fitness 'cai': weight=heavy is not a number",
        ),
        (
            ["--sequence", "cds.fasta", "--utr5", "GGXX", "--fitness", "cai"],
            "5' UTR has characters X",
        ),
        (["--fitness", "cai"], "give exactly one of --sequence and --components"),
        (
            ["--sequence", "genome.ffn", "--fitness", "cai"],
            "genome.ffn: holds 10 sequences; name the one to optimise with --sequence-id",
        ),
        (
            ["--sequence", "genome.ffn", "--sequence-id", "nope", "--fitness", "cai"],
            "genome.ffn: no sequence 'nope' (JDFBHH_00005, JDFBHH_00010, JDFBHH_00015, JDFBHH_00020, JDFBHH_00025, ...)",
        ),
        (
            ["--sequence", "cds.fasta", "--components", "components.json", "--fitness", "cai"],
            "give exactly one of --sequence and --components",
        ),
    ],
)
def test_bad_input_is_refused_before_submitting(
    codon_server: FakeCodon, workdir: Path, args: list[str], message: str
) -> None:
    result = optimise(codon_server, workdir, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not codon_server.requests_to("POST", "/optimise")


@pytest.mark.parametrize(
    ("components", "message"),
    [
        (
            [{"sequence": "ATGAAATAA", "featureType": "promoter"}],
            "exactly one 'gene_of_interest' component needed, found 0",
        ),
        (
            [{"sequence": "ATG", "featureType": "gene_of_interest"}] * 2,
            "exactly one 'gene_of_interest' component needed, found 2",
        ),
        ([{"sequence": "ATG"}], "component 1 needs a 'sequence' and a 'featureType'"),
        ({"sequence": "ATG"}, "expected a non-empty JSON list of components"),
    ],
)
def test_component_lists_are_checked(
    codon_server: FakeCodon, workdir: Path, components: object, message: str
) -> None:
    (workdir / "bad.json").write_text(json.dumps(components))
    result = optimise(codon_server, workdir, "--components", "bad.json", "--fitness", "cai")
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_settings_name_the_variable(workdir: Path) -> None:
    result = run_cli(
        [
            "codon",
            "optimise",
            "--name",
            "x",
            "--sequence",
            "cds.fasta",
            "--fitness",
            "cai",
            "--outdir",
            "o",
        ],
        {"CODON_API_URL": "https://codon.example.org"},
        cwd=workdir,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: codon: CODON_USERNAME is not set; it holds your credential for codon"
    )
    result = run_cli(["codon", "fitness"], {"CODON_API_URL": "ftp://x"}, cwd=workdir)
    assert result.returncode == 2
    assert "CODON_API_URL must be an http(s) URL" in result.stderr


def test_resume_reattaches_instead_of_submitting_again(
    codon_server: FakeCodon, workdir: Path
) -> None:
    codon_server.script = ["pending"] * 1000
    first = optimise(
        codon_server,
        workdir,
        "--sequence",
        "cds.fasta",
        *FITNESS,
        "--job-file",
        "job.json",
        interrupt_when=lambda: codon_server.requests_to("POST", "/optimise/status"),
    )
    assert first.returncode == 6, first.stderr
    job_id = next(iter(codon_server.jobs))
    codon_server.jobs[job_id].script = ["processing", "success"]
    second = optimise(
        codon_server, workdir, "--sequence", "cds.fasta", *FITNESS, "--job-file", "job.json"
    )
    assert second.returncode == 0, second.stderr
    assert f"re-attached to job {job_id}" in second.stderr
    assert len(codon_server.requests_to("POST", "/optimise")) == 1
