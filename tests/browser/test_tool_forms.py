"""The five tool forms in a real browser, on the local Galaxy that `scripts/galaxy start` runs.

For each tool, logged in through Galaxy's login page:
- the form renders: name, sections, defaults, help (build/screenshots/<tool>.png); credentials
  are entered in the form's own credentials dialog;
- a job submitted with the form's "Run Tool" replays recorded service responses; its outputs
  turn green in the history panel and its stderr shows the progress lines
  (build/screenshots/<tool>-job.png, its job information page).

The recorded responses are named by the hidden parameter `test_cassette`, which no form shows.
So each tool is first run once through Galaxy's API with its first <test>'s inputs, and the job
information page's "Run Job Again" opens the form pre-filled from that job, hidden parameters
included (Galaxy's /api/jobs/{id}/build_for_rerun); "Run Tool" then submits that form.

scripts/test runs this after the Galaxy tool tests. By hand, with Galaxy running:
    GALAXY_STATE_DIR=... .venv/bin/pytest tests/browser
The plain `pytest` run does not collect tests/browser (norecursedirs in pyproject.toml).
Needs Debian's chromium (CHROMIUM, default /usr/bin/chromium) and the pinned `playwright` of
requirements-browser.txt; `playwright install` is never needed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Locator,
    Page,
    Response,
    ViewportSize,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
TEST_DATA = ROOT / "test-data"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
GROUP = "browser-test"  # the credentials group entered for each tool
JOB_TIMEOUT = 180.0
HELP_WARNING = "Your data leaves this Galaxy server."

# Text an element shows, or the value of its text box, or the options a multiple select shows
# chosen (their labels).
Shown = str | list[str]


@dataclass(frozen=True)
class Case:
    """One tool: what its form shows, and its first <test>'s inputs."""

    tool_id: str
    name: str
    input_file: str  # in test-data
    data_param: str  # the input dataset's parameter
    inputs: dict[str, Any]  # the other inputs, as /api/tools takes them
    defaults: dict[str, Shown]  # parameter -> what a new form shows
    rerun: dict[str, Shown]  # parameter -> what the form shows when opened from the API job
    outputs: tuple[str, ...]  # the outputs' names end with these
    progress: str  # a regex for the job's stderr
    sections: tuple[str, ...] = ()  # opened before checking the defaults
    service: str = ""  # the tool's <credentials> name, if it has any
    credentials: dict[str, str] = field(default_factory=dict)  # placeholder in the dialog -> value


