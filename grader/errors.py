"""One exception hierarchy.

`InputError`: the user gave us something we cannot grade (not a notebook, no code); the CLI
prints its one-sentence message and exits 2. `StudentFailure`: the student's code failed a
request (raised, hung, crashed, is missing); a check catches it and scores zero with its
diagnosis. Anything else is a bug in the grader and is allowed to crash loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InputError", "StudentFailure", "GraderBug"]


class InputError(Exception):
    """A submission or option the grader cannot use; the message is one user-facing sentence."""


class GraderBug(RuntimeError):
    """An internal inconsistency: never blamed on the student."""


@dataclass
class StudentFailure(Exception):
    """The student's code failed while the grader asked it for something."""

    code: str
    """Diagnosis code from MISTAKES.md (exception, timeout, crash, missing-definition, ...)."""
    message: str
    """One sentence for the student."""
    traceback: str = ""
    """The student's traceback, trimmed to the student's own lines."""
    extra_codes: list[str] = field(default_factory=list)
    """Further codes that explain the failure (e.g. output-flood beside crash)."""
    error_type: str = ""
    """The exception's class name when the student's code raised."""
    local_arrays: dict = field(default_factory=dict)
    """Arrays of the student's innermost frame when it raised (name -> ndarray)."""

    def __str__(self) -> str:
        return self.message
