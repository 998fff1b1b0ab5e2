"""docs/admin.md's Total Perspective Vortex examples pass TPV's own linter.

TPV (total-perspective-vortex, installed into Galaxy's venv by `scripts/galaxy install`, as a
server that routes with it installs it) loads each rule file as Galaxy would, and compiles its
`if:` and `execute:` code. tests/test_admin_examples.py checks which tools each example routes;
this checks that TPV accepts it (TPV's lint compiles the code and type-checks it with mypy). It needs no running Galaxy: scripts/test runs it once the
Galaxy venv is installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.galaxy.support import GALAXY_VENV
from tests.test_admin_examples import yaml_blocks

# A TPV rule file: tools as a mapping of id patterns (a job_conf.yml lists them).
TPV_EXAMPLES = [
    (line, text)
    for line, text, document in yaml_blocks()
    if isinstance(document, dict) and isinstance(document.get("tools"), dict)
]


@pytest.fixture(scope="module")
def lint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working folder for every lint: TPV type-checks the rules' code with mypy, whose
    cache (.mypy_cache, in the working folder) makes the lints after the first much faster."""
    return tmp_path_factory.mktemp("tpv")


def test_the_guide_has_tpv_examples() -> None:
    assert len(TPV_EXAMPLES) >= 3  # local runner, Pulsar, container


@pytest.mark.parametrize(("line", "text"), TPV_EXAMPLES, ids=[f"line {n}" for n, _ in TPV_EXAMPLES])
def test_tpv_lints_the_example(line: int, text: str, lint_dir: Path) -> None:
    tpv = GALAXY_VENV / "bin" / "tpv"
    if not tpv.exists():
        pytest.fail(f"no {tpv}: run scripts/galaxy install")
    rules = lint_dir / f"tpv_rules_{line}.yml"
    rules.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [tpv, "lint", rules],
        cwd=lint_dir,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, f"docs/admin.md line {line}:\n{done.stdout}{done.stderr}"[-3000:]
    assert "lint successful" in done.stdout + done.stderr