GENCODE_4 = "4. Mold, Protozoan, Coelenterate Mitochondrial; Mycoplasma/Spiroplasma"
TRNA, RNS = "tRNA: transfer RNAs", "rns: small subunit ribosomal RNA"
MFANNOTWEB_TOKEN = {"API token": "mfw_GalaxyTestToken"}
MFANNOTWEB_OUTPUTS = ("masterfile", "GFF3", "summary", "run log", "results.zip", "all files")
CASES = [
    Case(
        tool_id="remote_bakta",
        name="Bakta (web service)",
        input_file="bakta_genome.fasta",
        data_param="input_option|input_file",
        inputs={"test_cassette": "bakta_default.yaml"},
        sections=(
            "Organism and naming",
            "Annotation options",
            "Workflow options: skip steps, Baktfold",
            "Output files",
        ),
        defaults={
            "organism|genus": "",
            "annotation|translation_table": "11. Bacterial, Archaeal and Plant Plastid",
            "annotation|derm_type": "Unknown (gram ?)",
            "output_files|output_selection": [
                "Annotation and sequences (GFF3)",
                "Annotation table (TSV)",
                "Annotation and sequences (GenBank)",
                "CDS and sORF protein sequences (FASTA)",
                "Summary (TXT)",
                "Circular genome plot (SVG)",
            ],
        },
        rerun={"input_option|input_file": "bakta_genome.fasta"},
        outputs=(
            "GFF3",
            "annotation table",
            "GenBank",
            "protein sequences",
            "summary",
            "plot (SVG)",
        ),
        progress=r"bakta bakta_genome: queued on the service -> RUNNING",
    ),
    Case(
        tool_id="remote_bakta_proteins",
        name="Bakta protein annotation (web service)",
        input_file="bakta_proteins.faa",
        data_param="mode|proteins",
        inputs={"test_cassette": "bakta_proteins.yaml"},
        defaults={"mode|mode": "Protein sequences with Bakta (bakta_proteins)"},
        rerun={"mode|proteins": "bakta_proteins.faa"},
        outputs=("annotation table", "protein sequences", "hypothetical proteins", "JSON"),
        progress=r"bakta bakta_proteins: queued on the service -> RUNNING",
    ),
    Case(
        tool_id="remote_mfannot",
        name="MFannot (web service)",
        input_file="mito_genome.fasta",
        data_param="genome",
        inputs={"gencode": "4", "test_cassette": "mfannot_default.yaml"},
        defaults={"gencode": GENCODE_4},
        rerun={"genome": "mito_genome.fasta", "gencode": GENCODE_4},
        outputs=(*MFANNOTWEB_OUTPUTS, "feature table (tbl)"),
        progress=r"mfannotweb [0-9a-f-]{36}: queued -> running",
        service="mfannotweb",
        credentials=MFANNOTWEB_TOKEN,
    ),
    Case(
        tool_id="remote_rnaweasel",
        name="RNAweasel (web service)",
        input_file="mito_genome.fasta",
        data_param="genome",
        inputs={"gencode": "4", "rna": ["tRNA", "rns"], "test_cassette": "rnaweasel_default.yaml"},
        defaults={"gencode": GENCODE_4, "rna": [TRNA]},
        rerun={"genome": "mito_genome.fasta", "gencode": GENCODE_4, "rna": [TRNA, RNS]},
        outputs=MFANNOTWEB_OUTPUTS,
        progress=r"mfannotweb [0-9a-f-]{36}: queued -> running",
        service="mfannotweb",
        credentials=MFANNOTWEB_TOKEN,
    ),
    Case(
        tool_id="remote_codon_optimisation",
        name="Codon optimisation (web service)",
        input_file="codon_cds.fasta",
        data_param="input|sequence",
        inputs={
            "name": "gfp",
            "input|mode": "fasta",
            "fitness_0|function|id": "cai",
            "fitness_1|function|id": "gc_content",
            "fitness_1|function|min": "35",
            "fitness_1|function|max": "60",
            "fitness_1|function|weight": "2",
            "test_cassette": "codon_default.yaml",
        },
        defaults={
            "name": "cds",
            "input|mode": "A coding sequence from a FASTA dataset",
            "fitness_0|function|id": "Codon Adaptation Index (cai)",
            "fitness_0|function|weight": "1.0",
        },
        rerun={
            "name": "gfp",
            "input|sequence": "codon_cds.fasta",
            "fitness_0|function|id": "Codon Adaptation Index (cai)",
            "fitness_1|function|id": "GC content within bounds (gc_content)",
            "fitness_1|function|weight": "2.0",
        },
        outputs=("candidates", "scores", "raw result (JSON)"),
        progress=r"codon gfp: processing -> success",
        service="codon_optimisation",
        credentials={
            "API URL": "https://codon-api.example.org",
            "Username": "galaxy-test-user",
            "Password": "galaxy-test-password",
        },
    ),
]


