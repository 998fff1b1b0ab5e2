"""The output folder: results appear under their final names only when all of them are
complete, and nothing already there is replaced or removed unless this run's job file names it
as the run's own earlier result."""

from __future__ import annotations

import errno
import fcntl
import filecmp
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

# Hidden folders in the output folder where runs assemble their results, one of its own each
# (`.partial-XXXXXXXX`): runs that share an output folder never share one.
STAGING = ".partial"
IN_THE_WAY = frozenset({errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR})


def prepare_outdir(outdir: Path, service: str) -> None:
    """Before anything is sent: the output folder exists (created if missing) and takes files."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = (
            "a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError) else ""
        )
        raise InputError(
            service, f"cannot create the output folder {outdir}: {why or exc.strerror}"
        ) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{STAGING}-probe-", dir=outdir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            service, f"cannot write in the output folder {outdir}: {exc.strerror}"
        ) from None


def refuse_existing(
    outdir: Path, names: Iterable[str], service: str, ours: Collection[str] = ()
) -> None:
    """Before anything is sent: none of the result `names` is in `outdir` already, unless the
    job file names it as this run's own earlier result (`ours`)."""
    for name in names:
        if name not in ours and os.path.lexists(outdir / name):
            raise InputError(
                service,
                f"{outdir / name} already exists; choose another --outdir (a run never"
                " replaces a file it did not write)",
            )


def sizes(folder: Path) -> dict[str, int]:
    """Every file under `folder` (its name relative to `folder`) with its size."""
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def whole(folder: Path, files: dict[str, int]) -> bool:
    """Every one of `files` (name relative to `folder` -> size when fetched) is there, whole."""
    for name, size in files.items():
        path = folder / name
        if path.is_symlink() or not path.is_file() or path.stat().st_size != int(size):
            return False
    return True


@contextmanager
def staged(
    outdir: Path, service: str, last: str | None = None, ours: Collection[str] = ()
) -> Iterator[Path]:
    """Yields a hidden folder of this run's own in `outdir`; on success its entries are moved
    into `outdir`.

    `last` names the entry moved last (say, the archive whose presence means "complete").
    Publishing adds: a folder already in `outdir` gets the new files beside its own, and no
    file is replaced unless it holds the same bytes or `ours` names it (relative to `outdir`:
    the job file's record of this run's earlier results). Anything else in the way stops the
    publishing before anything is moved. On any failure the hidden folder is removed and
    nothing new appears in `outdir`.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    _clear_abandoned(outdir)
    partial, lock = _own_staging(outdir)
    try:
        yield partial
        _publish(partial, outdir, last, set(ours), service)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        os.close(lock)


def flock(fd: int, *, wait: bool) -> bool | None:
    """An exclusive flock on the open file `fd`: True when taken, False when another process
    holds it (only without `wait`), None on a file system without locks (the caller then runs
    unguarded: the job file's and the staging folders' locks alike)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if not wait and exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return None
    return True


def _own_staging(outdir: Path) -> tuple[Path, int]:
    """A new staging folder, locked (flock) while this run uses it: a run that finds one it can
    lock knows that its run has ended (killed) and removes it."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=f"{STAGING}-", dir=outdir))
        lock = os.open(path, os.O_RDONLY)
        if flock(lock, wait=True) is None:  # nobody will take it for abandoned either
            return path, lock
        try:
            if os.path.samestat(os.fstat(lock), os.stat(path)):
                return path, lock
        except FileNotFoundError:
            pass
        os.close(lock)  # another run took it for abandoned before we locked it: make another


def _clear_abandoned(outdir: Path) -> None:
    """Removes the staging folders of runs that were killed (nobody holds their lock)."""
    for entry in outdir.glob(f"{STAGING}*"):
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            lock = os.open(entry, os.O_RDONLY)
        except OSError:
            continue
        try:
            if flock(lock, wait=False):  # not in use by a run (nor unlockable)
                shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(lock)


def _publish(partial: Path, outdir: Path, last: str | None, ours: set[str], service: str) -> None:
    moves: list[tuple[Path, Path, bool]] = []  # source, target, whether it replaces a file
    blocked: list[str] = []
    for entry in sorted(partial.iterdir(), key=lambda entry: (entry.name == last, entry.name)):
        _plan(entry, outdir / entry.name, entry.name, ours, moves, blocked)
    if blocked:
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        raise InputError(
            service,
            f"{outdir / blocked[0]}{more} already exists and was not written by this run;"
            " nothing was published: move it away or choose another --outdir, then run again",
        )
    for source, target, replaces in moves:
        try:
            if replaces:
                os.replace(source, target)
            elif source.is_dir():
                os.rename(source, target)  # a folder appears whole, with its files
            else:
                _move_new_file(source, target)
        except OSError as exc:
            if exc.errno not in IN_THE_WAY:
                raise
            raise InputError(
                service, f"{target} appeared while the results were published ({exc.strerror})"
            ) from None


def _plan(
    source: Path,
    target: Path,
    name: str,
    ours: set[str],
    moves: list[tuple[Path, Path, bool]],
    blocked: list[str],
) -> None:
    if not os.path.lexists(target):
        moves.append((source, target, False))
    elif target.is_symlink():
        blocked.append(name)  # whatever it points to is not the output folder's
    elif source.is_dir() and target.is_dir():
        for child in sorted(source.iterdir()):
            _plan(child, target / child.name, f"{name}/{child.name}", ours, moves, blocked)
    elif source.is_file() and target.is_file() and name in ours:
        moves.append((source, target, True))
    elif not (source.is_file() and target.is_file() and filecmp.cmp(source, target, False)):
        blocked.append(name)  # same bytes: already there, left as it is


def _move_new_file(source: Path, target: Path) -> None:
    """Moves `source` to `target`, which must not exist (never replaced, even if it appears
    meanwhile): a hard link where the file system has them."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
        os.rename(source, target)
        return
    os.unlink(source)
