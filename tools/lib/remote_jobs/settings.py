"""Switches from the environment: the usual words for yes and no, and nothing else."""

from __future__ import annotations

import os

from .errors import InputError

ON = ("on", "true", "yes", "1", "enabled", "enable", "y", "t")
OFF = ("off", "false", "no", "0", "disabled", "disable", "n", "f")


def env_switch(variable: str, default: bool) -> bool:
    """The switch `variable` (any case, spaces around ignored); `default` when unset or empty.

    A value that is neither an ON nor an OFF word is a bad setting (InputError, exit 2): taken
    for either, it could do what the admin meant to prevent."""
    given = " ".join(os.environ.get(variable, "").split())
    word = given.lower()
    if not word:
        return default
    if word in ON:
        return True
    if word in OFF:
        return False
    shown = given if len(given) <= 20 else given[:20] + "..."
    raise InputError(
        "remote-jobs",
        f"{variable}={shown} is neither on nor off: set it to off (or false, no, 0, disabled)"
        " or on (or true, yes, 1, enabled)",
    )
