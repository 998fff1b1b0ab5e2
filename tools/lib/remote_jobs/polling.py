"""The one polling loop, and the progress lines users see on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import OutOfTime

Emit = Callable[[str], None]


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask: start at `initial` seconds, grow by `factor` up to `maximum`."""

    initial: float
    maximum: float
    factor: float = 1.5

    def fixed(self, seconds: float) -> PollPolicy:
        return PollPolicy(seconds, seconds, 1.0)


@dataclass(frozen=True)
class Deadline:
    """--timeout: when the whole run gives up, waits asked for by a server included."""

    seconds: float
    at: float  # time.monotonic()

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def gave_up(self, what: str) -> str:
        return f"gave up after --timeout {self.seconds:g} s: {what}"

    def expired(self, service: str, what: str, job: str | None = None, **how: bool) -> OutOfTime:
        """The error that ends a run out of time while it was doing `what` (`how`: OutOfTime's
        `named`)."""
        return OutOfTime(service, self.seconds, what, job, **how)


class Waiter:
    """Sleeps between polls with a growing interval, and enforces the overall --timeout."""

    def __init__(
        self,
        *,
        deadline: Deadline | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float | None = None,
    ) -> None:
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.deadline = deadline

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline.remaining()

    def check_deadline(self, service: str, what: str, job: str | None = None) -> None:
        if self.deadline is not None and self.deadline.passed():
            raise self.deadline.expired(service, what, job)

    def wait(
        self,
        service: str,
        policy: PollPolicy,
        done: Callable[[], bool],
        what: str,
        job: str | None = None,
        *,
        pause_first: bool = False,
    ) -> None:
        """Call `done` until it returns True, sleeping between calls (and before the first
        with `pause_first`)."""
        if self.poll_interval is not None:
            policy = policy.fixed(self.poll_interval)
        interval = policy.initial
        while pause_first or not done():
            pause_first = False
            self.check_deadline(service, what, job)
            remaining = self.remaining()
            self.sleep(interval if remaining is None else max(0.0, min(interval, remaining)))
            interval = min(interval * policy.factor, policy.maximum)


class Progress:
    """One stderr line per state change of a remote job, never one per poll."""

    def __init__(self, emit: Emit, clock: Callable[[], float] = time.monotonic) -> None:
        self.emit = emit
        self.clock = clock
        self.started = clock()
        self.states: dict[tuple[str, str], str] = {}
        self.since: dict[tuple[str, str], float] = {}  # when the current state was first seen
        self.spent: dict[tuple[str, str], dict[str, float]] = {}  # seconds in earlier states

    @staticmethod
    def duration(seconds: float) -> str:
        hours, rest = divmod(int(seconds), 3600)
        stamp = f"{rest // 60:02d}:{rest % 60:02d}"
        return f"{hours}:{stamp}" if hours else stamp

    def elapsed(self) -> str:
        return self.duration(self.clock() - self.started)

    def state(
        self, service: str, name: str, state: str, *, summary: dict[str, str] | None = None
    ) -> None:
        """A job's state as seen now. `summary` (with a job's last state): the time it spent
        in each earlier state named there, as seen by the polls, e.g. {"RUNNING": "ran"}."""
        key = (service, name)
        previous = self.states.get(key)
        if previous == state:
            return
        now = self.clock()
        spent = self.spent.setdefault(key, {})
        if previous is not None:
            spent[previous] = spent.get(previous, 0.0) + now - self.since[key]
        self.states[key], self.since[key] = state, now
        change = f"{previous} -> {state}" if previous else state
        times = [
            f"{word} {self.duration(spent[earlier])}"
            for earlier, word in (summary or {}).items()
            if earlier in spent
        ]
        note = f"; {', '.join(times)}" if times else ""
        self.emit(f"{service} {name}: {change} ({self.elapsed()}{note})")

    def forget(self, service: str, name: str) -> None:
        """Start afresh with this name: its next state is its first (a new remote job)."""
        for seen in (self.states, self.since, self.spent):
            seen.pop((service, name), None)

    def info(self, service: str, message: str) -> None:
        self.emit(f"{service}: {message}")
