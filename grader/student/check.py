"""The student's self-check: the public checks, run from the bundle, never from the solution.

`grade check NOTEBOOK` and `check()` in the notebook both come here. The bundle is found
with `--bundle PATH` (`check(bundle=...)`), else `public_checks.json` next to the notebook. An instructor (who has
the assignment, not a bundle) gets exactly the same run: the bundle is built in memory from
the assignment (`--assignment`, or an assignment.toml next to the notebook).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from .bundle import BUNDLE_FILE, Bundle, bundle_from_data, build_bundle, read_bundle
from ..errors import InputError
from ..results import GradeReport

__all__ = ["find_bundle", "run_public_checks", "check_file", "NOTEBOOK_METADATA_KEY"]

NOTEBOOK_METADATA_KEY = "dense_grader"
"""`grade release` stamps the student notebook's metadata with {"assignment": name}."""


def find_bundle(folder: Path, bundle: str | os.PathLike[str] | None = None, assignment: str | None = None, hint: str = "pass --bundle PATH") -> Bundle:
    """The public checks for a notebook in `folder` (see the module docstring for the order).
    `hint`: how the student names the file where they are (a flag, or `check(bundle=...)`)."""
    if bundle is not None:
        path = Path(bundle)
        path = path / BUNDLE_FILE if path.is_dir() else path
        if not path.is_file():
            raise InputError(f"no public-check file at {bundle}: pass the {BUNDLE_FILE} that came with the assignment (or its folder).")
        return read_bundle(path)
    beside = folder / BUNDLE_FILE
    if beside.is_file():
        return read_bundle(beside)
    if assignment is None and (folder / "assignment.toml").is_file():
        assignment = str(folder)
    if assignment is not None:
        from ..assignment import load_assignment

        loaded = load_assignment(assignment)
        data = json.loads(json.dumps(build_bundle(loaded)))  # exactly what a released file holds
        return bundle_from_data(data, f"the public checks of {loaded.root}", loaded.root)
    raise InputError(f"no public checks found: looked for {beside}; put the {BUNDLE_FILE} that came with the assignment next to your notebook, or {hint}.")


def _stamped_assignment(path: Path) -> str | None:
    """The assignment name `grade release` wrote into the notebook's metadata, if any."""
    if path.suffix != ".ipynb":
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(NOTEBOOK_METADATA_KEY, {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None  # read_submission gives the one-sentence error
    return meta.get("assignment") if isinstance(meta, dict) else None


def run_public_checks(session: Any, bundle: Bundle, label: str) -> GradeReport:
    """The bundle's checks on a session (the sandbox, or the student's kernel), with the
    line that says what was not checked."""
    from ..engine import grade_session

    report = grade_session(session, bundle.assignment, label, bundle.seed, "all", "cpu", bundle.oracle, time.perf_counter())
    return dataclasses.replace(report, not_checked=bundle.not_checked)


def check_file(path: str | Path, bundle: str | Path | None = None, assignment: str | None = None, timeout: float | None = None) -> GradeReport:
    """`grade check NOTEBOOK`: the public checks on the saved file, in the sandbox
    (`timeout`: seconds of work in all, as for `grade`)."""
    from ..checks.base import graded_names
    from ..deadline import Deadline
    from ..sandbox.session import StudentSession
    from ..interfaces.files import read_for_assignment
    from ..interfaces.given import with_given

    path = Path(path)
    found = find_bundle(path.resolve().parent, bundle, assignment)
    submission = with_given(read_for_assignment(path, found.assignment), found.assignment)
    stamped = _stamped_assignment(path)
    if stamped is not None and stamped != found.assignment.name:
        raise InputError(f"{path} is a notebook of assignment {stamped}, but {found.source} holds the public checks of {found.assignment.name}: use the {BUNDLE_FILE} released with your notebook.")
    session = StudentSession(submission, found.assignment.sandbox, seed=found.seed, deadline=Deadline(timeout), graded_names=graded_names(found.assignment))
    return run_public_checks(session, found, str(path))
