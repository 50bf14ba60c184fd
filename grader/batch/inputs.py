"""Find the submissions of a class: a folder, a glob, or a zip file exported by an LMS.

Each submission gets a student id from its file name (``alice.ipynb`` -> ``alice``) or,
when the LMS gives one folder per student, from the folder name, as the export wrote it: a
zip member whose name the disk cannot hold (over 255 bytes) is stored under a safe name
(grader/batch/names.py) and its entry keeps the original name as `origin`. Ids found twice
stay two ids (names.unique_ids). A student folder without a notebook is kept as an entry
with an error, so the gradebook still lists the student ("nothing lost"). Symbolic links
are never followed: a student whose file or folder is a link, or holds one
(``mallory/nb.ipynb -> ../alice/nb.ipynb``, a link to the reference), is listed with an
input error instead of being graded as someone else's work. Zip files are extracted
defensively: no absolute paths, no ``..``, no symbolic links, and caps on member size,
total size and member count, because a zip from an LMS is as untrusted as the notebooks
inside it; a member that cannot be extracted costs only itself, with a note.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from ..errors import InputError
from ..safetext import utf8_safe
from .names import AMBIGUOUS, safe_name, stored_component, unique_ids

__all__ = ["Entry", "discover", "extract_zip", "file_sha256", "safe_name", "ZipLimits", "GRADEABLE"]

GRADEABLE = (".ipynb", ".py")
"""File suffixes the grader reads."""
_SKIPPED_DIRS = {"__MACOSX", "__pycache__"}
_GLOB_CHARS = re.compile(r"[*?\[]")
_TOO_LARGE = "the file is larger than the {limit} MiB one submission file may be: clear the notebook's outputs and hand it in again."
_UNREADABLE = "the file could not be read from the zip (damaged or in an unknown compression): hand it in again."
LINK_ERROR = "{what} is a symbolic link; links are not accepted (they could point at another student's work): hand in the file itself."


@dataclass(frozen=True)
class ZipLimits:
    """Caps for extracting an LMS zip (a zip bomb must not fill the disk)."""

    member_bytes: int = 64 * 1024**2
    """Largest single file extracted; larger members are skipped with a note."""
    total_bytes: int = 4 * 1024**3
    """Most bytes extracted in all; beyond it the zip is refused."""
    members: int = 100_000
    """Most members in the zip; beyond it the zip is refused."""


@dataclass(frozen=True)
class Entry:
    """One student's submission as found on disk."""

    student: str
    """Student id: the file's stem or the student's folder name."""
    path: Path
    """The file to grade (or the student's folder when `error` is set)."""
    error: str = ""
    """Why this entry cannot be graded (e.g. an empty student folder); empty when it can."""
    error_kind: str = "missing"
    """The batch record's error_kind for `error`: missing (no submission) or input (a link)."""
    origin: str = ""
    """The name the export gave it: the student's folder, or the file's name with its suffix
    (as in the zip, even when the disk holds it under a safe name); what LMS layouts parse."""
    folder: Path | None = None
    """The student's folder when the export gives one per student (Moodle, GitHub Classroom); None for one file."""


