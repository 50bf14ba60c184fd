"""Names on disk for a class's submissions: ids stay as the LMS wrote them, files get safe names.

Why: ids come from file and folder names that students partly control (any length, any
script, any separator). Used directly as file names they can exceed the 255-byte limit of a
file name, collide once cleaned (`José` and `Jos_` both clean to `Jos`), differ only in case
(a case-insensitive disk merges `Alice` and `alice`), or take a name the batch writes itself
(`class` -> class.html). So an id is kept as text for the gradebook, and every stored file
gets a stem from `allocate_stems`: deterministic, one-to-one, bounded in bytes, never a
reserved name, and computed from a set, so it always terminates.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Iterable, Sequence

__all__ = [
    "AMBIGUOUS", "MAX_STEM", "RESERVED_STEMS", "STUDENT_SUFFIXES", "allocate_stems", "is_reserved", "safe_name",
    "stored_component", "unique_ids",
]

MAX_STEM = 150
"""Most characters (ASCII, so bytes) of a stored stem; with `.html` and the temporary-file
decoration of `store.atomic_write` it stays far below the 255-byte limit of a file name."""
STUDENT_SUFFIXES = (".json", ".html")
"""The suffixes of a student's stored files (RESULTS/<stem>.json, RESULTS/<stem>.html)."""
RESERVED_STEMS = frozenset(
    {"class", "gradebook", "summary", "index", "con", "prn", "aux", "nul"}
    | {f"{port}{n}" for port in ("com", "lpt") for n in range(10)}
)
"""Stems no student gets: the batch's own outputs (class.html, gradebook.csv, and room for
summary/index pages) and the device names Windows refuses as file names; compared casefolded."""

AMBIGUOUS = "ambiguous identity: "
"""Start of every note about submissions whose owner the names cannot settle; the batch
repeats these notes in its closing summary so they are not lost in the scroll."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")
_NAME_BYTES = 255
_HASH = 10


def safe_name(text: str) -> str:
    """A file-name-safe form of `text` (ASCII letters, digits and `._@+=-`), at most MAX_STEM characters."""
    name = _UNSAFE.sub("_", text).strip("._") or "student"
    return name[:MAX_STEM].rstrip("._") or "student"


def is_reserved(stem: str) -> bool:
    """True when a student's file named `stem` could be mistaken for one of the batch's own."""
    return stem.casefold() in RESERVED_STEMS


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]


def unique_ids(wanted: Sequence[str], fallbacks: Sequence[str]) -> list[str]:
    """One distinct id per position: the first holder of an id keeps it; a later one gets its
    fallback (e.g. its file name) when free, else `<id>-2`, `<id>-3`... The taken ids are a set
    and each id's counter only grows, so all the tries together are fewer than 2 * len(wanted)."""
    taken = set(wanted)
    claimed: set[str] = set()
    counters: dict[str, int] = {}
    result = []
    for student, fallback in zip(wanted, fallbacks):
        if student not in claimed:
            chosen = student
        elif fallback and fallback not in taken:
            chosen = fallback
        else:
            counter = counters.get(student, 2)
            while f"{student}-{counter}" in taken:
                counter += 1
            chosen = f"{student}-{counter}"
            counters[student] = counter + 1
        claimed.add(chosen)
        taken.add(chosen)
        result.append(chosen)
    return result


def allocate_stems(ids: Iterable[str]) -> dict[str, str]:
    """Each distinct id -> the stem of its stored files, one-to-one even on a case-insensitive disk.

    Pass 1: an id whose cleaned name is its own (casefolded) and not reserved keeps it, so
    stems stay those of earlier batches and a resumed batch finds its results; when several
    ids clean to one name, an id that is already safe wins, then the smallest. Pass 2: every
    other id gets its cleaned name, cut short, plus a hash of the id (stable across reruns),
    plus `-2`, `-3`... only while that is taken.
    """
    ordered = sorted(set(ids))
    first = {student: safe_name(student) for student in ordered}
    groups: dict[str, list[str]] = {}
    for student in ordered:
        groups.setdefault(first[student].casefold(), []).append(student)
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for key, members in groups.items():
        if key in RESERVED_STEMS:
            continue
        winner = min(members, key=lambda s: (s != first[s], s))
        stems[winner] = first[winner]
        taken.add(key)
    for student in ordered:
        if student in stems:
            continue
        base = f"{first[student][: MAX_STEM - _HASH - 6].rstrip('._-')}-{_digest(student)}"
        candidate, counter = base, 2
        while candidate.casefold() in taken or is_reserved(candidate):
            candidate, counter = f"{base}-{counter}", counter + 1
        stems[student] = candidate
        taken.add(candidate.casefold())
    return stems


def stored_component(name: str) -> str:
    """A name one path component may have on disk for the member name `name` of an archive.

    Kept as it is when the disk can hold it; otherwise (over 255 bytes, a NUL, not encodable)
    its safe form cut short, a hash of the whole name, and its suffix (so `.ipynb` stays).
    """
    try:
        fits = len(os.fsencode(name)) <= _NAME_BYTES and "\0" not in name and name not in (".", "..")
    except UnicodeError:
        fits = False
    if fits:
        return name
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{safe_name(suffix)}" if dot and stem and len(suffix) <= 16 else ""
    return f"{safe_name(stem if suffix else name)[:100].rstrip('._')}~{_digest(name)}{suffix}"
