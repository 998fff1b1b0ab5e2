"""Publishing results: files appear under their final names only when all of them are complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING = ".partial"  # the hidden folder in the output folder where results are assembled


@contextmanager
def staged(outdir: Path, last: str | None = None) -> Iterator[Path]:
    """Yields a hidden folder in `outdir`; on success its entries are moved into `outdir`.

    `last` names the entry moved last (say, the archive whose presence means "complete").
    On any failure the hidden folder is removed and nothing new appears in `outdir`.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    partial = outdir / STAGING
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        yield partial
        entries = sorted(partial.iterdir(), key=lambda entry: entry.name == last)
        for entry in entries:
            target = outdir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif entry.is_dir() and target.exists():
                target.unlink()  # a file of an earlier run where a folder comes now
            os.replace(entry, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
