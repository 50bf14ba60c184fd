"""RESULTS/: per-student result files written atomically, guarded by one batch lock.

Why this shape: a batch may be killed at any instant (Ctrl-C, SIGKILL, power loss), so every
file is written to a temporary name, flushed to disk and renamed over the old one
(`os.replace` is atomic), and a rerun decides what is left to do from the files alone: a
student is done when RESULTS/<stem>.json parses and records the same student, content hash, seed,
assignment and grader version. An exclusive `flock` on RESULTS/.batch.lock keeps a second
batch out; the kernel drops it when the holder dies, so a killed batch never leaves a stale lock.

One folder holds both the students' files (<stem>.json, <stem>.html; stems from
grader/batch/names.py) and the batch's own (gradebook.csv, class.html, gradebook-<lms>.csv).
They cannot collide: a batch file is named through `ResultsDir.batch_path`, which accepts
only a name whose stem no student can get (names.RESERVED_STEMS) or whose suffix no student
file has.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError
from ..safetext import utf8_safe
from .names import STUDENT_SUFFIXES, is_reserved

__all__ = ["ResultsDir", "atomic_write", "error_record", "is_current", "grading_fingerprint", "GRADEBOOK", "DASHBOARD"]

LOCK_NAME = ".batch.lock"
GRADEBOOK = "gradebook.csv"
"""The batch's gradebook: one row per submission."""
DASHBOARD = "class.html"
"""The class dashboard; `class` is a reserved stem, so no student's page is named class.html."""


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def error_record(student: str, submission: str, sha256: str, assignment: str, max_score: float, seed: int, version: str, kind: str, message: str, elapsed: float = 0.0) -> dict[str, Any]:
    """The per-student JSON of a submission that could not be graded.

    It keeps the report's top-level keys (score 0, no tests) so tools that read
    `score`/`max_score` still work, plus `status: "error"`, `error` and `error_kind`
    (input, timeout, crashed-worker, grader, missing).
    """
    return utf8_safe({  # file names and messages may hold undecodable bytes
        "submission": submission,
        "assignment": assignment,
        "score": 0.0,
        "max_score": max_score,
        "tests": [],
        "diagnoses": [],
        "seed": seed,
        "grader_version": version,
        "execution_time": round(elapsed, 4),
        "sha256": sha256,
        "status": "error",
        "error_kind": kind,
        "error": message,
        "student": student,
    })


_SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}
GRADER_DIR = Path(__file__).resolve().parents[1]


def _tree_files(root: Path) -> list[Path]:
    """Every file under `root` that grading may read (caches, checkpoints and dot files left out)."""
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not any(part in _SKIPPED_PARTS or part.startswith(".") for part in p.relative_to(root).parts)
    )


def _digest(roots: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for label, root in roots:
        for path in _tree_files(root):
            name = f"{label}/{path.relative_to(root) if root.is_dir() else path.name}"
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def reference_files(assignment: Any) -> list[Path]:
    """The reference solution the rubric grades against (the file its `reference` key names)."""
    reference = getattr(assignment, "reference", None)
    return [Path(reference)] if reference is not None and Path(reference).is_file() else []


def grading_fingerprint(assignment: Any, version: str) -> str:
    """A hash of everything a grade depends on besides the submission and the seed.

    The assignment folder (rubric: points, tolerances, sizes; notebook; anything else in it),
    the reference file the rubric uses, the grader's version and its own source files, so a
    rubric edit, a fixed reference or an upgraded grader regrades a resumed batch.
    """
    roots = [("assignment", Path(assignment.root)), ("grader", GRADER_DIR)]
    roots += [("reference", path) for path in reference_files(assignment)]
    return f"{version}:{_digest(roots)}"


def is_current(record: dict[str, Any] | None, sha256: str, seed: int, assignment: str, version: str, rubric: tuple[str, ...], max_score: float, retry_errors: bool, fingerprint: str | None = None, student: str | None = None) -> bool:
    """True when `record` is the result of grading this very content with these settings.

    The rubric is compared through the record itself (its check names and max score) and,
    when given, through `fingerprint` (grading_fingerprint: the assignment folder, the
    reference and the grader), so moved points or a changed tolerance regrade everyone.
    When `student` is given the record must be that student's (a stem that passed to
    another id, in a class whose names changed, is regraded, even for identical files).
    """
    if not record:
        return False
    if fingerprint is not None and record.get("grading_fingerprint") != fingerprint:
        return False
    if student is not None and record.get("student") != student:
        return False
    if record.get("status") == "error":
        if retry_errors or record.get("error_kind") == "crashed-worker":
            return False
    elif tuple(t.get("name") for t in record.get("tests", []) or []) != rubric:
        return False
    return (
        record.get("sha256") == sha256
        and record.get("seed") == seed
        and record.get("assignment") == assignment
        and record.get("grader_version") == version
        and record.get("max_score") == max_score
    )


class ResultsDir:
    """The RESULTS/ folder of one batch."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock_fd = -1

    def acquire(self) -> None:
        """Take the exclusive batch lock, or raise InputError naming the batch that holds it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the results folder {self.root}: {exc.strerror}.") from None
        lock_path = self.root / LOCK_NAME
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise InputError(
                f"{self.root} is in use by another batch ({holder}); wait for it to finish or pass a different --out."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        self._lock_fd = fd
        for stale in self.root.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def release(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    @property
    def extract_dir(self) -> Path:
        """Where zips are extracted, so paths in the reports stay stable across reruns."""
        return self.root / ".extracted"

    def batch_path(self, name: str) -> Path:
        """Where the batch's own file `name` goes; refuses a name a student's file could have."""
        path = self.root / name
        if path.suffix.lower() in STUDENT_SUFFIXES and not is_reserved(path.stem):
            raise ValueError(f"{name} could be a student's file; name batch outputs with a stem in names.RESERVED_STEMS")
        return path

    def json_path(self, name: str) -> Path:
        return self._student_path(name, ".json")

    def html_path(self, name: str) -> Path:
        return self._student_path(name, ".html")

    def _student_path(self, name: str, suffix: str) -> Path:
        """RESULTS/<name><suffix> for a student's stem (names.allocate_stems never gives a reserved one)."""
        if is_reserved(name) or "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not a student's stem; allocate stems with names.allocate_stems")
        return self.root / f"{name}{suffix}"

    def load(self, name: str) -> dict[str, Any] | None:
        """The stored record, or None when missing or unreadable (then the student is regraded)."""
        try:
            data = json.loads(self.json_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, name: str, record: dict[str, Any], html: str | None) -> None:
        """HTML first, JSON last: the JSON's presence is what marks the student as done."""
        if html is not None:
            atomic_write(self.html_path(name), html)
        # Compact: with `indent` json falls back to its pure-Python encoder (~8 ms a record in
        # the batch's main process); `python -m json.tool` shows one indented.
        atomic_write(self.json_path(name), json.dumps(record, separators=(",", ":"), default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
