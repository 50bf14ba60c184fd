"""Load an assignment: `assignments/<name>/assignment.toml` into frozen dataclasses.

The TOML is the rubric: which checks run, their points, visibility and parameters, the
batch convention (sum or mean), the reference solution's file and sandbox limits. Every key
is declared once here with its type and default; unknown keys are an error, so a typo in a
rubric is caught at load.

An assignment NAME is looked up, in order, in the folders of `$GRADER_ASSIGNMENTS` (a path
list), in `./assignments/` of the working folder, then in the source checkout's
`assignments/` (only when running from a checkout); a path to a folder or a TOML always works.
The reference is a file the rubric names (relative to the assignment folder), loaded by path
under a private module name: nothing named `reference` is installed or imported.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError
from .interfaces.spec import Interface, interface_from_toml
from .sandbox.client import SandboxConfig

__all__ = ["Assignment", "CheckSpec", "load_assignment", "load_reference", "find_assignment", "assignment_search_path", "ASSIGNMENTS_DIR", "DEFAULT_ASSIGNMENT"]

ASSIGNMENTS_DIR = Path(__file__).resolve().parent.parent / "assignments"
"""The source checkout's assignments (absent in an installed package)."""
DEFAULT_ASSIGNMENT = "dense_layer"
DEFAULT_REFERENCE = "../../reference/dense_layer.py"
"""Where the rubric's `reference` points when it names none (the repository layout)."""
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
    reference: Path | None = None
    """The reference solution's file (the rubric's `reference`, relative to its folder); None in a student bundle."""
    interface: Interface | None = None
    """How the form's affine layer is called (the `[interface]` table); None: the classic Dense class."""
    given: tuple[str, ...] = ()
    """The course's given modules (files in the folder, e.g. dnn_utils.py): importable by the submission."""
    files: tuple[str, ...] = ()
    """The graded files inside a folder or zip submission (e.g. cs231n/layers.py), in load order."""

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


def assignment_search_path() -> list[Path]:
    """Folders searched for an assignment NAME, in order (see the module docstring)."""
    folders = [Path(p) for p in os.environ.get("GRADER_ASSIGNMENTS", "").split(os.pathsep) if p]
    folders.append(Path.cwd() / "assignments")
    if ASSIGNMENTS_DIR.is_dir():
        folders.append(ASSIGNMENTS_DIR)
    return list(dict.fromkeys(folders))


def find_assignment(name_or_path: str | Path) -> Path:
    """The assignment.toml for a folder/TOML path or a NAME on the search path."""
    path = Path(name_or_path)
    candidates = [path] if path.exists() or path.is_absolute() or len(path.parts) > 1 else []
    candidates += [folder / str(name_or_path) for folder in assignment_search_path()]
    for candidate in candidates:
        toml = candidate / "assignment.toml" if candidate.is_dir() else candidate
        if toml.is_file():
            return toml
    where = ", ".join(str(c) for c in candidates) or str(path)
    raise InputError(f"no assignment at {name_or_path}: looked for a folder with an assignment.toml in {where} (set GRADER_ASSIGNMENTS or pass --assignment PATH).")


_REFERENCES: dict[Path, Any] = {}


def load_reference(assignment: Assignment) -> Any:
    """The reference solution as a module, imported from the rubric's file under a private name."""
    path = assignment.reference
    if path is None:
        raise InputError(f"assignment {assignment.name} has no reference solution here (a student bundle carries only public data).")
    if path not in _REFERENCES:
        if not path.is_file():
            raise InputError(f"the reference solution of {assignment.name} is not at {path} (the `reference` key of its assignment.toml).")
        spec = importlib.util.spec_from_file_location(f"_grader_reference_{abs(hash(path)):x}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        _REFERENCES[path] = module
    return _REFERENCES[path]


def load_assignment(name_or_path: str | Path = DEFAULT_ASSIGNMENT) -> Assignment:
    """Read an assignment by NAME (see `assignment_search_path`) or by path to its folder/TOML."""
    path = find_assignment(name_or_path)
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
    _hide_from_workers(path.parent, path.parent / meta.get("reference", DEFAULT_REFERENCE))
    return Assignment(
        name=meta.get("name", path.parent.name),
        title=meta.get("title", path.parent.name),
        root=path.parent,
        notebook=meta.get("notebook", f"{path.parent.name}.ipynb"),
        batch_convention=convention,
        graded_names=tuple(meta.get("graded_names", [])),
        checks=tuple(checks),
        sandbox=_build(SandboxConfig, data.get("sandbox", {}), f"{where} [sandbox]"),
        reference=(path.parent / meta.get("reference", DEFAULT_REFERENCE)).resolve(),
        interface=interface_from_toml(data["interface"], where) if "interface" in data else None,
        given=tuple(meta.get("given", [])),
        files=tuple(meta.get("files", [])),
    )


def _hide_from_workers(root: Path, reference: Path) -> None:
    """Instructor material must be invisible to student code, wherever the rubric keeps it."""
    from .sandbox.limits import hide_instructor_path

    hide_instructor_path(root)
    hide_instructor_path(reference.parent)
