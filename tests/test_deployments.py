"""The services as they are really deployed, not only as the API docs' examples show them.

Each scenario runs the real `remote-jobs` command against local fakes shaped like a real
deployment: an instance under a path prefix handing out links in every form a server may
write them, event streams with other line ends and character sets that stay open after their
verdict, links to another host, archives whose entry names collide, a codon failure whose
words cannot be fetched.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PASSWORD, TOKEN, USERNAME, mfannotweb_env, start_cli, stop, wait_for
from tests.fakes.codon_service import FakeCodon
from tests.fakes.mfannotweb_service import FakeMfannotWeb, mirror
from tests.fakes.server import Fault, OtherOrigin, Response, json_response
from tests.test_codon import optimise
from tests.test_mfannotweb import mfannot

PREFIX = "/apps/mfannotweb"  # where the public MFannotWeb lives


@pytest.fixture
def prefixed() -> Iterator[FakeMfannotWeb]:
    with FakeMfannotWeb(TOKEN, prefix=PREFIX) as server:
        yield server  # type: ignore[misc]


# ---------------------------------------------------------------- path prefixes and links


@pytest.mark.parametrize("link_style", ["path", "url", "relative"])
def test_an_instance_under_a_path_prefix_with_links_in_any_form(
    prefixed: FakeMfannotWeb, workdir: Path, link_style: str
) -> None:
    prefixed.link_style = link_style
    result = mfannot(prefixed, workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "out" / "mfannot.gff").read_text().startswith("##gff-version 3\n")
    # Every request went to the instance, under its prefix; the links were followed.
    paths = [request.path for request in prefixed.log]
    assert all(path.startswith(f"{PREFIX}/api/v1") for path in paths), paths
    job_id = next(iter(prefixed.jobs))
    for action in ("events", "results", "download"):
        assert prefixed.requests_to("GET", f"{PREFIX}/api/v1/jobs/{job_id}/{action}")


def test_a_stopped_run_cancels_through_the_prefixed_cancel_link(
    prefixed: FakeMfannotWeb, workdir: Path
) -> None:
    prefixed.link_style = "relative"
    prefixed.script = ["queued"] * 100_000
    prefixed.events_enabled = False
    args = ["mfannot", "annotate", "mito.fasta", "--gencode", "4", "--outdir", "out"]
    runner = start_cli([*args, "--poll-interval", "0.05"], mfannotweb_env(prefixed), workdir)
    wait_for(
        lambda: len(prefixed.requests_to("GET", f"{PREFIX}/api/v1/jobs/", prefix=True)) >= 3,
        "polling",
    )
    stderr = stop(runner)
    job_id = next(iter(prefixed.jobs))
    assert runner.returncode == 6, stderr
    assert f"mfannotweb: cancelled queued job {job_id}" in stderr
    assert prefixed.requests_to("POST", f"{PREFIX}/api/v1/jobs/{job_id}/cancel")
    assert prefixed.jobs[job_id].status == "cancelled"


# ---------------------------------------------------------------- event streams


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"], ids=["CRLF", "CR", "LF"])
def test_an_event_stream_that_stays_open_after_done(
    prefixed: FakeMfannotWeb, workdir: Path, eol: str
) -> None:
    # UTF-8 with a character whose second byte (0x85) is a line end in ISO-8859-1, and a
    # server that keeps the stream open for 30 s after `done`.
    prefixed.eol = eol
    prefixed.stage_label = "Ålesund, séquences"
    prefixed.linger = 30
    result = mfannot(prefixed, workdir)
    assert result.returncode == 0, result.stderr
    job_id = next(iter(prefixed.jobs))
    assert f"mfannotweb {job_id} stage: mfannot: Ålesund, séquences" in result.stderr
    assert f"mfannotweb {job_id}: running -> done" in result.stderr
    assert "polling instead" not in result.stderr
    # `done` was acted on while the stream was still open: the archive came meanwhile.
    assert prefixed.downloads_while_streaming == [True]
    assert not prefixed.requests_to("GET", f"{PREFIX}/api/v1/jobs/{job_id}/events")[1:]


# "Å" is C3 85 in UTF-8, U+0085 (NEL) is C2 85: neither ends a line in an event stream.
EVENTS = [("status", '{"status": "running"}'), ("log", '{"line": "Å\u0085"}'), ("done", "{}")]


@given(
    eol=st.sampled_from(["\r\n", "\r", "\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    bom=st.booleans(),
)
def test_the_event_parser_sees_the_same_events_however_the_bytes_arrive(
    eol: str, cuts: list[int], bom: bool
) -> None:
    from remote_jobs.sse import iter_sse

    text = ("\ufeff" if bom else "") + f": keep-alive{eol}{eol}"
    for name, data in EVENTS:
        text += f"event: {name}{eol}data: {data}{eol}{eol}"
    text += f"data: first{eol}data:second{eol}{eol}id: 7{eol}retry: 10{eol}{eol}event: cut off{eol}data: x"
    body = text.encode("utf-8")
    points = sorted({min(cut, len(body)) for cut in cuts} | {0, len(body)})

    pieces = [body[a:b] for a, b in itertools.pairwise(points)]

    class Raw:  # the body in arbitrary pieces, UTF-8 characters split included
        def read1(self, size: int) -> bytes:
            return pieces.pop(0) if pieces else b""

    class FakeResponse:
        raw = Raw()

    events = list(iter_sse(FakeResponse(), "mfannotweb", None))  # type: ignore[arg-type]
    assert events == [
        ("keep-alive", ""),
        *EVENTS,
        ("message", "first\nsecond"),
    ]


def test_an_event_that_never_ends_is_refused_at_its_bound() -> None:
    from remote_jobs.errors import NetworkError
    from remote_jobs.sse import MAX_EVENT, iter_sse

    lines = [b"data: " + b"x" * 1000 + b"\n"] * (MAX_EVENT // 1000 + 1)  # never a blank line

    class Raw:
        def read1(self, size: int) -> bytes:
            return lines.pop() if lines else b""

    class FakeResponse:
        raw = Raw()
        url = "http://127.0.0.1/api/v1/jobs/1/events"

    with pytest.raises(NetworkError, match=f"an event of more than {MAX_EVENT} characters"):
        list(iter_sse(FakeResponse(), "mfannotweb", None))  # type: ignore[arg-type]


# ---------------------------------------------------------------- where credentials go


def _authorization(server) -> list[str]:
    return [r.headers.get("Authorization", "") for r in server.log]


def test_the_mfannotweb_token_never_reaches_another_host(
    prefixed: FakeMfannotWeb, workdir: Path
) -> None:
    with mirror(prefixed) as storage:
        prefixed.foreign = storage
        prefixed.link_style = "url"
        result = mfannot(prefixed, workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "out" / "results.zip").exists()
    assert {r.path.rsplit("/", 1)[-1] for r in storage.log} == {"results", "download"}
    assert _authorization(storage) == ["", ""]  # fetched, without the token
    assert set(_authorization(prefixed)) == {f"Bearer {TOKEN}"}  # every request to the service


@pytest.mark.parametrize("login", [False, True], ids=["token", "token-and-url-login"])
def test_the_codon_token_never_follows_a_redirect_to_another_host(
    codon_server: FakeCodon, workdir: Path, login: bool
) -> None:
    """With `login`, CODON_API_URL also holds a user and password (a service behind basic
    auth): they go to the service's origin only, as basic auth of the login, and are never
    shown."""

    def result_elsewhere(request):
        return json_response(codon_server.jobs[request.json()["jobid"]].result)

    url = codon_server.base.replace("://", "://gate:gate-password-1b7e@")
    with OtherOrigin(result_elsewhere) as results_host:
        codon_server.faults.append(
            Fault(
                "POST",
                "/optimise/result",
                Response(307, b"", {"Location": f"{results_host.base}/result"}),
                times=10,
            )
        )
        result = optimise(
            codon_server, workdir, "--sequence", "cds.fasta", "--fitness", "cai",
            env={"CODON_API_URL": url} if login else None,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (workdir / "out" / "gfp.fasta").exists()
    assert len(results_host.log) == 1
    assert _authorization(results_host) == [""]
    tokens = {h for h in _authorization(codon_server) if h.startswith("Bearer ")}
    assert len(tokens) == 1
    for secret in (USERNAME, PASSWORD, "gate-password-1b7e"):
        assert all(secret not in r.path + str(r.query) for r in results_host.log)
        assert secret not in result.stdout + result.stderr
    basic = "Basic " + base64.b64encode(b"gate:gate-password-1b7e").decode()
    sent = [r.headers.get("Authorization") for r in codon_server.requests_to("POST", "/login")]
    assert sent == ([basic] if login else [None])


# ---------------------------------------------------------------- archive entry names


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("results.zip", b"PK fake")], "'results.zip' would replace the runner's own results.zip"),
        ([(".partial/x", b"x")], "'.partial/x' would replace the runner's own .partial"),
        ([("mfannot.out/notes.txt", b"x")], "'mfannot.out' is both a file and a folder"),
        ([("MFANNOT.OUT", b"x")], "entries 'MFANNOT.OUT' and 'mfannot.out' have the same name"),
        ([("run.log", b"again\n")], "entries 'run.log' and 'run.log' have the same name"),
    ],
    ids=["the-kept-archive", "the-staging-folder", "file-and-folder", "case", "twice"],
)
@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zipfile, writing "twice"
def test_archive_entries_that_would_collide_are_refused(
    prefixed: FakeMfannotWeb, workdir: Path, entries: list[tuple[str, bytes]], message: str
) -> None:
    prefixed.extra_entries = entries
    result = mfannot(prefixed, workdir)
    job_id = next(iter(prefixed.jobs))
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: mfannotweb job {job_id}: result archive refused: {message}"
    )
    assert list((workdir / "out").iterdir()) == []  # nothing that looks complete


# ---------------------------------------------------------------- codon failures


def test_a_codon_failure_stays_the_news_when_its_words_cannot_be_fetched(
    codon_server: FakeCodon, workdir: Path
) -> None:
    # The job failed; asking for its words gets a proxy's page instead of the service's JSON.
    codon_server.fail_with = "worker crashed"
    page = Response(200, b"<html><title>Bad Gateway</title></html>", {"Content-Type": "text/html"})
    codon_server.faults.append(Fault("POST", "/optimise/result", page, times=100))
    result = optimise(codon_server, workdir, "--sequence", "cds.fasta", "--fitness", "cai")
    job_id = next(iter(codon_server.jobs))
    assert result.returncode == 4, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"error: codon job {job_id}: job ended in error: no message (fetching it failed:"
        f" expected JSON from {codon_server.base}/optimise/result, got text/html: Bad Gateway)"
    )
    assert not (workdir / "out" / "gfp.fasta").exists()
