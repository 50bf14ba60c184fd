"""Find the graded files inside a folder or a zip: what a course's students hand in.

A CS231n student hands in `layers.py` alone, or the assignment's folder (or its zip) with
`cs231n/layers.py` and `cs231n/classifiers/fc_net.py`. The rubric's `files` lists the graded
paths in load order; each is found by its path's end (any folder above it), and the course's
given modules inside the folder are skipped (the grader supplies its own copies). The files
become one cell each, labelled with their path, so a traceback names the file.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..safetext import terminal_safe
from ..submission import MAX_SUBMISSION_BYTES, Cell, Submission, read_submission, strip_ipython

__all__ = ["read_for_assignment", "python_members"]


def python_members(path: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every .py file in a folder or zip (bounded in total)."""
    found: dict[str, bytes] = {}
    total = 0
    if path.is_dir():
        entries = [(p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*.py")) if p.is_file() and not p.is_symlink()]
        for name, file in entries:
            total += file.stat().st_size
            if total > MAX_SUBMISSION_BYTES:
                raise InputError(f"{path.name} holds more than {MAX_SUBMISSION_BYTES // 2**20} MiB of Python files; hand in the assignment's files only.")
            found[name] = file.read_bytes()
        return found
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith(".py"):
                    continue
                total += info.file_size
                if total > MAX_SUBMISSION_BYTES:
                    raise InputError(f"{path.name} unpacks to more than {MAX_SUBMISSION_BYTES // 2**20} MiB of Python files; hand in the assignment's files only.")
                found[info.filename] = archive.read(info)
    except zipfile.BadZipFile:
        raise InputError(f"{path.name} is not a valid zip archive; re-create it, or hand in the .py files.") from None
    return found


def _pick(members: dict[str, bytes], wanted: str) -> str | None:
    """The member whose path ends with `wanted` (shortest such path), else one with its file name."""
    by_end = sorted((m for m in members if m == wanted or m.endswith("/" + wanted)), key=len)
    if by_end:
        return by_end[0]
    base = wanted.rsplit("/", 1)[-1]
    by_name = sorted((m for m in members if m.rsplit("/", 1)[-1] == base), key=len)
    return by_name[0] if by_name else None


def read_for_assignment(path: str | Path, assignment: Any) -> Submission:
    """A .ipynb/.py file as usual; a folder or .zip: its graded files, in the rubric's order."""
    path = Path(path)
    files = tuple(getattr(assignment, "files", ()) or ())
    if not files or not (path.is_dir() or path.suffix == ".zip"):
        return read_submission(path)
    members = python_members(path)
    given = {name.rsplit("/", 1)[-1] for name in getattr(assignment, "given", ())}
    cells, digest = [], hashlib.sha256()
    for wanted in files:
        if wanted.rsplit("/", 1)[-1] in given:
            continue
        member = _pick(members, wanted)
        if member is None:
            continue
        raw = members[member]
        digest.update(member.encode() + b"\0" + raw)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{member} in {path.name} is not UTF-8 text.") from None
        cells.append(Cell(len(cells) + 1, strip_ipython(text), terminal_safe(member, newlines=False)))
    if not cells:
        raise InputError(f"{path.name} holds none of the assignment's files ({', '.join(files)}).")
    return Submission(path=path, cells=tuple(cells), sha256=digest.hexdigest())
