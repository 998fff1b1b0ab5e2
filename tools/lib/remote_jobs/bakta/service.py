"""The Bakta deployment behind BAKTA_API_URL: its v1 API, and v2 when it serves one."""

from __future__ import annotations

from typing import Any

from ..errors import InputError, RemoteJobsError
from .api import Workflow
from .options import SERVICE
from .v1 import BaktaClient
from .v2 import BaktaV2Client


class Service:
    """The Bakta deployment: its v1 client, and its v2 client when it serves v2.

    Whether it does is asked once (`GET /api/v2/workflows`), when first needed: input
    checks come first, so bad input is refused without a request. A v2 that answers but
    cannot be asked (a 403 or 500 there, say) counts as absent, and `v2_trouble` says why:
    plain annotation goes on over v1, which serves the same jobs. A v2 that cannot be reached
    (no connection, a time-out) or is out of service (429, 502-504 after the retries) stops the
    run with that failure: v1 lives on the same host, and the failure is the news.
    """

    def __init__(self, v1: BaktaClient, v2: BaktaV2Client) -> None:
        self.v1 = v1
        self._candidate = v2
        self._workflows: dict[str, dict[str, Any]] | None = None
        self._asked = False
        self._version: dict[str, str] | None = None  # v2's GET /version, asked once
        self.v2_trouble: str | None = None  # why v2 could not be asked, when it could not

    def _discover(self) -> dict[str, dict[str, Any]] | None:
        if not self._asked:
            from ..retries import RETRY_STATUSES  # loaded once a service is asked (see cli)

            self._asked = True
            try:
                self._workflows = self._candidate.workflows()
            except RemoteJobsError as exc:
                if exc.status is None or exc.status in RETRY_STATUSES:
                    raise
                self.v2_trouble = exc.message
        return self._workflows

    @property
    def v2(self) -> BaktaV2Client | None:
        return self._candidate if self._discover() is not None else None

    @property
    def workflows(self) -> dict[str, dict[str, Any]]:
        return self._discover() or {}

    def require_v2(self, what: list[str]) -> BaktaV2Client:
        if self.v2 is None:
            where = self.v1.http.base_url
            offers = (
                f"API v2 of the service at {where} could not be asked ({self.v2_trouble})"
                if self.v2_trouble
                else f"the service at {where} offers only API v1"
            )
            need = "needs" if len(what) == 1 else "need"
            raise InputError(SERVICE, f"{offers}; {', '.join(what)} {need} API v2")
        return self._candidate

    def v2_for(self, workflow: Workflow) -> BaktaV2Client:
        """The v2 client, once the service's /workflows says it runs this workflow so."""
        client = self.require_v2([workflow.kind])
        offered = self.workflows.get(workflow.kind)
        if offered is None:
            raise InputError(
                SERVICE,
                f"the service does not offer the {workflow.kind} workflow"
                f" (it offers {', '.join(sorted(self.workflows)) or 'none'})",
            )
        uploads = [u for u in offered.get("uploads", []) if isinstance(u, dict)]
        kinds = {str(u.get("upload_kind")) for u in uploads}
        wanted = {workflow.main_upload, *workflow.uploads}
        if unknown := sorted(wanted - kinds):
            raise InputError(
                SERVICE, f"the service's {workflow.kind} workflow takes no {', '.join(unknown)}"
            )
        stages = offered.get("stages") or [workflow.kind]
        if "baktfold" in stages and not _named(self.v2_version().get("baktfold_version")):
            # backend: GET /workflows is a static list; a deployment without Baktfold fails
            # job/start ("Missing Bakta or Baktfold version for workflow template"), after
            # the uploads.
            raise InputError(
                SERVICE,
                f"the service at {client.http.base_url} has no Baktfold (its GET /version names"
                f" no baktfold_version), although it lists the {workflow.kind} workflow",
            )
        required = {str(u.get("upload_kind")) for u in uploads if u.get("required")}
        if missing := sorted(required - wanted):
            raise InputError(
                SERVICE,
                f"the service's {workflow.kind} workflow also requires {', '.join(missing)}",
            )
        return client

    def v2_version(self) -> dict[str, str]:
        if self._version is None:
            self._version = self.require_v2(["GET /version"]).version()
        return self._version

    def provenance(self, workflow: Workflow | None) -> str:
        """The versions that will make the results (README: provenance lines); `workflow` None
        for a run over v1."""
        if workflow is None or self.v2 is None:
            version = self.v1.version()
            return (
                f"Bakta {_shown(version, 'toolVersion')},"
                f" database {_shown(version, 'dbVersion')},"
                f" backend {_shown(version, 'backendVersion')} at {self.v1.http.base_url}"
            )
        version = self.v2_version()
        stages = self.workflows.get(workflow.kind, {}).get("stages") or [workflow.kind]
        parts = []
        if any(stage.startswith("bakta") for stage in stages):
            parts.append(
                f"Bakta {_shown(version, 'bakta_version')},"
                f" database {_shown(version, 'bakta_db_version')}"
            )
        if "baktfold" in stages:
            parts.append(
                f"Baktfold {_shown(version, 'baktfold_version')},"
                f" database {_shown(version, 'baktfold_db_version')}"
            )
        return (
            f"{', '.join(parts)}, backend {_shown(version, 'backend_version')}"
            f" at {self.v2.http.base_url} ({workflow.kind})"
        )


def _named(value: object) -> bool:
    return isinstance(value, str | int | float) and bool(str(value).strip())


def _shown(version: dict[str, str], key: str) -> str:
    """A version as the provenance line shows it: '?' where the service names none (absent,
    null or empty), never an empty word."""
    value = version.get(key)
    return str(value).strip() if _named(value) else "?"
