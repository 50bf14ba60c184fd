"""Statement slicing, served by the sandbox worker: which top-level statements grading needs.

Loaded through worker.EXTRA_OP_MODULES; standard library only. It parses the student's
cells, so it runs here, in the sandbox, never in the grader (hostile input: deep nesting,
huge sources). The op `plan` takes every cell's source and the graded names and answers,
per cell, whether each top-level statement runs and why.

The invariant: the grade with slicing on equals the grade with slicing off, for every
notebook. So a statement is left out only when nothing it may do can reach what a graded
name's behaviour depends on. Each statement (split exactly as `Worker.statements` splits
it) binds names and reads names (everywhere inside it, function and method bodies,
decorators, bases and defaults included), and *touches* names: what it binds, what it
hands to code, and the globals of every student function it may call, transitively
(grader/sandbox/plan_effects.py). Starting from the graded names, a name is sensitive when
it is needed or when a statement touches it together with a sensitive one (it may now hold
or be held by it: `D = Dense`, `LAYERS.append(Dense)`); every statement that touches a
sensitive name runs, and what it reads becomes needed, until nothing changes
(grader/sandbox/plan_marker.py); function bodies run at call time, so a definition placed
*after* its user counts as well. Everything else (training loops, plots, downloads, prints
of results) is not run.

Where the analysis cannot be sure, the statement runs (reason `fallback: ...`):
`exec`/`eval`/`compile`/`__import__`, `globals()`/`locals()`/`vars()` (and when such a
statement is needed, every statement is, since it may read any name), `setattr`/`delattr`
on anything but a plain name, star imports, top-level `del`, `global` declarations, an
assignment to an attribute of an imported module (monkey-patching numpy or builtins
changes every statement's meaning), imports of modules that cannot be found before the
notebook runs (the notebook may write them), statements that do not parse (they cost
nothing and their syntax error is reported), and statements that call code reaching
objects no name follows or changing module state (plan_effects.py lists them). When
graded code reads files or imports the notebook's own modules, every statement that calls
anything runs: any of them may write that file.

Imports of installed modules are ordinary bindings: the grader's environment is the same
for every submission, so an installed module's import-time effects do not depend on the
student and cannot change what their definitions compute.
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import sys
from typing import Any

from plan_effects import TOUCH_LIMIT, Program
from plan_walk import Body, scan_statement
from plan_marker import EVERYTHING, NOT_NEEDED, Marker, Unit, kinds_of, world_of
from plan_scopes import FastVisitor, free_names, imported_names, quiet
from protocol import MAX_STATEMENTS

__all__ = ["OPS", "plan_cells", "Unit"]

DYNAMIC_CALLS = frozenset({"exec", "eval", "compile", "__import__", "globals", "locals", "vars"})
ATTRIBUTE_CALLS = frozenset({"setattr", "delattr"})
SUSPECT_CALLS = DYNAMIC_CALLS | ATTRIBUTE_CALLS


class _Scanner(FastVisitor):
    """Collects one statement's bindings, reads and reasons to fall back."""

    def __init__(self, modules: set[str], found: Any) -> None:
        self.modules = modules
        self.found = found
        self.binds: set[str] = set()
        self.reads: set[str] = set()
        self.fallbacks: list[str] = []
        self.dynamic = False
        self.depth = 0  # > 0 inside a function, lambda or class body: only fallbacks are looked for there

    # -- scopes ---------------------------------------------------------------------
    def _definition(self, node: Any, body: list[Any]) -> None:
        if self.depth == 0:
            self.binds.add(node.name)
            self.reads |= free_names(node)
        for item in [*node.decorator_list, *getattr(node, "bases", []), *getattr(node, "keywords", [])]:
            self.visit(item)
        if hasattr(node, "args"):
            self.visit(node.args)
        if getattr(node, "returns", None) is not None:
            self.visit(node.returns)
        if quiet(body, SUSPECT_CALLS, self.modules):
            return  # nothing in it could add a fallback (inside a definition, only those are looked for)
        self.depth += 1
        for stmt in body:
            self.visit(stmt)
        self.depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._definition(node, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._definition(node, node.body)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if self.depth == 0:
            self.reads |= free_names(node)
        self.visit(node.args)
        self.depth += 1
        self.visit(node.body)
        self.depth -= 1

    # -- names ----------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if self.depth > 0:
            return
        if isinstance(node.ctx, ast.Load):
            self.reads.add(node.id)
        else:
            self.binds.add(node.id)
            if isinstance(node.ctx, ast.Del):
                self.fallbacks.append("del")

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name) and self.depth == 0:
            self.reads.add(node.target.id)
        self._changed(node.target)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._changed(target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._changed(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        if self.depth == 0:
            self.fallbacks.append("del")
        for target in node.targets:
            self._changed(target)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._changed(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._changed(node.optional_vars)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.fallbacks.append("global declaration")
        self.binds.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(alias.name, alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "__future__":
            self.fallbacks.append("__future__ import")
            return
        if any(alias.name == "*" for alias in node.names):
            self.fallbacks.append("star import")
            return
        if node.level == 0 and node.module:
            self._check_findable(node.module)
        else:
            self.fallbacks.append("relative import")
        for alias in node.names:
            if self.depth == 0:
                self.binds.add(alias.asname or alias.name)

    def _imported(self, module: str, bound: str) -> None:
        self._check_findable(module)
        if self.depth == 0:
            self.binds.add(bound)

    def _check_findable(self, module: str) -> None:
        if not self.found(module.split(".")[0]):
            self.fallbacks.append(f"import of {module.split('.')[0]!r}, not installed (the notebook may create it)")

    # -- changes through attributes, items and calls ----------------------------------
    def _base(self, node: Any) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def _changed(self, target: Any) -> None:
        """`x.a = ...`, `x[i] = ...`, `(a, x.b) = ...`: the base name changes."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._changed(element)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            base = self._base(target)
            if base is None:
                return
            if base in self.modules or base == "__builtins__":
                self.fallbacks.append(f"assigns into the module {base!r}")
            if self.depth == 0:
                self.binds.add(base)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in DYNAMIC_CALLS:
            self.dynamic = True
            self.fallbacks.append(f"{func.id}()")
        if isinstance(func, ast.Name) and func.id in ATTRIBUTE_CALLS and node.args:
            base = node.args[0].id if isinstance(node.args[0], ast.Name) else None
            if base is None or base in self.modules:
                self.fallbacks.append(f"{func.id} on {'a module' if base else 'a computed object'}")
            elif self.depth == 0:
                self.binds.add(base)
            if len(node.args) > 1 and not isinstance(node.args[1], ast.Constant):
                self.fallbacks.append(f"{func.id} with a computed attribute name")
        self.generic_visit(node)


def _parse_cell(source: str, chunks: Any, keep: Any) -> list[tuple[int, Any]]:
    """The cell's statements as `Worker.statements` splits them: (line, AST or None when it does
    not parse). `keep(source, tree)` is handed a cell that parses whole (exec_cell reuses it)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        units = []
        for begin, text in chunks(source):
            try:
                units.append((begin + 1, ast.increment_lineno(ast.parse(text), begin)))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                units.append((begin + 1, None))
        return units
    except (ValueError, RecursionError, MemoryError):
        return [(1, None)]
    if keep is not None:
        keep(source, tree)
    body = tree.body  # grouped as Worker.statements groups it: the tail of a huge cell is one unit
    groups = [body[i : i + 1] for i in range(min(len(body), MAX_STATEMENTS - 1))]
    if len(body) >= MAX_STATEMENTS:
        groups.append(body[MAX_STATEMENTS - 1 :])
    return [(group[0].lineno, ast.Module(body=group, type_ignores=[])) for group in groups]


def _finder() -> Any:
    cache: dict[str, bool] = {}

    def found(name: str) -> bool:
        if name not in cache:
            try:
                cache[name] = name in sys.modules or name in sys.builtin_module_names or importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                cache[name] = False
        return cache[name]

    return found


def plan_cells(sources: list[str], roots: list[str], chunks: Any, keep: Any = None) -> list[Unit]:
    """Every statement of every cell, each marked run or not, with the reason."""
    parsed = [_parse_cell(source, chunks, keep) for source in sources]
    modules = imported_names([tree for cell in parsed for _, tree in cell if tree is not None])
    found = _finder()
    units: list[Unit] = []
    bodies: list[Body | None] = []
    readers: list[bool] = []
    """Per unit: whether a function it defines reads files (when it is graded code, that matters)."""
    functions: list[Body] = []
    trees: list[Any] = []
    for cell, statements in enumerate(parsed):
        for index, (line, tree) in enumerate(statements):
            unit = Unit(cell, index, line)
            body, defines_reader = None, False
            if tree is None:
                unit.fallback = "does not parse (its syntax error is reported)"
            else:
                scanner = _Scanner(modules, found)
                try:
                    scanner.visit(tree)
                    body, inner = scan_statement(tree, found, scanner.binds)
                    functions += inner
                    defines_reader = any(f.reads_files for f in inner)
                except RecursionError:
                    scanner.fallbacks.append("too deeply nested to analyse")
                    scanner.dynamic = True
                unit.binds, unit.reads, unit.reads_everything = scanner.binds, scanner.reads, scanner.dynamic
                unit.fallback = "; ".join(dict.fromkeys(scanner.fallbacks))
                unit.trivial = all(isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in tree.body)
                unit.kinds = kinds_of(tree)
                trees.append(tree)
            units.append(unit)
            bodies.append(body)
            readers.append(defines_reader)
    declared = set().union(*(f.declared for f in functions)) if functions else set()
    program = Program(functions, world_of(units, trees, declared, found))
    tops = [b for b in bodies if b is not None]
    program.close(
        set().union(*((b.values | b.attr_loads) for b in tops + functions)),
        set().union(*(b.classes for b in tops + functions)),
        any(b.metaclass for b in tops + functions),
    )
    for unit, body, reader in zip(units, bodies, readers):
        if body is None:
            continue
        effects = program.effects(body)
        unit.touches = unit.binds | effects.touches
        unit.module_roots, unit.reads_files = effects.module_roots, effects.reads_files or reader
        unit.calls = bool(body.callees or body.methods or body.unknown_call)
        reasons = [f"reaches objects the plan cannot follow ({e})" for e in effects.escapes[:2]] + effects.stateful[:2]
        if effects.overflow:
            reasons.append(f"may touch more than {TOUCH_LIMIT} names")
            unit.touches, unit.reads_everything = set(unit.binds), True
        if reasons:
            unit.fallback = "; ".join(r for r in [unit.fallback, *reasons] if r)
    Marker(units).mark(set(roots))
    return units


def op_plan(worker: Any, req: dict[str, Any], arrays: list[Any]) -> dict[str, Any]:
    sources = [str(s) for s in req.get("cells", [])]
    roots = [str(r) for r in req.get("roots", [])]
    gc.disable()  # trees hold no cycles: the collector would only rescan them as they grow
    try:
        units = plan_cells(sources, roots, worker.top_level_chunks, getattr(worker, "remember_tree", None))
    finally:
        gc.enable()
    cells: list[list[dict[str, Any]]] = [[] for _ in sources]
    for unit in units:
        cells[unit.cell].append({"stmt": unit.index, "line": unit.line, "run": unit.run, "why": unit.why[:200], "trivial": unit.trivial})
    return {"cells": cells}


_WARM_UP = """\
import numpy as np

class Layer:
    def __init__(self, units=3, *, scale=0.1):
        self.w = np.random.randn(units, units) * scale
        self.b = np.zeros(units)

    @staticmethod
    def forward(x, k=None):
        y = [v ** 2 for v in x if v > 0]
        with open("f") as handle:
            data = {key: value for key, value in handle}
        try:
            return x @ np.asarray(y)[0] + data.get("b", -1)
        except (ValueError, KeyError) as error:
            raise RuntimeError(str(error)) from error

def train(network, X, y, epochs=1):
    for epoch in range(epochs):
        network[0].w -= 0.1 * sum(layer.forward(X) for layer in network)
        loss = (lambda a, b=2: a * b)(y, b=3) if epoch else not y
    return network, loss

network = [Layer(4), Layer(scale=0.2)]
network.append(Layer())
history, network[0].b[1:] = train(network, 1, 2), 0.0
print(f"{history!r:>10}", history[-1])
"""


def _warm_up() -> None:
    """Run the analysis a few times here, at import, which happens in the fork server: every
    worker then starts with this code already specialised by the interpreter (3.11+) rather
    than warming it up again on each submission. It changes no state the plan reads."""
    for _ in range(4):
        plan_cells([_WARM_UP, _WARM_UP], ["Layer", "train"], lambda source: [])


_Scanner.prepare()
_warm_up()
OPS = {"plan": op_plan}
