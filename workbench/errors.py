"""Errors that reach the user as one clear line, never a traceback.

Every error about user input names where it came from (the file), the field
path inside it, the bad value, and what is allowed, so the person can fix it
without reading code. The CLI prints ``str(error)`` and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WorkbenchInputError(ValueError):
    """Bad user input: a scenario file, an override, a CLI argument."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        path: str | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(self.__str__())

    def with_context(self, *, source: str | None = None, path_prefix: str | None = None) -> WorkbenchInputError:
        """Return a copy that also names the file and/or a path prefix."""
        path = self.path
        if path_prefix:
            path = f"{path_prefix}.{path}" if path else path_prefix
        return WorkbenchInputError(self.message, source=source or self.source, path=path)

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class WorkbenchWarning(UserWarning):
    """Input that runs but probably not as meant; the CLI prints it as ``workbench: warning: ...``."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close match, else ``""``."""
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def one_of(choices: Iterable[str]) -> str:
    """Format a list of allowed values for an error message."""
    return ", ".join(sorted(str(c) for c in choices))
