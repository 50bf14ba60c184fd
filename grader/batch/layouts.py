"""Each LMS export layout, read from the parts of a name the LMS writes, for the whole class at once.

A layout parser sees every entry of the batch and returns, per entry, the `Identity` the LMS
gave it, or None when the name does not fit. Fields are anchored where the LMS writes them:
Canvas and Moodle put the student's fields first (Canvas: `login[_late]_userid_uploadid_`) or
the whole folder name is theirs (Moodle: `Full Name_participant_assignsubmission_plugin_`);
Blackboard's `Assignment_username_attempt_YYYY-MM-DD-HH-MM-SS_file` starts with the
assignment's name, the same for every file of the export, so that prefix is found from the
whole class (a username holding `_` or `_attempt_` cannot shift the fields, and an uploaded
file named like someone else's attempt stays part of its owner's file name); GitHub Classroom's
`assignment-username` repositories share the assignment prefix the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .inputs import Entry

__all__ = ["Identity", "LAYOUTS", "SIGNS", "common_prefix", "is_student_folder"]


@dataclass(frozen=True)
class Identity:
    """Who an entry belongs to, as the LMS that exported it knows them."""

    student: str
    """Stable id, as the LMS writes it: the gradebook's id column (stored files get a safe stem)."""
    layout: str
    """The export layout recognised: canvas, moodle, blackboard, gradescope, github-classroom or generic."""
    name: str = ""
    """The student's name as the export gives it (Canvas: "smithjohn"; Moodle: "Mary Major")."""
    lms_id: str = ""
    """The id the LMS knows the student by (Canvas user id, Moodle participant, username, SID);
    uploads with the same layout and lms_id are one student's."""
    order: tuple = ()
    """Sort key among one student's uploads, from the LMS's own fields: the largest is the latest."""


MAX_PREFIX = 256
"""Longest assignment prefix recognised (an LMS's assignment titles and repository names are shorter)."""

Parser = Callable[[Sequence[Entry]], "list[Identity | None]"]

_CANVAS = re.compile(r"^(?P<name>[^\W_]+?)(?P<late>_(?i:late))?_(?P<uid>\d+)_(?P<upload>\d+)_(?P<file>.+?)(?:-(?P<copy>\d+))?(?P<ext>\.[A-Za-z0-9]+)?$")
_MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_[a-z]+_?$")
_MOODLE_MARK = re.compile(r"_(?P<pid>\d+)_assignsubmission_[a-z]+_")
_GRADESCOPE_FOLDER = re.compile(r"^submission_\d+$")
_ATTEMPT = re.compile(r"_attempt_(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?=[_.]|$)")
_RECEIPT_NAME = re.compile(r"^Name:.*\((?P<user>[^()]+)\)\s*$")


def common_prefix(heads: Iterable[str], separator: str) -> str | None:
    """The `<prefix>` of `<prefix><separator><user>` names: the prefix, cut at a separator, that
    the most distinct names share (the longest of those when they nest), or None when two
    unrelated prefixes tie or no prefix is shared. A single name is cut at its first separator.
    Prefixes are looked for in the first MAX_PREFIX characters only, so a name of any length
    costs linear time and memory."""
    distinct = sorted(set(heads))
    counts: Counter[str] = Counter()
    for head in distinct:
        counts.update({head[:i] for i, char in enumerate(head[:MAX_PREFIX]) if char == separator and 0 < i < len(head) - 1})
    if not counts:
        return None
    if len(distinct) == 1:
        return min(counts, key=len)
    best = max(counts.values())
    top = sorted((prefix for prefix, n in counts.items() if n == best), key=len)
    if best < 2 or any(not top[-1].startswith(prefix + separator) for prefix in top[:-1]):
        return None
    return top[-1]


def is_student_folder(name: str) -> bool:
    """A folder name an LMS writes for one student's work (Moodle, Gradescope), never a wrapper."""
    return bool(_MOODLE_FOLDER.match(name) or _GRADESCOPE_FOLDER.match(name))


def _canvas(entries: Sequence[Entry]) -> list[Identity | None]:
    found: list[Identity | None] = []
    for entry in entries:
        match = None if entry.folder else _CANVAS.match(entry.origin)
        found.append(Identity(f"{match['name']}_{match['uid']}", "canvas", match["name"], match["uid"],
                              (int(match["upload"]), int(match["copy"] or 0))) if match else None)
    return found


def _moodle(entries: Sequence[Entry]) -> list[Identity | None]:
    """A folder's name is all Moodle's (the participant number anchored at its end); a file of a
    flat export adds the uploaded file's name after it, so a file whose name holds the
    `_<number>_assignsubmission_<plugin>_` mark twice is left unread rather than guessed."""
    found: list[Identity | None] = []
    for entry in entries:
        if entry.folder:
            match = _MOODLE_FOLDER.match(entry.origin)
            found.append(Identity(f"{match['name']}_{match['pid']}", "moodle", match["name"], match["pid"]) if match else None)
            continue
        marks = list(_MOODLE_MARK.finditer(entry.origin))
        name = entry.origin[: marks[0].start()] if len(marks) == 1 else ""
        found.append(Identity(f"{name}_{marks[0]['pid']}", "moodle", name, marks[0]["pid"]) if name else None)
    return found


