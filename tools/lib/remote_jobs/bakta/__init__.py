"""Bakta web API, v1 and v2: a remote Bakta job from the input checks to the result files.

`options` (what a run is asked to do, checked before anything is sent), `api` (what v1 and v2
share), `v1` and `v2` (each API's client and its side of the flow), `service` (which APIs a
deployment serves) and `flow` (one loop for both). v2 (`/api/v2` beside `BAKTA_API_URL`'s
`/api/v1`) adds workflows (protein annotation, Baktfold) and options v1 cannot run; the runner
asks the service whether it has v2 (`GET /api/v2/workflows`) and uses it when it is there. See
../shared/notes/bakta-backend.md and bakta-v2.md for the backend facts encoded here (marked
"backend:").
"""

from .flow import annotate, run_workflow
from .options import (
    BAKTFOLD_FORMATS,
    DERM_TYPES,
    FORMATS,
    LOG,
    PROTEIN_FORMATS,
    SERVICE,
    SKIPS,
    AnnotationOptions,
    read_genome,
    read_replicon_table,
    sample_name,
)
from .service import Service
from .v1 import DEFAULT_URL, BaktaClient
from .v2 import V2_VERSION_KEYS, BaktaV2Client, v2_url

__all__ = [
    "BAKTFOLD_FORMATS",
    "DEFAULT_URL",
    "DERM_TYPES",
    "FORMATS",
    "LOG",
    "PROTEIN_FORMATS",
    "SERVICE",
    "SKIPS",
    "V2_VERSION_KEYS",
    "AnnotationOptions",
    "BaktaClient",
    "BaktaV2Client",
    "Service",
    "annotate",
    "read_genome",
    "read_replicon_table",
    "run_workflow",
    "sample_name",
    "v2_url",
]
