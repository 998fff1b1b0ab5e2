"""The Bakta deployment behind BAKTA_API_URL: its v1 API, and v2 when it serves one."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .options import SERVICE
from .v1 import BaktaClient
from .v2 import BaktaV2Client


class Service:
    """The Bakta deployment: its v1 client, and its v2 client when it serves v2.

    Whether it does is asked once (`GET /api/v2/workflows`), when first needed: input
    checks come first, so bad input is refused without a request.
    """

    def __init__(self, v1: BaktaClient, v2: BaktaV2Client) -> None:
        self.v1 = v1
        self._candidate = v2
        self._workflows: dict[str, dict[str, Any]] | None = None
        self._asked = False

    def _discover(self) -> dict[str, dict[str, Any]] | None:
        if not self._asked:
            self._workflows = self._candidate.workflows()
            self._asked = True
        return self._workflows

    @property
    def v2(self) -> BaktaV2Client | None:
        return self._candidate if self._discover() is not None else None

    @property
    def workflows(self) -> dict[str, dict[str, Any]]:
        return self._discover() or {}

    def require_v2(self, what: list[str]) -> BaktaV2Client:
        if self.v2 is None:
            raise InputError(
                SERVICE,
                f"the service at {self.v1.http.base_url} offers only API v1;"
                f" {', '.join(what)} need{'s' if len(what) == 1 else ''} API v2",
            )
        return self._candidate
