"""Which assignment a submission is: the one whose graded names it defines.

`grade FILE` without `--assignment` reads the top-level `def`/`class` names of the file's
code (text only: the grader never runs or imports student code) and picks the assignment on
the search path of which it defines the most graded names. Two rubrics of the same notebook
(the classic assignment's two versions) tie by design: the default assignment wins such a
tie, and the report's version note says when the notebook is the other version. A file that
defines none of any assignment's names is graded against the default assignment, as before
recognition existed (it scores what it scores); a tie between different assignments is one
sentence listing the candidates.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

from .assignment import DEFAULT_ASSIGNMENT, Assignment, assignment_search_path, load_assignment
from .errors import InputError
from .interfaces.files import python_members
from .submission import read_submission

__all__ = ["recognise_assignment", "recognise_class", "defined_names", "candidate_assignments"]

_LOOSE_DEFINITION = re.compile(r'(?:^|"|\\n)(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)', re.MULTILINE)
"""A top-level definition in a .py file or in a notebook's raw JSON (where each line is a quoted string)."""
MAX_CLASS_FILES = 300
"""How many of a class's files are read to recognise its assignment (a vote needs no more)."""
_DEFINITION = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)


def defined_names(path: str | Path) -> set[str]:
    """Names the submission defines with `def` or `class` at the top level of a cell or file
    (methods do not count); a folder or zip: of every .py file in it."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".zip":
        sources = [raw.decode("utf-8", "replace") for raw in python_members(path).values()]
    else:
        sources = [cell.source for cell in read_submission(path).cells]
    return {m.group(1) for source in sources for m in _DEFINITION.finditer(source)}


def candidate_assignments() -> list[Assignment]:
    """Every assignment on the search path, first occurrence of a name wins."""
    found: dict[str, Assignment] = {}
    for folder in assignment_search_path():
        if not folder.is_dir():
            continue
        for toml in sorted(folder.glob("*/assignment.toml")):
            try:
                assignment = load_assignment(toml)
            except InputError:
                continue
            found.setdefault(assignment.name, assignment)
    return list(found.values())


def recognise_assignment(path: str | Path) -> Assignment:
    """The assignment `path` is a submission of, or InputError naming the candidates."""
    return _choose(defined_names(path), Path(path).name, lambda graded, names: len(graded & names))


def recognise_class(spec: str) -> Assignment:
    """The assignment of a whole class (a folder, a zip or a glob): the one whose graded names
    its files define most often. A student whose file matches nothing is graded against it."""
    texts = list(_class_texts(spec))
    counts = [set(m.group(1) for m in _LOOSE_DEFINITION.finditer(text)) for text in texts]
    return _choose(set().union(*counts) if counts else set(), spec, lambda graded, _: sum(len(graded & found) for found in counts))


def _class_texts(spec: str) -> Iterator[str]:
    import glob as globbing

    path = Path(spec)
    if path.is_file() and path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [i for i in archive.infolist() if i.filename.endswith((".py", ".ipynb")) and not i.is_dir()][:MAX_CLASS_FILES]
            for info in names:
                yield archive.read(info).decode("utf-8", "replace")
        return
    files = sorted(path.rglob("*")) if path.is_dir() else [Path(p) for p in sorted(globbing.glob(spec, recursive=True))]
    for file in [f for f in files if f.suffix in (".py", ".ipynb") and f.is_file()][:MAX_CLASS_FILES]:
        yield file.read_text(encoding="utf-8", errors="replace")


def _choose(names: set[str], label: str, score: Any) -> Assignment:
    """The best-scoring assignment (see the module docstring for ties and no match)."""
    scored = [(score(set(a.graded_names), names), a) for a in candidate_assignments() if a.graded_names]
    best = max((s for s, _ in scored), default=0)
    top = [a for s, a in scored if s == best]
    if best == 0:
        return load_assignment(DEFAULT_ASSIGNMENT)
    if len({tuple(sorted(a.graded_names)) for a in top}) == 1:
        return next((a for a in top if a.name == DEFAULT_ASSIGNMENT), top[0])
    listed = ", ".join(sorted(f"{a.name} ({', '.join(a.graded_names[:3])}, ...)" for a in top))
    raise InputError(f"{label} defines as many graded names of several assignments, so it does not tell which one it is; pass --assignment NAME, one of: {listed}.")
