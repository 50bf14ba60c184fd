"""Recognise the file layouts LMS exports use, so a student is one stable id, not a file name.

An export names each file after the student and the upload (Canvas:
`smithjohn_late_12345_678902_dense_layer-1.ipynb`), or gives one folder per student
(Moodle: `Mary Major_34567_assignsubmission_file_/`; GitHub Classroom: `dense-layer-alice/`;
Gradescope: `submission_123/` named in `submission_metadata.yml`). Used verbatim as ids, a
resubmission becomes a second row and the gradebook cannot be imported back.

Names are partly written by students (the uploaded file's name, a username), so a layout is
read only from the parts the LMS writes, anchored where the LMS puts them, and decided for
the whole class (grader/batch/layouts.py): a name that does not fit the layout most of the
class fits keeps its own id, and the batch says so. Uploads that the LMS marks as one
student's keep the latest by the LMS's own order (attempt time, upload number); when that
order cannot tell them apart, every one is kept under its own id, and the batch says so.
No entry is ever dropped for another student's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .inputs import Entry
from .layouts import LAYOUTS, SIGNS, Identity
from .names import AMBIGUOUS, unique_ids

__all__ = ["Identity", "recognise", "identify", "LAYOUTS"]


def identify(entries: Sequence[Entry], notes: list[str]) -> list[Identity]:
    """An identity for each entry, in order: from the one layout most of the class fits, else generic."""
    best, fitted = "", [None] * len(entries)
    for layout, parse in LAYOUTS.items():
        found = parse(entries)
        if sum(i is not None for i in found) > sum(i is not None for i in fitted):
            best, fitted = layout, found
    count = sum(i is not None for i in fitted)
    if count and 2 * count <= len(entries):
        notes.append(f"{AMBIGUOUS}{count} of {len(entries)} submission(s) look like a {best} export, the others do not: "
                     "no layout is used; every submission is listed under its own file or folder name")
        fitted = [None] * len(entries)
    elif not count:
        marked = {layout: [e.origin for e in entries if sign.search(e.origin)] for layout, sign in SIGNS.items()}
        for layout, names in marked.items():
            if names:
                notes.append(f"{AMBIGUOUS}{len(names)} submission(s) carry the marks of a {layout} export, but the export's layout "
                             f"could not be settled; each is kept under its own name: {', '.join(sorted(names)[:5])}{' ...' if len(names) > 5 else ''}")
    else:
        notes.append(f"recognised the {best} export layout: student ids come from the LMS's names")
        strays = [e.origin or e.path.name for e, i in zip(entries, fitted) if i is None]
        if strays:
            notes.append(f"{AMBIGUOUS}{len(strays)} submission(s) do not fit the {best} layout of this export, each kept under "
                         f"its own name: {', '.join(sorted(strays)[:5])}{' ...' if len(strays) > 5 else ''}")
    return [found or Identity(e.student, "generic", e.student, "") for e, found in zip(entries, fitted)]


def recognise(entries: Sequence[Entry], notes: list[str]) -> tuple[list[Entry], dict[str, Identity]]:
    """Entries with stable, distinct ids (older uploads of one student superseded) and each id's identity.

    `entries` come from `inputs.discover`; a note names every superseded upload and every
    ambiguity (those start with `names.AMBIGUOUS`, so the batch repeats them in its summary).
    """
    identities = identify(entries, notes)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, identity in enumerate(identities):
        key = (identity.layout, identity.lms_id) if identity.layout != "generic" else ("", str(index))
        groups.setdefault(key, []).append(index)
    kept: list[int] = []
    for members in groups.values():
        kept += _choose(members, entries, identities, notes)
    kept.sort(key=lambda i: (identities[i].layout == "generic", identities[i].student, str(entries[i].path)))
    wanted = [identities[i].student for i in kept]
    fallbacks = [entries[i].origin if identities[i].layout == "generic" else "" for i in kept]
    students = unique_ids(wanted, fallbacks)
    result: list[Entry] = []
    chosen: dict[str, Identity] = {}
    for index, student in zip(kept, students):
        if student != identities[index].student:
            notes.append(f"{AMBIGUOUS}two submissions claim the id {identities[index].student}: "
                         f"{entries[index].origin or entries[index].path.name} is listed as {student}")
        result.append(replace(entries[index], student=student))
        chosen[student] = replace(identities[index], student=student)
    result.sort(key=lambda e: (e.student, str(e.path)))
    return result, chosen


def _choose(members: list[int], entries: Sequence[Entry], identities: Sequence[Identity], notes: list[str]) -> list[int]:
    """Which of one student's uploads to grade: the latest by the LMS's order, notebooks before
    .py files; an upload with nothing to grade never replaces one with a notebook; uploads the
    LMS's order cannot tell apart are all kept."""
    if len(members) == 1:
        return members
    name = identities[members[0]].student
    label = {i: entries[i].origin or entries[i].path.name for i in members}
    gradeable = [i for i in members if not entries[i].error]
    if not gradeable:
        keep = min(members, key=lambda i: str(entries[i].path))
        notes.append(f"{name}: none of {len(members)} uploads holds a notebook; listed once, as {label[keep]}")
        return [keep]
    latest = max(identities[i].order for i in gradeable)
    top = [i for i in gradeable if identities[i].order == latest]
    notebooks = [i for i in top if entries[i].path.suffix.lower() == ".ipynb"] or top
    superseded = [i for i in gradeable if identities[i].order != latest]
    older = sorted(label[i] for i in superseded)
    aside = sorted(label[i] for i in members if i not in notebooks and i not in superseded)
    shown = ", ".join(sorted(label[i] for i in notebooks))
    if older:
        notes.append(f"{name}: graded the latest upload {shown}; superseded: {', '.join(older)}")
    if aside:
        notes.append(f"{name}: graded {shown}; not graded (no notebook in it, or a .py beside a notebook): {', '.join(aside)}")
    if len(notebooks) > 1:
        notes.append(f"{AMBIGUOUS}{len(notebooks)} uploads for {name} that the export does not order: "
                     f"each is graded under its own id ({shown})")
    return notebooks
