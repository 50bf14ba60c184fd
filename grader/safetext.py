"""Make student-derived text safe to show: one place for terminals, one for UTF-8.

Exception messages, printed output and file names come from the student. Written to a
terminal as they are, an ESC or OSC sequence forges report lines ("carol: 21 of 21"),
recolours the screen or (OSC 52) writes the reader's clipboard; a lone surrogate (JSON
can carry "\\udc80", file names can hold undecodable bytes) crashes any strict UTF-8
writer. `utf8_safe` is applied once, where strings enter a report (grader/results.py);
`terminal_safe` at every point where a line is written to a terminal.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["terminal_safe", "utf8_safe"]

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1 (0x9b is a one-byte CSI)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional overrides (reordered text)
    "\ud800-\udfff]"  # lone surrogates
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object, newlines: bool = True) -> str:
    """`text` with every control character written as a visible escape (\\x1b, \\u202e).

    Linear time (one pass of a character class). Tabs stay; newlines stay unless
    `newlines` is false (a one-line field such as a student id or a progress line).
    """
    text = str(text)
    cleaned = _CONTROL.sub(_escaped, text)
    return cleaned if newlines else cleaned.replace("\n", "\\n")


def utf8_safe(value: Any) -> Any:
    """`value` with every string encodable as UTF-8 (lone surrogates become "\\udc80" text).

    Walks lists, tuples and dicts (keys too); other values are returned as they are.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(utf8_safe(v) for v in value)
    return value
