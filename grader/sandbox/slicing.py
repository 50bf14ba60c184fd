"""The grader's side of statement slicing: ask a fresh worker for the plan, check it, apply it.

The analysis itself (grader/sandbox/ops_plan.py) parses student code, so it runs in the
sandbox worker, before any student statement has run there. Its reply is only trusted to
choose which of the student's own statements run: a malformed or missing plan means
every statement runs, as with `slicing = false`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import WorkerFailure

if TYPE_CHECKING:
    from .session import StudentSession

__all__ = ["plan_statements", "NOT_RUN"]

NOT_RUN = "not-run"
"""StatementIssue status of statements left out by the plan."""


def _valid(cells: Any, count: int) -> bool:
    if not isinstance(cells, list) or len(cells) != count:
        return False
    return all(
        isinstance(cell, list) and all(
            isinstance(s, dict) and isinstance(s.get("stmt"), int) and isinstance(s.get("run"), bool) and isinstance(s.get("line"), int)
            for s in cell
        )
        for cell in cells
    )


def plan_statements(session: StudentSession) -> dict[int, set[int]]:
    """Per cell index, the statements grading does not need; notes them as "not run" issues."""
    from .session import StatementIssue  # noqa: PLC0415 - session imports this module

    cells = session.submission.cells
    if not session.config.slicing or not session.graded_names or not cells:
        return {}
    try:
        reply, _ = session._worker().request(  # noqa: SLF001 - the session's raw channel, before any student code
            {"op": "plan", "cells": [c.source for c in cells], "roots": list(session.graded_names)},
            timeout=session.config.statement_timeout + 2.0,
        )
    except WorkerFailure:
        session._restart_worker()  # noqa: SLF001 - a plan that killed the worker: run everything in a fresh one
        return {}
    planned = reply.get("cells") if reply.get("ok") else None
    if not _valid(planned, len(cells)):
        return {}
    skipped: dict[int, set[int]] = {}
    for cell, statements in zip(cells, planned):
        session.statement_counts[cell.index] = len(statements)
        skipped[cell.index] = {s["stmt"] for s in statements if not s["run"]}
        left_out = [s for s in statements if not s["run"] and s.get("trivial") is not True]
        if not left_out:
            continue
        lines = ", ".join(str(s["line"]) for s in left_out[:12]) + (", ..." if len(left_out) > 12 else "")
        which = "the whole cell" if len(left_out) == len(statements) else f"line{'s' if len(left_out) > 1 else ''} {lines}"
        session._note(StatementIssue(cell.label, left_out[0]["line"], NOT_RUN, f"not needed for grading ({which})"))  # noqa: SLF001
    return skipped
