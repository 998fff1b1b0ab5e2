"""Does a built Tool Shed repository read anything from outside its own folder?

Galaxy mounts, and Pulsar stages, only the folder that holds a tool's XML. A repository passes
when its tools' macros, the paths they build from `$__tool_directory__`, the cassettes their
tests replay and the inputs their tests upload all lie inside it, nothing in it is a symbolic
link, and the runner imports from its own `lib/` alone. It ships no test data that none of its
tools' tests uses (an input, a file to compare with, or a cassette to replay).
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TOOL_DIRECTORY = re.compile(r"\$\{?__tool_directory__\}?/?([^'\"\s$]*)")
CASSETTE = re.compile(r'name="test_cassette" value="([^"]+)"')


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _is_tool(path: Path) -> bool:
    try:
        return ET.parse(path).getroot().tag == "tool"
    except ET.ParseError:
        return False


def _test_files(tool: ET.Element, known: set[str]) -> set[str]:
    """Names of known test-data files that the tool's tests upload or compare with."""
    names = set()
    for test in tool.iter("test"):
        for element in test.iter():
            names |= {v for k, v in element.attrib.items() if k in ("value", "file") and v in known}
    return names


def _used_macros(tool_text: str, macros: ET.Element) -> list[str]:
    """The texts of the tokens and xml macros of a macros file that the tool uses, and of those
    they use in turn: what Galaxy expands into the tool (a token the tool never names reads
    nothing, e.g. the cassette folder of @REPLAY@ in a tool that replays none)."""
    bodies = {}
    for element in macros:
        name = element.get("name") or ""
        if element.tag == "token":
            bodies[name] = element.text or ""
        elif element.tag == "xml":
            bodies[f'macro="{name}"'] = ET.tostring(element, encoding="unicode")
    used: list[str] = []
    todo = [tool_text]
    while todo:
        text = todo.pop()
        for key in [key for key in bodies if key in text]:
            body = bodies.pop(key)
            used.append(body)
            todo.append(body)
    return used


def _runner_problems(root: Path) -> list[str]:
    lib = root / "lib"
    if not (lib / "remote_jobs" / "__main__.py").is_file():
        return []  # no runner shipped: the tools would say so through $__tool_directory__/lib
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import remote_jobs.cli, remote_jobs; "
        "print(remote_jobs.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(lib)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return [f"lib/remote_jobs does not import: {result.stderr.strip().splitlines()[-1]}"]
    if not _inside(Path(result.stdout.strip()).resolve(), root):
        return [f"remote_jobs imported from {result.stdout.strip()}"]
    return []


def problems(repository: Path, known_test_data: set[str]) -> list[str]:
    """What in REPOSITORY reaches outside it; empty when it is self-contained."""
    root = repository.resolve()
    found = [
        f"{path.relative_to(repository)}: a symbolic link"
        for path in sorted(repository.rglob("*"))
        if path.is_symlink()
    ]
    tools = [path for path in sorted(repository.glob("*.xml")) if _is_tool(path)]
    if not tools and not (repository / "repository_dependencies.xml").is_file():
        found.append("neither a tool nor repository_dependencies.xml")
    used: set[str] = set()  # test-data/ paths that some test uses
    for path in tools:
        tool = ET.parse(path).getroot()
        texts = [path.read_text(encoding="utf-8")]
        used |= {f"cassettes/{name}" for name in CASSETTE.findall(texts[0])}
        shipped = {p.name for p in (repository / "test-data").glob("*") if p.is_file()}
        used |= _test_files(tool, known_test_data | shipped)
        for element in tool.iter("import"):
            target = (path.parent / (element.text or "")).resolve()
            if not _inside(target, root):
                found.append(f"{path.name} imports {element.text} from outside the repository")
            elif not target.is_file():
                found.append(f"{path.name} imports {element.text}, which is missing")
            else:
                texts += _used_macros(texts[0], ET.parse(target).getroot())
        for text in texts:
            for match in TOOL_DIRECTORY.finditer(text):
                target = (path.parent / match.group(1)).resolve()
                if not _inside(target, root):
                    found.append(f"{path.name} reads {match.group(0)}: outside the repository")
                elif not target.exists():
                    found.append(f"{path.name} reads {match.group(0)}, which is missing")
        for cassette in CASSETTE.findall(texts[0]):
            if not (path.parent / "test-data" / "cassettes" / cassette).is_file():
                found.append(f"{path.name}: its tests replay {cassette}, which is missing")
        for name in sorted(_test_files(tool, known_test_data)):
            if not (path.parent / "test-data" / name).is_file():
                found.append(f"{path.name}: its tests use test-data/{name}, which is missing")
    data = repository / "test-data"
    found += [
        f"test-data/{name}: no test of the repository uses it"
        for name in sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
        if name not in used
    ]
    return found + _runner_problems(root)
