"""A Bakta job's log, as the service gives it (`GET /job/logs`): why a failed job failed, and
whether it failed in Bakta (on its input) or inside the service (worth resubmitting), and the
log of a finished job as one text file.

backend: v1 answers plain text, Bakta's own log for a job that failed in Bakta and only a generic
"Internal server error" when the service's workflow engine failed (the case where Bakta's team
tells users to resubmit). v2's newer builds answer `{workflow_kind, stages: [{stage, status,
content}]}`, one entry per stage of the workflow; older ones answer 501 (no logs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RemoteJobsError

# What the service says when its workflow engine, not Bakta, failed: none of Bakta's words.
GENERIC = frozenset({"internal server error"})
NO_LOGS = (404, 501)  # backend: an older build registers job/logs but does not implement it
LAST_LINES = 3  # of a failed stage's log, in the one-line error
MAX_WORDS = 300  # characters of them


@dataclass(frozen=True)
class Failure:
    """Why a job ended in ERROR, in words for the one-line error."""

    words: str
    in_service: bool  # the service failed, not Bakta on its input: resubmitting may help


@dataclass(frozen=True)
class Stage:
    """One stage of a v2 workflow (bakta, bakta_proteins, baktfold) and its log."""

    stage: str
    status: str  # pending, running, succeeded, failed, error, unknown
    content: str


def meaningful(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_generic(text: str) -> bool:
    """True when a log holds none of Bakta's own words (empty, or the engine's generic error)."""
    return all(line.lower().rstrip(".") in GENERIC for line in meaningful(text))


def last_words(text: str) -> str:
    words = " | ".join(meaningful(text)[-LAST_LINES:])
    return words if len(words) <= MAX_WORDS else "..." + words[-MAX_WORDS:]


def fetched(read: Callable[[], Any]) -> Any:
    """The service's answer to job/logs, or None when it gives no logs (404, 501)."""
    try:
        return read()
    except RemoteJobsError as exc:
        if exc.status in NO_LOGS:
            return None
        raise


def v1_failure(text: str | None) -> Failure:
    """A v1 job that ended in ERROR, from its log text (None: the service gave none)."""
    if text is None:
        return Failure("job ended in ERROR (the service gives no log of it)", False)
    if is_generic(text):
        said = last_words(text) or "an empty log"
        return Failure(
            f"job ended in ERROR: {said} (the service's own error, no word of Bakta)", True
        )
    return Failure(f"job ended in ERROR: {last_words(text)}", False)


def v2_stages(answer: Any) -> list[Stage] | None:
    """The stages of a v2 job/logs answer; None when it is not shaped like one."""
    stages = answer.get("stages") if isinstance(answer, dict) else None
    if not isinstance(stages, list):
        return None
    return [
        Stage(
            str(s.get("stage", "?")), str(s.get("status", "unknown")), str(s.get("content") or "")
        )
        for s in stages
        if isinstance(s, dict)
    ]


def v2_failure(stages: list[Stage] | None) -> Failure:
    """A v2 job that ended in ERROR, from its stages (None: the service gave no logs).

    A stage that failed with a log of its own words failed on the job's input: its last lines
    are the words. A job with no such stage (none failed, or the failed one has an empty log,
    only the generic error, or the status `error` of the engine) failed inside the service.
    """
    if stages is None:
        return Failure("job ended in ERROR (the service gives no log of it)", False)
    failed = [s for s in stages if s.status in ("failed", "error")]
    for stage in failed:
        if not is_generic(stage.content):
            return Failure(
                f"job ended in ERROR in stage {stage.stage}: {last_words(stage.content)}", False
            )
    if failed:
        stage = failed[0]
        said = last_words(stage.content) or "empty"
        return Failure(
            f"job ended in ERROR in stage {stage.stage} (status {stage.status}, log {said}: the"
            f" service's own failure, no word of {stage.stage})",
            True,
        )
    states = ", ".join(f"{s.stage} {s.status}" for s in stages) or "none listed"
    return Failure(
        f"job ended in ERROR with no stage failed ({states}: the service's own failure)", True
    )


def v2_text(stages: list[Stage]) -> str:
    """A v2 job's log: each stage's, under a header naming the stage and its status."""
    parts = []
    for stage in stages:
        content = stage.content
        if content and not content.endswith("\n"):
            content += "\n"
        parts.append(f"==> stage {stage.stage}: {stage.status} <==\n{content}")
    return "".join(parts)