def file_sha256(path: Path) -> str:
    """Content hash of a file, as `GradeReport.sha256` records it (so reruns can compare)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def discover(spec: str, extract_root: Path, preferred_name: str = "", limits: ZipLimits = ZipLimits()) -> tuple[list[Entry], list[str]]:
    """Entries (sorted by student id, ids unique) and notes about what was skipped or chosen."""
    notes: list[str] = []
    path = Path(spec)
    if path.is_file() and path.suffix.lower() == ".zip":
        renamed: dict[Path, str] = {}
        refused: dict[Path, str] = {}
        root = extract_zip(path, extract_root / safe_name(path.stem), limits, notes, renamed, refused)
        top = _descend_single(root, renamed)
        entries = _from_folder(top, preferred_name, notes, renamed) + _refused_entries(top, refused, renamed)
    elif path.is_dir():
        entries = _from_folder(path, preferred_name, notes)
    elif path.is_file():
        entries = [Entry(path.stem, path, origin=path.name)]
    elif _GLOB_CHARS.search(spec):
        matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
        entries = _from_paths(matches, preferred_name, notes, _glob_base(spec))
    else:
        raise InputError(f"{spec} is neither a folder, a zip file, a submission nor a glob that matches files.")
    if not entries:
        raise InputError(f"no submissions (.ipynb or .py files, or student folders) found in {spec}.")
    return _unique_ids(entries, notes), notes


def _from_folder(folder: Path, preferred_name: str, notes: list[str], renamed: Mapping[Path, str] = {}) -> list[Entry]:
    children = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in _SKIPPED_DIRS and not _is_results(p))
    return _from_paths(children, preferred_name, notes, renamed=renamed)


def _original(path: Path, renamed: Mapping[Path, str]) -> str:
    """The name `path` had in the zip (its own name unless extraction had to rename it)."""
    if not renamed:
        return path.name
    return renamed.get(Path(os.path.realpath(path.parent)) / path.name, path.name)


def _is_results(path: Path) -> bool:
    """RESULTS/ inside the submissions folder is not a student (it holds our .batch.lock)."""
    return path.is_dir() and (path / ".batch.lock").exists()


def _glob_base(spec: str) -> Path:
    """The folder a glob starts from: the path up to its first wildcard."""
    parts = Path(spec).parts
    fixed = [p for p in itertools.takewhile(lambda p: not _GLOB_CHARS.search(p), parts)]
    return Path(*fixed) if fixed else Path(".")


def _link_in(path: Path, base: Path | None) -> Path | None:
    """`path` or one of its folders below `base` that is a symbolic link (None if none)."""
    current = path
    while base is None or len(current.parts) > len(base.parts):
        if current.is_symlink():
            return current
        if base is None:
            return None
        current = current.parent
    return None


def _from_paths(paths: list[Path], preferred_name: str, notes: list[str], base: Path | None = None, renamed: Mapping[Path, str] = {}) -> list[Entry]:
    entries: list[Entry] = []
    skipped = []
    for child in paths:
        link = _link_in(child, base)
        origin = _original(child, renamed)
        if link is not None and (child.suffix.lower() in GRADEABLE or child.is_dir()):
            entries.append(Entry(_student_of(child, origin), child, LINK_ERROR.format(what=link.name), "input", origin, child if child.is_dir() else None))
            continue
        if link is not None or _is_results(child):
            continue
        if child.is_dir():
            entries.append(_student_folder(child, preferred_name, notes, origin))
        elif child.is_file() and child.suffix.lower() in GRADEABLE:
            entries.append(Entry(PurePosixPath(origin).stem, child, origin=origin))
        else:
            skipped.append(origin)
    if skipped:
        notes.append(f"skipped {len(skipped)} file(s) that are not .ipynb or .py: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return entries


def _student_of(path: Path, origin: str) -> str:
    return PurePosixPath(origin).stem if path.suffix.lower() in GRADEABLE and not path.is_dir() else origin


def _student_folder(folder: Path, preferred_name: str, notes: list[str], origin: str = "") -> Entry:
    """One folder per student: grade its notebook (the assignment's name if several, else the newest).

    Walked without following links; a link anywhere in it makes the whole entry an error.
    `origin` is the folder's name in the export (its own name when not given).
    """
    student = origin or folder.name
    candidates = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
        for name in [*files, *dirs]:
            path = Path(here) / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                return Entry(student, folder, LINK_ERROR.format(what=str(path.relative_to(folder.parent))), "input", student, folder)
            if name in files and path.suffix.lower() in GRADEABLE and path.is_file():
                candidates.append(path)
    if not candidates:
        return Entry(student, folder, "the student's folder holds no .ipynb or .py file.", origin=student, folder=folder)
    notebooks = [p for p in candidates if p.suffix.lower() == ".ipynb"] or candidates
    if len(notebooks) == 1:
        return Entry(student, notebooks[0], origin=student, folder=folder)
    named = [p for p in notebooks if p.name == preferred_name]
    chosen = named[0] if named else max(notebooks, key=lambda p: (p.stat().st_mtime, str(p)))
    notes.append(f"{student}: {len(notebooks)} files, graded {chosen.relative_to(folder)}")
    return Entry(student, chosen, origin=student, folder=folder)


def _text(name: str) -> str:
    """A name as text: valid UTF-8, composed (NFC: a macOS zip's decomposed `José` is the same id as a Windows one)."""
    return unicodedata.normalize("NFC", utf8_safe(name))


def _unique_ids(entries: list[Entry], notes: list[str]) -> list[Entry]:
    """Two files that give one id (alice.ipynb, alice.py) keep both: the later gets its file name."""
    ordered = sorted(entries, key=lambda e: (_text(e.student), str(e.path)))
    ids = unique_ids([_text(e.student) for e in ordered], [_text(e.origin) for e in ordered])
    unique = []
    for entry, student in zip(ordered, ids):
        if student != _text(entry.student):
            notes.append(f"{AMBIGUOUS}two submissions for {entry.student}: {entry.path} is listed as {student}")
        unique.append(Entry(student, entry.path, utf8_safe(entry.error), entry.error_kind, _text(entry.origin), entry.folder))
    return unique


def _descend_single(root: Path, renamed: Mapping[Path, str] = {}) -> Path:
    """LMS zips often wrap everything in one top folder; grade what is inside it. A lone
    folder an LMS writes for one student (Moodle's `..._assignsubmission_file_`) is that
    student, not a wrapper: its name is the student's identity."""
    from .layouts import is_student_folder

    while True:
        children = [p for p in root.iterdir() if not p.name.startswith(".") and p.name not in _SKIPPED_DIRS]
        if (len(children) == 1 and children[0].is_dir() and not is_student_folder(_original(children[0], renamed))
                and not any(p.suffix.lower() in GRADEABLE for p in children[0].iterdir() if p.is_file())):
            root = children[0]
        else:
            return root


def extract_zip(archive: Path, target: Path, limits: ZipLimits, notes: list[str], renamed: dict[Path, str] | None = None,
                refused: dict[Path, str] | None = None) -> Path:
    """Extract `archive` into a fresh `target` safely; unsafe members are skipped with a note.

    A path component the disk cannot hold is stored under `names.stored_component`'s safe
    name; `renamed` (when given) maps each such stored path to the name it had in the zip.
    `refused` (when given) maps the path of each .ipynb/.py member left out (too large,
    unreadable) to why, so its student is still listed.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive} is not a readable zip file ({exc}).") from None
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    root = target.resolve()
    total = 0
    unsafe: list[str] = []
    with zf:
        members = zf.infolist()
        if len(members) > limits.members:
            raise InputError(f"{archive} has {len(members)} members, more than the limit of {limits.members}.")
        for info in members:
            name = _member_name(info).replace("\\", "/")
            parts = PurePosixPath(name).parts
            if info.is_dir() or not parts:
                continue
            mode = info.external_attr >> 16
            if name.startswith("/") or ".." in parts or ":" in parts[0] or stat.S_ISLNK(mode):
                unsafe.append(info.filename)
                continue
            if parts[0] in _SKIPPED_DIRS:
                continue
            stored = [stored_component(part) for part in parts]
            destination = root.joinpath(*stored)
            if renamed is not None:
                for depth, (part, name) in enumerate(zip(parts, stored)):
                    if part != name:
                        renamed[root.joinpath(*stored[: depth + 1])] = part
            if root not in destination.resolve().parents:
                unsafe.append(info.filename)
                continue
            gradeable = refused is not None and destination.suffix.lower() in GRADEABLE
            if info.file_size > limits.member_bytes:
                notes.append(f"skipped {info.filename} in the zip: {info.file_size} bytes is over the {limits.member_bytes}-byte limit")
                if gradeable:
                    refused[destination] = _TOO_LARGE.format(limit=limits.member_bytes // 2**20 or 1)
                continue
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file where the member's folder should be, a path too deep
                notes.append(f"skipped {info.filename} in the zip: {exc.strerror}")
                continue
            written = _copy_member(zf, info, destination, limits, total, archive, notes)
            total += written
            if gradeable and not destination.is_file():
                refused[destination] = _TOO_LARGE.format(limit=limits.member_bytes // 2**20 or 1) if written > limits.member_bytes else _UNREADABLE
    if unsafe:
        notes.append(f"skipped {len(unsafe)} unsafe path(s) in the zip (absolute, '..' or links): {', '.join(unsafe[:3])}")
    return target


def _refused_entries(top: Path, refused: Mapping[Path, str], renamed: Mapping[Path, str]) -> list[Entry]:
    """An error entry for each notebook the zip held at the top but extraction left out, so its student is listed."""
    entries = []
    for path, reason in sorted(refused.items()):
        if Path(os.path.realpath(path.parent)) == Path(os.path.realpath(top)) and not path.exists():
            origin = _original(path, renamed)
            entries.append(Entry(PurePosixPath(origin).stem, path, reason, "input", origin))
    return entries


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it: zip tools often store UTF-8 names without the
    UTF-8 flag, which Python then reads as cp437 ("JosÃ©"); those are decoded as UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, limits: ZipLimits, total: int, archive: Path, notes: list[str]) -> int:
    """Stream one member, counting real bytes (a zip header's size can lie)."""
    written = 0
    try:
        with zf.open(info) as source, open(destination, "wb") as sink:
            for chunk in iter(lambda: source.read(1 << 16), b""):
                written += len(chunk)
                if written > limits.member_bytes:
                    break
                if total + written > limits.total_bytes:
                    raise InputError(f"{archive} expands to more than {limits.total_bytes} bytes; refusing to extract it.")
                sink.write(chunk)
    except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError) as exc:
        notes.append(f"skipped {info.filename} in the zip: {exc}")
        destination.unlink(missing_ok=True)
        return written
    if written > limits.member_bytes:
        destination.unlink(missing_ok=True)
        notes.append(f"skipped {info.filename} in the zip: over the {limits.member_bytes}-byte limit")
    return written