def _blackboard(entries: Sequence[Entry]) -> list[Identity | None]:
    """The first `_attempt_<time>` after the username is the LMS's (the uploaded file's own name comes later)."""
    marks = [None if entry.folder else _ATTEMPT.search(entry.origin) for entry in entries]
    heads = [(entry, entry.origin[: m.start()], m) for entry, m in zip(entries, marks) if m]
    told = Counter(a for a in (_receipt_assignment(entry.path, head, m) for entry, head, m in heads) if a)
    assignment = told.most_common(1)[0][0] if told else common_prefix((head for _, head, _ in heads), "_")
    found: list[Identity | None] = []
    for entry, mark in zip(entries, marks):
        head = entry.origin[: mark.start()] if mark else ""
        if assignment is None or mark is None or not head.startswith(assignment + "_") or len(head) <= len(assignment) + 1:
            found.append(None)
            continue
        user = head[len(assignment) + 1:]
        found.append(Identity(user, "blackboard", user, user, (mark["stamp"],)))
    return found


def _receipt_assignment(path: Path, head: str, mark: re.Match[str]) -> str:
    """The assignment part of `head` by the attempt's receipt (`<head>_attempt_<time>.txt`, which
    Blackboard writes beside the files; its first line is `Name: Full Name (username)`), or ""."""
    receipt = path.with_name(f"{head}{mark.group()}.txt")
    try:
        with open(receipt, encoding="utf-8", errors="replace") as handle:
            first = handle.readline(4096)
    except (OSError, ValueError):
        return ""
    match = _RECEIPT_NAME.match(first.strip())
    user = match["user"].strip() if match else ""
    return head[: -len(user) - 1] if user and head.endswith("_" + user) and len(head) > len(user) + 1 else ""


def _github_classroom(entries: Sequence[Entry]) -> list[Identity | None]:
    """Repositories `<assignment>-<username>`: one folder per student, two at least to see the prefix."""
    names = [entry.origin for entry in entries if entry.folder]
    assignment = common_prefix(names, "-") if len(set(names)) >= 2 else None
    if assignment is None or len(assignment) < 3:
        return [None] * len(entries)
    found: list[Identity | None] = []
    for entry in entries:
        fits = entry.folder is not None and entry.origin.startswith(assignment + "-") and len(entry.origin) > len(assignment) + 1
        user = entry.origin[len(assignment) + 1:]
        found.append(Identity(user, "github-classroom", user, user) if fits else None)
    return found


def _gradescope(entries: Sequence[Entry]) -> list[Identity | None]:
    """`submission_<id>/` folders named in Gradescope's `submission_metadata.yml` beside them."""
    metadata: dict[Path, dict[str, Identity]] = {}
    found: list[Identity | None] = []
    for entry in entries:
        if entry.folder is None:
            found.append(None)
            continue
        parent = entry.folder.parent
        if parent not in metadata:
            metadata[parent] = _gradescope_metadata(parent / "submission_metadata.yml")
        found.append(metadata[parent].get(entry.origin))
    return found


def _gradescope_metadata(meta: Path) -> dict[str, Identity]:
    """submission_<id> -> Identity from Gradescope's `submission_metadata.yml` (read without YAML)."""
    identities: dict[str, Identity] = {}
    if not meta.is_file() or meta.stat().st_size > 16 * 2**20:
        return identities
    current, fields, submitted = "", {}, ""
    for line in meta.read_text(encoding="utf-8", errors="replace").splitlines() + ["end:"]:
        top = re.match(r"^(\S[^:]*):\s*$", line)
        if top:
            if current and (fields.get("sid") or fields.get("email") or fields.get("name")):
                key = fields.get("sid") or fields.get("email") or fields["name"]
                identities[current] = Identity(key, "gradescope", fields.get("name", ""), key, (submitted,))
            current, fields, submitted = top.group(1).strip(), {}, ""
            continue
        field = re.match(r"^\s*-?\s*:?(name|sid|email|created_at):\s*(.*?)\s*$", line)
        if field and current:
            value = field.group(2).strip("'\"")
            if field.group(1) == "created_at":
                submitted = submitted or value
            elif value and field.group(1) not in fields:  # the first submitter of a group
                fields[field.group(1)] = value
    return identities


LAYOUTS: dict[str, Parser] = {
    "gradescope": _gradescope,
    "canvas": _canvas,
    "moodle": _moodle,
    "blackboard": _blackboard,
    "github-classroom": _github_classroom,
}
"""Layout name -> class-wide parser, in order of preference on a tie; extend by registering."""


SIGNS: dict[str, re.Pattern[str]] = {
    "canvas": _CANVAS,
    "moodle": _MOODLE_MARK,
    "blackboard": _ATTEMPT,
}
"""Marks an LMS writes into names: a name bearing one that no layout could read is reported as ambiguous."""
