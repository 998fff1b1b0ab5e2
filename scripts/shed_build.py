"""Build the Tool Shed repositories of .shed.yml, as `planemo shed_upload` would send them.

Run with planemo's Python (scripts/galaxy build). For every repository of .shed.yml, planemo's
own code realizes it (the `include` entries: source, destination, strip_components) and packs
the tarball it uploads; this writes that tarball to OUT/NAME.tar.gz and unpacks it to OUT/NAME/,
the directory a Galaxy that installs the repository gets. Local Galaxies and planemo lint load
the tools from there, so what is tested is what is published.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
from pathlib import Path

from planemo import shed
from planemo.cli import PlanemoCliContext


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("repo", type=Path, help="the directory holding .shed.yml")
    parser.add_argument("out", type=Path, help="where to write NAME.tar.gz and NAME/")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    def build(realized: shed.RealizedRepository) -> int:
        tarball = out / f"{realized.name}.tar.gz"
        shutil.move(shed.build_tarball(realized.path), tarball)
        with tarfile.open(tarball) as tar:
            tar.extractall(out / realized.name, filter="data")
        print(f"{realized.name}: {tarball}")
        return 0

    kwds = {"recursive": False, "fail_on_missing": True}
    return int(
        shed.for_each_repository(PlanemoCliContext(), build, [str(args.repo.resolve())], **kwds)
    )


if __name__ == "__main__":
    sys.exit(main())
