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
import sys
from typing import Any

__all__ = ["children", "FastVisitor", "free_names", "imported_names", "NODE_TYPES", "quiet"]

_NOT_NODES = frozenset({"ctx", "id", "arg", "attr", "module", "level", "kind", "type_comment", "conversion", "is_async", "names", "kwd_attrs", "rest"})
"""Fields that never hold a node worth visiting (identifiers, numbers, contexts, import aliases)."""
_MAY_HOLD_NONE = frozenset({"keys", "kw_defaults"})
"""List fields with None items (`{**d}`'s key, a keyword-only argument without default)."""
_AST = ast.AST


def _getter(kind: type) -> Any:
    """A function listing a node's children, written out for its type (no loop over field names)."""
    lines = ["def get(n):", "    out = []"]
    for name in () if kind is ast.Constant else [f for f in kind._fields if f not in _NOT_NODES]:
        lines.append(f"    v = n.{name}")
        if name in _MAY_HOLD_NONE:
            lines.append("    if v.__class__ is list: out += [x for x in v if x is not None]")
        else:
            lines.append("    if v.__class__ is list: out += v")
        lines.append("    elif isinstance(v, AST): out.append(v)")
    lines.append("    return out")
    namespace: dict[str, Any] = {"AST": _AST}
    exec("\n".join(lines), namespace)  # noqa: S102 - our own source, built from the ast module's field names
    return namespace["get"]


NODE_TYPES = [kind for kind in vars(ast).values() if isinstance(kind, type) and issubclass(kind, ast.AST)]
_GETTERS: dict[type, Any] = {kind: _getter(kind) for kind in NODE_TYPES}
"""Built once, in the fork server (which imports this module), not in every worker."""


def children(node: Any) -> list[Any]:
    """The child nodes `ast.iter_child_nodes` gives, in its order, less the leaves above."""
    get = _GETTERS.get(type(node))
    if get is None:
        get = _GETTERS[type(node)] = _getter(type(node))
    return get(node)


class FastVisitor:
    """`ast.NodeVisitor` with its dispatch cached per node type (same order, same recursion depth)."""

    _methods: dict[type, Any]

    def __init_subclass__(cls) -> None:
        cls._methods = {}

    @classmethod
    def prepare(cls) -> None:
        """Fill the dispatch table now (in the fork server, once) rather than in every worker."""
        for kind in NODE_TYPES:
            cls._methods[kind] = getattr(cls, "visit_" + kind.__name__, cls.generic_visit)

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


QUIET_NODES = 200
"""Largest body `quiet` vouches for: nested at most this deep, so the scanner could not
have run out of stack in it (its frames are counted too)."""
_TARGETS = {ast.Assign: "targets", ast.AugAssign: "target", ast.AnnAssign: "target", ast.Delete: "targets", ast.For: "target", ast.AsyncFor: "target", ast.withitem: "optional_vars"}
_LOUD = frozenset({ast.Global, ast.Import, ast.ImportFrom})


def quiet(body: list[Any], calls: frozenset[str], modules: set[str]) -> bool:
    """Whether the plan's scanner, visiting `body` inside a definition (where it only looks for
    reasons to fall back), would find nothing: no call of a name in `calls`, no `global` or
    import, no assignment into an attribute or item of a module, and too small to overflow
    the stack. Over-cautious is fine (the scanner then visits the body as before); one
    iterative pass is several times cheaper than the scanner's recursive one."""
    stack = list(body)
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        kind = type(node)
        if count > QUIET_NODES or kind in _LOUD:
            return False
        if kind is ast.Call and type(node.func) is ast.Name and node.func.id in calls:
            return False
        field = _TARGETS.get(kind)
        if field is not None:
            targets = getattr(node, field)
            for target in targets if type(targets) is list else [targets]:
                if target is not None and _into_module(target, modules):
                    return False
        stack += children(node)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth + 3 * count + 50 < sys.getrecursionlimit()  # the scanner: at most 3 frames a level


def _into_module(target: Any, modules: set[str]) -> bool:
    """Whether some attribute or item in the target has a module (or `__builtins__`) at its base."""
    stack = [target]
    while stack:
        node = stack.pop()
        if type(node) in (ast.Attribute, ast.Subscript):
            base = node
            while type(base) in (ast.Attribute, ast.Subscript, ast.Starred):
                base = base.value
            if type(base) is ast.Name and (base.id in modules or base.id == "__builtins__"):
                return True
        stack += children(node)
    return False
