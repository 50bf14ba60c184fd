"""Typed views of a worker's replies, which are untrusted: student code can write to the
reply channel, so any field may be missing, of the wrong type or absurdly large. Each helper
returns only what the grader reads, with the types it expects, or a StudentFailure
(`crash`), never a grader traceback.
"""

from __future__ import annotations

from typing import Any

from ..errors import StudentFailure

__all__ = ["error_fields", "description", "reply_int", "is_index"]

_RECORD_FIELDS = {"type": 200, "message": 2000, "traceback": 8000, "where": 200}
"""The text fields of an error record and how much of each is kept (the worker sends less)."""


def error_fields(value: Any) -> dict[str, Any]:
    """A worker's error record with the types the grader reads (replies can be forged:
    student code can write to the reply channel, so nothing in one is trusted)."""
    if not isinstance(value, dict):
        return {}
    record: dict[str, Any] = {k: str(value[k])[:limit] for k, limit in _RECORD_FIELDS.items() if isinstance(value.get(k), (str, int, float))}
    if is_index(value.get("line")) and value["line"] > 0:
        record["line"] = value["line"]
    if isinstance(value.get("locals"), dict):
        record["locals"] = value["locals"]
    return record


def description(entry: dict[str, Any]) -> dict[str, Any]:
    """One name's description with the types the checks read (kind, signature, methods)."""
    text = lambda v: str(v)[:500] if isinstance(v, str) else None  # noqa: E731
    methods = entry.get("methods")
    clean: dict[str, Any] = {"kind": text(entry.get("kind")) or "other", "signature": text(entry.get("signature"))}
    if isinstance(methods, dict):
        clean["methods"] = {str(k)[:100]: text(v) or "" for k, v in list(methods.items())[:500]}
    return clean


def reply_int(value: Any, what: str) -> int:
    """An integer field of a reply (a handle, a count), or a StudentFailure for a forged one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise StudentFailure("crash", f"{what}: the student's process sent a malformed reply.")


def is_index(value: Any) -> bool:
    """A statement number or line as the worker sends it (bool is an int, a forger's too)."""
    return isinstance(value, int) and not isinstance(value, bool) and -1 <= value < 10**9
