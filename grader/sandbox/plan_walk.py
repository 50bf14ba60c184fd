"""Reading one top-level statement for the slicing plan: what its code and every function
body in it read, call, store and hand on (grader/sandbox/plan_effects.py turns that into
what running it may touch). Runs in the sandbox worker; standard library only; iterative,
so deep nesting costs no stack.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from plan_scopes import children

__all__ = ["Body", "ESCAPE_MODULES", "NO_CALLBACKS", "constant", "scan_statement"]

ESCAPE_CALLS = frozenset({"type", "vars", "globals", "locals", "exec", "eval", "compile", "__import__", "object", "breakpoint"})
"""Builtins that hand out objects (a class, a namespace) the analysis cannot name."""
ATTRIBUTE_CALLS = frozenset({"setattr", "delattr", "getattr"})
"""Fine on a name with a constant, ordinary attribute name (`setattr(D, "forward", f)` is `D.forward = f`)."""
ESCAPE_ATTRS = frozenset({
    "__class__", "__dict__", "__globals__", "__closure__", "__code__", "__defaults__", "__kwdefaults__", "__func__",
    "__self__", "__bases__", "__base__", "__mro__", "__subclasses__", "__builtins__", "__wrapped__", "__setattr__",
    "__delattr__", "__getattribute__", "__objclass__", "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame",
    "tb_frame", "tb_next", "cr_frame", "ag_frame",
})
HARMLESS_ATTRS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})
"""`x.__class__.__name__` only reads a string."""
ESCAPE_MODULES = frozenset({"sys", "gc", "inspect", "builtins", "__builtin__", "__main__", "importlib", "ctypes", "types", "runpy", "code", "codeop"})
NO_CALLBACKS = frozenset({
    "range", "len", "isinstance", "issubclass", "int", "float", "str", "bool", "list", "tuple", "dict", "set", "frozenset",
    "abs", "round", "sum", "zip", "enumerate", "reversed", "repr", "id", "hash", "hasattr", "callable", "format", "divmod",
    "pow", "chr", "ord", "bin", "hex", "oct", "any", "all", "slice", "super", "open", "next",
})
"""Builtins that call back only dunder methods of what they are handed, never a function passed in
(not `iter`: `iter(f, sentinel)` calls f; not `print`: it calls its file's `write`)."""
FILE_READERS = frozenset({"open", "load", "loadtxt", "genfromtxt", "fromfile", "memmap", "read_csv", "read_pickle", "read_json", "imread", "read_text", "read_bytes", "read"})


@dataclass
class Body:
    """What one function body, or one top-level statement outside its function bodies, does when it runs."""

    name: str | None = None
    """The def's name (by-name dispatch of `x.name(...)`); None for lambdas and statements."""
    params: set[str] = field(default_factory=set)
    enclosing: frozenset[str] = frozenset()
    """Locals of the enclosing functions (closure cells, not globals)."""
    loads: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    """Loads that hand the object to code that could call it (not `isinstance(x, Dense)`)."""
    callees: set[str] = field(default_factory=set)
    receivers: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    unknown_call: bool = False
    stores: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)
    store_roots: set[str] = field(default_factory=set)
    """Names at the base of an attribute or item assignment (`np.dot = ...`: np)."""
    local_modules: dict[str, str] = field(default_factory=dict)
    module_calls: list[tuple[str, str]] = field(default_factory=list)
    """(root name, the attribute path called on it): `np.random.seed(...)` is ("np", "random.seed")."""
    escapes: list[str] = field(default_factory=list)
    reads_files: bool = False
    first_class: bool = False
    """A lambda or a decorated def: it may be called from anywhere."""
    attr_loads: set[str] = field(default_factory=set)
    """Attribute names read, not called (`f = layer.forward`: a method used as a value)."""
    classes: set[str] = field(default_factory=set)
    bases: set[str] = field(default_factory=set)
    """Names given as base classes: touched, but not a use that could instantiate them."""
    decorated: bool = False
    method: bool = False
    """Defined directly in a class body (its first parameter is the instance)."""
    owner_state: bool = False
    """Calling it may change state held by the top-level names that own it: a mutable default,
    or a method of a class whose body holds mutable class attributes."""
    in_place: set[str] = field(default_factory=set)
    """`self.X` changed in place (`self.X[k] = v`, `self.X.append(v)`, `self.X += v`, `f(self.X)`):
    shared by every instance when X is a class attribute."""
    assigned: set[str] = field(default_factory=set)
    """`self.X = ...` (in an `__init__`: the instance's own attribute)."""
    owners: set[str] = field(default_factory=set)
    class_members: set[int] = field(default_factory=set)
    shared_members: set[int] = field(default_factory=set)
    metaclass: bool = False
    """A class statement with keywords or derived from `type`: class creation may call its `__init__`."""


