"""The package versions an autograder installs: those of the environment that built it.

Gradescope builds its image once, weeks before the last submission; `pip install` of
unpinned requirements there gets whatever is newest that day, not what the grader was
tested with. So `grade gradescope` writes a pip constraints file from this environment:
every package the grader's requirements (pyproject.toml, with the extras the autograder
installs) pull in, transitively, at the version installed here (importlib.metadata), and
the oldest Python those versions support. Nothing is hard-coded, so the pins never rot.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 fallback of grader/assignment.py
    import tomli as tomllib

__all__ = ["Pins", "pinned_requirements"]

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_FLOOR = re.compile(r">=\s*3\.(\d+)")


@dataclass(frozen=True)
class Pins:
    """The constraints to install with, and the Python they need."""

    lines: tuple[str, ...]
    """"name==version", sorted by name."""
    python: tuple[int, int]
    """The oldest Python every pinned version supports (Requires-Python)."""

    def constraints(self) -> str:
        """The text of a pip constraints file (`pip install -c FILE`)."""
        head = f"# Written by `grade gradescope` from the environment that built the zip (Python {self.python[0]}.{self.python[1]} or newer).\n"
        return head + "".join(line + "\n" for line in self.lines)


def _requirement(text: str) -> tuple[str, set[str], str | None]:
    """(name, extras it asks for, extra its marker requires or None)."""
    requirement, _, marker = text.partition(";")
    found = _NAME.match(requirement)
    name = found.group(1) if found else requirement.strip()
    extras = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()} if found else set()
    needs = _EXTRA.search(marker)
    return name, extras, needs.group(1) if needs else None


def _python_floor(requires: str | None) -> int:
    found = _FLOOR.search(requires or "")
    return int(found.group(1)) if found else 0


def pinned_requirements(pyproject: Path, extras: tuple[str, ...]) -> Pins:
    """Every installed package the project (with `extras`) needs, transitively, pinned to its installed version.

    Requirements not installed here (another platform's, an older Python's backport) are left
    to pip; markers other than `extra` are not evaluated: a constraint on a package pip does not
    install is ignored."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project.get("dependencies", []))
    for extra in extras:
        wanted += project.get("optional-dependencies", {}).get(extra, [])
    todo = [(name, asked) for name, asked, needs in map(_requirement, wanted) if needs is None]
    pins: dict[str, str] = {}
    floor = _python_floor(project.get("requires-python"))
    while todo:
        name, asked = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in pins:
            continue
        pins[key] = dist.version
        floor = max(floor, _python_floor(dist.metadata.get("Requires-Python")))
        for dep, dep_asked, needs in map(_requirement, dist.requires or []):
            if needs is None or needs in asked:
                todo.append((dep, dep_asked))
    return Pins(tuple(f"{name}=={version}" for name, version in sorted(pins.items())), (3, floor))
