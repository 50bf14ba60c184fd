"""One exception hierarchy.

`InputError`: the user gave us something we cannot grade (not a notebook, no code); the CLI
prints its one-sentence message and exits 2. `StudentFailure`: the student's code failed a
request (raised, hung, crashed, is missing); a check catches it and scores zero with its
diagnosis. `GraderFailure`: the grader could not do its own part (the sandbox could not start a
worker, twice): one sentence, exit status 2, a grader error in a batch, never the student's.
Anything else is a bug in the grader and is allowed to crash loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InputError", "StudentFailure", "GraderBug", "GraderFailure"]


class InputError(Exception):
    """A submission or option the grader cannot use; the message is one user-facing sentence."""


class GraderBug(RuntimeError):
    """An internal inconsistency: never blamed on the student."""


class GraderFailure(RuntimeError):
    """The grader's own machinery failed (a sandbox that could not be set up); the message is
    one sentence with the reason, and no check is scored on it."""


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
