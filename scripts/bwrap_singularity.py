#!/usr/bin/env python3
"""Runs Galaxy's Singularity command line in a bubblewrap sandbox, for machines without a
container engine (the suite's tests; see docs/admin.md, "Running the tools in containers").

Galaxy (galaxy.tool_util.deps.singularity_util.build_singularity_run_command) runs:

    SINGULARITYENV_X="$X" ... singularity -s exec [--contain] [--pwd DIR] [--cleanenv] [--ipc]
        [--pid] [--no-mount LIST] [-B SRC[:DST[:ro|rw]]] ... [--home SRC:DST] IMAGE COMMAND...

With this script as `singularity_cmd`, the command runs with bwrap and sees only: the image
(a sandbox directory, as Singularity accepts), the host paths the image names as its base
layer (file `.host-layers` at its top, one absolute path a line, read-only), Galaxy's -B
volumes (read-only where Galaxy says `ro`), /proc, a minimal /dev, an empty /tmp and an empty
home. Namespaces: all new but the network (the tools call web services).

The environment reaches bwrap, and from it the command, as the process environment: never as
bwrap arguments, since the SINGULARITYENV_ values hold users' credentials and a command line is
readable by every user (/proc/PID/cmdline). An option it does not know stops it with one line.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BWRAP = os.environ.get("BWRAP", "/usr/bin/bwrap")
# Singularity's PATH in a container whose image sets none (and what BioContainers' images use).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Variables Singularity keeps with --cleanenv.
KEPT_WITH_CLEANENV = ("LANG", "LC_ALL", "TERM")
HOST_LAYERS_FILE = ".host-layers"
PREFIX = "SINGULARITYENV_"
WITH_VALUE = ("--pwd", "--no-mount", "-B", "--bind", "-H", "--home")


class UsageError(Exception):
    pass


@dataclass
class Bind:
    source: str
    target: str
    read_only: bool


@dataclass
class Run:
    image: str = ""
    command: list[str] = field(default_factory=list)
    pwd: str | None = None
    contain: bool = False
    cleanenv: bool = False
    binds: list[Bind] = field(default_factory=list)
    home: Bind | None = None


def parse_bind(spec: str) -> list[Bind]:
    """-B as Singularity reads it: comma-separated SRC[:DST[:OPTS]], OPTS ro or rw."""
    binds = []
    for item in spec.split(","):
        parts = item.split(":")
        if not item or len(parts) > 3 or not all(parts[:2]):
            raise UsageError(f"cannot read the bind {item!r} (SRC[:DST[:ro|rw]])")
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise UsageError(f"bind mode {mode!r} of {item!r} is not supported (only ro and rw)")
        source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
        if not (os.path.isabs(source) and os.path.isabs(target)):
            raise UsageError(f"bind {item!r}: paths must be absolute")
        binds.append(Bind(source, target, mode == "ro"))
    return binds


def parse_args(argv: list[str]) -> Run:
    args = list(argv)
    # Galaxy puts -s (silent) before the subcommand; -q and --quiet mean the same.
    while args and args[0] in ("-s", "--silent", "-q", "--quiet"):
        args.pop(0)
    if not args or args[0] != "exec":
        raise UsageError(f"only `exec` is supported, not {args[0] if args else 'nothing'!r}")
    args.pop(0)
    run = Run()
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option.startswith("--") and "=" in option:
            option, inline = option.split("=", 1)
            args.insert(0, inline)
        if option in WITH_VALUE and not args:
            raise UsageError(f"{option} needs a value")
        if option in ("-c", "--contain"):
            run.contain = True
        elif option in ("-e", "--cleanenv"):
            run.cleanenv = True
        elif option in ("-i", "--ipc", "-p", "--pid"):
            pass  # bwrap --unshare-all gives every job its own IPC and PID namespaces anyway
        elif option == "--pwd":
            run.pwd = args.pop(0)
        elif option == "--no-mount":
            # Singularity's own mounts left out; the sandbox makes none of them (its /tmp is
            # an empty tmpfs, not the host's), so nothing to leave out.
            for name in args.pop(0).split(","):
                if name not in ("tmp", "home", "cwd", "hostfs", "bind-paths", "devpts"):
                    raise UsageError(f"--no-mount {name!r} is not supported")
        elif option in ("-B", "--bind"):
            run.binds.extend(parse_bind(args.pop(0)))
        elif option in ("-H", "--home"):
            (bind,) = parse_bind(args.pop(0))
            run.home = bind
        else:
            raise UsageError(f"option {option!r} is not supported")
    if len(args) < 2:
        raise UsageError("an image and a command are needed")
    run.image, run.command = args[0], args[1:]
    if not os.path.isdir(run.image):
        raise UsageError(f"image {run.image!r} is not a sandbox directory")
    return run


def host_layers(image: Path) -> list[str]:
    layers_file = image / HOST_LAYERS_FILE
    if not layers_file.is_file():
        return []
    layers = []
    for line in layers_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            if not os.path.isabs(line):
                raise UsageError(f"{layers_file}: {line!r} is not an absolute path")
            layers.append(os.path.normpath(line))
    return layers


def image_binds(image: Path, layers: list[str], relative: str = "") -> list[str]:
    """Binds each entry of the image read-only at its place, over the host layers: an image
    folder that is also a host layer (usr) is entered, and its entries (usr/local) bound."""
    args: list[str] = []
    for entry in sorted((image / relative).iterdir() if relative else image.iterdir()):
        if not relative and entry.name.startswith("."):
            continue  # metadata, as Singularity's .singularity.d
        rel = f"{relative}/{entry.name}" if relative else entry.name
        target = "/" + rel
        if entry.is_dir() and not entry.is_symlink() and target in layers:
            args += image_binds(image, layers, rel)
        elif entry.is_symlink():
            args += ["--symlink", os.readlink(entry), target]
        else:
            args += ["--ro-bind", str(entry), target]
    return args


def bwrap_args(run: Run, info_fd: int) -> list[str]:
    image = Path(run.image).resolve()
    layers = host_layers(image)
    args = [BWRAP, "--unshare-all", "--share-net", "--die-with-parent", "--new-session"]
    args += ["--info-fd", str(info_fd)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if not run.home:
        # An empty home, as Singularity's --contain gives (the host's is not mounted); first,
        # as a host layer may lie beneath it.
        args += ["--tmpfs", pwd.getpwuid(os.getuid()).pw_dir]
    for layer in layers:
        if os.path.islink(layer):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(layer), layer]
        else:
            args += ["--ro-bind", layer, layer]
    args += image_binds(image, layers)
    binds = list(run.binds) + ([run.home] if run.home else [])
    # Parents before children: a later mount on a parent would hide the child's.
    for bind in sorted(binds, key=lambda b: len(Path(b.target).parts)):
        args += ["--ro-bind" if bind.read_only else "--bind", bind.source, bind.target]
    if run.pwd:
        args += ["--chdir", run.pwd]
    return [*args, "--", *run.command]


def container_env(run: Run, environ: dict[str, str]) -> dict[str, str]:
    if run.cleanenv:
        env = {name: environ[name] for name in KEPT_WITH_CLEANENV if name in environ}
    else:
        env = {k: v for k, v in environ.items() if not k.startswith(PREFIX)}
    env["PATH"] = DEFAULT_PATH
    env["HOME"] = run.home.target if run.home else pwd.getpwuid(os.getuid()).pw_dir
    env["SINGULARITY_CONTAINER"] = run.image
    env["SINGULARITY_NAME"] = os.path.basename(os.path.normpath(run.image))
    for name, value in environ.items():
        if name.startswith(PREFIX) and len(name) > len(PREFIX):
            env[name[len(PREFIX) :]] = value
    return env


def sandbox_pids(init_pid: int) -> list[int]:
    """The processes in the sandbox's PID namespace, its init (bwrap's pid 1) aside."""
    try:
        namespace = os.readlink(f"/proc/{init_pid}/ns/pid")
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != init_pid:
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def detach_and_follow_parent() -> None:
    """In bwrap before it runs: its own process group, so that Galaxy's SIGTERM to the job's
    group reaches this script only (which forwards it into the sandbox; bwrap would die of it
    and take the sandbox with it at once), and SIGKILL when this script dies (Galaxy's SIGKILL
    after the grace time), which --die-with-parent passes on to the sandbox."""
    os.setpgid(0, 0)
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def main(argv: list[str]) -> int:
    try:
        run = parse_args(argv)
        read_fd, write_fd = os.pipe()
        args = bwrap_args(run, write_fd)
    except UsageError as error:
        print(f"bwrap-singularity: {error}", file=sys.stderr)
        return 255
    env = container_env(run, dict(os.environ))
    sandbox = {"init": 0}

    # Singularity passes SIGTERM (a deleted Galaxy job), SIGINT and SIGHUP on to the container's
    # processes; bwrap's init would not, and --new-session keeps them out of the job's process
    # group, so they are sent to every process of the sandbox here.
    def forward(signum: int, _frame: object) -> None:
        for pid in sandbox_pids(sandbox["init"]) if sandbox["init"] else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    process = subprocess.Popen(
        args, env=env, pass_fds=(write_fd,), preexec_fn=detach_and_follow_parent
    )
    os.close(write_fd)
    # bwrap writes the sandbox's pid (as seen from here) to the info fd once it runs.
    with os.fdopen(read_fd) as info:
        text = info.read()
    if text.strip():
        sandbox["init"] = int(json.loads(text)["child-pid"])
    status = process.wait()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
