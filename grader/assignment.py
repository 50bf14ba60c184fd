"""Load an assignment: `assignments/<name>/assignment.toml` into frozen dataclasses.

The TOML is the rubric: which checks run, their points, visibility and parameters, the
batch convention (sum or mean) and sandbox limits. Every key is declared once here with
its type and default; unknown keys are an error, so a typo in a rubric is caught at load.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError
from .sandbox.client import SandboxConfig

__all__ = ["Assignment", "CheckSpec", "load_assignment", "ASSIGNMENTS_DIR", "DEFAULT_ASSIGNMENT"]

ASSIGNMENTS_DIR = Path(__file__).resolve().parent.parent / "assignments"
DEFAULT_ASSIGNMENT = "dense_layer"
VISIBILITIES = ("public", "hidden")


@dataclass(frozen=True)
class CheckSpec:
    """One check of the rubric."""

    name: str
    """Stable name shown in reports and the gradebook, e.g. "dense-forward"."""
    function: str
    """Registered check function, e.g. "dense.forward" (see grader.checks)."""
    points: float
    """Maximum score of the check."""
    visibility: str = "hidden"
    """public: part of `grade check` for students; hidden: only when the instructor grades."""
    description: str = ""
    """One line shown in reports."""
    params: dict[str, Any] = field(default_factory=dict)
    """Parameters for the check function (sizes, tolerances, learning rates)."""


@dataclass(frozen=True)
class Assignment:
    """An assignment's rubric and settings."""

    name: str
    """Folder name under assignments/."""
    title: str
    """Human title for reports."""
    root: Path
    """The assignment's folder."""
    notebook: str
    """The student notebook's file name inside the folder."""
    batch_convention: str
    """"sum" (the layer sums over the batch; default) or "mean" (older variant)."""
    graded_names: tuple[str, ...]
    """Names the submission must define (Dense, ReLU, forward, train, ...)."""
    checks: tuple[CheckSpec, ...]
    """The rubric, in report order."""
    sandbox: SandboxConfig
    """Limits for the worker that runs the student's code."""

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def check(self, name: str) -> CheckSpec:
        for spec in self.checks:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(known))}.")
    return cls(**data)


def load_assignment(name_or_path: str | Path = DEFAULT_ASSIGNMENT) -> Assignment:
    """Read an assignment by folder name (under assignments/) or by path to its folder/TOML."""
    path = Path(name_or_path)
    if not path.exists():
        path = ASSIGNMENTS_DIR / str(name_or_path)
    if path.is_dir():
        path = path / "assignment.toml"
    if not path.is_file():
        raise InputError(f"no assignment at {name_or_path}: expected a folder with an assignment.toml.")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}.") from None
    where = str(path)
    meta = data.get("assignment", {})
    convention = meta.get("batch_convention", "sum")
    if convention not in ("sum", "mean"):
        raise InputError(f"{where}: batch_convention must be \"sum\" or \"mean\", not {convention!r}.")
    checks = []
    for raw in data.get("checks", []):
        spec = _build(CheckSpec, raw, f"{where} [[checks]]")
        if spec.visibility not in VISIBILITIES:
            raise InputError(f"{where}: check {spec.name} has visibility {spec.visibility!r}; expected public or hidden.")
        checks.append(spec)
    if not checks:
        raise InputError(f"{where} defines no [[checks]].")
    return Assignment(
        name=meta.get("name", path.parent.name),
        title=meta.get("title", path.parent.name),
        root=path.parent,
        notebook=meta.get("notebook", f"{path.parent.name}.ipynb"),
        batch_convention=convention,
        graded_names=tuple(meta.get("graded_names", [])),
        checks=tuple(checks),
        sandbox=_build(SandboxConfig, data.get("sandbox", {}), f"{where} [sandbox]"),
    )
