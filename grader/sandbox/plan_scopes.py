"""Fast AST traversal and scope analysis for the slicing plan (grader/sandbox/ops_plan.py).

Runs in the sandbox worker; standard library only. `ast.NodeVisitor`, `ast.walk` and
`ast.iter_child_nodes` cost most of the plan's CPU (a `getattr` per field, a string
built per node, the deprecated `visit_Constant` shim): here the fields that can hold
nodes are looked up once per node type, and leaves that cannot matter (constants,
`Load`/`Store` contexts, import aliases) are never visited. Visiting order and the
frames per nesting level are those of `ast.NodeVisitor`, so the analysis finds the same
things in the same order and a too-deep statement still falls back the same way.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["children", "FastVisitor", "free_names", "imported_names"]

_NOT_NODES = frozenset({"ctx", "id", "arg", "attr", "module", "level", "kind", "type_comment", "conversion", "is_async", "names", "kwd_attrs", "rest"})
"""Fields that never hold a node worth visiting (identifiers, numbers, contexts, import aliases)."""
_FIELDS: dict[type, tuple[str, ...]] = {}
_AST = ast.AST


def _node_fields(kind: type) -> tuple[str, ...]:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = () if kind is ast.Constant else tuple(f for f in kind._fields if f not in _NOT_NODES)
    return fields


def children(node: Any) -> list[Any]:
    """The child nodes `ast.iter_child_nodes` gives, in its order, less the leaves above."""
    found: list[Any] = []
    for name in _FIELDS.get(type(node)) or _node_fields(type(node)):
        value = getattr(node, name, None)
        if type(value) is list:
            found += [item for item in value if isinstance(item, _AST)]
        elif isinstance(value, _AST):
            found.append(value)
    return found


class FastVisitor:
    """`ast.NodeVisitor` with its dispatch cached per node type (same order, same recursion depth)."""

    _methods: dict[type, Any]

    def __init_subclass__(cls) -> None:
        cls._methods = {}

    def visit(self, node: Any) -> None:
        method = self._methods.get(type(node))
        if method is None:
            method = self._methods[type(node)] = getattr(type(self), "visit_" + type(node).__name__, type(self).generic_visit)
        method(self, node)

    def generic_visit(self, node: Any) -> None:
        for child in children(node):
            self.visit(child)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp})


def free_names(scope: Any) -> set[str]:
    """Names a function, lambda, class body or comprehension reads from outside itself.

    Parameters and names bound inside are its own (unless declared `global`); a method's
    free names pass through its class body, which it cannot see.
    """
    own: set[str] = set()
    reads: set[str] = set()
    inner: set[str] = set()
    declared: set[str] = set()
    if isinstance(scope, _FUNCTIONS):
        a = scope.args
        own.update(arg.arg for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if arg is not None)
        body = scope.body if isinstance(scope.body, list) else [scope.body]
    elif isinstance(scope, ast.ClassDef):
        body = scope.body
    else:  # a comprehension: its targets are its own; the first iterable is read outside
        for generator in scope.generators:
            _walk_scope(generator.target, own, reads, inner, declared)
        body = [g.iter for g in scope.generators[1:]] + [c for g in scope.generators for c in g.ifs]
        body += [scope.key, scope.value] if isinstance(scope, ast.DictComp) else [scope.elt]
        inner |= _reads_outside(scope.generators[0].iter)
    for node in body:
        _walk_scope(node, own, reads, inner, declared)
    mine = own - declared
    if isinstance(scope, ast.ClassDef):
        return (reads - mine) | inner
    return (reads | inner) - mine


def _reads_outside(node: Any) -> set[str]:
    own: set[str] = set()
    reads: set[str] = set()
    inner: set[str] = set()
    _walk_scope(node, own, reads, inner, set())
    return reads | inner


def _walk_scope(node: Any, own: set[str], reads: set[str], inner: set[str], declared: set[str]) -> None:
    """One scope's bindings and reads; nested scopes contribute their free names to `inner`."""
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is ast.Name:
            (reads if type(current.ctx) is ast.Load else own).add(current.id)
        elif kind in SCOPES:
            if kind in _DEFINITIONS:
                own.add(current.name)
                stack += current.decorator_list
                if kind is ast.ClassDef:
                    stack += current.bases
                    stack += [k.value for k in current.keywords]
            if kind is not ast.ClassDef and kind in _FUNCTIONS:  # defaults are evaluated where the function is made
                stack += [d for d in [*current.args.defaults, *current.args.kw_defaults] if d is not None]
            inner.update(free_names(current))
        elif kind is ast.Global or kind is ast.Nonlocal:
            declared.update(current.names)
            reads.update(current.names)
        elif kind is ast.Import or kind is ast.ImportFrom:
            own.update((a.asname or a.name).split(".")[0] for a in current.names if a.name != "*")
        elif (kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar) and current.name:
            own.add(current.name)
            stack += children(current)
        else:
            if kind is ast.AugAssign and type(current.target) is ast.Name:
                reads.add(current.target.id)
            stack += children(current)


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
"""Where statements nest: an `import` is a statement, so it is only ever found there."""


def imported_names(trees: list[Any]) -> set[str]:
    """Names bound by `import` anywhere in the notebook (modules: method calls on them do not change them)."""
    names: set[str] = set()
    stack = [statement for tree in trees for statement in tree.body]
    while stack:
        node = stack.pop()
        if type(node) is ast.Import:
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
            continue
        for field in _BODIES:
            value = getattr(node, field, None)
            if type(value) is list:
                stack += value
    return names
