"""Recognise the file layouts LMS exports use, so a student is one stable id, not a file name.

An export names each file after the student and the upload (Canvas:
`smithjohn_late_12345_678902_dense_layer-1.ipynb`), or gives one folder per student
(Moodle: `Mary Major_34567_assignsubmission_file_/`; GitHub Classroom: `dense-layer-alice/`;
Gradescope: `submission_123/` named in `submission_metadata.yml`). Used verbatim as ids, a
resubmission becomes a second row and the gradebook cannot be imported back. Here each
entry found by `batch_inputs.discover` gets an `Identity` (the id used for the per-student
files and the gradebook's id column, the name and the id the LMS knows the student by);
several uploads of one student keep the latest and say which were superseded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = ["Identity", "recognise", "LAYOUTS"]


@dataclass(frozen=True)
class Identity:
    """Who an entry belongs to, as the LMS that exported it knows them."""

    student: str
    """Stable id: names RESULTS/<id>.json and .html and fills the gradebook's id column."""
    layout: str
    """The export layout recognised: canvas, moodle, blackboard, gradescope, github-classroom or generic."""
    name: str = ""
    """The student's name as the export gives it (Canvas: "smithjohn"; Moodle: "Mary Major")."""
    lms_id: str = ""
    """The id the LMS imports grades by (Canvas user id, Moodle participant number, Gradescope SID)."""
    order: tuple = ()
    """Sort key among one student's uploads: the largest is the latest."""


Matcher = Callable[[str], "Identity | None"]

_CANVAS = re.compile(r"^(?P<name>[a-z0-9]+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<upload>\d+)_(?P<file>.+?)(?:-(?P<copy>\d+))?(?P<ext>\.[A-Za-z0-9]+)?$")
_MOODLE = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_(?:file|onlinetext)_?$")
_BLACKBOARD = re.compile(r"^(?P<assignment>.+?)_(?P<user>[^_]+)_attempt_(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+))?$")


def _canvas(name: str) -> Identity | None:
    match = _CANVAS.match(name)
    if not match:
        return None
    return Identity(f"{match['name']}_{match['uid']}", "canvas", match["name"], match["uid"],
                    (int(match["upload"]), int(match["copy"] or 0)))


def _moodle(name: str) -> Identity | None:
    match = _MOODLE.match(name)
    if not match:
        return None
    return Identity(_slug(f"{match['name']}_{match['pid']}"), "moodle", match["name"], match["pid"])


def _blackboard(name: str) -> Identity | None:
    match = _BLACKBOARD.match(name)
    if not match:
        return None
    return Identity(match["user"], "blackboard", match["user"], match["user"], (match["stamp"],))


LAYOUTS: dict[str, Matcher] = {"canvas": _canvas, "moodle": _moodle, "blackboard": _blackboard}
"""Layouts recognised from one name (a file or a student's folder); extend by registering."""


def _own_name(entry_student: str, path: Path) -> str:
    """The name the export gave: the student's folder for folder entries, else the file name."""
    return entry_student if path.stem != entry_student else path.name


def _gradescope_metadata(folders: Iterable[Path]) -> dict[str, Identity]:
    """submission_<id> -> Identity from Gradescope's `submission_metadata.yml` (read without YAML)."""
    identities: dict[str, Identity] = {}
    for parent in {f.parent for f in folders}:
        meta = parent / "submission_metadata.yml"
        if not meta.is_file() or meta.stat().st_size > 16 * 2**20:
            continue
        current, fields, submitted = "", {}, ""
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines() + ["end:"]:
            top = re.match(r"^(\S[^:]*):\s*$", line)
            if top:
                if current and (fields.get("sid") or fields.get("email") or fields.get("name")):
                    key = fields.get("sid") or fields.get("email") or fields["name"]
                    identities[current] = Identity(_slug(key), "gradescope", fields.get("name", ""), key, (submitted,))
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


