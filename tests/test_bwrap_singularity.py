"""scripts/bwrap_singularity.py, the `singularity_cmd` the container tests give Galaxy: run with
a command line as Galaxy writes it (singularity_util.build_singularity_run_command), the job
sees only what Galaxy binds, read-only where Galaxy says so, and gets its secrets as
environment, never on a command line."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHIM = ROOT / "scripts" / "bwrap_singularity.py"
BWRAP = Path("/usr/bin/bwrap")
SECRET = "mfw_not-a-real-token-7f3c"

pytestmark = pytest.mark.skipif(not BWRAP.exists(), reason="bubblewrap is not installed")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A sandbox image as scripts/galaxy lays out the tools' one: its own /usr/local over the
    host's base OS folders, named in .host-layers."""
    image = tmp_path / "mulled-v2-0123:4567-0"
    (image / "usr" / "local" / "bin").mkdir(parents=True)
    probe = image / "usr" / "local" / "bin" / "probe"
    probe.write_text("#!/bin/sh\necho from the image\n")
    probe.chmod(0o755)
    layers = [p for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc") if os.path.lexists(p)]
    (image / ".host-layers").write_text("\n".join(layers) + "\n")
    return image


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("tool", "job", "working", "outside")}
    for path in dirs.values():
        path.mkdir()
    (dirs["tool"] / "tool.xml").write_text("<tool/>")
    (dirs["outside"] / "private.txt").write_text("not for the job")
    return dirs


def galaxy_command(image: Path, job: dict[str, Path], script: str) -> str:
    """The command line Galaxy's local runner would run, with a credential passed through."""
    return " ".join(
        [
            'SINGULARITYENV_MFANNOTWEB_TOKEN="$MFANNOTWEB_TOKEN"',
            'SINGULARITYENV_GALAXY_SLOTS="$GALAXY_SLOTS"',
            shlex.quote(str(SHIM)),
            "-s exec --contain",
            f"--pwd {shlex.quote(str(job['working']))}",
            "--cleanenv --ipc --pid --no-mount tmp",
            f'-B "{job["tool"]}:{job["tool"]}:ro"',
            f'-B "{job["job"]}:{job["job"]}:ro"',
            f'-B "{job["working"]}:{job["working"]}"',
            shlex.quote(str(image)),
            "/bin/sh -c " + shlex.quote(script),
        ]
    )


def run_like_galaxy(
    image: Path, job: dict[str, Path], script: str
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "MFANNOTWEB_TOKEN": SECRET, "GALAXY_SLOTS": "1"}
    env["LEAKED"] = "the host's environment"
    return subprocess.run(
        ["bash", "-c", galaxy_command(image, job, script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_job_sees_only_what_galaxy_binds(image: Path, job: dict[str, Path]) -> None:
    script = f"""
        out={job["working"]}
        pwd >$out/pwd
        env >$out/env
        tr '\\0' ' ' </proc/1/cmdline >$out/bwrap_cmdline
        probe >$out/probe
        cat {job["tool"]}/tool.xml >$out/tool
        ls -A "$HOME" >$out/home
        for path in {job["outside"]}/private.txt {ROOT}/README.md; do
            [ -e "$path" ] && echo "$path" >>$out/visible
        done
        touch {job["tool"]}/written 2>$out/ro_error && echo writable >>$out/visible
        touch {job["job"]}/written 2>>$out/ro_error && echo writable >>$out/visible
        echo ok >$out/output.dat
    """
    result = run_like_galaxy(image, job, script)
    assert result.returncode == 0, result.stderr
    out = job["working"]
    assert (out / "output.dat").read_text() == "ok\n"  # the working directory is writable
    assert (out / "pwd").read_text().strip() == str(out)
    assert (out / "probe").read_text() == "from the image\n"  # the image's /usr/local
    assert (out / "tool").read_text() == "<tool/>"  # read-only binds are readable
    # Nothing outside the binds: not a sibling folder, the repository, the Python running
    # pytest, nor the host's home (an empty one instead); ro binds refuse writes.
    assert not (out / "visible").exists(), (out / "visible").read_text()
    assert (out / "home").read_text() == ""
    assert (out / "ro_error").read_text().count("Read-only file system") == 2
    assert not (job["tool"] / "written").exists()
    # --cleanenv: the SINGULARITYENV_ variables and the image's PATH, not the host's environment.
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines())
    assert env["MFANNOTWEB_TOKEN"] == SECRET
    assert env["GALAXY_SLOTS"] == "1"
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert "LEAKED" not in env
    assert not any(name.startswith("SINGULARITYENV_") for name in env)
    # The secret went to bwrap as environment: it is not in bwrap's argv, which the sandbox's
    # pid 1 (bwrap itself) shows, and which every user of the host could read.
    cmdline = (out / "bwrap_cmdline").read_text()
    assert "--unshare-all --share-net" in cmdline
    assert SECRET not in cmdline
    assert "--setenv" not in cmdline


def test_sigterm_reaches_the_job(image: Path, job: dict[str, Path]) -> None:
    """A deleted Galaxy job: SIGTERM to the job's processes reaches the runner in the sandbox
    (which then deletes its remote job), as Singularity forwards it."""
    script = (
        "trap 'echo terminated >stopped; exit 7' TERM; touch started; while :; do sleep 0.1; done"
    )
    command = galaxy_command(image, job, script)
    process = subprocess.Popen(["bash", "-c", command], start_new_session=True)
    try:
        for _ in range(100):
            if (job["working"] / "started").exists():
                break
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=20) == 7
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert (job["working"] / "stopped").read_text() == "terminated\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "run", "IMAGE", "true"], "only `exec` is supported, not 'run'"),
        (["exec", "--nv", "IMAGE", "true"], "option '--nv' is not supported"),
        (
            ["exec", "-B", "/a:/b:z", "IMAGE", "true"],
            "bind mode 'z' of '/a:/b:z' is not supported (only ro and rw)",
        ),
        (["exec", "-B", ":", "IMAGE", "true"], "cannot read the bind ':' (SRC[:DST[:ro|rw]])"),
        (["exec", "/no/such/image", "true"], "image '/no/such/image' is not a sandbox directory"),
    ],
)
def test_an_unknown_option_fails_in_one_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SHIM), *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 255
    assert result.stderr == f"bwrap-singularity: {message}\n"
