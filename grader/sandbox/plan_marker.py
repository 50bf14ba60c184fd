"""Which statements of the slicing plan run (grader/sandbox/ops_plan.py): a worklist over what
each statement may touch (grader/sandbox/plan_effects.py), and the notebook's top-level
bindings by kind. Runs in the sandbox worker; standard library only.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from plan_effects import Globals
from plan_walk import constant

__all__ = ["EVERYTHING", "Marker", "NOT_NEEDED", "Unit", "kinds_of", "world_of"]

EVERYTHING = "*"
"""Sentinel in the needed set: some needed statement may read any name."""
NOT_NEEDED = "not needed for grading"


@dataclass
class Unit:
    """One top-level statement (or unparsable chunk) of one cell."""

    cell: int
    index: int
    line: int
    binds: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    fallback: str = ""
    """Why the statement must run whatever the graded names need (empty: it need not)."""
    reads_everything: bool = False
    kinds: set[str] = field(default_factory=set)
    """Names bound by the statement in a way plan_cells classifies (def, class, import, constant)."""
    trivial: bool = False
    """Nothing to see (`pass` left by a magic, a bare docstring): not worth listing when left out."""
    run: bool = False
    why: str = ""
    touches: set[str] = field(default_factory=set)
    """Names whose binding or object running the statement may change (grader/sandbox/plan_effects.py)."""
    module_roots: set[str] = field(default_factory=set)
    """Names of non-inert modules whose state it may change through calls."""
    reads_files: bool = False
    calls: bool = False
    absorbed: bool = False
    """Its touches were made sensitive (it touched a sensitive name)."""


def binding_kinds(trees: list[Any]) -> dict[str, set[str]]:
    """How each top-level name is bound: "def", "class" (plain ones), "module:<path>",
    "const", or "other" (anything else, decorated definitions included)."""
    kinds: dict[str, set[str]] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                kinds.setdefault(node.name, set()).add("other" if node.decorator_list else "def")
            elif isinstance(node, ast.ClassDef):
                kinds.setdefault(node.name, set()).add("other" if node.decorator_list or node.keywords else "class")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    kinds.setdefault(bound, set()).add("module:" + (alias.name if alias.asname else bound))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    kinds.setdefault(alias.asname or alias.name, set()).add(f"module:{node.module}.{alias.name}")
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets) and constant(node.value):
                for target in node.targets:
                    kinds.setdefault(target.id, set()).add("const")
    return kinds


def world_of(units: list[Unit], trees: list[Any], declared: set[str], found: Any) -> Globals:
    kinds = binding_kinds(trees)
    bound = set(declared)
    for unit in units:
        bound |= unit.binds
        for name in unit.binds - unit.kinds:  # bound some other way too (an assignment, a loop, a `del`)
            kinds.setdefault(name, set()).add("other")
    for name in declared:  # rebound by a `global` in a function
        kinds.setdefault(name, set()).add("other")
    modules = {n: sorted(k)[-1][len("module:"):] for n, k in kinds.items() if k and all(x.startswith("module:") for x in k)}
    plain = {n for n, k in kinds.items() if k and k <= {"def", "class"}}
    return Globals(
        bound=bound,
        modules=modules,
        plain=plain,
        plain_defs={n for n in plain if "def" in kinds[n]},
        consts={n for n, k in kinds.items() if k == {"const"}},
        found=found,
    )


def kinds_of(tree: Any) -> set[str]:
    """Names this statement binds in a way `binding_kinds` classifies."""
    names: set[str] = set()
    if len(tree.body) != 1:
        return names  # the tail of a huge cell, grouped: its bindings count as "other"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets) and constant(node.value):
            names.update(t.id for t in node.targets)
    return names


class Marker:
    """Runs every statement that may change what the graded names need (a worklist: linear
    in the statements and names, whatever order they depend on each other in).

    A name is *sensitive* when its object may be, hold or be held by a needed one: a
    statement that touches a sensitive name runs, and then every name it touches is
    sensitive too (it may have made them hold each other); what it reads is needed.
    """

    def __init__(self, units: list[Unit]) -> None:
        self.units = units
        self.touching: dict[str, list[Unit]] = {}
        self.calling: dict[str, list[Unit]] = {}
        for unit in units:
            for name in unit.touches:
                self.touching.setdefault(name, []).append(unit)
            for name in unit.module_roots:
                self.calling.setdefault(name, []).append(unit)
        self.needed: set[str] = set()
        self.sensitive: set[str] = set()
        self.queue: list[str] = []
        self.files = False
        self.everything = False

    def mark(self, roots: set[str]) -> None:
        self.need(roots)
        for unit in self.units:
            if unit.fallback:
                self.run(unit, f"fallback: {unit.fallback}")
        while self.queue:
            name = self.queue.pop()
            for unit in self.touching.get(name, ()):
                if not unit.absorbed:
                    self.absorb(unit)
            for unit in self.calling.get(name, ()) if name in self.needed else ():
                self.run(unit, f"may change the state of {name}, which graded code uses")
        for unit in self.units:
            if not unit.run:
                unit.why = NOT_NEEDED

    def need(self, names: set[str]) -> None:
        for name in names - self.needed:
            self.needed.add(name)
            if name == EVERYTHING and not self.everything:
                self.everything = True
                for unit in self.units:
                    if unit.touches:
                        self.run(unit, "a needed statement reads names dynamically")
            self.sensitize({name})
            if name in self.calling:
                self.queue.append(name)  # sensitive already, perhaps, but only now needed

    def sensitize(self, names: set[str]) -> None:
        for name in names - self.sensitive:
            self.sensitive.add(name)
            self.queue.append(name)

    def absorb(self, unit: Unit) -> None:
        """`unit` touches a sensitive name: it runs, and all it touches is sensitive."""
        unit.absorbed = True
        hit = unit.touches & self.sensitive
        defined = hit & unit.binds
        names = sorted(defined or {n for n in hit if not n.startswith("<")} or hit)
        self.run(unit, ("defines " if defined else "may change ") + ", ".join(names[:5]))
        self.sensitize(unit.touches)
        if unit.reads_files and not self.files:
            self.files = True
            for other in self.units:
                if other.calls:
                    self.run(other, "fallback: runs code while graded code reads files or the notebook's own modules")

    def run(self, unit: Unit, why: str) -> None:
        if unit.run:
            return
        unit.run, unit.why = True, why
        self.need(unit.reads | (unit.touches - unit.binds))
        if unit.reads_everything:
            self.need({EVERYTHING})