def _slug(text: str) -> str:
    """A file-name-safe id (the same rule as RESULTS/<id>.json), so gradebook ids match file names."""
    from .inputs import safe_name

    return safe_name(text)


def _github_prefix(names: Sequence[str]) -> str:
    """GitHub Classroom names each repository `<assignment>-<username>`: the shared prefix."""
    if len(names) < 2:
        return ""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: prefix.rfind("-") + 1]
    return prefix if len(prefix) >= 4 and all(len(n) > len(prefix) for n in names) else ""


def identify(entries: Sequence[tuple[str, Path, bool]]) -> list[Identity]:
    """An identity for each (entry id, path, is a student folder), in order."""
    folders = {student: _folder_of(student, path) for student, path, is_folder in entries if is_folder}
    gradescope = _gradescope_metadata([f for f in folders.values() if f is not None])
    prefix = _github_prefix([s for s, _, is_folder in entries if is_folder]) if all(f for _, _, f in entries) else ""
    identities = []
    for student, path, is_folder in entries:
        identity = None
        if is_folder and student in gradescope:
            identity = gradescope[student]
        for matcher in LAYOUTS.values():
            identity = identity or matcher(_own_name(student, path) if not is_folder else student)
        if identity is None and prefix:
            user = student[len(prefix):]
            identity = Identity(user, "github-classroom", user, user)
        identities.append(replace(identity, student=_slug(identity.student)) if identity else Identity(student, "generic", student, ""))
    return identities


def _is_folder_entry(student: str, path: Path) -> bool:
    """One folder per student: the entry's id is the name of a folder above its notebook."""
    return path.is_dir() or (path.stem != student and any(p.name == student for p in path.parents))


def _folder_of(student: str, path: Path) -> Path | None:
    for parent in [path, *path.parents]:
        if parent.name == student:
            return parent
    return None


def recognise(entries: Sequence[object], notes: list[str]) -> tuple[list[object], dict[str, Identity]]:
    """Entries with stable ids (the latest upload per student kept) and each id's identity.

    `entries` are `batch_inputs.Entry` objects (student, path, error); a note names every
    superseded upload and says which layout was recognised.
    """
    triples = [(e.student, e.path, _is_folder_entry(e.student, e.path)) for e in entries]  # type: ignore[attr-defined]
    identities = identify(triples)
    chosen: dict[str, tuple[object, Identity]] = {}
    superseded: dict[str, list[str]] = {}
    for entry, identity in zip(entries, identities):
        key = identity.student
        if key in chosen:
            kept_entry, kept = chosen[key]
            older, newer = ((entry, identity), (kept_entry, kept)) if _older(identity, entry, kept, kept_entry) else ((kept_entry, kept), (entry, identity))
            chosen[key] = newer
            superseded.setdefault(key, []).append(older[0].path.name)  # type: ignore[attr-defined]
        else:
            chosen[key] = (entry, identity)
    layouts = sorted({i.layout for i in identities if i.layout != "generic"})
    if layouts:
        notes.append(f"recognised the {' and '.join(layouts)} export layout: student ids come from the LMS's names")
    for key, files in sorted(superseded.items()):
        kept = chosen[key][0].path.name  # type: ignore[attr-defined]
        notes.append(f"{key}: graded the latest upload {kept}; superseded: {', '.join(sorted(files))}")
    result = [replace(entry, student=identity.student) for entry, identity in chosen.values()]  # type: ignore[type-var]
    return result, {identity.student: identity for _, identity in chosen.values()}


def _older(identity: Identity, entry: object, kept: Identity, kept_entry: object) -> bool:
    """Is `entry` older than `kept_entry`? By the LMS's order, then by modification time."""
    if identity.order and kept.order and identity.order != kept.order:
        return identity.order < kept.order
    return _mtime(entry) < _mtime(kept_entry)


def _mtime(entry: object) -> float:
    try:
        return entry.path.stat().st_mtime  # type: ignore[attr-defined]
    except OSError:
        return 0.0
