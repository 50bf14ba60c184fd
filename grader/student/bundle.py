"""The student bundle's public-check data: everything the public checks need, as plain JSON.

Built from the instructor's assignment (`build_bundle`: the public checks run once on the
reference solution as a submission, and every expected value and mutant output they ask
the oracle for is recorded) and read back on the student's machine (`read_bundle`), where
it replaces the reference: the checks are the same functions, the answers come from here.
It holds the public checks' specs (tolerances, sizes, points), the batch convention, the
seed of the fixed inputs, the recorded answers, the assignment name and the grader
version. No code, no hidden check's data: a hidden check appears only by its name, points
and description, so the student's report can say what is graded after the deadline.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..assignment import Assignment, CheckSpec
from ..interfaces.spec import interface_from_toml
from ..errors import GraderBug, InputError
from ..oracle import RecordingOracle, StoredOracle, reference_submission
from ..sandbox.client import SandboxConfig

__all__ = ["Bundle", "HiddenCheck", "BUNDLE_FILE", "PUBLIC_SEED", "build_bundle", "read_bundle", "bundle_from_data", "bundle_json"]

BUNDLE_FILE = "public_checks.json"
FORMAT = "dense-grader public checks"
PUBLIC_SEED = 20261122
"""Seed of the public checks' fixed inputs; the instructor's grade uses another (engine.DEFAULT_SEED)."""


@dataclass(frozen=True)
class HiddenCheck:
    """A check graded after the deadline, as the student's report names it."""

    name: str
    """The check's name in the rubric (and in the final report)."""
    points: float
    """Its points."""
    description: str
    """What it checks, in the rubric's words."""


@dataclass(frozen=True)
class Bundle:
    """The public checks as the student's machine runs them."""

    assignment: Assignment
    """The public part of the rubric (no reference)."""
    oracle: StoredOracle
    """Recorded expected values and mutant outputs."""
    seed: int
    """Seed of the fixed inputs: the recorded answers are for exactly these."""
    total_points: float
    """Points of the whole assignment, public and hidden."""
    source: str
    """Where the bundle came from (a file, or built from the instructor's assignment)."""
    hidden: tuple[HiddenCheck, ...] = ()
    """The checks graded after the deadline."""

    @property
    def public_points(self) -> float:
        return self.assignment.max_score

    @property
    def not_checked(self) -> str:
        """What the report says is left: the hidden checks by name and points (the report prints
        it after "Not checked here: ")."""
        from ..results import points

        if not self.hidden:
            return ""
        listed = ", ".join(f"{check.name} ({points(check.points)} points)" for check in self.hidden)
        held = sum(check.points for check in self.hidden)
        return (f"{listed}, graded after the deadline: {points(held)} of the assignment's {points(self.total_points)} points; "
                f"the public checks here are the other {points(self.public_points)}.")


def build_bundle(assignment: Assignment, seed: int = PUBLIC_SEED) -> dict[str, Any]:
    """Run the public checks on the reference, recording the answers; the bundle as plain data."""
    from ..engine import grade_session
    from ..sandbox.session import StudentSession

    public = [spec for spec in assignment.checks if spec.visibility == "public"]
    recorder = RecordingOracle(assignment)
    session = StudentSession(reference_submission(assignment), assignment.sandbox, seed=seed)
    report = grade_session(session, assignment, "reference", seed, "public", "cpu", recorder, time.perf_counter())
    failed = [f"{t.name}: {t.output}" for t in report.tests if t.status != "passed"]
    if failed:
        raise GraderBug(f"the reference solution fails public checks of {assignment.name}, so no bundle was written: {'; '.join(failed)}")
    return {
        "format": FORMAT,
        "grader_version": __version__,
        "assignment": {
            "name": assignment.name,
            "title": assignment.title,
            "notebook": assignment.notebook,
            "batch_convention": assignment.batch_convention,
            "graded_names": list(assignment.graded_names),
            "sandbox": asdict(assignment.sandbox),
        },
        "seed": seed,
        "total_points": assignment.max_score,
        "hidden_points": assignment.max_score - sum(spec.points for spec in public),
        "hidden_checks": [{"name": spec.name, "points": spec.points, "description": spec.description}
                          for spec in assignment.checks if spec.visibility != "public"],
        "checks": [asdict(spec) for spec in public],
        "answers": [recorder.records[key] for key in sorted(recorder.records)],
        "numpy": np.__version__,
    } | _form(assignment)


def _form(assignment: Assignment) -> dict[str, Any]:
    """What a form other than the classic class adds: its interface, given modules and graded files."""
    if assignment.interface is None:
        return {}  # the classic form's bundle keeps its exact bytes
    return {"interface": asdict(assignment.interface), "given": list(assignment.given), "files": list(assignment.files)}


def bundle_json(data: dict[str, Any]) -> str:
    """Canonical text: the same data always gives the same bytes."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def bundle_from_data(data: Any, source: str, root: Path) -> Bundle:
    """Check the format and version, then rebuild the public rubric and the stored oracle."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{source} is not a dense-grader public-check file.")
    if data.get("grader_version") != __version__:
        raise InputError(f"{source} was made for dense-grader {data.get('grader_version')}, but this is dense-grader {__version__}: "
                         f"install the grader's wheel released with it (pip install dense_grader-{data.get('grader_version')}-py3-none-any.whl) or ask for a bundle made with {__version__}.")
    try:
        meta = data["assignment"]
        assignment = Assignment(
            name=meta["name"],
            title=meta["title"],
            root=root,
            notebook=meta["notebook"],
            batch_convention=meta["batch_convention"],
            graded_names=tuple(meta["graded_names"]),
            checks=tuple(CheckSpec(**spec) for spec in data["checks"]),
            sandbox=SandboxConfig(**meta["sandbox"]),
            interface=interface_from_toml(data["interface"], source) if "interface" in data else None,
            given=tuple(data.get("given", ())),
            files=tuple(data.get("files", ())),
        )
        hidden = tuple(HiddenCheck(str(c["name"]), float(c["points"]), str(c["description"])) for c in data["hidden_checks"])
        return Bundle(assignment, StoredOracle(data["answers"]), int(data["seed"]), float(data["total_points"]), source, hidden)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{source} is damaged ({type(exc).__name__}: {exc}); download it again.") from None


def read_bundle(path: Path) -> Bundle:
    """Read a public-check file (plain JSON, nothing is executed or unpickled)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} cannot be read as a public-check file ({type(exc).__name__}).") from None
    return bundle_from_data(data, str(path), path.parent)