def constant(node: Any) -> bool:
    """An immutable literal: a number, string, bytes, None, or a tuple of them (with signs)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            stack.append(node.operand)
        elif isinstance(node, ast.Tuple):
            stack += node.elts
        elif not isinstance(node, ast.Constant):
            return False
    return True


def _root(node: Any) -> tuple[str | None, list[str]]:
    """`a.b.c` -> ("a", ["b", "c"]); None when the chain does not start at a name."""
    path: list[str] = []
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), path[::-1]


def _walk(body: Body, roots: list[Any], nested: list[tuple[Any, Body]], found: Any) -> None:
    """Fill `body` from the nodes that run now; function bodies found go to `nested`."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is ast.Load:
                body.loads.add(node.id)
                body.values.add(node.id)
            else:
                body.stores.add(node.id)
        elif kind is ast.Call:
            _call(body, node, stack)
        elif kind is ast.Attribute:
            if node.attr in HARMLESS_ATTRS and isinstance(node.value, ast.Attribute) and node.value.attr == "__class__":
                stack.append(node.value.value)
                continue
            if node.attr in ESCAPE_ATTRS:
                body.escapes.append(f"reaches .{node.attr}")
            if type(node.ctx) is ast.Load:
                body.attr_loads.add(node.attr)
            else:
                root, _ = _root(node)
                if root is not None:
                    body.store_roots.add(root)
            stack.append(node.value)
        elif kind is ast.Subscript and type(node.ctx) is not ast.Load:
            base = node.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                body.store_roots.add(base.id)
            stack += children(node)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda):
            if kind is not ast.Lambda:
                body.stores.add(node.name)
                stack += _applied(node.decorator_list)
                stack += [a.annotation for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs] if a.annotation is not None]
                if node.returns is not None:
                    stack.append(node.returns)
            stack += [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
            decorated = kind is not ast.Lambda and bool(node.decorator_list)
            inner = Body(name=None if kind is ast.Lambda else node.name, first_class=kind is ast.Lambda or decorated, decorated=decorated)
            a = node.args
            inner.params = {arg.arg for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if arg is not None}
            inner.method = id(node) in body.class_members
            inner.owner_state = id(node) in body.shared_members or not all(constant(d) for d in [*a.defaults, *a.kw_defaults] if d is not None)
            positional = [*a.posonlyargs, *a.args]
            if inner.method and positional:
                _self_uses(node, positional[0].arg, inner)
            nested.append((node, inner))
        elif kind is ast.ClassDef:
            body.stores.add(node.name)
            body.classes.add(node.name)
            body.class_members.update(id(item) for item in node.body)
            if not all(_stateless(item) for item in node.body):
                body.shared_members.update(id(item) for item in node.body)
            if node.keywords or any(isinstance(b, ast.Name) and b.id == "type" for b in node.bases):
                body.metaclass = True
            body.bases.update(b.id for b in node.bases if isinstance(b, ast.Name))
            if node.decorator_list:
                body.values.add(node.name)  # handed to its decorators
            stack += _applied(node.decorator_list) + [b for b in node.bases if not isinstance(b, ast.Name)] + [k.value for k in node.keywords]
            stack += node.body  # a class body runs now, in the enclosing scope's reach
        elif kind is ast.Global:
            body.declared.update(node.names)
        elif kind is ast.Import or kind is ast.ImportFrom:
            _import(body, node, found)
        elif kind is ast.AugAssign and type(node.target) is ast.Name:
            body.loads.add(node.target.id)
            stack += children(node)
        elif kind in (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp):
            for generator in node.generators:  # targets are the comprehension's own; reads of them count as reads of globals (over-cautious)
                stack += [generator.iter, *generator.ifs]
                stack += [n for n in ast.walk(generator.target) if not isinstance(n, ast.Name)]
            stack += [node.key, node.value] if kind is ast.DictComp else [node.elt]
        elif (kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar) and node.name:
            body.stores.add(node.name)
            stack += children(node)
        else:
            stack += children(node)


def _stateless(item: Any) -> bool:
    """A class-body statement that leaves no mutable class attribute: a def, a docstring, `x = 1`."""
    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(item, ast.Expr):
        return isinstance(item.value, ast.Constant)
    if isinstance(item, (ast.Assign, ast.AnnAssign)):
        return item.value is None or constant(item.value)
    return False


def _on_self(node: Any, me: str) -> str | None:
    """X when `node` is `me.X`, or a chain through it (`me.X.y`, `me.X[k]`)."""
    attribute = None
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == me:
            attribute = node.attr
        node = node.value
    return attribute if isinstance(node, ast.Name) and node.id == me else None


def _self_uses(function: Any, me: str, body: Body) -> None:
    """Which attributes of the instance `function` changes in place, and which it assigns."""
    for node in ast.walk(function):
        targets: list[Any] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == me:
                (body.in_place if isinstance(node, ast.AugAssign) else body.assigned).add(target.attr)
            elif isinstance(target, (ast.Attribute, ast.Subscript)) and (name := _on_self(target.value, me)):
                body.in_place.add(name)
        if isinstance(node, ast.Delete):
            body.in_place.update(n for t in node.targets if isinstance(t, (ast.Attribute, ast.Subscript)) and (n := _on_self(t.value, me)))
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and (name := _on_self(node.func.value, me)):
                body.in_place.add(name)
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                body.in_place.update(n for sub in ast.walk(argument) if (n := _on_self(sub, me)))


def _applied(decorators: list[Any]) -> list[Any]:
    """Decorators as the calls they are: `@tweak` calls tweak, `@register("d")` calls what register returns."""
    return [ast.Call(func=d, args=[], keywords=[]) for d in decorators]


def _call(body: Body, node: ast.Call, stack: list[Any]) -> None:
    func = node.func
    if isinstance(func, ast.Name):
        body.callees.add(func.id)
        if func.id in ESCAPE_CALLS:
            body.escapes.append(f"{func.id}()")
        if func.id in ATTRIBUTE_CALLS and not _plain_attribute_call(node):
            body.escapes.append(f"{func.id} with a computed object or attribute name")
        if func.id == "open":
            body.reads_files = True
    elif isinstance(func, ast.Attribute):
        body.methods.add(func.attr)
        if func.attr in FILE_READERS:
            body.reads_files = True
        if func.attr in ESCAPE_ATTRS:
            body.escapes.append(f"calls .{func.attr}")
        root, path = _root(func)
        if root is not None:
            body.module_calls.append((root, ".".join(path)))
        if isinstance(func.value, ast.Name):
            body.receivers.add(func.value.id)
        else:
            stack.append(func.value)
    else:
        body.unknown_call = True
        stack.append(func)
    if isinstance(func, ast.Name) and func.id in NO_CALLBACKS:  # `isinstance(x, Dense)` hands Dense to no code
        body.loads.update(a.id for a in node.args if isinstance(a, ast.Name))
        stack += [a for a in node.args if not isinstance(a, ast.Name)]
    else:
        stack += node.args
    stack += [k.value for k in node.keywords]


def _plain_attribute_call(node: ast.Call) -> bool:
    """`setattr(name, "attr", ...)`: the object is a name and the attribute a constant, ordinary one."""
    if len(node.args) < 2 or node.keywords or not isinstance(node.args[0], ast.Name):
        return False
    name = node.args[1]
    return isinstance(name, ast.Constant) and isinstance(name.value, str) and not name.value.startswith("__") and name.value not in ESCAPE_ATTRS


def _import(body: Body, node: Any, found: Any) -> None:
    if isinstance(node, ast.Import):
        pairs = [(a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in node.names]
        modules = [a.name for a in node.names]
    else:
        prefix = ("." * node.level) + (node.module or "")
        pairs = [(a.asname or a.name, f"{prefix}.{a.name}") for a in node.names if a.name != "*"]
        modules = [prefix]
    for bound, module in pairs:
        body.stores.add(bound)
        body.local_modules[bound] = module
    for module in modules:
        top = module.split(".")[0]
        if top in ESCAPE_MODULES:
            body.escapes.append(f"imports {top}")
        if not top or not found(top):
            body.reads_files = True  # the notebook's own module: its file decides what it does


def scan_statement(tree: Any, found: Any, owners: set[str]) -> tuple[Body, list[Body]]:
    """The statement's own body and every function body defined in it (any depth), each
    with the locals of the functions around it; `owners`: the names the statement binds."""
    top = Body()
    nested: list[tuple[Any, Body]] = []
    _walk(top, tree.body, nested, found)
    functions: list[Body] = []
    scopes: list[tuple[Any, Body, frozenset[str]]] = [(node, inner, frozenset()) for node, inner in nested]
    while scopes:
        node, inner, enclosing = scopes.pop()
        inner.enclosing = enclosing
        inner.owners = owners
        deeper: list[tuple[Any, Body]] = []
        _walk(inner, node.body if isinstance(node.body, list) else [node.body], deeper, found)
        own = frozenset((inner.params | inner.stores) - inner.declared)
        scopes += [(n, b, enclosing | own) for n, b in deeper]
        functions.append(inner)
    return top, functions