@dataclass
class Galaxy:
    """The browser page, logged in, and Galaxy's API as that user (the page's session cookie)."""

    url: str
    page: Page
    history_id: str = ""
    datasets: dict[str, str] = field(default_factory=dict)  # test-data file -> dataset id

    @property
    def http(self) -> APIRequestContext:
        return self.page.request

    def api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.fetch(f"{self.url}/api/{path}", method=method, data=payload)
        assert response.ok, f"{method} /api/{path}: {response.status} {response.text()[:500]}"
        return response.json() if response.body() else None

    def wait_for_job(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + JOB_TIMEOUT
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.api("GET", f"jobs/{job_id}?full=true")
            if job["state"] in ("ok", "error", "failed", "deleted"):
                return job
            time.sleep(1)
        raise AssertionError(f"job {job_id} did not finish within {JOB_TIMEOUT:.0f} s")

    def credentials(self, tool_id: str) -> list[dict[str, Any]]:
        user_id = self.api("GET", "users/current")["id"]
        found = self.api("GET", f"users/{user_id}/credentials?source_type=tool")
        return [c for c in found if c["source_id"] == tool_id]

    def delete_credentials(self, tool_id: str) -> None:
        for credentials in self.credentials(tool_id):
            self.api("DELETE", f"users/{credentials['user_id']}/credentials/{credentials['id']}")


def read_env_file() -> dict[str, str]:
    cache = Path(os.environ.get("REMOTE_JOBS_CACHE", Path.home() / ".cache/remote-jobs-suite"))
    path = Path(os.environ.get("GALAXY_STATE_DIR", cache / "galaxy-state")) / "galaxy.env"
    if not path.is_file():
        pytest.fail(f"{path} is missing: is Galaxy running? (scripts/galaxy start)")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture(scope="module")
def galaxy() -> Iterator[Galaxy]:
    env = read_env_file()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with (
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            gx = Galaxy(env["GALAXY_URL"], page)
            log_in(gx, env["GALAXY_ADMIN_EMAIL"], env["GALAXY_ADMIN_PASSWORD"])
            new_history(gx)
            upload_inputs(gx)
            yield gx
            for case in CASES:
                gx.delete_credentials(case.tool_id)
        finally:
            context.close()


def log_in(gx: Galaxy, email: str, password: str) -> None:
    page = gx.page
    page.goto(f"{gx.url}/login/start")
    page.locator("#login-form-name").fill(email)
    page.locator("#login-form-password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_url(f"{gx.url}/")
    assert gx.api("GET", "users/current")["email"] == email


def new_history(gx: Galaxy) -> None:
    """A new history, made current as Galaxy's history switcher does."""
    name = f"Browser test {time.strftime('%Y-%m-%d %H:%M:%S')}"
    gx.history_id = gx.api("POST", "histories", {"name": name})["id"]
    assert gx.http.get(f"{gx.url}/history/set_as_current?id={gx.history_id}").ok
    gx.page.reload()
    expect(gx.page.locator("#current-history-panel")).to_contain_text(name)


def upload_inputs(gx: Galaxy) -> None:
    names = sorted({case.input_file for case in CASES})
    elements = [
        {"src": "pasted", "paste_content": (TEST_DATA / n).read_text(), "name": n, "ext": "fasta"}
        for n in names
    ]
    target = {"destination": {"type": "hdas"}, "elements": elements}
    answer = gx.api("POST", "tools/fetch", {"history_id": gx.history_id, "targets": [target]})
    for job in answer["jobs"]:
        assert gx.wait_for_job(job["id"])["state"] == "ok"
    gx.datasets = {output["name"]: output["id"] for output in answer["outputs"]}
    assert sorted(gx.datasets) == names


def element(page: Page, parameter: str) -> Locator:
    return page.locator(f'[id="form-element-{parameter}"]')


def run_buttons(page: Page) -> Locator:
    return page.locator("button#execute")  # one above the form, one below


def assert_shows(page: Page, parameter: str, shown: Shown) -> None:
    field = element(page, parameter)
    if isinstance(shown, list):  # a required multiple select: its chosen options as tags
        tags = field.locator(".multiselect__tag")
        expect(tags).to_have_count(len(shown))
        assert tags.evaluate_all("tags => tags.map(tag => tag.textContent.trim())") == shown
    elif field.locator("input.ui-input").count():
        expect(field.locator("input.ui-input")).to_have_value(shown)
    else:
        expect(field).to_contain_text(shown)


def choose_dataset(gx: Galaxy, case: Case) -> None:
    """Pick the input dataset in the form's dataset list, as a user does."""
    select = element(gx.page, case.data_param).locator(".multiselect")
    select.click()
    select.locator(".multiselect__option", has_text=case.input_file).click()
    expect(select).to_contain_text(case.input_file)


def enter_credentials(gx: Galaxy, case: Case) -> None:
    """The form's "Provide credentials" dialog: a new group, "Use this group", save."""
    page = gx.page
    page.get_by_role("button", name="Provide credentials").click()
    service = page.locator(f'[id="service-credentials-{case.service}-1.0"]')
    service.locator("button.service-title").click()
    service.get_by_role("button", name="Create New Group").click()
    service.get_by_placeholder("Enter group name").fill(GROUP)
    for placeholder, value in case.credentials.items():
        service.get_by_placeholder(placeholder, exact=True).fill(value)
    service.locator("button", has_text="Create Group").click()
    service.locator("button", has_text="Use this group").click()
    page.locator("button", has_text="Save Group Selection").click()
    expect(page.locator("#center")).to_contain_text("You have already provided credentials")
    expect(page.locator("#center")).to_contain_text(GROUP)


def screenshot(page: Page, name: str) -> None:
    """The whole centre panel (it scrolls by itself): the window grows to its height first."""
    panel = page.locator("#center .overflow-auto").first
    extra = panel.evaluate("panel => panel.scrollHeight - panel.clientHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": VIEWPORT["height"] + extra})
    page.wait_for_timeout(500)  # let the layout settle
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    page.set_viewport_size(VIEWPORT)


@pytest.mark.parametrize("case", CASES, ids=[case.tool_id for case in CASES])
def test_tool_form(galaxy: Galaxy, case: Case) -> None:
    page = galaxy.page
    galaxy.delete_credentials(case.tool_id)
    page.goto(f"{galaxy.url}/?tool_id={case.tool_id}")
    expect(element(page, case.data_param)).to_be_visible()
    expect(page.locator("#center")).to_contain_text(case.name)
    if case.service:
        expect(run_buttons(page).first).to_be_disabled()
        expect(page.locator("#center")).to_contain_text("requires you to enter credentials")
        enter_credentials(galaxy, case)
    for title in case.sections:
        page.locator(".portlet-header", has_text=title).click()
    for parameter, shown in case.defaults.items():
        assert_shows(page, parameter, shown)
    expect(element(page, "test_cassette")).to_be_hidden()
    expect(page.get_by_text(HELP_WARNING)).to_be_visible()
    choose_dataset(galaxy, case)
    expect(run_buttons(page).first).to_be_enabled()
    screenshot(page, case.tool_id)


@pytest.fixture(scope="module")
def api_jobs(galaxy: Galaxy) -> dict[str, str]:
    """Each tool run once through the API, all at once; tool id -> job id."""
    jobs = {}
    for case in CASES:
        if case.service and not galaxy.credentials(case.tool_id):
            galaxy.page.goto(f"{galaxy.url}/?tool_id={case.tool_id}")
            enter_credentials(galaxy, case)
        selected = [
            {
                "user_credentials_id": c["id"],
                "name": c["name"],
                "version": c["version"],
                "selected_group": {"id": c["current_group_id"], "name": GROUP},
            }
            for c in galaxy.credentials(case.tool_id)
        ]
        dataset = {"src": "hda", "id": galaxy.datasets[case.input_file]}
        payload: dict[str, Any] = {
            "tool_id": case.tool_id,
            "history_id": galaxy.history_id,
            "inputs": {**case.inputs, case.data_param: dataset},
        }
        if selected:
            payload["credentials_context"] = selected
        jobs[case.tool_id] = galaxy.api("POST", "tools", payload)["jobs"][0]["id"]
    for tool_id, job_id in jobs.items():
        job = galaxy.wait_for_job(job_id)
        assert job["state"] == "ok", f"{tool_id} through the API: {job['stderr']}"
    return jobs


@pytest.mark.parametrize("case", CASES, ids=[case.tool_id for case in CASES])
def test_run_from_the_form(galaxy: Galaxy, api_jobs: dict[str, str], case: Case) -> None:
    page = galaxy.page
    page.goto(f"{galaxy.url}/jobs/{api_jobs[case.tool_id]}/view")
    page.get_by_role("link", name="Run Job Again").click()
    expect(run_buttons(page).first).to_be_enabled()
    expect(page.locator("#center")).to_contain_text(case.name)
    for parameter, shown in case.rerun.items():
        assert_shows(page, parameter, shown)
    if case.service:
        expect(page.locator("#center")).to_contain_text(GROUP)

    def is_submission(response: Response) -> bool:
        return response.url == f"{galaxy.url}/api/tools" and response.request.method == "POST"

    with page.expect_response(is_submission) as submitted:
        run_buttons(page).first.click()
    expect(page.locator("#center")).to_contain_text("successfully added 1 job to the queue")
    answer = submitted.value.json()
    job_id = answer["jobs"][0]["id"]
    job = galaxy.wait_for_job(job_id)
    assert job["state"] == "ok", job["stderr"]
    assert json.loads(job["params"]["test_cassette"]) == case.inputs["test_cassette"]

    panel = page.locator("#current-history-panel")
    outputs = [*answer["outputs"], *answer["output_collections"]]
    for output in outputs:
        item = panel.locator(f'.content-item[data-hid="{output["hid"]}"]')
        expect(item).to_contain_text(output["name"])
        expect(item).to_have_attribute("data-state", "ok", timeout=60_000)
    endings = sorted(output["name"].rsplit(": ", 1)[-1] for output in outputs)
    assert endings == sorted(case.outputs)

    page.goto(f"{galaxy.url}/jobs/{job_id}/view")
    stderr = page.locator("tr#stderr")
    expect(stderr.locator("pre")).to_contain_text(re.compile(case.progress))
    stderr.get_by_title("click to expand").click()  # all of it on the screenshot
    screenshot(page, f"{case.tool_id}-job")
